"""``python -m fastbp bench``: fastbp against its peers on issue 3's workloads.

| id | workload |
|---|---|
| W1 | the worked 2-2-2 example: 10,000 online updates (batch 1), float64 |
| W2 | 784-16-16-10 sigmoid, squared error, mini-batch 32, one epoch over 60,000 samples |
| W3 | 784-1024-1024-10 sigmoid, mini-batch 256, one epoch over 10,240 samples (GFLOP/s) |
| W4 | latency of ``predict`` on one sample, 784-16-16-10, float64 |
| W5 | two W2 networks trained at once in two Python threads vs one after the other |
| M  | memory of training W2: extra bytes traced by tracemalloc, peak RSS in a subprocess |

Every implementation runs in this process, at equal settings, on the same
synthetic data: fastbp; :mod:`fastbp.reference` (pure Python, on fewer samples
where the full count would take minutes -- its time is then extrapolated
linearly per sample and labelled so); NumPy (the mini-batch algorithm written
here with ``@``; with batch 1 it is the per-sample loop of the classic
``network.py``); "NumPy GEMMs" (only the matrix products of the same epoch, with
NumPy, as the floor an engine built on BLAS can reach); scikit-learn's
``MLPRegressor`` and PyTorch when they are installed (skipped with a note
otherwise).  BLAS and OpenMP are limited to one thread (``--threads``) through
threadpoolctl, and PyTorch through ``torch.set_num_threads``.  Each time is the
median of ``--repeats`` runs after one warm-up run (none for the reference).

Nothing printed is a constant: every time, ratio and MET / NOT MET verdict comes
from a measurement made in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastbp import reference
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X
from fastbp.network import Network

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "M")
W2_SIZES = (784, 16, 16, 10)
W3_SIZES = (784, 1024, 1024, 10)
LEARNING_RATE = 0.5

# Differences between the peers that equal settings cannot remove.
SKLEARN_NOTE = (
    "identity output (MLPRegressor has no sigmoid output); alpha=0, momentum=0, "
    "tol=0; its loss is also averaged over the outputs"
)
TORCH_NOTE = "nn.Sequential + optim.SGD(momentum=0), loss 1/2 sum (o - t)^2 mean over batch"


# ---------------------------------------------------------------------------
# Results


@dataclass
class Result:
    """One implementation timed on one workload."""

    workload: str
    impl: str
    dtype: str
    seconds: float  # median time of the measured run (n_run units)
    n_run: int  # units (updates, samples, calls) actually run
    n_full: int  # units of the workload as specified
    unit: str
    runs: int
    threads: int = 1
    note: str = ""
    gflops: float | None = None
    times: list[float] = field(default_factory=list)

    @property
    def full_seconds(self) -> float:
        """Time of the whole workload: measured, or extrapolated linearly per unit."""
        return self.seconds * self.n_full / self.n_run

    @property
    def extrapolated(self) -> bool:
        return self.n_run != self.n_full

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.workload, self.dtype, self.threads)


@dataclass
class Target:
    """One of issue 3's targets and its verdict in this run."""

    workload: str
    text: str
    measured: str
    met: bool | None  # None: not measured in this run (peer missing, workload not run)

    @property
    def verdict(self) -> str:
        return {True: "MET", False: "NOT MET", None: "SKIPPED"}[self.met]


@dataclass
class Config:
    quick: bool = False
    repeats: int = 5
    only: tuple[str, ...] = WORKLOADS
    threads: int = 1
    seed: int = 0

    def sizes(self) -> dict[str, int]:
        """Units run per workload (quick: fewer, extrapolated and labelled)."""
        q = self.quick
        return {
            "W1": 10_000,
            "W1_reference": 2_000 if q else 10_000,
            "W2": 6_400 if q else 60_000,
            "W2_reference": 64 if q else 640,
            "W3": 1_024 if q else 10_240,
            "W5": 6_400 if q else 60_000,
        }


@dataclass
class Report:
    machine: dict[str, Any]
    config: Config
    results: list[Result] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def find(self, workload: str, impl: str, dtype: str = "float64", threads: int | None = None):
        for r in self.results:
            if (r.workload, r.impl, r.dtype) == (workload, impl, dtype) and (
                threads is None or r.threads == threads
            ):
                return r
        return None


# ---------------------------------------------------------------------------
# Timing


def measure(
    setup: Callable[[], Callable[[], object]], repeats: int, warmup: int = 1
) -> list[float]:
    """Times of ``repeats`` runs of ``setup()()``; only the inner call is timed."""
    times = []
    for i in range(warmup + repeats):
        run = setup()
        gc.collect()
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed)
    return times


def per_call(fn: Callable[[], object], repeats: int, min_time: float) -> tuple[list[float], int]:
    """Seconds per call of ``fn``: loops long enough to last ``min_time``, ``repeats`` times."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start >= min_time or calls >= 1 << 22:
            break
        calls *= 2
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return times, calls


# ---------------------------------------------------------------------------
# Data and the peers


def synthetic(
    n: int, n_in: int, n_out: int, dtype: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform [0, 1) inputs and one-hot targets, C-contiguous, built without temporaries."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, n_in), dtype=dtype)
    rng.random(out=X, dtype=X.dtype)
    Y = np.zeros((n, n_out), dtype=dtype)
    Y[np.arange(n), rng.integers(0, n_out, size=n)] = 1
    return X, Y


def optional(name: str) -> Any:
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def initial_parameters(
    sizes: Sequence[int], seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """fastbp's seeded initial weights, shared by every implementation."""
    net = Network(list(sizes), seed=seed)
    return [W.copy() for W in net.weights], [b.copy() for b in net.biases]


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """z <- 1 / (1 + exp(-z)), in place."""
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
    z += 1
    np.reciprocal(z, out=z)
    return z


def numpy_train(
    Ws: list[np.ndarray],
    bs: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    epochs: int,
    batch: int,
    lr: float,
    shuffle: bool,
    seed: int,
    train_biases: bool = True,
) -> list[float]:
    """Mini-batch SGD for a sigmoid network with squared error, in NumPy.

    The same algorithm as fastbp: per-sample loss 1/2 sum (t - o)^2, the mean
    gradient of each batch, deltas back-propagated with the weights from before
    the update.  With ``batch=1`` it is the per-sample loop of ``network.py``.
    """
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    history = []
    for _ in range(epochs):
        order = rng.permutation(n) if shuffle else None
        total = 0.0
        for i in range(0, n, batch):
            if order is None:
                x, y = X[i : i + batch], Y[i : i + batch]
            else:
                idx = order[i : i + batch]
                x, y = X[idx], Y[idx]
            # a(l) = f(a(l-1) . W(l) + b(l))
            activations = [x]
            for W, b in zip(Ws, bs):
                z = activations[-1] @ W
                z += b
                activations.append(_sigmoid_(z))
            o = activations[-1]
            diff = o - y
            total += 0.5 * float(np.vdot(diff, diff))
            # delta(L) = (o - t) f'(z(L))
            delta = diff * o * (1 - o)
            step = lr / x.shape[0]
            for l in range(len(Ws) - 1, -1, -1):
                a = activations[l]
                nabla_w = a.T @ delta
                if l > 0:
                    # delta(l-1) = (delta(l) . W(l)^T) f'(z(l-1)), before the update
                    delta_prev = (delta @ Ws[l].T) * a * (1 - a)
                Ws[l] -= step * nabla_w
                if train_biases:
                    bs[l] -= step * delta.sum(axis=0)
                if l > 0:
                    delta = delta_prev
        history.append(total / n)
    return history


def gemm_shapes(
    sizes: Sequence[int], rows: int
) -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """The matrix products of one batch: ((m, k), (k, n), transpose-a) for each.

    Forward one per layer, backward-delta one per layer but the first,
    weight-gradient one per layer -- what the engine (and every peer) computes.
    """
    L = len(sizes) - 1
    shapes = []
    for l in range(L):  # z(l) = a(l-1) . W(l)
        shapes.append(((rows, sizes[l]), (sizes[l], sizes[l + 1]), False))
    for l in range(L - 1, 0, -1):  # delta(l-1) = delta(l) . W(l)^T
        shapes.append(((rows, sizes[l + 1]), (sizes[l + 1], sizes[l]), False))
    for l in range(L):  # dE/dW(l) = a(l-1)^T . delta(l)
        shapes.append(((sizes[l], rows), (rows, sizes[l + 1]), True))
    return shapes


def numpy_gemms(
    sizes: Sequence[int], n: int, batch: int, dtype: str, seed: int
) -> Callable[[], None]:
    """A run of exactly the GEMMs of one epoch, on preallocated arrays (NumPy ``matmul``)."""
    rng = np.random.default_rng(seed)
    plans = []
    for rows in [batch] * (n // batch) + ([n % batch] if n % batch else []):
        plans.append(rows)
    operands: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for rows in set(plans):
        ops = []
        for (m, k), (k2, n_out), trans_a in gemm_shapes(sizes, rows):
            # A transposed operand is a transposed view, as the engine passes a
            # transpose flag: no copy, BLAS reads it in place.
            A = rng.random((k, m) if trans_a else (m, k)).astype(dtype)
            A = A.T if trans_a else A
            B = rng.random((k2, n_out)).astype(dtype)
            ops.append((A, B, np.empty((m, n_out), dtype=dtype)))
        operands[rows] = ops

    def run() -> None:
        matmul = np.matmul
        for rows in plans:
            for A, B, C in operands[rows]:
                matmul(A, B, out=C)

    return run


def engine_gemms(
    sizes: Sequence[int], n: int, batch: int, dtype: str, seed: int
) -> Callable[[], None]:
    """The same GEMMs as :func:`numpy_gemms`, through the engine's own BLAS (SciPy's).

    ``_engine.gemm_check`` is the engine's row-major GEMM behind a ``def``: a
    microsecond of call overhead per product, negligible at W3's sizes only.
    """
    from fastbp import _engine

    rng = np.random.default_rng(seed)
    plans = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    operands = {}
    for rows in set(plans):
        ops = []
        for (m, k), (k2, n_out), trans_a in gemm_shapes(sizes, rows):
            A = rng.random((k, m) if trans_a else (m, k)).astype(dtype)
            B = rng.random((k2, n_out)).astype(dtype)
            ops.append((trans_a, A, B, np.empty((m, n_out), dtype=dtype)))
        operands[rows] = ops

    def run() -> None:
        gemm = _engine.gemm_check
        for rows in plans:
            for trans_a, A, B, C in operands[rows]:
                gemm(trans_a, False, 1.0, A, B, 0.0, C)

    return run


def nominal_flops(sizes: Sequence[int], samples: int) -> float:
    """6 * samples * sum of n_in * n_out: issue 3's count for one training epoch."""
    return 6.0 * samples * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def sklearn_model(sk: Any, sizes: Sequence[int], batch: int, epochs: int, seed: int) -> Any:
    return sk.MLPRegressor(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="logistic",
        solver="sgd",
        alpha=0.0,
        batch_size=batch,
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=epochs,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=1_000_000,
        early_stopping=False,
        random_state=seed,
    )


def torch_model(
    torch: Any, sizes: Sequence[int], dtype: str, seed: int, biases: bool = True
) -> Any:
    """nn.Sequential of Linear + Sigmoid layers holding fastbp's initial parameters."""
    Ws, bs = initial_parameters(sizes, seed)
    layers = []
    for W, b in zip(Ws, bs):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        linear.bias.requires_grad_(biases)
        layers += [linear, torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


def torch_train(
    torch: Any, model: Any, X: Any, Y: Any, epochs: int, batch: int, shuffle: bool, seed: int
) -> float:
    """Mini-batch SGD in PyTorch as a user writes it; returns the last epoch's mean loss."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE, momentum=0.0)
    generator = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    total = 0.0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator) if shuffle else None
        total = 0.0
        for i in range(0, n, batch):
            if order is None:
                x, y = X[i : i + batch], Y[i : i + batch]
            else:
                idx = order[i : i + batch]
                x, y = X[idx], Y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(x) - y) ** 2).sum(dim=1).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
    return total / n


# ---------------------------------------------------------------------------
# Setups: each returns a function that builds fresh state and returns the run to time

Setup = Callable[[], Callable[[], object]]


def ready(run: Callable[[], object]) -> Setup:
    """A setup for a run that needs no fresh state."""
    return lambda: run


def fastbp_trainer(
    sizes: Sequence[int],
    dtype: str,
    Ws: list[np.ndarray],
    bs: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    batch: int,
) -> Setup:
    def setup() -> Callable[[], object]:
        net = Network(list(sizes), dtype=dtype, weights=Ws, biases=bs)
        return lambda: net.train(
            X, Y, epochs=1, batch_size=batch, learning_rate=LEARNING_RATE, seed=0
        )

    return setup


def reference_trainer(
    sizes: Sequence[int],
    Ws: list[np.ndarray],
    bs: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    batch: int,
    epochs: int,
    train_biases: bool = True,
) -> Setup:
    Xl, Yl = X.tolist(), Y.tolist()

    def setup() -> Callable[[], object]:
        net = reference.Network(list(sizes), weights=Ws, biases=bs)
        return lambda: net.train(
            Xl,
            Yl,
            epochs=epochs,
            batch_size=batch,
            learning_rate=LEARNING_RATE,
            seed=0,
            train_biases=train_biases,
        )

    return setup


def numpy_trainer(
    Ws: list[np.ndarray],
    bs: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    batch: int,
    epochs: int = 1,
    shuffle: bool = True,
    train_biases: bool = True,
) -> Setup:
    def setup() -> Callable[[], object]:
        W = [w.astype(X.dtype) for w in Ws]
        b = [v.astype(X.dtype) for v in bs]
        return lambda: numpy_train(
            W, b, X, Y, epochs, batch, LEARNING_RATE, shuffle, 0, train_biases
        )

    return setup


def sklearn_trainer(
    sk: Any, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray, batch: int, seed: int
) -> Setup | None:
    if sk is None:
        return None

    def setup() -> Callable[[], object]:
        model = sklearn_model(sk, sizes, batch, 1, seed)
        return lambda: quiet_fit(model, X, Y)

    return setup


def torch_trainer(
    torch: Any,
    sizes: Sequence[int],
    dtype: str,
    X: np.ndarray,
    Y: np.ndarray,
    batch: int,
    seed: int,
) -> Setup | None:
    if torch is None:
        return None
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def setup() -> Callable[[], object]:
        model = torch_model(torch, sizes, dtype, seed)
        return lambda: torch_train(torch, model, Xt, Yt, 1, batch, True, seed)

    return setup


# ---------------------------------------------------------------------------
# The workloads


@dataclass
class Job:
    """One measurement waiting to run."""

    workload: str
    impl: str
    dtype: str
    setup: Setup
    n_run: int
    n_full: int
    unit: str
    note: str
    repeats: int
    warmup: int
    threads: int | None
    flops: float | None


class Bench:
    def __init__(self, config: Config, out: Any = sys.stdout) -> None:
        self.config = config
        self.out = out
        self.sk = optional("sklearn.neural_network")
        self.torch = optional("torch")
        self.report = Report(machine_info(self.torch), config)
        self._pending: list[Job] | None = None
        self._data: dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray]] = {}
        if self.sk is None:
            self.report.notes.append("scikit-learn is not installed: its rows are skipped")
        if self.torch is None:
            self.report.notes.append("PyTorch is not installed: its rows are skipped")

    def log(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def data(
        self, name: str, n: int, sizes: Sequence[int], dtype: str
    ) -> tuple[np.ndarray, np.ndarray]:
        key = (name, n, dtype)
        if key not in self._data:
            self._data[key] = synthetic(n, sizes[0], sizes[-1], dtype, self.config.seed)
        return self._data[key]

    def add(self, result: Result) -> Result:
        self.report.results.append(result)
        per = result.full_seconds / result.n_full
        self.log(
            f"  {result.workload} {result.impl:<22} {result.dtype:<8} threads={result.threads} "
            f"{result.n_run:>7} {result.unit}: {fmt_time(result.seconds)} "
            f"({fmt_time(per)} per {result.unit.rstrip('s')})"
        )
        return result

    def timed(
        self,
        workload: str,
        impl: str,
        dtype: str,
        setup: Setup,
        n_run: int,
        n_full: int,
        unit: str,
        note: str = "",
        repeats: int | None = None,
        warmup: int = 1,
        threads: int | None = None,
        flops: float | None = None,
    ) -> None:
        """Time ``setup()()``; inside :meth:`interleaved`, later, in turn with the others.

        ``threads`` limits BLAS for this measurement only; ``flops`` adds a GFLOP/s rate.
        """
        job = Job(
            workload,
            impl,
            dtype,
            setup,
            n_run,
            n_full,
            unit,
            note,
            self.config.repeats if repeats is None else repeats,
            warmup,
            threads,
            flops,
        )
        if self._pending is not None:
            self._pending.append(job)
        else:
            self.run_jobs([job])

    @contextmanager
    def interleaved(self) -> Iterator[None]:
        """Collect the measurements of the block and run them in turn, round by round.

        Run A, B, C, A, B, C, ... rather than A, A, A, B, B, B: a change in the load
        of a shared machine then skews every implementation alike, and the ratios
        that the targets judge stay honest.
        """
        self._pending = []
        try:
            yield
            jobs = self._pending
        finally:
            self._pending = None
        self.run_jobs(jobs)

    def run_jobs(self, jobs: list[Job]) -> None:
        threadpoolctl = importlib.import_module("threadpoolctl")
        times: list[list[float]] = [[] for _ in jobs]
        for r in range(max(job.warmup + job.repeats for job in jobs)):
            for job, kept in zip(jobs, times):
                if r >= job.warmup + job.repeats:
                    continue
                with contextlib.ExitStack() as stack:
                    if job.threads is not None:
                        stack.enter_context(
                            threadpoolctl.threadpool_limits(limits=job.threads, user_api="blas")
                        )
                    elapsed = measure(job.setup, 1, 0)[0]
                if r >= job.warmup:
                    kept.append(elapsed)
        for job, kept in zip(jobs, times):
            seconds = statistics.median(kept)
            self.add(
                Result(
                    job.workload,
                    job.impl,
                    job.dtype,
                    seconds,
                    job.n_run,
                    job.n_full,
                    job.unit,
                    len(kept),
                    job.threads or self.config.threads,
                    job.note,
                    gflops=None if job.flops is None else job.flops / seconds / 1e9,
                    times=kept,
                )
            )

    # -- W1 ------------------------------------------------------------------

    def w1(self) -> None:
        self.log("W1: the worked 2-2-2 example, 10,000 online updates, float64")
        sizes = self.config.sizes()
        n, n_ref = sizes["W1"], sizes["W1_reference"]
        X, T = np.array(WORKED_X), np.array(WORKED_T)

        def fastbp_setup() -> Callable[[], object]:
            net = Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
            return lambda: net.train(
                X, T, epochs=n, batch_size=1, learning_rate=LEARNING_RATE, train_biases=False
            )

        def reference_setup() -> Callable[[], object]:
            net = reference.Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
            return lambda: net.train(
                WORKED_X,
                WORKED_T,
                epochs=n_ref,
                batch_size=1,
                learning_rate=LEARNING_RATE,
                train_biases=False,
            )

        def numpy_setup() -> Callable[[], object]:
            Ws = [np.array(W) for W in WORKED_WEIGHTS]
            bs = [np.array(b) for b in WORKED_BIASES]
            return lambda: numpy_train(Ws, bs, X, T, n, 1, LEARNING_RATE, False, 0, False)

        with self.interleaved():
            self.timed("W1", "fastbp", "float64", fastbp_setup, n, n, "updates")
            self.timed(
                "W1",
                "fastbp.reference",
                "float64",
                reference_setup,
                n_ref,
                n,
                "updates",
                note="pure Python"
                + (f"; {n_ref:,} updates run, time extrapolated" if n_ref != n else ""),
                warmup=0,
                repeats=max(1, min(self.config.repeats, 3)),
            )
            self.timed(
                "W1",
                "NumPy per-sample loop",
                "float64",
                numpy_setup,
                n,
                n,
                "updates",
                note="network.py-style loop, one sample at a time",
            )
            if self.torch is not None:
                torch = self.torch
                Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)

                def torch_setup() -> Callable[[], object]:
                    model = torch_model(torch, (2, 2, 2), "float64", 0, biases=False)
                    with torch.no_grad():
                        for linear, W, b in zip(model[::2], WORKED_WEIGHTS, WORKED_BIASES):
                            linear.weight.copy_(torch.tensor(W, dtype=torch.float64).T)
                            linear.bias.copy_(torch.tensor(b, dtype=torch.float64))
                    return lambda: torch_train(torch, model, Xt, Tt, n, 1, False, 0)

                self.timed(
                    "W1",
                    "PyTorch",
                    "float64",
                    torch_setup,
                    n,
                    n,
                    "updates",
                    note="biases frozen (requires_grad=False)",
                )
        self.report.notes.append(
            "W1: scikit-learn is not run: MLPRegressor can neither freeze the biases nor "
            "use a sigmoid output, so it cannot do the worked example"
        )

    # -- W2 and W3: one training epoch ---------------------------------------

    def epoch_peers(
        self,
        workload: str,
        sizes: Sequence[int],
        dtype: str,
        n: int,
        full: int,
        batch: int,
        repeats: int,
    ) -> None:
        """Queue one epoch of NumPy, scikit-learn and PyTorch on the workload's data."""
        X, Y = self.data(workload, n, sizes, dtype)
        Ws, bs = initial_parameters(sizes, self.config.seed)
        scaled = f"{n:,} samples run, time extrapolated" if n != full else ""
        flops = nominal_flops(sizes, n) if workload == "W3" else None
        peers: list[tuple[str, Setup | None, str]] = [
            ("NumPy mini-batch", numpy_trainer(Ws, bs, X, Y, batch), ""),
            (
                "scikit-learn",
                sklearn_trainer(self.sk, sizes, X, Y, batch, self.config.seed),
                SKLEARN_NOTE,
            ),
            (
                "PyTorch",
                torch_trainer(self.torch, sizes, dtype, X, Y, batch, self.config.seed),
                TORCH_NOTE,
            ),
        ]
        for impl, setup, note in peers:
            if setup is not None:
                self.timed(
                    workload,
                    impl,
                    dtype,
                    setup,
                    n,
                    full,
                    "samples",
                    note="; ".join(p for p in (note, scaled) if p),
                    repeats=repeats,
                    flops=flops,
                )

    def w2(self) -> None:
        sizes = self.config.sizes()
        n, n_ref, batch, full = sizes["W2"], sizes["W2_reference"], 32, 60_000
        scaled = f"{n:,} samples run, time extrapolated" if n != full else ""
        Ws, bs = initial_parameters(W2_SIZES, self.config.seed)
        for dtype in ("float64", "float32"):
            self.log(f"W2: 784-16-16-10, batch 32, one epoch of {n:,} samples, {dtype}")
            X, Y = self.data("W2", n, W2_SIZES, dtype)
            gemm = numpy_gemms(W2_SIZES, n, batch, dtype, self.config.seed)
            with self.interleaved():
                self.timed(
                    "W2",
                    "fastbp",
                    dtype,
                    fastbp_trainer(W2_SIZES, dtype, Ws, bs, X, Y, batch),
                    n,
                    full,
                    "samples",
                    note=scaled,
                )
                self.timed(
                    "W2",
                    "NumPy GEMMs only",
                    dtype,
                    ready(gemm),
                    n,
                    full,
                    "samples",
                    note="; ".join(
                        p for p in ("the 8 matmuls per batch of the epoch", scaled) if p
                    ),
                )
                self.epoch_peers("W2", W2_SIZES, dtype, n, full, batch, self.config.repeats)
                if dtype == "float64":
                    self.timed(
                        "W2",
                        "fastbp.reference",
                        "float64",
                        reference_trainer(W2_SIZES, Ws, bs, X[:n_ref], Y[:n_ref], batch, 1),
                        n_ref,
                        full,
                        "samples",
                        note=f"pure Python, float64 only; {n_ref:,} samples run, time extrapolated",
                        warmup=0,
                        repeats=1,
                    )

    def w3(self) -> None:
        n, batch, full = self.config.sizes()["W3"], 256, 10_240
        flops = nominal_flops(W3_SIZES, n)
        repeats = max(1, min(self.config.repeats, 3))
        scaled = f"{n:,} samples run, time extrapolated" if n != full else ""
        gemm_note = "; ".join(p for p in ("the 8 matmuls per batch of the epoch", scaled) if p)
        Ws, bs = initial_parameters(W3_SIZES, self.config.seed)
        for dtype in ("float64", "float32"):
            self.log(f"W3: 784-1024-1024-10, batch 256, one epoch of {n:,} samples, {dtype}")
            X, Y = self.data("W3", n, W3_SIZES, dtype)
            fastbp_setup = fastbp_trainer(W3_SIZES, dtype, Ws, bs, X, Y, batch)
            gemm = numpy_gemms(W3_SIZES, n, batch, dtype, self.config.seed)
            blas = engine_gemms(W3_SIZES, n, batch, dtype, self.config.seed)
            with self.interleaved():
                for threads in sorted({self.config.threads, 2}):
                    self.timed(
                        "W3",
                        "fastbp",
                        dtype,
                        fastbp_setup,
                        n,
                        full,
                        "samples",
                        note=scaled,
                        repeats=repeats,
                        threads=threads,
                        flops=flops,
                    )
                    self.timed(
                        "W3",
                        "NumPy GEMMs only",
                        dtype,
                        ready(gemm),
                        n,
                        full,
                        "samples",
                        note=gemm_note,
                        repeats=repeats,
                        threads=threads,
                        flops=flops,
                    )
                self.timed(
                    "W3",
                    "SciPy BLAS GEMMs only",
                    dtype,
                    ready(blas),
                    n,
                    full,
                    "samples",
                    repeats=repeats,
                    threads=self.config.threads,
                    flops=flops,
                    note="the same matmuls through the engine's own BLAS (diagnostic)"
                    + (f"; {scaled}" if scaled else ""),
                )
                self.epoch_peers("W3", W3_SIZES, dtype, n, full, batch, repeats)
        self.report.notes.append(
            "W3: fastbp.reference is not run (about a second per sample in pure Python)"
        )

    # -- W4 ------------------------------------------------------------------

    def w4(self) -> None:
        self.log("W4: predict on one sample, 784-16-16-10, float64")
        min_time = 0.02 if self.config.quick else 0.2
        repeats = self.config.repeats
        X, _ = self.data("W4", 1, W2_SIZES, "float64")
        Ws, bs = initial_parameters(W2_SIZES, self.config.seed)

        def add(impl: str, fn: Callable[[], object], note: str = "") -> None:
            fn()
            times, calls = per_call(fn, repeats, min_time)
            note = f"{calls:,} calls per run" + (f"; {note}" if note else "")
            self.add(
                Result(
                    "W4",
                    impl,
                    "float64",
                    statistics.median(times),
                    1,
                    1,
                    "call",
                    len(times),
                    self.config.threads,
                    note,
                    times=times,
                )
            )

        net = Network(list(W2_SIZES), weights=Ws, biases=bs)
        add("fastbp", lambda: net.predict(X), "a (1, 784) float64 array, validation included")
        ref = reference.Network(list(W2_SIZES), weights=Ws, biases=bs)
        Xl = X.tolist()
        add("fastbp.reference", lambda: ref.predict(Xl), "a list of one row")

        def numpy_predict() -> np.ndarray:
            a = X
            for W, b in zip(Ws, bs):
                z = a @ W
                z += b
                a = _sigmoid_(z)
            return a

        add("NumPy", numpy_predict, "three matmuls and sigmoids, no validation")
        if self.sk is not None:
            Xf, Yf = self.data("W2", 256, W2_SIZES, "float64")
            model = sklearn_model(self.sk, W2_SIZES, 32, 1, self.config.seed)
            quiet_fit(model, Xf, Yf)
            add("scikit-learn", lambda: model.predict(X), "MLPRegressor.predict, identity output")
        if self.torch is not None:
            torch = self.torch
            model = torch_model(torch, W2_SIZES, "float64", self.config.seed).eval()
            Xt = torch.from_numpy(X)

            def torch_predict() -> object:
                with torch.inference_mode():
                    return model(Xt)

            add("PyTorch", torch_predict, "model(x) under inference_mode, x a ready tensor")

    # -- W5 ------------------------------------------------------------------

    def w5(self) -> None:
        n, batch = self.config.sizes()["W5"], 32
        self.log(f"W5: two W2 networks ({n:,} samples each), two threads vs one after the other")
        X, Y = self.data("W2", n, W2_SIZES, "float64")
        Ws, bs = initial_parameters(W2_SIZES, self.config.seed)
        threadpoolctl = importlib.import_module("threadpoolctl")

        def nets() -> list[Network]:
            return [Network(list(W2_SIZES), weights=Ws, biases=bs) for _ in range(2)]

        def train(net: Network) -> None:
            net.train(X, Y, epochs=1, batch_size=batch, learning_rate=LEARNING_RATE, seed=0)

        def sequential_setup() -> Callable[[], object]:
            pair = nets()

            def run() -> None:
                for net in pair:
                    train(net)

            return run

        def threaded_setup() -> Callable[[], object]:
            pair = nets()

            def run() -> None:
                workers = [threading.Thread(target=train, args=(net,)) for net in pair]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()

            return run

        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"), self.interleaved():
            self.timed(
                "W5",
                "fastbp, one after the other",
                "float64",
                sequential_setup,
                2 * n,
                2 * n,
                "samples",
                threads=1,
                note="BLAS limited to one thread",
            )
            self.timed(
                "W5",
                "fastbp, two threads",
                "float64",
                threaded_setup,
                2 * n,
                2 * n,
                "samples",
                threads=1,
                note="BLAS limited to one thread",
            )

    # -- M: memory ------------------------------------------------------------

    def memory(self) -> None:
        n = self.config.sizes()["W2"]
        self.log(f"M: memory of training W2 ({n:,} samples)")
        for dtype in ("float64", "float32"):
            X, Y = self.data("W2", n, W2_SIZES, dtype)
            half = n // 2
            extra = {
                m: traced_training_bytes(X[:m], Y[:m], dtype, self.config.seed) for m in (half, n)
            }
            arrays = X.nbytes + Y.nbytes
            # A copy of X or Y costs a full row per sample; the shuffle order costs 8 bytes.
            per_sample = (extra[n] - extra[half]) / (n - half)
            self.report.memory[dtype] = {
                "samples": n,
                "arrays_bytes": arrays,
                "x_row_bytes": X.nbytes // n,
                "y_row_bytes": Y.nbytes // n,
                "train_extra_bytes": extra[n],
                "train_extra_bytes_half": extra[half],
                "extra_bytes_per_sample": per_sample,
                "peak_ratio": (arrays + extra[n]) / arrays,
            }
            self.log(
                f"  {dtype}: X + Y = {fmt_bytes(arrays)}, training allocated at most "
                f"{fmt_bytes(extra[n])} more ({fmt_bytes(extra[half])} for half the "
                f"samples: {per_sample:.1f} B per sample; tracemalloc)"
            )
        rss = rss_subprocess(n, self.config.seed)
        self.report.memory["rss"] = rss
        if rss:
            self.log(
                f"  float64 in a fresh subprocess: peak RSS grew by "
                f"{fmt_bytes(rss['train_growth_bytes'])} during training "
                f"(X + Y = {fmt_bytes(rss['arrays_bytes'])})"
            )

    # -- all -------------------------------------------------------------------

    def run(self) -> Report:
        threadpoolctl = importlib.import_module("threadpoolctl")
        steps = {
            "W1": self.w1,
            "W2": self.w2,
            "W3": self.w3,
            "W4": self.w4,
            "W5": self.w5,
            "M": self.memory,
        }
        torch_threads = self.torch.get_num_threads() if self.torch is not None else None
        try:
            if self.torch is not None:
                self.torch.set_num_threads(self.config.threads)
            with threadpoolctl.threadpool_limits(limits=self.config.threads):
                for name in WORKLOADS:
                    if name in self.config.only:
                        steps[name]()
        finally:
            if self.torch is not None:
                self.torch.set_num_threads(torch_threads)
        self.report.machine["load_after"] = load_average()
        self.report.targets = check_targets(self.report)
        return self.report


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


def quiet_fit(model: Any, X: np.ndarray, Y: np.ndarray) -> Any:
    """``model.fit`` without the ConvergenceWarning that max_iter=1 raises."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, Y)


RSS_CHILD = """
import json, resource, sys
import numpy as np
import fastbp as fb
from fastbp.bench import synthetic
n, seed = int(sys.argv[1]), int(sys.argv[2])
kib = 1024 if sys.platform != "darwin" else 1
net = fb.Network([784, 16, 16, 10], seed=seed)
net.train(np.zeros((32, 784)), np.zeros((32, 10)), epochs=1)  # load BLAS, warm up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
X, Y = synthetic(n, 784, 10, "float64", seed)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
net.train(X, Y, epochs=1, batch_size=32, learning_rate=0.5, seed=0)
trained = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
print(json.dumps({"base": base, "loaded": loaded, "trained": trained,
                  "arrays_bytes": X.nbytes + Y.nbytes}))
"""


def rss_subprocess(n: int, seed: int) -> dict[str, int] | None:
    """Peak RSS (getrusage) before and after training W2 in a fresh interpreter."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return None
    done = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(n), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    data = json.loads(done.stdout.strip().splitlines()[-1])
    data["train_growth_bytes"] = data["trained"] - data["loaded"]
    return data


# ---------------------------------------------------------------------------
# Targets


def check_targets(report: Report) -> list[Target]:
    """Issue 3's targets, each judged from this run's measurements."""
    targets: list[Target] = []
    find = report.find
    run = report.config.only

    def ratio_target(
        workload: str, text: str, slow: Result | None, fast: Result | None, need: float, why: str
    ) -> None:
        if workload not in run:
            return
        if slow is None or fast is None:
            targets.append(Target(workload, text, why, None))
            return
        ratio = slow.full_seconds / fast.full_seconds
        extra = " (extrapolated)" if slow.extrapolated or fast.extrapolated else ""
        targets.append(Target(workload, text, f"{ratio:.1f}x{extra}", ratio >= need))

    one = report.config.threads
    ratio_target(
        "W1",
        "W1 >= 50x faster than fastbp.reference",
        find("W1", "fastbp.reference"),
        find("W1", "fastbp"),
        50,
        "",
    )
    for dtype in ("float64", "float32"):
        fb = find("W2", "fastbp", dtype)
        ratio_target(
            "W2",
            f"W2 {dtype}: >= 4x faster than scikit-learn",
            find("W2", "scikit-learn", dtype),
            fb,
            4,
            "scikit-learn not installed",
        )
        ratio_target(
            "W2",
            f"W2 {dtype}: >= 8x faster than PyTorch",
            find("W2", "PyTorch", dtype),
            fb,
            8,
            "PyTorch not installed",
        )
        gemm = find("W2", "NumPy GEMMs only", dtype)
        if "W2" in run and fb is not None and gemm is not None:
            ratio = fb.full_seconds / gemm.full_seconds
            targets.append(
                Target(
                    "W2",
                    f"W2 {dtype}: within 1.3x of the time of its GEMMs alone",
                    f"{ratio:.2f}x the GEMM time",
                    ratio <= 1.3,
                )
            )
    for dtype in ("float64", "float32"):
        if "W3" not in run:
            break
        fb1, np1 = find("W3", "fastbp", dtype, one), find("W3", "NumPy GEMMs only", dtype, one)
        fb2 = find("W3", "fastbp", dtype, 2)
        if fb1 and np1 and fb1.gflops and np1.gflops:
            share = fb1.gflops / np1.gflops
            targets.append(
                Target(
                    "W3",
                    f"W3 {dtype}: >= 95% of the NumPy matmul GFLOP/s",
                    f"{fb1.gflops:.1f} vs {np1.gflops:.1f} GFLOP/s = {100 * share:.0f}%",
                    share >= 0.95,
                )
            )
        if fb1 and fb2 and fb1.gflops and fb2.gflops and one == 1:
            gain = fb2.gflops / fb1.gflops
            targets.append(
                Target(
                    "W3",
                    f"W3 {dtype}: two BLAS threads >= 1.7x the one-thread rate",
                    f"{fb2.gflops:.1f} vs {fb1.gflops:.1f} GFLOP/s = {gain:.2f}x",
                    gain >= 1.7,
                )
            )
    if "W4" in run:
        fb = find("W4", "fastbp")
        if fb is not None:
            us = fb.seconds * 1e6
            targets.append(
                Target("W4", "W4: <= 3 us per single-sample predict", f"{us:.2f} us", us <= 3.0)
            )
        ratio_target(
            "W4",
            "W4: >= 8x faster than PyTorch",
            find("W4", "PyTorch"),
            fb,
            8,
            "PyTorch not installed",
        )
    if "W5" in run:
        seq = find("W5", "fastbp, one after the other")
        par = find("W5", "fastbp, two threads")
        if seq and par:
            gain = seq.seconds / par.seconds
            targets.append(
                Target(
                    "W5",
                    "W5: two threads >= 1.8x the throughput of sequential",
                    f"{gain:.2f}x",
                    gain >= 1.8,
                )
            )
    if "M" in run:
        for dtype in ("float64", "float32"):
            m = report.memory.get(dtype)
            if not m:
                continue
            per_sample, row = m["extra_bytes_per_sample"], min(m["x_row_bytes"], m["y_row_bytes"])
            targets.append(
                Target(
                    "M",
                    f"M {dtype}: training does not copy X or Y",
                    f"allocations grow {per_sample:.1f} B per sample (a copy: >= {row} B)",
                    per_sample < row,
                )
            )
            targets.append(
                Target(
                    "M",
                    f"M {dtype}: peak memory of training W2 <= 1.10x the arrays",
                    f"{m['peak_ratio']:.4f}x (tracemalloc)",
                    m["peak_ratio"] <= 1.10,
                )
            )
    return targets


# ---------------------------------------------------------------------------
# The machine


def machine_info(torch: Any = None) -> dict[str, Any]:
    """CPU, cores, the BLAS libraries (threadpoolctl) and the versions, for the report."""
    from fastbp import _engine, _version
    from fastbp.threads import engine_blas_info

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threadpoolctl = importlib.import_module("threadpoolctl")
    engine = engine_blas_info() or {}
    blas = []
    for info in threadpoolctl.threadpool_info():
        if info.get("user_api") != "blas":
            continue
        owner = Path(str(info.get("filepath", ""))).parent.name
        blas.append(
            {
                "library": f"{info.get('internal_api')} {info.get('version')}",
                "architecture": info.get("architecture"),
                "threading": info.get("threading_layer"),
                "file": f"{owner}/{Path(str(info.get('filepath', ''))).name}",
                "engine": info.get("filepath") == engine.get("filepath"),
                "max_threads": info.get("num_threads"),
            }
        )
    versions = {
        "python": platform.python_version(),
        "fastbp": _version.__version__,
        "numpy": np.__version__,
    }
    for name in ("scipy", "sklearn", "torch"):
        module = optional(name)
        if module is not None:
            versions[name] = module.__version__
    env = {
        k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO"))
    }
    return {
        "kernels": getattr(_engine, "INSTRUCTION_SET", "scalar"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "blas": blas,
        "env": env,
        "versions": versions,
        "load_before": load_average(),
    }


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine skews timings."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def machine_lines(machine: dict[str, Any]) -> list[str]:
    lines = [f"machine: {machine['cpu']}, {machine['cores']} logical cores, {machine['os']}"]
    lines.append(f"fastbp element-wise kernels: {machine.get('kernels', 'unknown')}")
    for b in machine["blas"]:
        owner = b["file"].split("/")[0]
        role = (
            "fastbp's engine (via SciPy)"
            if b["engine"]
            else ("NumPy" if owner.startswith("numpy") else owner)
        )
        lines.append(
            f"BLAS for {role}: {b['library']}, kernel {b['architecture']}, "
            f"{b['threading']}, {b['file']} (max threads {b['max_threads']})"
        )
    env = ", ".join(f"{k}={v}" for k, v in sorted(machine["env"].items())) or "none set"
    lines.append(f"BLAS environment variables: {env}")
    load = f"load average (1/5/15 min) before: {machine['load_before']}"
    if "load_after" in machine:
        load += f", after: {machine['load_after']}"
    lines.append(load + f" on {machine['cores']} cores")
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    return lines


# ---------------------------------------------------------------------------
# Output


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


HEADER = (
    "id",
    "implementation",
    "dtype",
    "threads",
    "run",
    "time",
    "per unit",
    "x fastbp",
    "GFLOP/s",
    "note",
)


def table_rows(report: Report) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in report.results:
        if r.workload == "W5":
            base = report.find("W5", "fastbp, two threads")
        else:
            base = report.find(r.workload, "fastbp", r.dtype, r.threads) or report.find(
                r.workload, "fastbp", r.dtype
            )
        ratio = f"{r.full_seconds / base.full_seconds:.2f}" if base is not None else ""
        approx = "~" if r.extrapolated else ""
        rows.append(
            (
                r.workload,
                r.impl,
                r.dtype,
                str(r.threads),
                f"{r.n_run:,} of {r.n_full:,} {r.unit}"
                if r.extrapolated
                else f"{r.n_run:,} {r.unit}",
                approx + fmt_time(r.full_seconds),
                approx + fmt_time(r.full_seconds / r.n_full),
                ratio,
                f"{r.gflops:.1f}" if r.gflops else "",
                r.note,
            )
        )
    return rows


def text_report(report: Report) -> str:
    rows = [HEADER, *table_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = machine_lines(report.machine)
    lines.append(f"settings: {describe_config(report.config)}")
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    lines.append("")
    lines.append(
        "~ : extrapolated linearly per unit from the smaller run shown in 'run'. "
        "'x fastbp': time relative to fastbp on the same workload, dtype and threads "
        "(W5: relative to two threads)."
    )
    lines += report.notes
    lines.append("")
    lines.append("targets:")
    for t in report.targets:
        lines.append(f"  [{t.verdict}] {t.text}: {t.measured}")
    met = sum(t.met is True for t in report.targets)
    lines.append(f"  {met} of {len(report.targets)} targets met")
    return "\n".join(lines)


def markdown_report(report: Report, command: str) -> str:
    out = [f"Command: `{command}`", ""]
    out += [f"- {line}" for line in machine_lines(report.machine)]
    out += [f"- settings: {describe_config(report.config)}", ""]
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("|" + "---|" * len(HEADER))
    for row in table_rows(report):
        out.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    out.append("")
    out.append(
        "~ : extrapolated linearly per unit from the smaller run shown in *run*. "
        "*x fastbp*: time relative to fastbp on the same workload, dtype and threads "
        "(W5: relative to two threads)."
    )
    out += [f"{note}." if not note.endswith(".") else note for note in report.notes]
    out += ["", "| target | measured | verdict |", "|---|---|---|"]
    for t in report.targets:
        out.append(f"| {t.text} | {t.measured} | **{t.verdict}** |")
    return "\n".join(out) + "\n"


def describe_config(config: Config) -> str:
    mode = "quick" if config.quick else "full"
    return (
        f"{mode} run, median of {config.repeats} timed runs after a warm-up (W3 and the "
        f"reference: at most 3, no warm-up for the reference), BLAS/OpenMP threads "
        f"{config.threads}, learning rate {LEARNING_RATE}, seed {config.seed}"
    )


def png_report(report: Report, path: str) -> str | None:
    """A bar chart of each row's time relative to fastbp (log scale); None if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no PNG written"
    rows = [row for row in table_rows(report) if row[7]]
    labels = [f"{r[0]} {r[2]} t{r[3]}: {r[1]}" for r in rows]
    values = [float(r[7]) for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.5))
    colours = [
        "tab:green" if r[1].startswith("fastbp") and r[7] == "1.00" else "tab:blue" for r in rows
    ]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("time relative to fastbp (log scale; > 1 is slower than fastbp)")
    ax.set_title(f"fastbp bench: {report.machine['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


# ---------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m fastbp bench`` and ``bench/compare.py``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller runs and one timed repeat: a smoke test, not a measurement",
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads to run (default: {','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per measurement, median reported (default 5, quick 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/PyTorch threads (default 1; W3 also runs with 2)",
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown")
    parser.add_argument("--png", metavar="PATH", help="also write a bar chart (needs matplotlib)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is NOT MET"
    )


def command_line(args: argparse.Namespace, prefix: str) -> str:
    """The command that reproduces ``args``, for the Markdown output."""
    words = [prefix]
    if args.quick:
        words.append("--quick")
    if args.only != ",".join(WORKLOADS):
        words += ["--only", args.only]
    for option in ("repeats", "markdown", "png", "json"):
        if getattr(args, option) is not None:
            words += [f"--{option}", str(getattr(args, option))]
    if args.threads != 1:
        words += ["--threads", str(args.threads)]
    if args.strict:
        words.append("--strict")
    return " ".join(words)


def config_from_args(args: argparse.Namespace) -> Config:
    only = tuple(w.strip().upper() for w in args.only.split(",") if w.strip())
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        raise SystemExit(
            f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if repeats < 1 or args.threads < 1:
        raise SystemExit("--repeats and --threads must be at least 1")
    return Config(quick=args.quick, repeats=repeats, only=only, threads=args.threads)


def run_cli(args: argparse.Namespace, command: str = "python -m fastbp bench") -> int:
    """Run the benchmark for parsed options; print the table; write the files asked for.

    ``command`` is the command line shown in the Markdown output.
    """
    config = config_from_args(args)
    bench = Bench(config)
    bench.log("\n".join(machine_lines(bench.report.machine)))
    report = bench.run()
    print("\n" + text_report(report), flush=True)
    if args.markdown:
        Path(args.markdown).write_text(markdown_report(report, command))
        print(f"wrote {args.markdown}")
    if args.png:
        problem = png_report(report, args.png)
        print(problem or f"wrote {args.png}")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(report), indent=1))
        print(f"wrote {args.json}")
    if args.strict and any(t.met is False for t in report.targets):
        return 1
    return 0


def to_json(report: Report) -> dict[str, Any]:
    return {
        "machine": report.machine,
        "config": asdict(report.config),
        "results": [dict(asdict(r), full_seconds=r.full_seconds) for r in report.results],
        "targets": [dict(asdict(t), verdict=t.verdict) for t in report.targets],
        "memory": report.memory,
        "notes": report.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bench/compare.py``."""
    parser = argparse.ArgumentParser(prog="bench/compare.py", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args, command_line(args, "python bench/compare.py"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
