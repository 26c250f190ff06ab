"""Time fastbp against its peers on issue 3's workloads: ``python bench/compare.py --help``.

The harness lives in the package (:mod:`fastbp.bench`), so that
``python -m fastbp bench`` runs the same code; this script is its thin face.

    python bench/compare.py                        # everything, about 5 minutes
    python bench/compare.py --quick --only W2,W4   # a smoke run
    python bench/compare.py --markdown bench.md --png bench.png
"""

import sys

from fastbp.bench import main

if __name__ == "__main__":
    sys.exit(main())
