"""Constructor argument checks shared by the layers: each error names layer, argument, and
what is supported, so nothing is silently ignored."""
from __future__ import annotations

import numbers

from .. import limits
from ..errors import UnsupportedArgumentError


def reject(layer: str, arg: str, value, supported: str):
    raise UnsupportedArgumentError(f"{layer}: {arg}={value!r} is not supported; {supported}")


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def at_most(layer: str, arg: str, value, items, limit: str) -> None:
    """Refuse `value` if any of its `items` exceeds the bound named `limit` in limits.py."""
    bound = getattr(limits, limit)
    if any(v > bound for v in items):
        reject(layer, arg, value, f"{'each entry' if len(items) > 1 else 'it'} must be at most "
               f"{bound} (compiler/limits.py: {limit})")


def integer(layer: str, arg: str, value, minimum: int, limit: str = "MAX_ELEMENTS") -> int:
    if not is_int(value):
        raise TypeError(f"{layer}: {arg} must be an int, got {value!r}")
    if value < minimum:
        reject(layer, arg, value, f"it must be an integer >= {minimum}")
    at_most(layer, arg, value, [value], limit)
    return int(value)


def pair(layer: str, arg: str, value, minimum: int, limit: str) -> tuple[int, int]:
    """An int or a pair of ints (as torch's _pair), each >= minimum and at most `limit`."""
    items = (value, value) if is_int(value) else value
    if not isinstance(items, (tuple, list)) or len(items) != 2 or not all(map(is_int, items)):
        if isinstance(items, (tuple, list)) and len(items) == 1 and is_int(items[0]):
            items = (items[0], items[0])
        else:
            raise TypeError(f"{layer}: {arg} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in items):
        reject(layer, arg, value, f"each entry must be an integer >= {minimum}")
    at_most(layer, arg, value, items, limit)
    return int(items[0]), int(items[1])


def parameters(layer: str, args: dict, floats: int) -> None:
    """Refuse arguments that give the layer more parameters than the parameter blob holds;
    `floats` counts them as stored, channels padded to whole blocks (limits.padded)."""
    bound = limits.MAX_PARAM_BYTES // 4
    if floats > bound:
        given = ", ".join(f"{k}={v!r}" for k, v in args.items())
        raise UnsupportedArgumentError(
            f"{layer}: {given} are not supported: the parameters would take {floats} floats "
            f"(channels padded to blocks of {limits.BLOCK}); at most {bound} fit "
            f"(compiler/limits.py: MAX_PARAM_BYTES)")


def real(layer: str, arg: str, value) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{layer}: {arg} must be a number, got {value!r}")
    return float(value)


def boolean(layer: str, arg: str, value) -> bool:
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise TypeError(f"{layer}: {arg} must be a bool, got {value!r}")
    return bool(value)


def choice(layer: str, arg: str, value, options: tuple):
    if value not in options:
        reject(layer, arg, value, "supported: " + ", ".join(map(repr, options)))
    return value


def device_dtype(layer: str, device, dtype) -> None:
    """Accept torch's device/dtype keywords only where they mean CPU float32."""
    if device is not None and str(device) not in ("cpu",):
        reject(layer, "device", device, "smelt runs on the CPU: use device=None or 'cpu'")
    if dtype is not None and \
            str(dtype) not in ("float32", "torch.float32", "<class 'numpy.float32'>"):
        reject(layer, "dtype", dtype, "smelt computes in float32: use dtype=None or float32")
