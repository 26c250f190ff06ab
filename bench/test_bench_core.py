"""pytest-benchmark cases: ``train`` (one epoch) and ``predict``, fastbp and the reference.

Run:  python -m pytest bench --benchmark-only
Compare runs:  python -m pytest bench --benchmark-only --benchmark-autosave, then
               pytest-benchmark compare

Each case times the same work for both engines, so the saved runs show the speed-up
and track regressions.  Speed ratios are asserted by ``bench/compare.py``, not here.
"""

import numpy as np
import pytest

import fastbp as fb
from fastbp import reference
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X

ENGINES = {"fastbp": fb.Network, "reference": reference.Network}


def synthetic_digits(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, 784)), np.eye(10)[rng.integers(0, 10, size=n)]


def sklearn_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    return digits.data / 16.0, np.eye(10)[digits.target]


# -- the worked 2-2-2 example: 1,000 online updates ------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_train_worked_example(benchmark, engine):
    def run():
        net = ENGINES[engine]([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
        return net.train(
            WORKED_X, WORKED_T, epochs=1000, batch_size=1, learning_rate=0.5, train_biases=False
        )

    history = benchmark(run)
    assert history[-1] < history[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_worked_example(benchmark, engine):
    net = ENGINES[engine]([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
    out = benchmark(net.predict, WORKED_X)
    assert np.asarray(out).shape == (1, 2)


# -- 784-16-16-10 on synthetic data: one epoch, mini-batch 32 -----------------


@pytest.mark.parametrize("engine,n", [("fastbp", 256), ("reference", 256), ("fastbp", 60_000)])
def test_train_784_16_16_10(benchmark, engine, n):
    X, Y = synthetic_digits(n)
    init = fb.Network([784, 16, 16, 10], seed=0)
    net = ENGINES[engine]([784, 16, 16, 10], weights=init.weights, biases=init.biases)
    history = benchmark(net.train, X, Y, epochs=1, batch_size=32, learning_rate=0.5, seed=0)
    assert len(history) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_784_16_16_10(benchmark, engine):
    X, _ = synthetic_digits(100)
    net = ENGINES[engine](
        [784, 16, 16, 10],
        weights=fb.Network([784, 16, 16, 10], seed=0).weights,
        biases=[np.zeros(16), np.zeros(16), np.zeros(10)],
    )
    out = benchmark(net.predict, X)
    assert np.asarray(out).shape == (100, 10)


# -- 64-32-10 on scikit-learn's digits ---------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_train_digits_64_32_10(benchmark, engine):
    X, Y = sklearn_digits()
    X, Y = (X, Y) if engine == "fastbp" else (X[:300], Y[:300])
    net = ENGINES[engine](
        [64, 32, 10], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=0
    )
    history = benchmark(net.train, X, Y, epochs=1, batch_size=16, learning_rate=0.1, seed=0)
    assert len(history) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_digits_64_32_10(benchmark, engine):
    X, _ = sklearn_digits()
    net = ENGINES[engine](
        [64, 32, 10], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=0
    )
    out = benchmark(net.predict, X[:300])
    assert np.asarray(out).shape == (300, 10)
