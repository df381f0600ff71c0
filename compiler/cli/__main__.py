"""python -m compiler.cli: the `smelt` command without its console script."""
import sys

from . import main

sys.exit(main())
