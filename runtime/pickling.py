"""Pickling a CompiledModel (and so deepcopy, multiprocessing, Dask): what travels, and how it
comes back to life in another process.

A pickle carries what the model runs on and what rebuilds its library: the cache key, the C
source and its cffi declarations, the build options, the folded weights blob, the mutable
state and call counter, the source model's state_dict, and each kernel's metadata. It does
not carry the compiler's Plan (compiler objects and per-op copies of the weights): `m.plan`
becomes a PlanSummary, the same table with its totals, and compare() and export(), which need
the compiler's graph and plan, say so. So a pickle is about twice the size
of the weights (the packed blob that runs, and the state_dict as the source model had it).

Unpickling loads the library from the cache by its key, building it from the carried source
if the entry is missing, in whatever process unpickles; it never imports the compiler.
On a machine whose build identity (C compiler, CPU flags, smelt version) differs from the
pickling one, the key would name another machine's binary: the source is then built for
this one under its own key (it must target an ISA this CPU has; see compile(isa=...)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from . import cache
from .arrays import aligned_copy

#: bumped when the state's layout changes: an old pickle then fails with a clear message
FORMAT = 1
#: attributes bound to this process's library, recreated by CompiledModel._attach
UNPICKLED = ("_lib", "_ffi", "library_path", "_library_key", "_params_ptr", "_state_ptr",
             "_local", "_call_lock", "_comparer", "_exporter")


class Slot(NamedTuple):
    """Where a stateful module's values live in the float64 state (see state_dict())."""

    role: str                    # "running_stats", "seed"
    offset: int
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    aliases: tuple[str, ...]


class BuildOptions(NamedTuple):
    """How the model's library was built, to rebuild it from the source."""

    cdef: str
    isa: str
    sanitize: bool


@dataclass(frozen=True)
class PlanSummary:
    """What an unpickled model keeps of its compiler Plan: the table `print(m.plan)` shows,
    and its totals. (to_dot, save_svg and storage need the compiler's Plan.)"""

    table: str
    kernels: tuple[str, ...]
    total_flops: int
    arena_bytes: int
    passes: tuple[str, ...]

    @classmethod
    def of(cls, plan) -> PlanSummary:
        if isinstance(plan, cls):
            return plan
        return cls(str(plan), tuple(k.name for k in plan.kernels), plan.total_flops,
                   plan.arena_bytes, tuple(plan.passes))

    def __str__(self) -> str:
        return self.table

    __repr__ = __str__


def model_state(m) -> dict:
    """The picklable state of CompiledModel `m`."""
    state = {k: v for k, v in vars(m).items() if k not in UNPICKLED}
    with m._call_lock:                       # state and counter as of one moment between calls
        state["_state"] = m._state.copy()
        state["_step"] = m._step
    state["plan"] = PlanSummary.of(m.plan)
    state["kernels"] = [{k: v for k, v in vars(kernel).items() if k not in ("_model", "_fn")}
                        for kernel in m.kernels]
    state["format"] = FORMAT
    state["key"] = m._library_key
    state["identity"] = cache.build_identity(m._build.isa, m._build.sanitize)
    return state


def restore_model(m, state: dict) -> None:
    """CompiledModel.__setstate__: load (or build) the library, then bind to it."""
    from .model import Kernel
    state = dict(state)
    if state.pop("format", None) != FORMAT:
        raise ValueError("this pickle was made by another version of smelt's runtime")
    key, identity, kernels = state.pop("key"), state.pop("identity"), state.pop("kernels")
    m.__dict__.update(state)
    m._comparer = m._exporter = None          # they hold the compiler's graph and plan
    m._params = aligned_copy(m._params)       # kernels load weights with aligned loads
    m._attach(load_library(key, identity, m._build, m.source,
                           [k["source"] for k in kernels]))
    m.kernels = []
    for fields in kernels:
        kernel = Kernel.__new__(Kernel)
        kernel.__dict__.update(fields)
        kernel._model, kernel._fn = m, getattr(m._lib, kernel.name)
        m.kernels.append(kernel)


def load_library(key: str, identity: str, options: BuildOptions, source: str,
                 kernel_sources: list[str]):
    """The library under `key` from the cache, built from `source` if it is not there; under
    a key of this machine's own when the pickle came from a different build identity."""
    isa, sanitize = options.isa, options.sanitize
    if cache.build_identity(isa, sanitize) != identity:
        return cache.load([source], options.cdef, isa, sanitize, source)
    # the record lets a later compile() of the same plan in this cache skip the templates
    record = {"source": source, "kernels": kernel_sources}
    return cache.lookup(key) or cache.build_entry(key, [source], options.cdef, isa, sanitize,
                                                  source, record)


def kernel_of(model, index: int):
    """Kernel.__reduce__'s constructor: a kernel comes back as one of its model's."""
    return model.kernels[index]
