"""Ops: one file per family, each op described once (shape rule, NumPy reference, fusion)."""
from . import eltwise
from .base import Op, OpShapeError
from .conv import Conv2d, ConvTranspose2d, Pad
from .eltwise import *  # noqa: F401,F403  (every elementwise op, by its registry name)
from .layout import Reorder
from .linear import Linear
from .norm import BatchNorm2d, LocalResponseNorm
from .pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .shape import (Cat, ChannelGather, ChannelShuffle, ChannelSlice, Flatten, PixelShuffle,
                    Upsample, View)
from .softmax import Softmax

__all__ = ["Op", "OpShapeError", "Conv2d", "ConvTranspose2d", "Pad", *eltwise.__all__,
           "Linear", "BatchNorm2d", "LocalResponseNorm", "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Cat",
           "ChannelGather", "ChannelShuffle", "ChannelSlice", "Flatten", "View", "PixelShuffle",
           "Upsample", "Softmax", "Reorder"]
