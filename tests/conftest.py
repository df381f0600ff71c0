import os
import sys
import tempfile
from pathlib import Path

# Builds are cached across test runs (the cache key covers everything that matters).
os.environ.setdefault("SMELT_CACHE_DIR",
                      str(Path(tempfile.gettempdir()) / f"smelt-test-cache-{os.getuid()}"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
