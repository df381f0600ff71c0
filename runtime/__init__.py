"""runtime: build, cache, load and run the C that `compiler` generates."""
from .cache import cache_dir
from .model import CompiledModel, Kernel
from .version import __version__

__all__ = ["CompiledModel", "Kernel", "cache_dir", "__version__"]
