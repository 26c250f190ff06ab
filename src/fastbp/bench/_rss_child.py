"""The subprocess of :func:`fastbp.bench.memory.rss_subprocess`: peak RSS around training W2.

    python -m fastbp.bench._rss_child SAMPLES SEED

prints one JSON line: the peak RSS (bytes) after warming up, after building the
data and after training, and the bytes of X and Y.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np

from fastbp.bench.problems import LEARNING_RATE, W2_SIZES, synthetic
from fastbp.network import Network


def peak_rss() -> int:
    """The peak resident set size of this process so far, in bytes."""
    kib = 1024 if sys.platform != "darwin" else 1
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib


def main(n: int, seed: int) -> dict[str, int]:
    net = Network(list(W2_SIZES), seed=seed)
    net.train(np.zeros((32, 784)), np.zeros((32, 10)), epochs=1)  # load BLAS, warm up
    base = peak_rss()
    X, Y = synthetic(n, W2_SIZES[0], W2_SIZES[-1], "float64", seed)
    loaded = peak_rss()
    net.train(X, Y, epochs=1, batch_size=32, learning_rate=LEARNING_RATE, seed=0)
    trained = peak_rss()
    return {"base": base, "loaded": loaded, "trained": trained, "arrays_bytes": X.nbytes + Y.nbytes}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
