"""The NumPy peer: fastbp's algorithm written with ``@``, the one NumPy trainer of the bench.

With ``batch=1`` it is the per-sample loop of the classic ``network.py`` (W1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fastbp.bench.peers.base import Peer, Predictor, Trainer, batches
from fastbp.bench.problems import LEARNING_RATE, PredictionRun, TrainingRun
from fastbp.bench.timing import Setup

Layers = list[np.ndarray]  # one array per layer: the weights, or the biases


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """z <- 1 / (1 + exp(-z)), in place."""
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
    z += 1
    np.reciprocal(z, out=z)
    return z


def forward(Ws: Layers, bs: Layers, x: np.ndarray) -> list[np.ndarray]:
    """The activations of every layer, the input first: a(l) = f(a(l-1) . W(l) + b(l))."""
    activations = [x]
    for W, b in zip(Ws, bs):
        z = activations[-1] @ W
        z += b
        activations.append(_sigmoid_(z))
    return activations


def sgd_step(
    Ws: Layers, bs: Layers, x: np.ndarray, y: np.ndarray, lr: float, train_biases: bool
) -> float:
    """One update on the batch (x, y), in place (the biases only if ``train_biases``).

    Returns the batch's summed loss.
    """
    activations = forward(Ws, bs, x)
    o = activations[-1]
    diff = o - y
    loss = 0.5 * float(np.vdot(diff, diff))
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
    return loss


def numpy_train(
    Ws: Layers,
    bs: Layers,
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
        for x, y in batches(X, Y, batch, order):
            total += sgd_step(Ws, bs, x, y, lr, train_biases)
        history.append(total / n)
    return history


def numpy_trainer(run: TrainingRun) -> Setup:
    """Each setup copies the initial parameters, in the data's dtype."""

    def setup() -> Callable[[], object]:
        Ws = [W.astype(run.X.dtype) for W in run.weights]
        bs = [b.astype(run.X.dtype) for b in run.biases]
        return lambda: numpy_train(
            Ws,
            bs,
            run.X,
            run.Y,
            run.epochs,
            run.batch,
            LEARNING_RATE,
            run.shuffle,
            0,
            run.train_biases,
        )

    return setup


def numpy_predictor(run: PredictionRun) -> Callable[[], np.ndarray]:
    """Three matmuls and sigmoids on the input, no validation."""
    Ws, bs, x = run.training.weights, run.training.biases, run.x
    return lambda: forward(Ws, bs, x)[-1]


def _worked_example(_handle: None, run: TrainingRun) -> Trainer:
    return Trainer(
        "NumPy per-sample loop", numpy_trainer(run), "network.py-style loop, one sample at a time"
    )


def _epoch(_handle: None, run: TrainingRun) -> Trainer:
    return Trainer("NumPy mini-batch", numpy_trainer(run))


def _predict_one(_handle: None, run: PredictionRun) -> Predictor:
    return Predictor("NumPy", numpy_predictor(run), "three matmuls and sigmoids, no validation")


PEER = Peer("NumPy", worked_example=_worked_example, epoch=_epoch, predict_one=_predict_one)
