"""The build cache: one directory per built library, keyed by everything that changes it.

    <cache>/entries/<key[:2]>/<key>/lib.so       the shared library
                                    entry.json   its sha256, its C declarations, the record
                                                 the builder keeps with it (a program's C)
                                    source.c     the C as people read it
    <cache>/tmp/.build-*/                        builds in progress
    <cache>/compilers/, <cache>/failed/          compiler identities; sources the compiler
                                                 rejected, kept for the error message

An entry is built in a private directory and becomes visible with one rename, so readers
see all of it or nothing, and concurrent builders race harmlessly (the loser uses the
winner's entry). Every read tolerates damage: a missing, truncated, foreign or garbled file
is a miss, and the entry is rebuilt over. Build directories of killed builders are swept by
the next build. The whole directory may be deleted at any time; a build that loses its
directory that way starts once more.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cffi
import platformdirs

from .errors import CompileError
from .cpu import cpu_flags

from . import build
from .version import __version__

LIBRARY, META, SOURCE = "lib.so", "entry.json", "source.c"
ENTRY_FORMAT = 1
#: a build directory older than this belongs to no live build (compiles are bounded)
BUILD_LIFETIME_S = 4 * build.COMPILER_TIMEOUT_S

#: never unmapped: OpenMP worker threads outlive every Python object, and unloading the
#: library (and with it libgomp) under them would crash the process at exit
DLOPEN_FLAGS = cffi.FFI().RTLD_NOW | getattr(cffi.FFI(), "RTLD_NODELETE", 0)

#: counters the tests read: how many builds and cache hits this process has seen
stats = {"builds": 0, "disk_hits": 0, "memory_hits": 0, "rebuilt_corrupt": 0}
#: (entry, compiler warnings) of every library this process built or loaded from disk that
#: warned: generated C should compile silently, and the tests hold it to that
warnings_seen: list[tuple[Path, str]] = []
_loaded: dict[str, "Library"] = {}
_lock = threading.RLock()


@dataclass
class Library:
    """A loaded library: call its functions through `lib`, wrap arrays with `ffi`."""

    key: str
    path: Path
    ffi: cffi.FFI
    lib: object
    record: dict          # what its builder stored with it
    warnings: str = ""    # the C compiler's, when it was built


def cache_dir() -> Path:
    """$SMELT_CACHE_DIR, else the platform's user cache directory (e.g. ~/.cache/smelt)."""
    path = Path(os.environ.get("SMELT_CACHE_DIR") or platformdirs.user_cache_dir("smelt"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_identity(isa: str, sanitize: bool) -> str:
    """Everything besides the sources that changes a binary: flags, compiler, CPU, versions."""
    return "\0".join((" ".join(build.flags_for(isa, sanitize)),
                      " ".join(build.link_flags(sanitize)),
                      build.compiler_identity(str(cache_dir())), " ".join(sorted(cpu_flags())),
                      __version__))


def cache_key(units: list[str], cdef: str, identity: str) -> str:
    h = hashlib.sha256()
    for part in (*units, cdef, identity):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def entry_dir(root: Path, key: str) -> Path:
    return root / "entries" / key[:2] / key


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_meta(entry: Path) -> dict | None:
    """An entry's metadata if it is intact: well-formed and matching its library."""
    text = build.read_text(entry / META)
    try:
        meta = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not (isinstance(meta, dict) and meta.get("format") == ENTRY_FORMAT
            and isinstance(meta.get("sha256"), str) and isinstance(meta.get("cdef"), str)
            and isinstance(meta.get("record"), dict) and isinstance(meta.get("warnings"), str)):
        return None
    try:
        return meta if file_digest(entry / LIBRARY) == meta["sha256"] else None
    except OSError:
        return None


def open_entry(key: str, entry: Path) -> Library | None:
    """The entry's library, loaded, or None if the entry is missing or damaged."""
    meta = read_meta(entry)
    if meta is None:
        return None
    ffi = cffi.FFI()
    try:
        ffi.cdef(meta["cdef"])
        lib = ffi.dlopen(str(entry / LIBRARY), DLOPEN_FLAGS)
    except (OSError, cffi.CDefError, cffi.FFIError):
        return None
    if meta["warnings"]:
        warnings_seen.append((entry, meta["warnings"]))
    return Library(key, entry / LIBRARY, ffi, lib, meta["record"], meta["warnings"])


def lookup(key: str) -> Library | None:
    """The library built under `key` (from memory or disk), or None."""
    with _lock:
        if key in _loaded:
            stats["memory_hits"] += 1
            return _loaded[key]
        library = open_entry(key, entry_dir(cache_dir(), key))
        if library is not None:
            stats["disk_hits"] += 1
            _loaded[key] = library
        return library


def load(units: list[str], cdef: str, isa: str = "native", sanitize: bool = False,
         source: str | None = None) -> Library:
    """The library of these translation units, built only if no cached copy exists."""
    key = cache_key(units, cdef, build_identity(isa, sanitize))
    return lookup(key) or build_entry(key, units, cdef, isa, sanitize, source)


def build_entry(key: str, units: list[str], cdef: str, isa: str, sanitize: bool,
                source: str | None = None, record: dict | None = None,
                progress=None) -> Library:
    """Compile `units` into the entry `key` (replacing a damaged one) and load it;
    `progress` as for build.build_library."""
    if sanitize:
        build.check_sanitizer_runtime()
    with _lock:
        entry = built_entry(key, units, cdef, isa, sanitize, source, record, progress)
        library = open_entry(key, entry)
        if library is None:
            raise CompileError(f"the library built in {entry} does not load")
        _loaded[key] = library
        return library


def compile_only(units: list[str], isa: str, sanitize: bool = False) -> str:
    """Build `units` (or find them built) without loading them, for C this CPU may not run;
    returns the compiler's warnings."""
    key = cache_key(units, "", build_identity(isa, sanitize))
    meta = read_meta(entry_dir(cache_dir(), key))
    if meta is None:
        meta = read_meta(built_entry(key, units, "", isa, sanitize, None, None))
    return meta["warnings"] if meta is not None else "the built entry vanished"


def built_entry(key: str, units: list[str], cdef: str, isa: str, sanitize: bool,
                source: str | None, record: dict | None, progress=None) -> Path:
    """Build the entry `key` and install it; a build whose cache directory is deleted under
    it starts once more."""
    with _lock:
        for attempt in range(2):
            try:
                entry = build_once(cache_dir(), key, units, cdef, isa, sanitize,
                                   source or "\n".join(units), record or {}, progress)
                stats["builds"] += 1
                return entry
            except FileNotFoundError:
                if attempt:               # gone twice: something keeps deleting the cache
                    raise
        raise AssertionError("unreachable")


def build_once(root: Path, key: str, units: list[str], cdef: str, isa: str, sanitize: bool,
               source: str, record: dict, progress=None) -> Path:
    scratch = root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    sweep_stale(scratch)
    workdir = Path(tempfile.mkdtemp(prefix=".build-", dir=scratch))
    try:
        (workdir / "owner").write_text(owner_tag())
        staging = workdir / "entry"
        staging.mkdir()
        library, warnings = build.build_library(units, build.flags_for(isa, sanitize), sanitize,
                                                workdir, root / "failed", progress=progress)
        os.replace(library, staging / LIBRARY)
        (staging / SOURCE).write_text(source)
        meta = {"format": ENTRY_FORMAT, "sha256": file_digest(staging / LIBRARY),
                "cdef": cdef, "record": record, "warnings": warnings}
        (staging / META).write_text(json.dumps(meta))
        final = entry_dir(root, key)
        install(staging, final, workdir)
        return final
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def install(staging: Path, final: Path, workdir: Path) -> None:
    """Rename the staged entry into place. If an entry is there already, keep it when it is
    intact (a concurrent builder won) or move it aside when it is damaged, and try again."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, final)
        return
    except FileNotFoundError:
        raise
    except OSError:
        if read_meta(final) is not None:
            return
    stats["rebuilt_corrupt"] += 1
    try:
        os.rename(final, workdir / "damaged")       # removed with the build directory
    except FileNotFoundError:
        pass                                        # a concurrent builder moved it first
    try:
        os.rename(staging, final)
    except FileNotFoundError:
        raise
    except OSError:
        if read_meta(final) is None:
            raise CompileError(f"could not install a build into {final}") from None


def owner_tag() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def sweep_stale(scratch: Path) -> None:
    """Remove build directories whose builder is gone: a process of this host that no longer
    runs, or anything older than a build can take."""
    try:
        candidates = [p for p in scratch.iterdir() if p.name.startswith(".build-")]
    except OSError:
        return
    host = socket.gethostname()
    for path in candidates:
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        owner = (build.read_text(path / "owner") or "").split()
        dead = False
        if len(owner) == 2 and owner[0] == host and owner[1].isdigit():
            dead = not process_alive(int(owner[1]))
        elif age < 60:
            continue                 # just created: its owner file may not be written yet
        if dead or age > BUILD_LIFETIME_S:
            shutil.rmtree(path, ignore_errors=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
