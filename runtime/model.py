"""CompiledModel and Kernel: checked numpy calls into the generated C.

Thread safety: the intermediate arena is allocated once per model *per calling thread*
(threading.local), so concurrent eval-mode calls share nothing writable. A model with
mutable state (train-mode BatchNorm statistics, dropout's call counter) serialises its
calls with a lock, as the order of updates is part of the result.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import numpy as np

from .arrays import aligned_copy, aligned_empty, carve, run_balanced

from . import forksafe, pickling
from .threads import check_threads, default_threads  # noqa: F401
from .layouts import to_blocked, to_nchw


def source_shape(node) -> tuple:
    """The 4-D shape behind a view (Flatten) of a tensor, or the node's own shape."""
    while node.op.is_view:
        node = node.inputs[0]
    return tuple(node.shape)


def snapshot(state_dict: dict) -> OrderedDict:
    """Copies of every array, all in one allocation (cheap to fill: see runtime/arrays.py)."""
    arrays = {k: np.asarray(v) for k, v in state_dict.items()}
    copies = carve([(a.shape, a.dtype) for a in arrays.values()])
    run_balanced([functools.partial(np.copyto, copy, a)
                  for a, copy in zip(arrays.values(), copies)],
                 [a.nbytes for a in arrays.values()])
    return OrderedDict(zip(arrays, copies))


def check_array(what: str, x, shape: tuple) -> np.ndarray:
    """A C-contiguous float32 view or copy of `x`, or a TypeError/ValueError saying why not."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what}: expected a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{what}: expected dtype float32, got {x.dtype}")
    if x.shape != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {x.shape}")
    return np.ascontiguousarray(x)


class Kernel:
    """One generated C function; call it as k(inputs..., out) with numpy arrays."""

    def __init__(self, model: CompiledModel, spec):
        self._model = model
        self.name: str = spec.name
        self.layers: list[str] = list(spec.layers)
        self.ops: list[str] = list(spec.kinds)
        self.flops: int = spec.flops
        self.source: str = spec.source
        self.family: str = spec.family
        # the arrays as they sit in memory: (N, C/V, H, W, V) for channel-blocked tensors
        self.in_shapes: list[tuple] = [tuple(s) for s in spec.in_physical]
        self.out_shape: tuple = tuple(spec.out_physical)
        self.in_layouts: list[str] = [str(lay) for lay in spec.in_layouts]
        self.out_layout: str = str(spec.out_layout)
        # the same tensors as the model sees them (NCHW)
        self.logical_in_shapes: list[tuple] = [tuple(s) for s in spec.in_shapes]
        self.logical_out_shape: tuple = tuple(spec.out_shape)
        self._vectors = [lay.v if lay.blocked else 0 for lay in spec.in_layouts]
        # a flattened blocked input (Linear after Flatten) converts through its 4-D source
        self._sources = [source_shape(i) for i in spec.node.inputs]
        self._out_vector = spec.out_layout.v if spec.out_layout.blocked else 0
        self._extras = spec.call_args        # what the kernel takes after its arrays
        # where profile() finds its inputs and output: (buffer, offset in floats)
        self._buffers = [(s.base, s.offset) for s in map(model.plan.storage_of,
                                                          [*spec.node.inputs, spec.node])]
        self._fn = getattr(model._lib, spec.name)

    def __reduce__(self):
        # a kernel needs its model's library, weights and state: it travels with its model
        return pickling.kernel_of, (self._model, self._model.kernels.index(self))

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        expected = len(self.in_shapes) + 1
        if len(arrays) != expected:
            raise TypeError(f"kernel {self.name} takes {expected} arrays (inputs..., out), "
                            f"got {len(arrays)}")
        *inputs, out = arrays
        inputs = [check_array(f"kernel {self.name} input {i}", x, s)
                  for i, (x, s) in enumerate(zip(inputs, self.in_shapes))]
        if not isinstance(out, np.ndarray) or out.dtype != np.float32:
            raise TypeError(f"kernel {self.name} out: expected a float32 numpy.ndarray")
        if out.shape != self.out_shape:
            raise ValueError(f"kernel {self.name} out: expected shape {self.out_shape}, "
                             f"got {out.shape}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"kernel {self.name} out: must be C-contiguous and writeable")
        if any(np.shares_memory(out, x) for x in inputs):
            raise ValueError(f"kernel {self.name} out: must not overlap an input")
        m = self._model
        ptrs = [m._ffi.from_buffer("float[]", x) for x in inputs]
        with m._call_lock:
            step = m._next_step()
            forksafe.call(self._fn, *ptrs, m._ffi.from_buffer("float[]", out),
                          *m._extra_values(self._extras, step))
        return out

    def from_nchw(self, x: np.ndarray, index: int = 0) -> np.ndarray:
        """An NCHW array laid out as this kernel's input `index` expects (blocked or not)."""
        v = self._vectors[index]
        if not v:
            return np.ascontiguousarray(x, np.float32)
        source = self._sources[index]
        return to_blocked(x.reshape(source), v).reshape(self.in_shapes[index])

    def to_nchw(self, out: np.ndarray) -> np.ndarray:
        """This kernel's output array as an NCHW array."""
        if not self._out_vector:
            return out
        return to_nchw(out, self.logical_out_shape[1])

    def __repr__(self) -> str:
        return (f"Kernel({self.name}: {' + '.join(self.layers)}, "
                f"{self.flops / 1e6:.2f} MFLOP)")


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class CompiledModel:
    """A model compiled to native code. Call it with float32 arrays of the traced shapes.

    Pickling (and deepcopy) carries the weights, state, options and C source, not the
    compiler's plan: see runtime/pickling.py."""

    def __init__(self, library, program, plan, state_dict: dict, threads: int | None,
                 stateful: bool, comparer=None, exporter=None, *, isa: str = "native",
                 sanitize: bool = False):
        self.source: str = program.source
        self.plan = plan
        self.input_shapes = [tuple(n.shape) for n in plan.graph.inputs]
        self.output_shapes = [tuple(n.shape) for n in plan.graph.outputs]
        self._single_output = plan.graph.single_output
        self._params = aligned_copy(program.params)   # kernels load weights with aligned loads
        self._state = program.state.copy()
        self._state_slots = {key: pickling.Slot(s.role, s.offset, tuple(s.names),
                                                tuple(s.sizes), tuple(s.aliases))
                             for key, s in program.state_slots.items()}
        self._state_dict = snapshot(state_dict)
        self._arena_floats = plan.arena_floats
        self._entry_extras = program.entry_extras
        self._build = pickling.BuildOptions(program.cdef, isa, sanitize)
        self._stateful = stateful
        self._step = 0
        self.threads = default_threads() if threads is None else threads
        self._attach(library)
        self.kernels = [Kernel(self, spec) for spec in plan.kernels]
        # compare(), export(): callables from the compiler (the runtime never imports it)
        self._comparer = comparer
        self._exporter = exporter

    def _attach(self, library) -> None:
        """Bind to a loaded library: its functions, our buffers as C pointers, fresh per-thread
        arenas and a fresh lock (what a pickle cannot carry)."""
        self._lib, self._ffi = library.lib, library.ffi
        self.library_path = library.path
        self._library_key = library.key
        self._params_ptr = self._ffi.from_buffer("float[]", self._params)
        self._state_ptr = self._ffi.from_buffer("double[]", self._state)
        self._local = threading.local()
        self._call_lock = threading.Lock() if self._stateful else _NoLock()

    def __getstate__(self) -> dict:
        return pickling.model_state(self)

    def __setstate__(self, state: dict) -> None:
        pickling.restore_model(self, state)

    @property
    def threads(self) -> int:
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = check_threads(value)

    def _extra_values(self, names: list[str], step: int) -> list:
        """A kernel's per-call arguments after its arrays (see compiler/codegen/frame.py)."""
        values = {"params": self._params_ptr, "state": self._state_ptr, "step": step,
                  "nthreads": self._threads}
        if "arena" in names:
            values["arena"] = self._ffi.from_buffer("float[]", self._arena())
        return [values[name] for name in names]

    def _next_step(self) -> int:
        """The call counter that seeds dropout masks; only advanced under the call lock."""
        step = self._step
        self._step += 1 if self._stateful else 0
        return step

    def _arena(self):
        arena = getattr(self._local, "arena", None)
        if arena is None:
            arena = aligned_empty(max(self._arena_floats, 16))
            self._local.arena = arena
        return arena

    def __call__(self, *inputs: np.ndarray):
        arrays = self._checked_inputs(inputs)
        outputs = [np.empty(s, np.float32) for s in self.output_shapes]
        ffi = self._ffi
        args = [ffi.from_buffer("float[]", a) for a in arrays]
        args += [ffi.from_buffer("float[]", o) for o in outputs]
        with self._call_lock:
            step = self._next_step()
            forksafe.call(self._lib.smelt_forward, *args,
                          *self._extra_values(self._entry_extras, step))
        return outputs[0] if self._single_output else tuple(outputs)

    def state_dict(self) -> OrderedDict:
        """Parameters and buffers under the source model's keys, as PyTorch would report them
        (unfolded; in train mode with the running statistics of every call so far)."""
        out = OrderedDict((k, v.copy()) for k, v in self._state_dict.items())
        with self._call_lock:
            for key, slot in self._state_slots.items():
                offset = slot.offset
                for name, size in zip(slot.names, slot.sizes):
                    values = self._state[offset:offset + size].copy()
                    offset += size
                    for prefix in (key,) + slot.aliases:
                        full = f"{prefix}.{name}" if prefix else name
                        if full in out:
                            out[full] = values.astype(out[full].dtype).reshape(out[full].shape)
        return out

    def _checked_inputs(self, inputs) -> list[np.ndarray]:
        if len(inputs) != len(self.input_shapes):
            raise TypeError(f"the model takes {len(self.input_shapes)} input(s) of shape "
                            f"{', '.join(map(str, self.input_shapes))}, got {len(inputs)}")
        return [check_array(f"input {i}" if len(inputs) > 1 else "input", x, s)
                for i, (x, s) in enumerate(zip(inputs, self.input_shapes))]

    def _buffers(self, arrays, outputs) -> dict:
        """The model's buffers for one run: inputs, outputs and this thread's arena."""
        buffers = {f"in{i}": a for i, a in enumerate(arrays)}
        buffers.update({f"out{j}": o for j, o in enumerate(outputs)})
        buffers["arena"] = self._arena()
        return buffers

    def _kernel_calls(self, buffers) -> list[tuple]:
        """(C function, array pointers, extra argument names) of every kernel, in order, with
        each tensor at its planned place in `buffers`."""
        return [(k._fn, [self._ffi.from_buffer("float[]", buffers[base].reshape(-1)[offset:])
                         for base, offset in k._buffers], k._extras) for k in self.kernels]

    def export(self, directory, name: str | None = None, weights: str = "bin") -> list:
        """Write the model as C that builds with `make` and runs without Python: <name>.h (the
        API), <name>.c (the same kernels as this model's library), the weights (<name>.weights,
        or with weights="c" an array compiled in, <name>_weights.c), a Makefile and a demo
        main.c. `name` (default: the model's class, lower case) prefixes every symbol.
        Returns the paths written. Train-mode state cannot be exported (ValueError)."""
        if self._exporter is None:
            raise TypeError("this model was not made by compiler.compile in this process (an "
                            "unpickled model carries no plan): nothing to export")
        return self._exporter(directory, name=name, weights=weights, params=self._params)

    def profile(self, *inputs: np.ndarray, repeats: int = 10, out=None) -> list[tuple]:
        """Per-kernel times: [(kernel name, layers, median ms, GFLOP/s)] in execution order.

        Runs the kernels one at a time from Python, `repeats` times over, on this model's own
        buffers (inputs, outputs and the arena at its planned offsets), so each kernel sees
        exactly the data of a normal call. The run computes what `m(*inputs)` returns (pass
        `out`, arrays of the output shapes, to receive it) and leaves the model's state as
        one call would."""
        from time import perf_counter
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
            raise ValueError(f"repeats must be a positive int, got {repeats!r}")
        arrays = self._checked_inputs(inputs)
        outputs = list(out) if out is not None else [np.empty(s, np.float32)
                                                       for s in self.output_shapes]
        if len(outputs) != len(self.output_shapes) or any(
                not isinstance(o, np.ndarray) or o.dtype != np.float32 or o.shape != s
                or not o.flags.c_contiguous or not o.flags.writeable
                for o, s in zip(outputs, self.output_shapes)):
            raise ValueError(f"out: expected writeable C-contiguous float32 arrays of shape "
                             f"{', '.join(map(str, self.output_shapes))}")
        calls = self._kernel_calls(self._buffers(arrays, outputs))
        seconds = [[] for _ in calls]
        with self._call_lock:
            step = self._next_step()
            state = self._state.copy()
            def run_all():
                for _ in range(repeats):
                    self._state[:] = state      # every pass starts from the state of one call
                    for (fn, args, extras), times in zip(calls, seconds):
                        extra = self._extra_values(extras, step)
                        start = perf_counter()
                        fn(*args, *extra)
                        times.append(perf_counter() - start)
            forksafe.call(run_all)
        result = []
        for k, times in zip(self.kernels, seconds):
            median = float(np.median(times))
            result.append((k.name, list(k.layers), median * 1e3, k.flops / median / 1e9))
        return result

    def kernel_outputs(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """What every kernel writes, as NCHW arrays in execution order.

        Runs the kernels one at a time on this model's own buffers, as the next call would,
        and copies each kernel's output as soon as it is written (later kernels may reuse
        its memory). A look, not a call: the model's state and call count stay as they were."""
        arrays = self._checked_inputs(inputs)
        buffers = self._buffers(arrays, [np.empty(s, np.float32) for s in self.output_shapes])
        calls = self._kernel_calls(buffers)
        results = []

        def run_all():
            for (fn, args, extras), k in zip(calls, self.kernels):
                fn(*args, *self._extra_values(extras, self._step))
                base, offset = k._buffers[-1]
                size = int(np.prod(k.out_shape))
                out = buffers[base].reshape(-1)[offset:offset + size]
                results.append(k.to_nchw(out.reshape(k.out_shape)).copy())

        with self._call_lock:
            state = self._state.copy()
            try:
                forksafe.call(run_all)
            finally:
                self._state[:] = state
        return results

    def compare(self, *inputs: np.ndarray, reference=None, rtol: float = 1e-4,
                atol: float = 1e-5):
        """Every kernel's output next to a reference's value of its last layer: max abs, rel
        and ULP errors and where the worst element is (see compiler/compare.py). `reference`:
        None (smelt's NumPy interpreter on the traced graph), a torch.nn.Module, an ONNX path
        or ModelProto, a compiler.nn Module or a Graph. A kernel passes when every element is
        within atol * max(1, max |reference|) + rtol * |reference|."""
        if self._comparer is None:
            raise RuntimeError("compare needs the graph this model was compiled from: build "
                               "the model with compiler.compile (an unpickled model carries "
                               "no graph)")
        arrays = self._checked_inputs(inputs)
        return self._comparer(self, arrays, reference, step=self._step, rtol=rtol, atol=atol)

    def __repr__(self) -> str:
        shapes = ", ".join("x".join(map(str, s)) for s in self.input_shapes)
        return (f"CompiledModel(input {shapes}, {len(self.kernels)} kernels, "
                f"{self.plan.total_flops / 1e6:.1f} MFLOP, threads={self.threads})")

