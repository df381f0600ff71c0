"""Turn generated C into a shared library: flags, compiler identity, the C compiler.

The library is plain C with no Python in it (cffi loads it in ABI mode), so the binary that
Python calls is the same kind of artifact a C program links. Translation units compile in
parallel and link into one shared object.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .cpu import cpu_flags
from .errors import CompileError

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
    "-Werror=implicit-function-declaration",   # a C helper an op forgot fails the build
)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")
#: -march per ISA: "native" is this machine; the others can be built (and run) on any x86-64
#: that has them, so what is built for "avx2" does not depend on the building machine.
ISA_FLAGS = {
    "native": ("-march=native",),
    "avx512": ("-march=x86-64-v4", "-mtune=native"),
    "avx2": ("-march=x86-64-v3", "-mtune=native"),
    "generic": ("-march=x86-64", "-mtune=generic") if X86 else (),
}
#: On AVX-512 CPUs, GCC's tuning auto-vectorises with 256-bit vectors; the kernels' own vectors
#: are 512-bit already, so the loops GCC vectorises (fused activations at a tile's store,
#: elementwise kernels) take 512 too. Measured on an Intel Xeon (AVX-512), one thread: ESPCN
#: (tanh after each convolution) 19-21% faster, small UNet 9-11%, the rest within noise.
WIDE_VECTORS = ("-mprefer-vector-width=512",)
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g")
# -Bsymbolic: calls between a model's own functions bind inside the library, so no other
# library loaded into the process can interpose a kernel of the same name.
LINK_FLAGS = ("-shared", "-fopenmp", "-lm", "-Wl,-Bsymbolic")
#: a compiler run taking longer than this is treated as hung and killed
COMPILER_TIMEOUT_S = 1800


def c_compiler() -> list[str]:
    """$CC if set (it may carry flags), else the compiler Python was built with if this
    machine has it, else cc."""
    cc = os.environ.get("CC")
    if not cc:
        configured = shlex.split(sysconfig.get_config_var("CC") or "")
        cc = " ".join(configured) if configured and shutil.which(configured[0]) else "cc"
    return shlex.split(cc)[:1] + [a for a in shlex.split(cc)[1:] if not a.startswith("-pthread")]


def sanitize_requested(option: bool | None) -> bool:
    if option is not None:
        return bool(option)
    return os.environ.get("SMELT_SANITIZE", "") not in ("", "0")


def check_sanitizer_runtime() -> None:
    """An ASan-instrumented library only loads when the ASan runtime came first."""
    import ctypes
    try:
        ctypes.CDLL(None).__asan_init
    except AttributeError:
        raise RuntimeError(
            "the sanitizer build (SMELT_SANITIZE=1 or sanitize=True) needs the ASan runtime "
            "loaded before Python: run with LD_PRELOAD=\"$(gcc -print-file-name=libasan.so)\" "
            "ASAN_OPTIONS=detect_leaks=0") from None


def isa_flags(isa: str) -> tuple[str, ...]:
    """-march (and the vector width) for `isa`; "native" on an AVX-512 host is AVX-512."""
    wide = isa == "avx512" or (isa == "native" and X86 and "avx512f" in cpu_flags())
    return ISA_FLAGS[isa] + (WIDE_VECTORS if wide else ())


def flags_for(isa: str, sanitize: bool) -> tuple[str, ...]:
    if sanitize:    # -O0: every access stays in the code to be checked, and builds 2x faster
        return tuple("-O0" if f == "-O3" else f for f in KERNEL_FLAGS) + isa_flags(isa) + \
            SANITIZE_FLAGS
    return KERNEL_FLAGS + isa_flags(isa)


def link_flags(sanitize: bool) -> tuple[str, ...]:
    return LINK_FLAGS + (SANITIZE_FLAGS if sanitize else ())


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
    remembered = read_text(memo)
    if remembered is not None and remembered.startswith(stamp + "|") and \
            remembered.count("\n") == 0 and len(remembered) > len(stamp) + 1:
        return remembered          # anything else in the file (damage, garbage) is re-asked
    try:
        version = subprocess.run(cc + ["--version"], capture_output=True, text=True,
                                 timeout=60).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError) as e:
        raise CompileError(f"no working C compiler: {' '.join(cc)} --version failed ({e}); "
                           "install gcc or clang, or point $CC at one") from None
    identity = f"{stamp}|{version}"
    try:
        write_atomic(memo, identity.encode())
    except OSError:
        pass                       # a cache we cannot write only costs the next start a run
    return identity


def read_text(path: Path) -> str | None:
    """A cache file's text, or None if it is missing, unreadable or not UTF-8."""
    try:
        return path.read_bytes().decode()
    except (OSError, UnicodeDecodeError):
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_compiler(cmd: list[str], source: Path, failed_dir: Path) -> str:
    """Run one compiler command; its diagnostics (warnings) when it succeeds."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                timeout=COMPILER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CompileError(f"the C compiler did not finish within {COMPILER_TIMEOUT_S} s on "
                           f"{source}\n$ {' '.join(cmd)}") from None
    except OSError as e:
        raise CompileError(f"could not run the C compiler ({e})\n$ {' '.join(cmd)}") from None
    if result.returncode != 0:
        if not source.exists():       # the build directory vanished under us (cache deleted)
            raise FileNotFoundError(f"{source} vanished during the build")
        failed_dir.mkdir(parents=True, exist_ok=True)
        kept = failed_dir / source.name
        shutil.copyfile(source, kept)
        raise CompileError(f"the C compiler failed on {kept}\n$ {' '.join(cmd)}\n"
                           f"{result.stderr.strip()}")
    return result.stderr.strip()


def build_library(units: list[str], flags: tuple[str, ...], sanitize: bool, workdir: Path,
                  failed_dir: Path, stem: str = "model", progress=None) -> tuple[Path, str]:
    """Compile the C translation units `units` and link them into `workdir/lib.so`; returns
    its path and the compiler's warnings (generated C should have none: tests check).
    `progress(stage, done, total)`, if given, hears of each unit compiled and of the link."""
    report = progress or (lambda stage, done, total: None)
    cc = c_compiler()
    sources = []
    for i, text in enumerate(units):
        path = workdir / f"{stem}_part{i}.c"
        path.write_text(text)
        sources.append(path)

    def compile_one(src: Path) -> str:
        return run_compiler(cc + list(flags) + ["-c", str(src), "-o", str(src.with_suffix(".o"))],
                            src, failed_dir)

    workers = max(1, min(len(sources), os.cpu_count() or 1))
    report("C compiler", 0, len(sources))
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(compile_one, src) for src in sources]
        for done, _ in enumerate(as_completed(futures), 1):     # reported from this thread
            report("C compiler", done, len(sources))
        warnings = [f.result() for f in futures]
    target = workdir / "lib.so"
    link = cc + [str(s.with_suffix(".o")) for s in sources] + ["-o", str(target)] + \
        list(link_flags(sanitize))
    report("link", 0, 1)
    warnings.append(run_compiler(link, sources[0], failed_dir))
    report("link", 1, 1)
    return target, "\n".join(w for w in warnings if w)
