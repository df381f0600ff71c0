"""Turn generated C into a loadable extension: flags, compiler identity, cffi, the C compiler.

cffi runs in out-of-line API mode: it writes the C of a CPython extension that calls our
kernels directly (no libffi on the call path). We compile that wrapper and the kernels as
separate translation units, in parallel, and link one shared object.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cffi

from compiler.errors import CompileError

# Every flag, and why. Never -ffast-math / -Ofast: they let the compiler drop NaN checks
# (PyTorch propagates NaN through ReLU and max-pool) and may set flush-to-zero process-wide.
KERNEL_FLAGS = (
    "-O3",
    "-std=gnu11",
    "-fPIC",
    "-fopenmp",              # one parallel loop per kernel; thread count is a call argument
    "-fno-math-errno",       # expf/sqrtf never set errno, so they can inline as instructions
    "-fno-trapping-math",    # we never unmask FP exceptions, so no trap needs preserving
    "-Wall", "-Wextra",
)
WRAPPER_FLAGS = ("-O2", "-fPIC", "-std=gnu11")
ISA_FLAGS = {
    "native": ("-march=native",),
    "avx512": ("-march=native",),
    "avx2": ("-march=native", "-mno-avx512f"),     # also drops every AVX-512 extension
    "generic": ("-march=x86-64", "-mtune=generic"),
}
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g")
LINK_FLAGS = ("-shared", "-fopenmp", "-lm")


def c_compiler() -> list[str]:
    """$CC if set (it may carry flags), else the compiler Python was built with, else cc."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)[:1] + [a for a in shlex.split(cc)[1:] if not a.startswith("-pthread")]


def sanitize_requested(option: bool | None) -> bool:
    if option is not None:
        return bool(option)
    return os.environ.get("SMELT_SANITIZE", "") not in ("", "0")


def check_sanitizer_runtime() -> None:
    """An ASan-instrumented extension only loads when the ASan runtime came first."""
    import ctypes
    try:
        ctypes.CDLL(None).__asan_init
    except AttributeError:
        raise RuntimeError(
            "the sanitizer build (SMELT_SANITIZE=1 or sanitize=True) needs the ASan runtime "
            "loaded before Python: run with LD_PRELOAD=\"$(gcc -print-file-name=libasan.so)\" "
            "ASAN_OPTIONS=detect_leaks=0") from None


def flags_for(isa: str, sanitize: bool) -> tuple[str, ...]:
    if sanitize:    # -O1: what the sanitizers are tuned for, and builds several times faster
        return tuple("-O1" if f == "-O3" else f for f in KERNEL_FLAGS) + ISA_FLAGS[isa] + \
            SANITIZE_FLAGS
    return KERNEL_FLAGS + ISA_FLAGS[isa]


def compiler_identity(cache_root: str) -> str:
    """The compiler's path and `--version`, remembered on disk by the binary's path, size and
    mtime, so a warm start never runs the compiler, not even to ask its version."""
    return _compiler_identity(cache_root, tuple(c_compiler()))     # $CC may change in-process


@functools.cache
def _compiler_identity(cache_root: str, cc: tuple[str, ...]) -> str:
    cc = list(cc)
    path = shutil.which(cc[0]) or cc[0]
    try:
        st = os.stat(path)
        stamp = f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}|{' '.join(cc)}"
    except OSError:
        stamp = " ".join(cc)
    memo = Path(cache_root) / "compilers" / hashlib.sha256(stamp.encode()).hexdigest()[:32]
    try:
        return memo.read_text()
    except OSError:
        pass
    try:
        version = subprocess.run(cc + ["--version"], capture_output=True, text=True,
                                 timeout=60).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError) as e:
        raise CompileError(f"no working C compiler: {' '.join(cc)} --version failed ({e}); "
                           "install gcc or clang, or point $CC at one") from None
    identity = f"{stamp}|{version}"
    write_atomic(memo, identity.encode())
    return identity


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def python_include() -> str:
    return sysconfig.get_paths()["include"]


def run_compiler(cmd: list[str], source: Path, failed_dir: Path) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        failed_dir.mkdir(parents=True, exist_ok=True)
        kept = failed_dir / source.name
        shutil.copyfile(source, kept)
        raise CompileError(f"the C compiler failed on {kept}\n$ {' '.join(cmd)}\n"
                           f"{result.stderr.strip()}")


def build_extension(name: str, units: list[str], cdef: str, flags: tuple[str, ...],
                    sanitize: bool, workdir: Path, failed_dir: Path) -> Path:
    """Compile `units` (C sources of kernels) plus the cffi wrapper into `workdir/<name>.so`."""
    cc = c_compiler()
    sources = []
    for i, text in enumerate(units):
        path = workdir / f"{name}_part{i}.c"
        path.write_text(text)
        sources.append((path, list(flags)))
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(name, "#include <stdint.h>\n" + cdef + "\n", compiler_verbose=False)
    wrapper = workdir / f"{name}.c"
    ffi.emit_c_code(str(wrapper))
    sources.append((wrapper, list(WRAPPER_FLAGS) + (list(SANITIZE_FLAGS) if sanitize else [])
                    + [f"-I{python_include()}"]))

    def compile_one(item):
        src, src_flags = item
        obj = src.with_suffix(".o")
        run_compiler(cc + src_flags + ["-c", str(src), "-o", str(obj)], src, failed_dir)
        return obj

    workers = max(1, min(len(sources), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        objects = list(pool.map(compile_one, sources))
    target = workdir / f"{name}{ext_suffix()}"
    link = cc + [str(o) for o in objects] + ["-o", str(target)] + list(LINK_FLAGS) + \
        (list(SANITIZE_FLAGS) if sanitize else [])
    run_compiler(link, sources[0][0], failed_dir)
    return target


def ext_suffix() -> str:
    return sysconfig.get_config_var("EXT_SUFFIX") or (".pyd" if sys.platform == "win32" else ".so")
