"""The on-disk build cache: warm starts in a new process never run the C compiler, concurrent
builders both succeed, corrupt entries are rebuilt, failed builds leave nothing behind and
say why, and the key covers what changes the binary (flags, sanitizer, ISA, compiler) but
not the weights."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import interp, nn
from compiler.errors import CompileError
from runtime import build, cache

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json
import numpy as np
import compiler
from compiler import nn
from runtime import cache

compiler.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)).eval()
m = compiler.compile(model, (1, 3, 6, 6))
x = np.linspace(-1, 1, 108, dtype=np.float32).reshape(1, 3, 6, 6)
print(json.dumps({"stats": cache.stats, "path": str(m.library_path),
                  "out": m(x).ravel().tolist()}))
"""


def real_cc() -> str:
    saved = os.environ.pop("CC", None)
    try:
        return build.c_compiler()[0]
    finally:
        if saved is not None:
            os.environ["CC"] = saved


def wrapper(tmp_path: Path, name: str, body: str) -> Path:
    """An executable $CC that logs every invocation to <name>.log, then runs `body`."""
    script = tmp_path / name
    log = tmp_path / f"{name}.log"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{body}\n')
    script.chmod(0o755)
    return script


def logging_cc(tmp_path: Path, delay: float = 0) -> Path:
    sleep = f'case "$*" in *" -c "*) sleep {delay};; esac\n' if delay else ""
    return wrapper(tmp_path, "cc-log", f'{sleep}exec {real_cc()} "$@"')


def invocations(cc: Path) -> list[str]:
    log = cc.with_name(cc.name + ".log")
    return log.read_text().splitlines() if log.exists() else []


def child_env(cache_dir: Path, cc: Path) -> dict:
    env = dict(os.environ, SMELT_CACHE_DIR=str(cache_dir), CC=str(cc))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_child(cache_dir: Path, cc: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD], env=child_env(cache_dir, cc),
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def cached_binaries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob(f"entries/*/*/{cache.LIBRARY}"))


def leftovers(cache_dir: Path) -> list[Path]:
    """Temporary build directories or files that a finished build should not leave."""
    return [p for p in cache_dir.rglob("*") if p.name.startswith(".")]


# --- warm start in a new process -------------------------------------------------------------

def test_second_process_does_not_invoke_the_compiler(tmp_path):
    cc, cache_dir = logging_cc(tmp_path), tmp_path / "cache"
    first = run_child(cache_dir, cc)
    assert first["stats"]["builds"] == 1 and first["stats"]["disk_hits"] == 0
    calls = invocations(cc)
    assert any(" -c " in f" {c} " for c in calls), calls       # it really compiled
    second = run_child(cache_dir, cc)
    assert second["stats"]["builds"] == 0 and second["stats"]["disk_hits"] == 1
    assert invocations(cc) == calls, "the warm start ran the C compiler"
    assert second["path"] == first["path"] and second["out"] == first["out"]
    assert len(cached_binaries(cache_dir)) == 1 and not leftovers(cache_dir)


def test_concurrent_processes_both_succeed(tmp_path):
    cc, cache_dir = logging_cc(tmp_path, delay=0.3), tmp_path / "cache"
    env = child_env(cache_dir, cc)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["out"] == results[1]["out"]
    assert results[0]["path"] == results[1]["path"]
    assert len(cached_binaries(cache_dir)) == 1 and not leftovers(cache_dir)
    assert run_child(cache_dir, cc)["stats"]["disk_hits"] == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_entry_is_rebuilt(tmp_path, damage):
    cc, cache_dir = logging_cc(tmp_path), tmp_path / "cache"
    good = run_child(cache_dir, cc)
    (so,) = cached_binaries(cache_dir)
    content = so.read_bytes()
    so.write_bytes({"garbage": b"this is not a shared object\n" * 100,
                    "truncated": content[:len(content) // 3], "empty": b""}[damage])
    again = run_child(cache_dir, cc)
    assert again["stats"]["rebuilt_corrupt"] == 1 and again["stats"]["builds"] == 1
    assert again["out"] == good["out"]
    third = run_child(cache_dir, cc)
    assert third["stats"]["disk_hits"] == 1 and third["stats"]["builds"] == 0


# --- failed builds ---------------------------------------------------------------------------

def small_model(seed=0):
    compiler.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh()).eval()


@pytest.mark.parametrize("stage", ["compile", "link"])
def test_failed_build_leaves_nothing_and_explains(tmp_path, monkeypatch, stage):
    pattern = '*" -c "*' if stage == "compile" else '*" -shared"*'
    cc = wrapper(tmp_path, "cc-fail", f'case "$*" in {pattern}) '
                 f'echo "cc-fail: refusing this {stage}" >&2; exit 1;; esac\n'
                 f'exec {real_cc()} "$@"')
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("SMELT_CACHE_DIR", str(cache_dir))
    with pytest.raises(CompileError) as info:
        compiler.compile(small_model(), (1, 2, 5, 5))
    message = str(info.value)
    assert f"refusing this {stage}" in message
    kept = Path(message.splitlines()[0].split(" failed on ")[1])   # the source, kept
    assert kept.is_file() and kept.suffix == ".c", message
    assert not cached_binaries(cache_dir)
    assert not [p for p in cache_dir.rglob("*") if p.is_file() and p.parent.name
                not in ("compilers", "failed")]
    assert not leftovers(cache_dir)


def test_compiler_error_shows_message_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path))
    with pytest.raises(CompileError) as info:
        cache.load(["void broken_kernel(void) { int x = ; (void)x; }\n"],
                   "void broken_kernel(void);")
    message = str(info.value)
    assert "error" in message and "expected expression" in message
    kept = Path(message.splitlines()[0].split(" failed on ")[1])
    assert kept.is_file() and "broken_kernel" in kept.read_text()
    assert not cached_binaries(tmp_path)


def test_missing_compiler_is_a_compile_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(CompileError, match="no-such-cc"):
        compiler.compile(small_model(), (1, 2, 5, 5))


# --- what the key covers ---------------------------------------------------------------------

def test_weights_are_not_part_of_the_binary():
    a, b = small_model(1), small_model(2)
    ma, mb = compiler.compile(a, (1, 2, 5, 5)), compiler.compile(b, (1, 2, 5, 5))
    assert ma.library_path == mb.library_path and ma.source == mb.source
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5), dtype=np.float32)
    ya, yb = ma(x), mb(x)
    assert not np.allclose(ya, yb)
    np.testing.assert_allclose(ya, interp.run(compiler.trace(a, x.shape), x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yb, interp.run(compiler.trace(b, x.shape), x), rtol=1e-5, atol=1e-6)


def test_second_compile_in_process_is_a_memory_hit():
    compiler.compile(small_model(), (1, 2, 5, 5))
    before = dict(cache.stats)
    compiler.compile(small_model(3), (1, 2, 5, 5))
    assert cache.stats["builds"] == before["builds"]
    assert cache.stats["memory_hits"] == before["memory_hits"] + 1


def test_key_changes_with_flags_sanitize_isa_version(monkeypatch):
    m = compiler.compile(small_model(), (1, 2, 5, 5))
    units, cdef = [m.source], "void f(void);"

    def key(isa="native", sanitize=False):
        return cache.cache_key(units, cdef, cache.build_identity(isa, sanitize))

    keys = {key(), key(sanitize=True), key("generic"), key("avx2"), key("generic", True)}
    assert len(keys) == 5
    assert key() == key()
    assert cache.cache_key([m.source + " "], cdef, cache.build_identity("native", False)) != key()
    monkeypatch.setattr(cache, "__version__", "999.0")
    assert key() not in keys


def test_key_changes_with_the_compiler(tmp_path, monkeypatch):
    """$CC is part of the key, even when it changes within one process."""
    units, cdef = ["int f(void) { return 1; }"], "int f(void);"
    before = cache.cache_key(units, cdef, cache.build_identity("native", False))
    monkeypatch.setenv("CC", str(logging_cc(tmp_path)))
    assert cache.cache_key(units, cdef, cache.build_identity("native", False)) != before


def test_isa_option_builds_another_binary():
    model = small_model()
    native = compiler.compile(model, (1, 2, 5, 5))
    generic = compiler.compile(model, (1, 2, 5, 5), isa="generic")
    assert native.library_path != generic.library_path
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5), dtype=np.float32)
    np.testing.assert_allclose(native(x), generic(x), rtol=1e-5, atol=1e-6)


def test_cache_location(tmp_path, monkeypatch):
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path / "here"))
    assert cache.cache_dir() == tmp_path / "here" and (tmp_path / "here").is_dir()
    monkeypatch.delenv("SMELT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    import platformdirs
    assert cache.cache_dir() == Path(platformdirs.user_cache_dir("smelt"))
    assert str(cache.cache_dir()).startswith(str(tmp_path))


# --- damage, kills, races and deletion --------------------------------------------------------

def entry_of(cache_dir: Path) -> Path:
    (so,) = cached_binaries(cache_dir)
    return so.parent


@pytest.mark.parametrize("damage", [b"\xff\xfe\x00garbage", b"[]", b'{"format": 1}',
                                    b'{"format": 1, "sha256": 5, "cdef": [], "record": 3}',
                                    b"{" * 10_000])
def test_damaged_entry_metadata_is_a_miss(tmp_path, damage):
    """Non-UTF-8 bytes, valid JSON of the wrong shape, deep nesting: rebuilt, never raised."""
    cc, cache_dir = logging_cc(tmp_path), tmp_path / "cache"
    good = run_child(cache_dir, cc)
    (entry_of(cache_dir) / cache.META).write_bytes(damage)
    again = run_child(cache_dir, cc)
    assert again["stats"]["builds"] == 1 and again["stats"]["rebuilt_corrupt"] == 1
    assert again["out"] == good["out"]
    assert run_child(cache_dir, cc)["stats"]["disk_hits"] == 1


def test_program_record_of_the_wrong_shape_is_a_miss(tmp_path):
    """An intact binary whose program record is not what the driver wrote: rebuilt."""
    cc, cache_dir = logging_cc(tmp_path), tmp_path / "cache"
    good = run_child(cache_dir, cc)
    meta_path = entry_of(cache_dir) / cache.META
    meta = json.loads(meta_path.read_text())
    for record in ({"source": 5, "kernels": []}, {"source": "x", "kernels": [1, 2]},
                   {"source": "x", "kernels": ["only one"] * 99}):
        meta["record"] = record
        meta_path.write_text(json.dumps(meta))
        again = run_child(cache_dir, cc)
        assert again["stats"]["builds"] == 1 and again["out"] == good["out"]
        meta_path = entry_of(cache_dir) / cache.META
        meta = json.loads(meta_path.read_text())


@pytest.mark.parametrize("damage", [b"\xff\xfe\x80", b"", b"not an identity"])
def test_damaged_compiler_identity_is_asked_again(tmp_path, monkeypatch, damage):
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("SMELT_CACHE_DIR", str(cache_dir))
    identity = build.compiler_identity(str(cache_dir))
    (memo,) = (cache_dir / "compilers").iterdir()
    memo.write_bytes(damage)
    build._compiler_identity.cache_clear()
    assert build.compiler_identity(str(cache_dir)) == identity
    assert memo.read_text() == identity


def test_builds_of_killed_builders_are_swept(tmp_path, monkeypatch):
    """A build directory whose owner process is gone, or older than any build, is removed
    by the next build; a live builder's directory is left alone."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("SMELT_CACHE_DIR", str(cache_dir))
    scratch = cache_dir / "tmp"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = {"dead": f"{cache.socket.gethostname()} {dead}", "garbage": "\xff junk",
             "alive": cache.owner_tag()}
    for name, owner in stale.items():
        (scratch / f".build-{name}").mkdir(parents=True)
        (scratch / f".build-{name}" / "owner").write_text(owner, errors="surrogateescape")
        (scratch / f".build-{name}" / "model_part0.o").write_bytes(b"\0" * 1000)
    old = time.time() - cache.BUILD_LIFETIME_S - 10
    os.utime(scratch / ".build-garbage", (old, old))
    cache.load(["int swept(void) { return 1; }"], "int swept(void);")
    assert sorted(p.name for p in scratch.iterdir()) == [".build-alive"]


def test_killed_build_leaves_nothing_that_stays(tmp_path):
    """SIGKILL in the middle of a build: the next build in another process sweeps it."""
    cc, cache_dir = logging_cc(tmp_path, delay=30), tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=child_env(cache_dir, cc),
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 60
    while not list((cache_dir / "tmp").glob(".build-*/owner")) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)          # the builder and its compilers
    child.wait()
    assert list((cache_dir / "tmp").glob(".build-*"))
    (tmp_path / "fast").mkdir()
    result = run_child(cache_dir, logging_cc(tmp_path / "fast"))
    assert result["stats"]["builds"] == 1
    assert not leftovers(cache_dir)


def test_cache_deleted_during_a_build(tmp_path):
    """The cache directory may be deleted at any time: a build that loses it starts again."""
    cache_dir = tmp_path / "cache"
    once = tmp_path / "deleted-once"
    cc = wrapper(tmp_path, "cc-rm", f'case "$*" in *" -c "*) if [ ! -e "{once}" ]; then '
                 f'touch "{once}"; rm -rf "{cache_dir}"; fi;; esac\nexec {real_cc()} "$@"')
    result = run_child(cache_dir, cc)
    assert once.exists() and result["stats"]["builds"] == 1
    assert len(cached_binaries(cache_dir)) == 1 and not leftovers(cache_dir)
    assert run_child(cache_dir, cc)["stats"]["disk_hits"] == 1


def test_an_entry_is_installed_as_one_rename(tmp_path, monkeypatch):
    """Binary, checksum and record appear together; a racing builder's intact entry wins,
    a damaged one is replaced."""
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path / "cache"))
    units, cdef = ["int raced(void) { return 7; }"], "int raced(void);"
    key = cache.cache_key(units, cdef, cache.build_identity("native", False))
    first = cache.build_entry(key, units, cdef, "native", False)
    assert sorted(p.name for p in first.path.parent.iterdir()) == \
        sorted([cache.LIBRARY, cache.META, cache.SOURCE])
    installed = first.path.parent.stat().st_ino
    cache._loaded.clear()
    again = cache.build_entry(key, units, cdef, "native", False)     # lost the race: kept
    assert again.path.parent.stat().st_ino == installed and again.lib.raced() == 7
    damaged = tmp_path / "damaged.so"           # replaced, not rewritten: this process maps it
    damaged.write_bytes(b"damaged")
    os.replace(damaged, again.path)
    cache._loaded.clear()
    third = cache.build_entry(key, units, cdef, "native", False)     # damaged: replaced
    assert cache.read_meta(third.path.parent) is not None and third.lib.raced() == 7
    assert not leftovers(tmp_path / "cache")


STALE_CHILD = """
import json, compiler
from compiler import nn
from runtime import cache
m = compiler.compile(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval(), (1, 1, 4, 4))
print(json.dumps({"builds": cache.stats["builds"], "source": m.source}))
"""


@pytest.mark.parametrize("edited", ["compiler/kernels/spec.py", "compiler/ops/eltwise.py",
                                    "runtime/build.py", "templates/eltwise.c.j2"])
def test_any_edit_to_smelt_invalidates_its_programs(tmp_path, edited):
    """The key covers all of smelt's code: an edit (or an upgrade) never serves old C."""
    site = tmp_path / "site"
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("compiler", "runtime", "templates"):
        shutil.copytree(REPO / package, site / package, ignore=ignore)
    env = dict(os.environ, PYTHONPATH=str(site), SMELT_CACHE_DIR=str(tmp_path / "cache"))

    def compile_once():
        result = subprocess.run([sys.executable, "-c", STALE_CHILD], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    assert compile_once()["builds"] == 1
    assert compile_once()["builds"] == 0
    with open(site / edited, "a") as f:
        f.write("\n# an edit\n" if edited.endswith(".py") else "\n{# an edit #}\n")
    assert compile_once()["builds"] == 1
