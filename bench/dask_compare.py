"""fastbp on Dask: distributed full-batch epochs, a grid search, and training out of core.

Run:  pip install ".[dask,bench]" && python bench/dask_compare.py [--quick]

Three measurements, each on this machine with a ``LocalCluster`` of worker
processes, one thread each (and one BLAS thread everywhere):

1. A full-batch epoch (one loss-and-gradient evaluation, the unit of L-BFGS and
   iRprop-) of a 784 -> 64 -> 10 network over ``--rows`` (200,000) samples
   persisted on the workers: with 2 workers, with 1 worker, and the
   single-process engine on the same data in memory.  The Dask overhead per
   step is the 1-worker time minus the single-process one.
2. ``GridSearchCV`` of 8 fits of ``BPClassifier`` on ``load_digits`` under
   ``joblib.parallel_backend("dask")`` with 2 workers and with 1, and without
   Dask in this process; once with Dask's default configuration and once with
   its housekeeping slowed down (``QUIET``), which on two cores otherwise takes
   about 4% of the CPU from the workers.
3. One epoch of Adam over a memmap four times larger than the memory limit
   given to a child process (``resource.setrlimit(RLIMIT_DATA)``, which bounds
   the process's own memory and not the file it maps): its peak RSS against
   the limit.

Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

SIZES = (784, 64, 10)

# Dask's periodic housekeeping, slowed down for compute-bound tasks of seconds:
# every server's event-loop tick (20 ms by default), the workers' statistical
# profiler (a stack sample every 10 ms), the nannies' memory monitor (100 ms) and
# the system monitor (500 ms).  Idle, a 2-worker LocalCluster uses 0.5 s of CPU
# in 6 s with the defaults and 0.15 s with these.
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


def evaluation_seconds(rows: int, workers: int, repeats: int) -> float:
    """Median seconds of one distributed loss-and-gradient evaluation."""
    import dask.array as da
    from distributed import Client

    import fastbp as fb
    from fastbp import dask as fbd

    with cluster_of(workers) as cluster:
        with Client(cluster):
            X, Y = synthetic(rows, da)
            net = fb.Network(SIZES, "relu", "softmax", "cross_entropy", seed=0)
            chunks = fbd._Chunks(net, X, Y, None)
            objective = fbd._Objective(net, chunks, 1e-4, True, 1.0)
            grad = np.empty_like(net.params)
            objective(net.params, grad)  # warm the workers
            times = []
            for _ in range(repeats):
                net.params[0] += 1e-6  # new parameters, as at every step: nothing cached
                start = time.perf_counter()
                objective(net.params, grad)
                times.append(time.perf_counter() - start)
    return float(np.median(times))


def cluster_of(workers: int) -> object:
    """A LocalCluster of worker processes with one thread (and one BLAS thread) each."""
    from distributed import LocalCluster

    one = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None, env=one)


def synthetic(rows: int, da: object) -> tuple[object, object]:
    """X (standard normal) and one-hot Y, made on the workers chunk by chunk."""
    state = da.random.RandomState(0)  # type: ignore[attr-defined]
    X = state.standard_normal((rows, SIZES[0]), chunks=(rows // 8, SIZES[0]))
    labels = state.randint(0, SIZES[-1], size=rows, chunks=rows // 8)
    Y = (labels[:, None] == np.arange(SIZES[-1])).astype(np.float64)
    return X, Y


def single_process_seconds(rows: int, repeats: int) -> float:
    import dask
    import dask.array as da

    import fastbp as fb
    from fastbp import _engine

    with dask.config.set(scheduler="threads"):
        X, Y = synthetic(rows, da)
        X, Y = np.ascontiguousarray(X.compute()), np.ascontiguousarray(Y.compute())
    net = fb.Network(SIZES, "relu", "softmax", "cross_entropy", seed=0)
    # what one L-BFGS evaluation of Network.train costs: the engine's one call
    rows = min(X.shape[0], net._chunk_rows)
    acts, deltas, grad = net._buffer(rows), net._buffer(rows), np.empty_like(net.params)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        _engine.gradient_into(net._layout, net.params, X, Y, grad, acts, deltas, rows, l2=1e-4)
        times.append(time.perf_counter() - start)
    times = times[1:]
    return float(np.median(times))


def grid_search_seconds(workers: int | None, config: dict[str, object] | None = None) -> float:
    """Seconds of the search on a cluster of ``workers`` (None: in this process,
    without Dask) made under the Dask ``config``.  With one worker the search asks
    for two jobs all the same, so that joblib sends the fits through Dask (for one
    job it runs them here)."""
    import dask
    import joblib
    from distributed import Client
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    import fastbp as fb

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    # eight fits of the same cost (their parameters change no sizes), so that the
    # measurement is of the backend, not of how the fits share out
    grid = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2], "learning_rate_init": [1e-3, 3e-3]}
    estimator = fb.BPClassifier(hidden_layer_sizes=(256,), max_iter=300,
                                n_iter_no_change=1000, random_state=0)  # fmt: skip
    split = [(np.arange(0, 1400), np.arange(1400, len(y)))]
    if workers is None:
        search = GridSearchCV(estimator, grid, cv=split, n_jobs=1, refit=False)
        start = time.perf_counter()
        search.fit(X, y)
        return time.perf_counter() - start
    search = GridSearchCV(estimator, grid, cv=split, n_jobs=max(2, workers), refit=False)
    with dask.config.set(config or {}), cluster_of(workers) as cluster:
        with Client(cluster):
            with joblib.parallel_backend("dask"):
                search.fit(X, y)  # warm: imports on the workers
                start = time.perf_counter()
                search.fit(X, y)
                return time.perf_counter() - start


CHILD = """
import json, resource, sys, time
import numpy as np
limit, path, rows, cols = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
import fastbp as fb
X = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
Y = (np.arange(rows) % 10 == np.arange(10)[:, None]).T.astype(np.float32)
net = fb.Network([cols, 64, 10], "relu", "softmax", "cross_entropy", dtype="float32", seed=0)
start = time.perf_counter()
history = net.train(X, Y, epochs=1, batch_size=64, optimizer="adam", learning_rate=1e-3, seed=0)
seconds = time.perf_counter() - start
# VmHWM: this process's own peak RSS (getrusage's ru_maxrss would also count
# the parent's at the fork)
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "loss": history[-1]}))
"""


def out_of_core(limit: int) -> dict[str, float]:
    """Train one epoch over a memmap of 4 x limit bytes in a child limited to ``limit``."""
    cols = SIZES[0]
    rows = 4 * limit // (4 * cols)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "X.f32")
        rng = np.random.default_rng(0)
        with open(path, "wb") as out:  # written, not mapped: this process stays small
            for start in range(0, rows, 50_000):
                stop = min(rows, start + 50_000)
                rng.standard_normal((stop - start, cols), dtype=np.float32).tofile(out)
            out.flush()
            os.fsync(out.fileno())  # on disk before the timing, not written back during it
        done = subprocess.run([sys.executable, "-c", CHILD, str(limit), path, str(rows), str(cols)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"the out-of-core child failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"rows": rows, "file": 4 * rows * cols, **result}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit-mb", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeats, args.limit_mb = 16_000, 2, 384
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    warnings.simplefilter("ignore")
    from threadpoolctl import threadpool_limits

    print(f"machine: {os.cpu_count()} logical cores; LocalCluster workers are processes with "
          "one thread each; one BLAS thread everywhere")  # fmt: skip
    print("command: python bench/dask_compare.py" + (" --quick" if args.quick else ""))
    with threadpool_limits(1):
        single = single_process_seconds(args.rows, args.repeats)
        one = evaluation_seconds(args.rows, 1, args.repeats)
        two = evaluation_seconds(args.rows, 2, args.repeats)
        grid_here = grid_search_seconds(None)
        grid_one = grid_search_seconds(1)
        grid_two = grid_search_seconds(2)
        quiet_one = grid_search_seconds(1, QUIET)
        quiet_two = grid_search_seconds(2, QUIET)
    core = out_of_core(args.limit_mb * 2**20)
    shape = f"{args.rows:,} x 784 -> 64 -> 10"
    print()
    print("| measurement | 2 workers | 1 worker | single process | 2 workers vs 1 |")
    print("|---|---|---|---|---|")
    print(f"| full-batch epoch (loss + gradient), {shape}, float64 | {two:.3f} s | {one:.3f} s | "
          f"{single:.3f} s | {one / two:.2f}x (1 worker / single process: {one / single:.2f}x, "
          f"Dask's overhead {1000 * (one - single):.0f} ms a step) |")  # fmt: skip
    for name, one_s, two_s in (("Dask's default configuration", grid_one, grid_two),
                               ("QUIET configuration", quiet_one, quiet_two)):  # fmt: skip
        print(f"| GridSearchCV, 8 equal-cost fits of BPClassifier on load_digits, {name} | "
              f"{two_s:.2f} s | {one_s:.2f} s | {grid_here:.2f} s | {one_s / two_s:.2f}x (vs the "
              f"single process: {grid_here / two_s:.2f}x) |")  # fmt: skip
    print()
    print(f"Out of core: one Adam epoch over a {core['file'] / 2**30:.2f} GiB float32 memmap "
          f"({core['rows']:,} x 784) in a process limited to {args.limit_mb} MiB "
          f"(RLIMIT_DATA): {core['seconds']:.1f} s, peak RSS {core['peak'] / 2**20:.0f} MiB "
          f"({'under' if core['peak'] < args.limit_mb * 2**20 else 'OVER'} the limit), "
          f"loss {core['loss']:.3f}.")  # fmt: skip


if __name__ == "__main__":
    main()
