"""fastbp and its pure-Python reference, set up for each kind of workload.

They are not registered peers: every workload places their rows itself (fastbp
first, the slow reference where it fits).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastbp import reference
from fastbp.bench.problems import LEARNING_RATE, PredictionRun, TrainingRun
from fastbp.bench.timing import Setup
from fastbp.network import Network


def fastbp_network(run: TrainingRun) -> Network:
    return Network(list(run.sizes), dtype=run.dtype, weights=run.weights, biases=run.biases)


def train_options(run: TrainingRun) -> dict[str, Any]:
    """The options of ``train`` for the run, the same for fastbp and the reference."""
    return {
        "epochs": run.epochs,
        "batch_size": run.batch,
        "learning_rate": LEARNING_RATE,
        "shuffle": run.shuffle,
        "seed": 0,
        "train_biases": run.train_biases,
    }


def fastbp_train(net: Network, run: TrainingRun) -> None:
    net.train(run.X, run.Y, **train_options(run))


def fastbp_trainer(run: TrainingRun) -> Setup:
    """Each setup builds a new network holding the run's initial parameters."""

    def setup() -> Callable[[], object]:
        net = fastbp_network(run)
        return lambda: fastbp_train(net, run)

    return setup


def fastbp_pair_trainer(run: TrainingRun, threaded: bool) -> Setup:
    """Two networks trained on the run: one after the other, or at once in two threads."""

    def setup() -> Callable[[], object]:
        pair = [fastbp_network(run) for _ in range(2)]

        def one_after_the_other() -> None:
            for net in pair:
                fastbp_train(net, run)

        def in_two_threads() -> None:
            workers = [threading.Thread(target=fastbp_train, args=(net, run)) for net in pair]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

        return in_two_threads if threaded else one_after_the_other

    return setup


def reference_trainer(run: TrainingRun) -> Setup:
    """Each setup builds a new reference network; the data is converted to lists once."""
    X_rows, Y_rows = run.X.tolist(), run.Y.tolist()
    options = train_options(run)

    def setup() -> Callable[[], object]:
        net = reference.Network(list(run.sizes), weights=run.weights, biases=run.biases)
        return lambda: net.train(X_rows, Y_rows, **options)

    return setup


def fastbp_predictor(run: PredictionRun) -> Callable[[], object]:
    """``predict`` on the input array, validation included."""
    net, x = fastbp_network(run.training), run.x
    return lambda: net.predict(x)


def reference_predictor(run: PredictionRun) -> Callable[[], object]:
    """The reference's ``predict`` on the input as a list of rows."""
    fit = run.training
    net = reference.Network(list(fit.sizes), weights=fit.weights, biases=fit.biases)
    x_rows = run.x.tolist()
    return lambda: net.predict(x_rows)
