"""The scikit-learn peer: ``MLPRegressor`` with SGD, as close to fastbp's settings as it goes."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastbp.bench.peers.base import Peer, Predictor, Trainer, optional
from fastbp.bench.problems import LEARNING_RATE, PredictionRun, TrainingRun
from fastbp.bench.timing import Setup

# Differences from fastbp that equal settings cannot remove.
SKLEARN_NOTE = (
    "identity output (MLPRegressor has no sigmoid output); alpha=0, momentum=0, "
    "tol=0; its loss is also averaged over the outputs"
)


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


def quiet_fit(model: Any, X: np.ndarray, Y: np.ndarray) -> Any:
    """``model.fit`` without the ConvergenceWarning that max_iter=1 raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, Y)


def sklearn_trainer(sk: Any, run: TrainingRun) -> Setup:
    """Each setup builds a new model (its own initialisation, seeded by ``run.seed``)."""

    def setup() -> Callable[[], object]:
        model = sklearn_model(sk, run.sizes, run.batch, run.epochs, run.seed)
        return lambda: quiet_fit(model, run.X, run.Y)

    return setup


def _epoch(sk: Any, run: TrainingRun) -> Trainer:
    return Trainer("scikit-learn", sklearn_trainer(sk, run), SKLEARN_NOTE)


def _predict_one(sk: Any, run: PredictionRun) -> Predictor:
    fit = run.training
    model = sklearn_model(sk, fit.sizes, fit.batch, fit.epochs, fit.seed)
    quiet_fit(model, fit.X, fit.Y)
    x = run.x
    return Predictor(
        "scikit-learn", lambda: model.predict(x), "MLPRegressor.predict, identity output"
    )


PEER = Peer(
    "scikit-learn",
    load=lambda: optional("sklearn.neural_network"),
    version_module="sklearn",
    epoch=_epoch,
    predict_one=_predict_one,
    not_run={
        "W1": "MLPRegressor can neither freeze the biases nor use a sigmoid output, "
        "so it cannot do the worked example"
    },
)
