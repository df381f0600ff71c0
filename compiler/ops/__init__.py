"""Ops: one file per family, each op described once (shape rule, NumPy reference, pattern)."""
from .base import Op, OpShapeError, Pattern
from .conv import Conv2d, ConvTranspose2d, Pad
from .eltwise import (ELU, SELU, Add, ChannelAffine, Copy, Dropout2dTrain, LeakyReLU, ReLU, Sigmoid,
                      Tanh)
from .layout import Reorder
from .linear import Linear
from .norm import BatchNorm2d
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .shape import Cat, Flatten, PixelShuffle, Upsample, View
from .softmax import Softmax

__all__ = ["Op", "OpShapeError", "Pattern", "Conv2d", "ConvTranspose2d", "Pad", "Add", "Copy", "ReLU",
           "LeakyReLU", "Sigmoid", "Tanh", "ELU", "SELU", "ChannelAffine", "Dropout2dTrain",
           "Linear", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Cat",
           "Flatten", "View", "PixelShuffle", "Upsample", "Softmax", "Reorder"]
