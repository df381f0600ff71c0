"""Elementwise ops: activations, residual add, per-channel affine and dropout masks.

Each op is described once, here: its shape rule, NumPy reference and the C expression that
applies it to one element (`c_apply`, built from the primitives of templates/common.h.j2).
Every elementwise op runs as its own kernel or fuses into the store of the kernel that
produces its input. An `Activation` is also a torch.nn layer of the same name: compiler.nn
builds the layer from its `arguments`, so adding an activation is this one class (plus a row
in tests/cases/activation.py).
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import Op, OpShapeError, c_float


class Elementwise(Op):
    """y[i] = f(x[i], operands[i], per-channel constants): same shape in and out."""

    elementwise = True
    unbatched = True             # the same elements whatever the rank
    #: every concrete elementwise op, by name (the eltwise kernel family runs them all)
    registry: dict[str, type] = {}
    #: an intermediate base class, not an op
    abstract = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract"):
            return
        missing = [m for m in ("reference", "c_apply") if getattr(cls, m) is getattr(Op, m)]
        if missing:
            raise TypeError(f"elementwise op {cls.__name__} must define {' and '.join(missing)}"
                            "() (see compiler/ops/eltwise.py)")
        Elementwise.registry[cls.__name__] = cls

    def infer_shape(self, x, *others):
        for other in others:
            self.require(other == x, f"operands must have the same shape, got {x} and {other}")
        return x


class Activation(Elementwise):
    """An elementwise op that is also the torch.nn layer of its name, built by compiler.nn
    from `arguments`: its constructor arguments besides `inplace`, in torch's order, with
    torch's defaults (a float default takes any real number, a bool one a bool)."""

    abstract = True
    arguments: dict = {}
    #: torch's layer takes `inplace` (last, default False)
    takes_inplace = True

    def __init__(self, *args, **kwargs):
        names = list(self.arguments)
        if len(args) > len(names) or set(kwargs) - set(names):
            raise TypeError(f"{self.kind} takes {', '.join(names) or 'no arguments'}")
        values = dict(self.arguments, **dict(zip(names, args)), **kwargs)
        for name, value in values.items():
            setattr(self, name, checked(self.kind, name, value, self.arguments[name]))

    def attrs(self):
        return {name: getattr(self, name) for name in self.arguments}


def checked(layer: str, name: str, value, default):
    """`value` as the type of `default`, or a TypeError naming the layer and argument."""
    if isinstance(default, bool):
        if not isinstance(value, (bool, int)) or value not in (0, 1):
            raise TypeError(f"{layer}: {name} must be a bool, got {value!r}")
        return bool(value)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r}")
    return float(value)


class Binary(Elementwise):
    """y = f(a, b) element by element; b has a's shape, or broadcasts along its batch and
    channel (a squeeze-and-excitation scale: N x C x 1 x 1) or is one value per batch or
    channel. The C expression applies f to the chain's value and b's element."""

    abstract = True
    extra_inputs = 1
    #: f(a, b) = f(b, a): the kernel producing either operand may apply it
    commutative = False
    symbol = ""

    def infer_shape(self, a, b):
        self.require(len(a) == len(b) and all(y in (x, 1) for x, y in zip(a, b))
                     and all(y == 1 for y in b[2:]) or a == b,
                     f"operands must have the same shape, or the second one 1 in every "
                     f"dimension from the third on (a channel-wise operand), got {a} and {b}")
        return a

    def reference(self, a, b):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return self.numpy(a.astype(np.float32), b.astype(np.float32)).astype(np.float32)

    def c_apply(self, v, at):
        return f"{v} {self.symbol} {at['operands'][0]}[{at['operand_offsets'][0]}]"


class Add(Binary):
    """y = a + b."""

    commutative = True
    symbol = "+"
    numpy = staticmethod(np.add)


class Sub(Binary):
    """y = a - b."""

    symbol = "-"
    numpy = staticmethod(np.subtract)


class Mul(Binary):
    """y = a * b (b may be a channel-wise scale, as in squeeze-and-excitation)."""

    commutative = True
    symbol = "*"
    numpy = staticmethod(np.multiply)


class Div(Binary):
    """y = a / b."""

    symbol = "/"
    numpy = staticmethod(np.divide)


class ScalarOp(Elementwise):
    """A tensor and a number: x + c, x - c, c - x, x * c, x / c or c / x, in float32 as
    PyTorch computes a float32 tensor with a Python number."""

    #: kind -> (C expression of the element x and the constant c, the same in NumPy)
    KINDS = {"add": ("{x} + {c}", lambda x, c: x + c), "sub": ("{x} - {c}", lambda x, c: x - c),
             "rsub": ("{c} - {x}", lambda x, c: c - x), "mul": ("{x} * {c}", lambda x, c: x * c),
             "div": ("{x} / {c}", lambda x, c: x / c), "rdiv": ("{c} / {x}", lambda x, c: c / x)}

    def __init__(self, kind: str, value: float):
        if kind not in self.KINDS:
            raise ValueError(f"ScalarOp: kind {kind!r} is not one of {', '.join(self.KINDS)}")
        self.kind_of, self.value = kind, float(value)

    def attrs(self):
        return {"op": self.KINDS[self.kind_of][0].format(x="x", c=repr(self.value))}

    def reference(self, x):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            y = self.KINDS[self.kind_of][1](x.astype(np.float32), np.float32(self.value))
        return np.asarray(y, np.float32)

    def c_apply(self, v, at):
        return self.KINDS[self.kind_of][0].format(x=v, c=c_float(self.value))


class Copy(Elementwise):
    """y = x: materialises a graph output that would otherwise alias an input or another output."""

    def reference(self, x):
        return x.copy()

    def flops(self, in_shapes, out_shape):
        return 0

    def c_apply(self, v, at):
        return v


class ReLU(Activation):
    """max(x, 0) that lets NaN through, as PyTorch does."""

    def reference(self, x):
        return np.where(x < 0, np.float32(0), x).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_relu({v})"


class LeakyReLU(Activation):
    """x if x > 0 else negative_slope * x."""

    arguments = {"negative_slope": 0.01}

    def reference(self, x):
        slope = np.float32(self.negative_slope)
        with np.errstate(over="ignore"):            # float32 overflow to inf, as in C
            return np.where(x > 0, x, x * slope).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_leaky_relu({v}, {c_float(self.negative_slope)})"


class Sigmoid(Activation):
    """1 / (1 + e^-x)."""

    costly = True
    takes_inplace = False

    def reference(self, x):
        with np.errstate(over="ignore"):
            return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_sigmoid({v})"


class Tanh(Activation):
    """tanh(x)."""

    costly = True
    takes_inplace = False

    def reference(self, x):
        return np.tanh(x.astype(np.float64)).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_tanh({v})"


class ELU(Activation):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    costly = True
    arguments = {"alpha": 1.0}

    def reference(self, x):
        x64 = x.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(x64 > 0, x64, self.alpha * np.expm1(x64)).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_elu({v}, {c_float(self.alpha)})"


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class SELU(Activation):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)) with the constants of Klambauer et al."""

    costly = True

    def reference(self, x):
        x64 = x.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            y = np.where(x64 > 0, x64, SELU_ALPHA * np.expm1(x64)) * SELU_SCALE
        return y.astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_selu({v})"


class Hardswish(Activation):
    """x * relu6(x + 3) / 6, as PyTorch computes it (NaN stays NaN)."""

    def reference(self, x):
        return (x * np.clip(x + np.float32(3), 0, 6) / np.float32(6)).astype(np.float32)

    def c_apply(self, v, at):
        return f"{v} * smelt_clamp({v} + 3.0f, 0.0f, 6.0f) / 6.0f"


class Hardtanh(Activation):
    """x clamped to [min_val, max_val] (NaN stays NaN)."""

    arguments = {"min_val": -1.0, "max_val": 1.0}

    def reference(self, x):
        lo, hi = np.float32(self.min_val), np.float32(self.max_val)
        return np.where(x < lo, lo, np.where(x > hi, hi, x)).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_clamp({v}, {c_float(self.min_val)}, {c_float(self.max_val)})"


class ReLU6(Activation):
    """x clamped to [0, 6] (NaN stays NaN)."""

    def reference(self, x):
        return np.where(x < 0, np.float32(0), np.where(x > 6, np.float32(6), x)).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_clamp({v}, 0.0f, 6.0f)"


class Hardsigmoid(Activation):
    """relu6(x + 3) / 6, as PyTorch computes it."""

    def reference(self, x):
        return (np.clip(x + np.float32(3), 0, 6) / np.float32(6)).astype(np.float32)

    def c_apply(self, v, at):
        return f"smelt_clamp({v} + 3.0f, 0.0f, 6.0f) / 6.0f"


class SiLU(Activation):
    """x * sigmoid(x) (swish)."""

    costly = True

    def reference(self, x):
        x64 = x.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return (x64 / (1.0 + np.exp(-x64))).astype(np.float32)

    def c_apply(self, v, at):
        return f"{v} * smelt_sigmoid({v})"


class ChannelAffine(Elementwise):
    """y = x * scale[c] + shift[c]: an eval-mode BatchNorm2d with no convolution to fold into."""

    channel_dependent = True
    unbatched = False

    def __init__(self, scale: np.ndarray, shift: np.ndarray):
        self.params = {"scale": scale.astype(np.float32), "shift": shift.astype(np.float32)}

    def infer_shape(self, x):
        self.require(len(x) >= 2 and x[1] == len(self.params["scale"]),
                     f"expected {len(self.params['scale'])} channels in dim 1")
        return x

    def reference(self, x):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale, shift = (self.params[k].reshape(shape) for k in ("scale", "shift"))
        return (x * scale + shift).astype(np.float32)

    def flops(self, in_shapes, out_shape):
        return 2 * super().flops(in_shapes, out_shape)

    def c_apply(self, v, at):
        c = at["c"]
        return f"{v} * {at['param']('scale')}[{c}] + {at['param']('shift')}[{c}]"


MASK64 = (1 << 64) - 1


def plane_hash(seed: int, step: int, n: int, c: int) -> int:
    """32-bit hash of one (n, c) plane for one call; mirrors smelt_plane_hash in common.h.j2."""
    h = seed & MASK64
    for word in (step, n, c):
        h = _splitmix(h ^ (word & MASK64))          # mix the word in, then splitmix64
    return h >> 32


class Dropout2dTrain(Elementwise):
    """Zero whole (n, c) planes with probability p; scale survivors by 1/(1-p).

    The mask comes from a counter-based hash of (seed, call number, n, c), so it does not
    depend on the thread count and differs from call to call.
    """

    channel_dependent = True
    unbatched = False            # a 3-D input is (N, C, L), as torch's feature dropout

    def __init__(self, p: float, seed: int):
        self.p = float(p)
        self.seed = int(seed)

    @property
    def random(self) -> bool:
        return 0 < self.p < 1              # p = 0 keeps every plane, p = 1 none

    def attrs(self):
        return {"p": self.p}

    def infer_shape(self, x):
        # PyTorch's feature dropout masks dims 0 and 1 whatever the rank (3-D is read as N, C, L)
        self.require(len(x) >= 2, f"expected at least a 2-D input, got {len(x)}-D")
        return x

    def keep_threshold(self) -> int:
        """Keep a plane when its 32-bit hash is >= this (i.e. with probability 1 - p)."""
        return min(int(round(self.p * 2.0**32)), 2**32 - 1)

    def reference(self, x, step: int = 0):
        if self.p >= 1:
            return (x * np.float32(0)).astype(np.float32)
        n, c = x.shape[:2]
        keep = np.array([[plane_hash(self.seed, step, i, j) >= self.keep_threshold()
                          for j in range(c)] for i in range(n)])
        scale = np.float32(1.0 / (1.0 - self.p))
        mask = np.where(keep, scale, np.float32(0)).astype(np.float32)
        return (x * mask.reshape((n, c) + (1,) * (x.ndim - 2))).astype(np.float32)

    def c_apply(self, v, at):
        if self.p >= 1:
            return f"{v} * 0.0f"
        if self.p <= 0:
            return v
        scale = c_float(1.0 / (1.0 - self.p))
        return (f"(smelt_plane_hash({at['seed']}, step, {at['n']}, {at['c']}) >= "
                f"{self.keep_threshold()}u ? {v} * {scale} : {v} * 0.0f)")


def element_hashes(seed: int, step: int, count: int) -> np.ndarray:
    """plane_hash(seed, step, i, 0) for every i < count, vectorised (uint64 arithmetic wraps
    as C's does): DropoutTrain's per-element draw."""
    h = seed & MASK64
    h = _splitmix(h ^ (step & MASK64))             # the scalar words, in Python ints
    out = np.full(count, h, np.uint64)
    for word in (np.arange(count, dtype=np.uint64), np.uint64(0)):
        out = _splitmix_array(out ^ word)
    return (out >> np.uint64(32)).astype(np.uint32)


def _splitmix(h: int) -> int:
    """splitmix64's finaliser on a 64-bit Python int (smelt_plane_hash's mixing step)."""
    h = (h * 0x9E3779B97F4A7C15) & MASK64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK64
    return h ^ (h >> 31)


def _splitmix_array(h: np.ndarray) -> np.ndarray:
    """_splitmix on uint64 arrays, whose arithmetic wraps as C's does."""
    h = h * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


class DropoutTrain(Dropout2dTrain):
    """Zero each element with probability p; scale survivors by 1/(1-p) (nn.Dropout, train).

    Element i (its index in the tensor's logical, row-major order) is kept when
    plane_hash(seed, call number, i, 0) >= the threshold: the same C helper as Dropout2d, each
    element hashed as a plane of its own, so the mask depends neither on the thread count nor
    on the physical layout (blocked kernels pass the logical index, `at["index"]`).
    """

    channel_dependent = True     # never fused through a view, over a cat or as a prologue
    unbatched = True             # (C, H, W) and (1, C, H, W) list elements in one order
    #: the result depends on the element's logical index: no store pattern may move it
    position_dependent = True

    def infer_shape(self, x):
        return x

    def reference(self, x, step: int = 0):
        if self.p >= 1:
            return (x * np.float32(0)).astype(np.float32)
        keep = element_hashes(self.seed, step, x.size) >= np.uint32(self.keep_threshold())
        scale = np.float32(1.0 / (1.0 - self.p))
        mask = np.where(keep, scale, np.float32(0)).astype(np.float32).reshape(x.shape)
        return (x * mask).astype(np.float32)

    def c_apply(self, v, at):
        if self.p >= 1:
            return f"{v} * 0.0f"
        if self.p <= 0:
            return v
        scale = c_float(1.0 / (1.0 - self.p))
        return (f"(smelt_plane_hash({at['seed']}, step, {at['index']}, 0) >= "
                f"{self.keep_threshold()}u ? {v} * {scale} : {v} * 0.0f)")


__all__ = ["Elementwise", "Activation", *Elementwise.registry, "OpShapeError"]
