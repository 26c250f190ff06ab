"""The problems every implementation solves alike: networks, data, parameters, settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fastbp.network import Network

W2_SIZES = (784, 16, 16, 10)
W3_SIZES = (784, 1024, 1024, 10)
LEARNING_RATE = 0.5
DTYPES = ("float64", "float32")


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


def initial_parameters(
    sizes: Sequence[int], seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """fastbp's seeded initial weights, shared by every implementation."""
    net = Network(list(sizes), seed=seed)
    return [W.copy() for W in net.weights], [b.copy() for b in net.biases]


@dataclass(frozen=True)
class TrainingRun:
    """One training run, done alike by every implementation of a training workload.

    Each implementation starts from ``weights`` and ``biases`` (it copies them) and
    trains a sigmoid network with squared error at :data:`LEARNING_RATE`.  fastbp,
    the reference and NumPy shuffle with seed 0; ``seed`` seeds the peers that draw
    their own state (scikit-learn's initialisation, PyTorch's shuffle).
    """

    sizes: tuple[int, ...]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    batch: int
    epochs: int = 1
    shuffle: bool = True
    train_biases: bool = True
    seed: int = 0

    @property
    def dtype(self) -> str:
        return str(self.X.dtype)


@dataclass(frozen=True)
class PredictionRun:
    """One input to predict, by the network of ``training`` with its initial parameters.

    A peer that cannot take given parameters (scikit-learn) does ``training`` first.
    """

    x: np.ndarray
    training: TrainingRun
