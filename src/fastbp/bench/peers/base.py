"""What a peer is: the rows it adds to the workloads it can run, and its library."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from fastbp.bench.problems import PredictionRun, TrainingRun
from fastbp.bench.timing import Setup


@dataclass(frozen=True)
class Trainer:
    """A peer's row in a training workload: its name there, what to time, a note."""

    impl: str
    setup: Setup
    note: str = ""


@dataclass(frozen=True)
class Predictor:
    """A peer's row in the latency workload: its name there, the call to time, a note."""

    impl: str
    predict: Callable[[], object]
    note: str = ""


# Each takes the handle that the peer's ``load`` returned (None for a peer without one).
TrainerFactory = Callable[[Any, TrainingRun], Trainer]
PredictorFactory = Callable[[Any, PredictionRun], Predictor]


@dataclass(frozen=True)
class Peer:
    """An implementation that fastbp is compared with, registered in :data:`PEERS`.

    ``load`` imports (or opens) the peer's library and returns a handle to it, or
    None when it is not installed: the peer's rows are then skipped with a note.
    A peer without ``load`` needs nothing beyond NumPy.  Each workload kind the
    peer runs is a factory of its row; ``not_run`` says, for a workload it cannot
    do, why (the report prints it).
    """

    name: str
    load: Callable[[], Any] | None = None
    version_module: str | None = None  # whose __version__ the report shows
    worked_example: TrainerFactory | None = None  # W1
    epoch: TrainerFactory | None = None  # W2, W3
    predict_one: PredictorFactory | None = None  # W4
    thread_limit: Callable[[Any, int], AbstractContextManager[object]] | None = None
    not_run: Mapping[str, str] = field(default_factory=dict)


def optional(name: str) -> Any:
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def batches(X: Any, Y: Any, batch: int, order: Any = None) -> Iterator[tuple[Any, Any]]:
    """The mini-batches of one epoch: in place, or in ``order`` (a permutation)."""
    for i in range(0, X.shape[0], batch):
        if order is None:
            yield X[i : i + batch], Y[i : i + batch]
        else:
            rows = order[i : i + batch]
            yield X[rows], Y[rows]
