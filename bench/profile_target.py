"""Run one workload of issue 3 in a loop, for a profiler to watch.

    perf record -e cpu-clock -F 999 -g -o w2.data -- python bench/profile_target.py W2
    perf report -i w2.data --no-children --sort dso,symbol
    py-spy record --native -o w2.svg -- python bench/profile_target.py W2

BLAS is limited to one thread, as in ``python -m fastbp bench``.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastbp as fb
from fastbp.bench import W2_SIZES, W3_SIZES, synthetic
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X


def main(workload: str, dtype: str = "float64", seconds: float = 10.0) -> None:
    if workload == "W1":
        X, T = np.array(WORKED_X), np.array(WORKED_T)
        net = fb.Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)

        def run() -> None:
            net.train(X, T, epochs=10_000, batch_size=1, learning_rate=0.5, train_biases=False)

    elif workload in ("W2", "W3"):
        sizes, n, batch = (W2_SIZES, 60_000, 32) if workload == "W2" else (W3_SIZES, 10_240, 256)
        X, Y = synthetic(n, sizes[0], sizes[-1], dtype, 0)
        net = fb.Network(list(sizes), dtype=dtype, seed=0)

        def run() -> None:
            net.train(X, Y, epochs=1, batch_size=batch, learning_rate=0.5, seed=0)

    elif workload == "W4":
        x, _ = synthetic(1, 784, 10, dtype, 0)
        net = fb.Network(list(W2_SIZES), dtype=dtype, seed=0)

        def run() -> None:
            for _ in range(10_000):
                net.predict(x)

    else:
        raise SystemExit(f"unknown workload {workload!r}; choose W1, W2, W3 or W4")
    runs, start = 0, time.perf_counter()
    with threadpool_limits(limits=1):
        while time.perf_counter() - start < seconds:
            run()
            runs += 1
    elapsed = time.perf_counter() - start
    print(f"{workload} {dtype}: {runs} runs in {elapsed:.1f} s, {elapsed / runs:.4g} s per run")


if __name__ == "__main__":
    main(
        *sys.argv[1:2],
        *(sys.argv[2:3] or ["float64"]),
        float(sys.argv[3]) if len(sys.argv) > 3 else 10.0,
    )
