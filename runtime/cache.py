"""The build cache: one extension per distinct binary, keyed by everything that changes it.

Key = sha256(sources, cdef, flags, compiler identity, CPU features, smelt version, Python ABI).
`-march=native` is the same string on every machine, so the CPU's feature flags are hashed
too. Builds happen in a private temp dir and are renamed into place, so concurrent builders
race harmlessly and a killed build leaves nothing half-written. Each binary has a sha256
sidecar written before it is renamed into place; a cached file that does not match it (a
truncated .so would crash the process in dlopen) or fails to load is rebuilt over.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import ModuleType

import platformdirs

from compiler.target import cpu_flags

from . import build
from .version import __version__

#: counters the tests read: how many builds and cache hits this process has seen
stats = {"builds": 0, "disk_hits": 0, "memory_hits": 0, "rebuilt_corrupt": 0}
_loaded: dict[str, ModuleType] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """$SMELT_CACHE_DIR, else the platform's user cache directory (e.g. ~/.cache/smelt)."""
    path = Path(os.environ.get("SMELT_CACHE_DIR") or platformdirs.user_cache_dir("smelt"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(units: list[str], cdef: str, flags: tuple[str, ...], root: Path) -> str:
    h = hashlib.sha256()
    for part in (*units, cdef, " ".join(flags), build.compiler_identity(str(root)),
                 " ".join(sorted(cpu_flags())), __version__, build.ext_suffix()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def intact(path: Path) -> bool:
    """The cached binary is exactly the one that was installed."""
    try:
        return digest_path(path).read_text() == file_digest(path)
    except OSError:
        return False


def import_extension(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_cached(name: str, path: Path) -> ModuleType | None:
    """The cached extension, or None if it is damaged (checksum mismatch or fails to load)."""
    if not intact(path):
        return None
    try:
        return import_extension(name, path)
    except (ImportError, OSError):
        return None


def load(units: list[str], cdef: str, isa: str = "native",
         sanitize: bool = False) -> tuple[ModuleType, Path]:
    """The loaded extension for these sources, built only if no cached copy exists."""
    if sanitize:
        build.check_sanitizer_runtime()
    root = cache_dir()
    flags = build.flags_for(isa, sanitize)
    key = cache_key(units, cdef, flags, root)
    name = f"_smelt_{key[:24]}"
    path = root / key[:2] / f"{name}{build.ext_suffix()}"
    with _lock:
        if name in _loaded:
            stats["memory_hits"] += 1
            return _loaded[name], path
        if path.exists():
            module = import_cached(name, path)
            if module is not None:
                stats["disk_hits"] += 1
                _loaded[name] = module
                return module, path
            stats["rebuilt_corrupt"] += 1           # the new build is renamed over it
        path.parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=path.parent))
        try:
            built = build.build_extension(name, units, cdef, flags, sanitize, workdir,
                                          root / "failed")
            build.write_atomic(path.parent / f"{name}.c", "\n".join(units).encode())
            build.write_atomic(digest_path(path), file_digest(built).encode())
            os.replace(built, path)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        stats["builds"] += 1
        module = import_extension(name, path)
        _loaded[name] = module
        return module, path
