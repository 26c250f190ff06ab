"""``python -m fastbp.bench``: the same as ``bench/compare.py``."""

import sys

from fastbp.bench.cli import main

sys.exit(main())
