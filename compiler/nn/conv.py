"""Conv2d and ConvTranspose2d, with torch.nn's signatures, defaults and initialisation."""
from __future__ import annotations

from .. import ops
from ..errors import ShapeError
from ..graph import current_tracer
from ..limits import padded
from . import _args as A
from .init import bias_uniform, kaiming_uniform_default
from .module import Module, emit

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_param_shapes(module: Module, expected: dict) -> None:
    """A parameter replaced by hand with a wrong shape is a shape error of this layer."""
    for name, shape in expected.items():
        value = getattr(module, name)
        if value is not None and tuple(value.shape) != tuple(shape):
            layer = current_tracer().layer_name(type(module).__name__)
            raise ShapeError(f"{layer} ({type(module).__name__}): parameter {name} has shape "
                             f"{tuple(value.shape)}, expected {tuple(shape)}")


class _ConvNd(Module):
    def _common_args(self, layer, in_channels, out_channels, kernel_size, stride, dilation,
                     groups, bias, padding_mode, device, dtype):
        self.in_channels = A.integer(layer, "in_channels", in_channels, 1)
        self.out_channels = A.integer(layer, "out_channels", out_channels, 1)
        self.kernel_size = A.pair(layer, "kernel_size", kernel_size, 1, "MAX_KERNEL")
        self.stride = A.pair(layer, "stride", stride, 1, "MAX_KERNEL")
        self.dilation = A.pair(layer, "dilation", dilation, 1, "MAX_KERNEL")
        self.groups = A.integer(layer, "groups", groups, 1)
        if self.in_channels % self.groups:
            A.reject(layer, "groups", groups,
                     f"in_channels ({in_channels}) must be divisible by groups")
        if self.out_channels % self.groups:
            A.reject(layer, "groups", groups,
                     f"out_channels ({out_channels}) must be divisible by groups")
        A.boolean(layer, "bias", bias)
        self.padding_mode = A.choice(layer, "padding_mode", padding_mode, self.padding_modes)
        A.device_dtype(layer, device, dtype)

    def _init_params(self, weight_shape, fan_in: int, bias: bool) -> None:
        rows, cols, kh, kw = weight_shape      # packed kernels pad both channel counts
        A.parameters(type(self).__name__,
                     {"in_channels": self.in_channels, "out_channels": self.out_channels,
                      "groups": self.groups, "kernel_size": self.kernel_size},
                     padded(rows) * padded(cols) * kh * kw + padded(self.out_channels))
        self.register_parameter("weight", kaiming_uniform_default(weight_shape, fan_in))
        self.register_parameter(
            "bias", bias_uniform((self.out_channels,), fan_in) if bias else None)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over NCHW input, as torch.nn.Conv2d."""

    padding_modes = PADDING_MODES

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self._common_args("Conv2d", in_channels, out_channels, kernel_size, stride, dilation,
                          groups, bias, padding_mode, device, dtype)
        if isinstance(padding, str):
            A.choice("Conv2d", "padding", padding, ("same", "valid"))
            if padding == "same" and self.stride != (1, 1):
                A.reject("Conv2d", "padding", padding,
                         "padding='same' needs stride 1 (as in PyTorch); give explicit padding")
            self.padding = padding
        else:
            self.padding = A.pair("Conv2d", "padding", padding, 0, "MAX_SPATIAL")
        kh, kw = self.kernel_size
        self._init_params((self.out_channels, self.in_channels // self.groups, kh, kw),
                          self.in_channels // self.groups * kh * kw, bias)

    def explicit_padding(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right); 'same' puts the odd pixel at the bottom/right."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            out = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def forward(self, x):
        kh, kw = self.kernel_size
        check_param_shapes(self, {"weight": (self.out_channels, self.in_channels // self.groups,
                                             kh, kw), "bias": (self.out_channels,)})
        padding = self.explicit_padding()
        if self.padding_mode != "zeros" and any(padding):
            x = emit(ops.Pad(self.padding_mode, padding), x)
            padding = (0, 0, 0, 0)
        return emit(ops.Conv2d(self.weight, self.bias, self.stride, padding, self.dilation,
                               self.groups), x)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution, as torch.nn.ConvTranspose2d (forward takes output_size)."""

    padding_modes = ("zeros",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            A.reject("ConvTranspose2d", "padding_mode", padding_mode,
                     "only 'zeros' is supported for ConvTranspose2d (as in PyTorch)")
        self._common_args("ConvTranspose2d", in_channels, out_channels, kernel_size, stride,
                          dilation, groups, bias, padding_mode, device, dtype)
        if isinstance(padding, str):
            A.reject("ConvTranspose2d", "padding", padding,
                     "give an int or a pair (PyTorch has no string padding here either)")
        self.padding = A.pair("ConvTranspose2d", "padding", padding, 0, "MAX_SPATIAL")
        self.output_padding = A.pair("ConvTranspose2d", "output_padding", output_padding, 0,
                                     "MAX_KERNEL")
        self._check_output_padding(self.output_padding)
        kh, kw = self.kernel_size
        # torch computes fan_in from weight.size(1), which is out_channels / groups here
        self._init_params((self.in_channels, self.out_channels // self.groups, kh, kw),
                          self.out_channels // self.groups * kh * kw, bias)

    def _check_output_padding(self, output_padding, layer: str | None = None) -> None:
        for op, s, d in zip(output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                message = (f"output_padding {output_padding} must be smaller than either stride "
                           f"{self.stride} or dilation {self.dilation}")
                if layer is not None:
                    raise ShapeError(f"{layer} (ConvTranspose2d): {message}")
                A.reject("ConvTranspose2d", "output_padding", output_padding, message)

    def _output_padding_for(self, x_shape, output_size) -> tuple[int, int]:
        """PyTorch's rule for forward(x, output_size=...): pick output_padding to hit it."""
        layer = current_tracer().layer_name("ConvTranspose2d")
        size = tuple(output_size)[-2:]
        if len(size) != 2 or not all(A.is_int(v) for v in size):
            raise ShapeError(f"{layer} (ConvTranspose2d): output_size must end with two ints, "
                             f"got {output_size!r}")
        result = []
        for i, want in enumerate(size):
            smallest = ((x_shape[i - 2] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= want <= largest:
                raise ShapeError(f"{layer} (ConvTranspose2d): requested output size {tuple(size)} "
                                 f"is not reachable from input {tuple(x_shape)}; dim {i} must be "
                                 f"in [{smallest}, {largest}]")
            result.append(want - smallest)
        self._check_output_padding(tuple(result), layer)
        return tuple(result)

    def forward(self, x, output_size=None):
        kh, kw = self.kernel_size
        check_param_shapes(self, {"weight": (self.in_channels, self.out_channels // self.groups,
                                             kh, kw), "bias": (self.out_channels,)})
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(x.shape, output_size)
        return emit(ops.ConvTranspose2d(self.weight, self.bias, self.stride, self.padding,
                                        output_padding, self.groups, self.dilation), x)
