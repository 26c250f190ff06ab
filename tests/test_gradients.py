"""Back-propagation against central finite differences."""

import numpy as np
import pytest
from helpers import PAIRS, float32_twin, problem, twins

import fastbp as fb
from fastbp.activations import HUBER_DELTA

HIDDEN = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "identity": lambda z: z,
}


def kink_margin(net, X, Y=None):
    """Smallest |z| of any ReLU-family unit, and with targets Y the smallest
    distance of an output error from the loss's own kink (0 for the absolute
    error, +-HUBER_DELTA for Huber): how far the data is from a kink."""
    names = [net.activation] * (len(net.weights) - 1) + [net.output_activation]
    margin, a = np.inf, np.asarray(X, dtype=float)
    for W, b, name in zip(net.weights, net.biases, names):
        z = a @ W + b
        if name in ("relu", "leaky_relu"):
            margin = min(margin, np.abs(z).min())
        a = HIDDEN[name](z) if name in HIDDEN else z  # softmax and exp only at the output
    if Y is not None and net.loss_name in ("huber", "absolute_error"):
        bend = HUBER_DELTA if net.loss_name == "huber" else 0.0
        margin = min(margin, np.abs(np.abs(a - Y) - bend).min())
    return margin


def smooth_problem(sizes, hidden, output, loss):
    """A network and data with every ReLU unit well away from its kink, where
    finite differences (steps of 2e-3 per weight) measure a true derivative."""
    for seed in range(100):
        net, _ = twins(sizes, hidden, output, loss, seed=seed)
        X, Y = problem(sizes, output, loss, n=6, seed=seed + 100)
        if kink_margin(net, X, Y) > 0.05:
            return net, X, Y
    raise AssertionError("no smooth problem found")


@pytest.mark.parametrize("hidden,output,loss", PAIRS)
def test_check_gradients_below_1e6_for_every_pair(hidden, output, loss):
    net, X, Y = smooth_problem([5, 4, 3, 3], hidden, output, loss)
    # The absolute error's slopes are +-1, so an output bias's gradient can be
    # exactly 0 (as many errors above as below) while the differences of the
    # loss (a sum of terms near 1) carry 1e-12 of rounding: a higher floor.
    floor = 1e-5 if loss == "absolute_error" else None
    assert fb.check_gradients(net, X, Y, floor=floor) < 1e-6


# float32's differences take steps of 1e-2, which cross the kinks of ReLU-family
# hidden layers (smooth_problem keeps the outputs' and the losses' away)
SMOOTH_PAIRS = [pair for pair in PAIRS if "relu" not in pair[0]]


@pytest.mark.parametrize("hidden,output,loss", SMOOTH_PAIRS)
def test_check_gradients_float32_within_float32_tolerance(hidden, output, loss):
    net, X, Y = smooth_problem([4, 3, 3], hidden, output, loss)
    net32 = float32_twin(net)
    assert fb.check_gradients(net32, X, Y) < 5e-2


def test_check_gradients_detects_a_wrong_gradient(monkeypatch):
    sizes = [3, 4, 2]
    net, _ = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=0)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=4, seed=0)
    honest = net.flat_gradient
    monkeypatch.setattr(net, "flat_gradient", lambda X, Y: honest(X, Y) * 1.01)
    assert fb.check_gradients(net, X, Y) > 1e-3


def test_gradients_leave_parameters_unchanged():
    sizes = [3, 4, 2]
    net, _ = twins(sizes, "tanh", "identity", "squared_error", seed=0)
    X, Y = problem(sizes, "identity", "squared_error", n=5, seed=0)
    before = net.params.copy()
    dW, db = net.gradients(X, Y)
    np.testing.assert_array_equal(net.params, before)
    assert [w.shape for w in dW] == [w.shape for w in net.weights]
    assert [b.shape for b in db] == [b.shape for b in net.biases]


def test_gradient_over_many_chunks_equals_gradient_in_one():
    sizes = [3, 4, 2]
    net, ref = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=0)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=2500, seed=0)  # > CHUNK_ROWS
    _, rdb = ref.gradients(X, Y)
    _, db = net.gradients(X, Y)
    for a, b in zip(db, rdb):
        np.testing.assert_allclose(a, b, atol=1e-13)
    assert net.loss(X, Y) == pytest.approx(ref.loss(X, Y), rel=1e-12)


def test_one_sgd_step_is_minus_learning_rate_times_gradient():
    sizes = [3, 5, 2]
    net, _ = twins(sizes, "relu", "softmax", "cross_entropy", seed=2)
    X, Y = problem(sizes, "softmax", "cross_entropy", n=6, seed=3)
    expected = net.params - 0.3 * net.flat_gradient(X, Y)
    net.train(X, Y, epochs=1, batch_size=None, learning_rate=0.3)
    np.testing.assert_allclose(net.params, expected, atol=1e-14)
