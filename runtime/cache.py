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
import json
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


def build_identity(isa: str, sanitize: bool) -> str:
    """Everything besides the sources that changes a binary: flags, compiler, CPU, versions."""
    return "\0".join((" ".join(build.flags_for(isa, sanitize)),
                      build.compiler_identity(str(cache_dir())), " ".join(sorted(cpu_flags())),
                      __version__, build.ext_suffix()))


def cache_key(units: list[str], cdef: str, identity: str) -> str:
    h = hashlib.sha256()
    for part in (*units, cdef, identity):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def binary_path(root: Path, key: str) -> tuple[str, Path]:
    """The extension's module name and where its shared object lives."""
    name = f"_smelt_{key[:24]}"
    return name, root / key[:2] / f"{name}{build.ext_suffix()}"


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


def load_built(key: str) -> tuple[ModuleType, Path] | None:
    """The extension already built under `key` (memory or disk), or None."""
    name, path = binary_path(cache_dir(), key)
    with _lock:
        if name in _loaded:
            stats["memory_hits"] += 1
            return _loaded[name], path
        module = import_cached(name, path) if path.exists() else None
        if module is None:
            return None
        stats["disk_hits"] += 1
        _loaded[name] = module
        return module, path


def load(units: list[str], cdef: str, isa: str = "native", sanitize: bool = False,
         source: str | None = None) -> tuple[ModuleType, Path, str]:
    """The loaded extension for these translation units, built only if no cached copy exists.
    `source` (the whole program) is kept next to the binary for people to read."""
    if sanitize:
        build.check_sanitizer_runtime()
    root = cache_dir()
    flags = build.flags_for(isa, sanitize)
    key = cache_key(units, cdef, build_identity(isa, sanitize))
    name, path = binary_path(root, key)
    with _lock:
        if name in _loaded:
            stats["memory_hits"] += 1
            return _loaded[name], path, key
        if path.exists():
            module = import_cached(name, path)
            if module is not None:
                stats["disk_hits"] += 1
                _loaded[name] = module
                return module, path, key
            stats["rebuilt_corrupt"] += 1           # the new build is renamed over it
        path.parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=path.parent))
        try:
            built = build.build_extension(name, units, cdef, flags, sanitize, workdir,
                                          root / "failed")
            build.write_atomic(path.parent / f"{name}.c",
                               (source or "\n".join(units)).encode())
            build.write_atomic(digest_path(path), file_digest(built).encode())
            os.replace(built, path)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        stats["builds"] += 1
        module = import_extension(name, path)
        _loaded[name] = module
        return module, path, key


def program_path(fingerprint: str) -> Path:
    return cache_dir() / "programs" / fingerprint[:2] / f"{fingerprint}.json"


def lookup_program(fingerprint: str) -> dict | None:
    """The record of a program rendered and built before: its binary key and C sources."""
    try:
        return json.loads(program_path(fingerprint).read_text())
    except (OSError, ValueError):
        return None


def store_program(fingerprint: str, record: dict) -> None:
    build.write_atomic(program_path(fingerprint), json.dumps(record).encode())
