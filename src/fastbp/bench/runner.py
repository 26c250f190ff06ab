"""The machinery that runs the workloads: jobs timed in turn, results logged and kept."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp.bench.machine import load_average, machine_info
from fastbp.bench.peers import PEERS, Peer
from fastbp.bench.problems import synthetic
from fastbp.bench.records import Config, Report, Result
from fastbp.bench.render import fmt_time
from fastbp.bench.targets import check_targets
from fastbp.bench.timing import RunPlan, Setup, measure, per_call, thread_limit
from fastbp.bench.workloads import WORKLOADS_BY_NAME


def join_notes(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


@dataclass(frozen=True)
class Job:
    """One measurement waiting to run."""

    plan: RunPlan
    impl: str
    setup: Setup
    note: str


class Bench:
    """One run of the benchmark: the peers found, the data made, the report kept."""

    def __init__(self, config: Config, out: Any = sys.stdout) -> None:
        self.config = config
        self.out = out
        notes = []
        self.peers: list[tuple[Peer, Any]] = []  # the installed peers and their handles
        for peer in PEERS:
            handle = peer.load() if peer.load is not None else None
            if peer.load is not None and handle is None:
                notes.append(f"{peer.name} is not installed: its rows are skipped")
            else:
                self.peers.append((peer, handle))
        self.report = Report(machine_info(), config, notes=notes)
        self._pending: list[Job] | None = None
        self._data: dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray]] = {}

    def log(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def data(
        self, name: str, n: int, sizes: Sequence[int], dtype: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synthetic data set ``name`` of n samples, made once."""
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

    # -- runs of a setup -------------------------------------------------------

    def timed(self, plan: RunPlan, impl: str, setup: Setup, note: str = "") -> None:
        """Time ``setup()()``; inside :meth:`interleaved`, later, in turn with the others.

        The note says too when the time is extrapolated.
        """
        job = Job(plan, impl, setup, join_notes(note, plan.scale_note))
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
        for job, kept in zip(jobs, time_in_rounds(jobs)):
            plan = job.plan
            seconds = statistics.median(kept)
            self.add(
                Result(
                    plan.workload,
                    job.impl,
                    plan.dtype,
                    seconds,
                    plan.n_run,
                    plan.n_full,
                    plan.unit,
                    len(kept),
                    plan.threads or self.config.threads,
                    job.note,
                    gflops=None if plan.flops is None else plan.flops / seconds / 1e9,
                    times=kept,
                )
            )

    # -- calls of a function ---------------------------------------------------

    def time_calls(
        self, workload: str, impl: str, call: Callable[[], object], note: str, min_time: float
    ) -> None:
        """Time one call of ``call`` (float64), in loops lasting at least ``min_time``."""
        call()
        times, calls = per_call(call, self.config.repeats, min_time)
        self.add(
            Result(
                workload,
                impl,
                "float64",
                statistics.median(times),
                1,
                1,
                "call",
                len(times),
                self.config.threads,
                join_notes(f"{calls:,} calls per run", note),
                times=times,
            )
        )

    # -- all -------------------------------------------------------------------

    @contextmanager
    def thread_limits(self) -> Iterator[None]:
        """Every peer's threads, then BLAS and OpenMP, limited to ``config.threads``."""
        with ExitStack() as stack:
            for peer, handle in self.peers:
                if peer.thread_limit is not None:
                    stack.enter_context(peer.thread_limit(handle, self.config.threads))
            stack.enter_context(thread_limit(self.config.threads, user_api=None))
            yield

    def note_peers_not_run(self, workload: str) -> None:
        for peer in PEERS:
            if workload in peer.not_run:
                reason = peer.not_run[workload]
                self.report.notes.append(f"{workload}: {peer.name} is not run: {reason}")

    def run(self) -> Report:
        with self.thread_limits():
            for name, workload in WORKLOADS_BY_NAME.items():
                if name in self.config.only:
                    workload(self)
                    self.note_peers_not_run(name)
        self.report.machine["load_after"] = load_average()
        self.report.targets = check_targets(self.report)
        return self.report


def time_in_rounds(jobs: list[Job]) -> list[list[float]]:
    """The kept times of each job: one run of each per round, warm-ups first."""
    times: list[list[float]] = [[] for _ in jobs]
    for round_ in range(max(job.plan.warmup + job.plan.repeats for job in jobs)):
        for job, kept in zip(jobs, times):
            plan = job.plan
            if round_ >= plan.warmup + plan.repeats:
                continue
            with thread_limit(plan.threads):
                elapsed = measure(job.setup, 1, 0)[0]
            if round_ >= plan.warmup:
                kept.append(elapsed)
    return times
