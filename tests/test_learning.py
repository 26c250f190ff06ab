"""The network actually learns: XOR online, and scikit-learn's digits."""

import numpy as np
import pytest

import fastbp as fb
from fastbp.classic import XOR_T, XOR_X


def test_xor_2_5_1_online_learns_all_four_cases():
    net = fb.Network([2, 5, 1], seed=1)
    net.train(XOR_X, XOR_T, epochs=5000, batch_size=1, learning_rate=0.5, seed=1)
    out = net.predict(XOR_X)[:, 0]
    np.testing.assert_array_equal(out > 0.5, [False, True, True, False])
    assert np.max(np.abs(out - np.ravel(XOR_T))) < 0.1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_digits_64_32_10_reaches_95_percent(dtype):
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    net = fb.Network(
        [64, 32, 10],
        activation="tanh",
        output_activation="softmax",
        loss="cross_entropy",
        dtype=dtype,
        seed=0,
    )
    history = net.train(
        X_train, np.eye(10)[y_train], epochs=60, batch_size=16, learning_rate=0.1, seed=0
    )
    assert history[-1] < history[0] / 10
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.95


def test_sigmoid_squared_error_digits_network_learns():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X, y = digits.data[:1000] / 16.0, digits.target[:1000]
    net = fb.Network([64, 32, 10], seed=0)
    net.train(X, np.eye(10)[y], epochs=40, batch_size=10, learning_rate=1.0, seed=0)
    assert np.mean(net.predict(X).argmax(axis=1) == y) > 0.95
