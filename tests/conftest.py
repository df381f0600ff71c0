import os
import sys
import tempfile
from pathlib import Path

# Builds are cached across test runs (the cache key covers everything that matters).
os.environ.setdefault("SMELT_CACHE_DIR",
                      str(Path(tempfile.gettempdir()) / f"smelt-test-cache-{os.getuid()}"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def resnet18_plan():
    """The full-size ResNet-18 (1x3x224x224, eval) planned for this machine; read-only."""
    import compiler
    from compiler.planner import plan
    from tests.nets import NETWORKS
    net = NETWORKS["resnet18"]
    compiler.manual_seed(0)
    model = net.build(compiler.nn, compiler.cat, full=True).eval()
    return plan(compiler.trace(model, net.full_shape))


@pytest.fixture(autouse=True)
def generated_c_compiles_silently():
    """Every library a test builds or loads from disk compiled without a single warning, for
    whatever ISA it targets: the C smelt generates must be warning-free."""
    from runtime import cache
    seen = len(cache.warnings_seen)
    yield
    warned = cache.warnings_seen[seen:]
    assert not warned, "the C compiler warned:\n" + "\n".join(
        f"{entry}:\n{text}" for entry, text in warned)
