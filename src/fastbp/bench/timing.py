"""Timing: a run is built fresh by its setup and only the run itself is timed."""

from __future__ import annotations

import contextlib
import gc
import importlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

# A setup builds fresh state (a new network, copies of the parameters) and returns
# the run to time.
Setup = Callable[[], Callable[[], object]]


def ready(run: Callable[[], object]) -> Setup:
    """A setup for a run that needs no fresh state."""
    return lambda: run


@dataclass(frozen=True)
class RunPlan:
    """How rows of a workload are run and counted: what most of its rows share."""

    workload: str
    dtype: str
    n_run: int  # units (updates, samples) of one run
    n_full: int  # units of the workload as specified; more: the time is extrapolated
    unit: str
    repeats: int
    warmup: int = 1
    threads: int | None = None  # BLAS threads of this row only; None: the run's setting
    flops: float | None = None  # nominal floating-point operations of one run: GFLOP/s

    @property
    def scale_note(self) -> str:
        if self.n_run == self.n_full:
            return ""
        return f"{self.n_run:,} {self.unit} run, time extrapolated"


def measure(setup: Setup, repeats: int, warmup: int = 1) -> list[float]:
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


def thread_limit(
    threads: int | None, user_api: str | None = "blas"
) -> AbstractContextManager[object]:
    """Limit the native thread pools (BLAS only, by default) to ``threads``; None: no limit."""
    if threads is None:
        return contextlib.nullcontext()
    threadpoolctl = importlib.import_module("threadpoolctl")
    return threadpoolctl.threadpool_limits(limits=threads, user_api=user_api)
