"""``python -m edlrr_bench`` is ``edlrr-bench``."""
import sys

from .cli import main

sys.exit(main())
