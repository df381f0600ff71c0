"""compiler.nn: layers with torch.nn's names, signatures, defaults and parameter layout."""
from . import activation
from .activation import *  # noqa: F401,F403  (Softmax and a layer per activation op)
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .linear import Linear
from .module import Identity, Module, ModuleList, Sequential
from .normalization import BatchNorm2d, LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .shape import ChannelShuffle, Flatten, PixelShuffle, Upsample

__all__ = ["Module", "Sequential", "ModuleList", "Identity", "Conv2d", "ConvTranspose2d",
           "BatchNorm2d", "LocalResponseNorm", *activation.__all__, "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout", "Dropout2d", "Linear",
           "Flatten", "Upsample", "PixelShuffle", "ChannelShuffle"]
