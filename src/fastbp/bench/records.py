"""The records of a run: a timed row, a target's verdict, the settings and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


def every_workload() -> tuple[str, ...]:
    """The names of all workloads, in the order they run (from the workload table)."""
    from fastbp.bench.workloads import WORKLOADS  # the table imports these records

    return WORKLOADS


@dataclass
class Config:
    quick: bool = False
    repeats: int = 5
    only: tuple[str, ...] = field(default_factory=every_workload)
    threads: int = 1
    seed: int = 0

    def units(self) -> dict[str, int]:
        """Units run per workload (quick: fewer, extrapolated and labelled)."""
        quick = self.quick
        return {
            "W1": 10_000,
            "W1_reference": 2_000 if quick else 10_000,
            "W2": 6_400 if quick else 60_000,
            "W2_reference": 64 if quick else 640,
            "W3": 1_024 if quick else 10_240,
            "W5": 6_400 if quick else 60_000,
        }


@dataclass
class Report:
    machine: dict[str, Any]
    config: Config
    results: list[Result] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def find(
        self, workload: str, impl: str, dtype: str = "float64", threads: int | None = None
    ) -> Result | None:
        """The first result of ``impl`` on the workload and dtype (and threads, if given)."""
        for result in self.results:
            if (result.workload, result.impl, result.dtype) == (workload, impl, dtype) and (
                threads is None or result.threads == threads
            ):
                return result
        return None
