"""The memory probes of workload M: bytes traced by tracemalloc, peak RSS in a subprocess."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from typing import Any

import numpy as np

from fastbp.bench.problems import LEARNING_RATE, W2_SIZES
from fastbp.network import Network


def traced_training_bytes(X: np.ndarray, Y: np.ndarray, dtype: str, seed: int) -> int:
    """Peak bytes that one W2 training epoch allocates beyond what exists before it."""
    net = Network(list(W2_SIZES), dtype=dtype, seed=seed)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        net.train(X, Y, epochs=1, batch_size=32, learning_rate=LEARNING_RATE, seed=0)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def traced_memory(X: np.ndarray, Y: np.ndarray, dtype: str, seed: int) -> dict[str, Any]:
    """What training W2 on all of (X, Y), and on its first half, allocates beyond the arrays.

    A copy of X or Y costs a full row per sample; the shuffle order costs 8 bytes:
    the growth per sample between the two runs tells them apart.
    """
    n = X.shape[0]
    half = n // 2
    extra = {rows: traced_training_bytes(X[:rows], Y[:rows], dtype, seed) for rows in (half, n)}
    arrays = X.nbytes + Y.nbytes
    return {
        "samples": n,
        "arrays_bytes": arrays,
        "x_row_bytes": X.nbytes // n,
        "y_row_bytes": Y.nbytes // n,
        "train_extra_bytes": extra[n],
        "train_extra_bytes_half": extra[half],
        "extra_bytes_per_sample": (extra[n] - extra[half]) / (n - half),
        "peak_ratio": (arrays + extra[n]) / arrays,
    }


def rss_subprocess(n: int, seed: int) -> dict[str, int] | None:
    """Peak RSS (getrusage) before and after training W2 in a fresh interpreter."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return None
    done = subprocess.run(
        [sys.executable, "-m", "fastbp.bench._rss_child", str(n), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    data: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    data["train_growth_bytes"] = data["trained"] - data["loaded"]
    return data
