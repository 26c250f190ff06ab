"""Online SGD (a batch of one): the engine's loop over samples, against the reference.

A batch of one takes its own path through csrc (one call for many samples, each
layer's update applied as its deltas are taken, the first layer's update fused
with the next sample's forward pass).  Its register blocks depend on the widths
of the layers against the vector width of each instruction set, so the shapes
below put the first layer on every block count, and on the fallback for widths
that are not a multiple of the vector.
"""

import numpy as np
import pytest
from helpers import assert_same_params, problem, twins

import fastbp as fb

# First-layer widths 2, 4, 8, 16, 24, 32, 48, 64 fill 1-4 vectors of some build;
# 7 and 10 fill none and take the fallback.
SHAPES = [
    [2, 2, 2],
    [5, 4, 3],
    [9, 8, 2],
    [30, 16, 8, 3],
    [12, 24, 4],
    [40, 32, 5],
    [7, 48, 3],
    [6, 64, 2],
    [11, 7, 1],
    [3, 10, 10, 4],
]
ACTIVATIONS = [
    ("sigmoid", "sigmoid", "squared_error"),
    ("tanh", "identity", "squared_error"),
    ("relu", "softmax", "cross_entropy"),
    ("leaky_relu", "sigmoid", "cross_entropy"),
]


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("hidden,output,loss", ACTIVATIONS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_online_training_matches_reference(instruction_set, sizes, hidden, output, loss, shuffle):
    net, ref = twins(sizes, hidden, output, loss, seed=11)
    X, Y = problem(sizes, output, loss, n=23, seed=12)
    options = dict(epochs=2, batch_size=1, learning_rate=0.05, shuffle=shuffle, seed=4)
    history = net.train(X, Y, **options)
    ref_losses = ref.train(X.tolist(), Y.tolist(), **options)
    assert_same_params(net, ref, 1e-12)
    np.testing.assert_allclose(list(history), ref_losses, rtol=1e-12)


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_online_float32_follows_float64(instruction_set, sizes):
    net, ref = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=13)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=17, seed=14)
    net32 = fb.Network(sizes, dtype="float32", weights=net.weights, biases=net.biases)
    options = dict(epochs=2, batch_size=1, learning_rate=0.1, seed=5)
    net32.train(X.astype(np.float32), Y.astype(np.float32), **options)
    ref.train(X.tolist(), Y.tolist(), **options)
    assert_same_params(net32, ref, 2e-5)


@pytest.mark.parametrize("sizes", [[2, 2, 2], [30, 16, 8, 3], [40, 32, 5], [11, 7, 1]])
@pytest.mark.parametrize("train_biases", [True, False])
def test_one_update_is_the_gradient_step(instruction_set, sizes, train_biases):
    """One sample's update is -learning_rate times the loss gradient (the gradient
    is checked against finite differences in test_gradients), biases left alone
    when they are not trained."""
    net, _ = twins(sizes, "tanh", "sigmoid", "squared_error", seed=15)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=1, seed=16)
    dW, db = net.gradients(X, Y)
    W0, b0 = [W.copy() for W in net.weights], [b.copy() for b in net.biases]
    net.train(X, Y, epochs=1, batch_size=1, learning_rate=0.3, train_biases=train_biases)
    for W, w, g in zip(net.weights, W0, dW):
        np.testing.assert_allclose(W, w - 0.3 * g, rtol=0, atol=1e-15)
    for b, c, g in zip(net.biases, b0, db):
        np.testing.assert_allclose(b, c - 0.3 * g if train_biases else c, rtol=0, atol=1e-15)


def test_one_update_matches_finite_differences():
    """The step of one sample, taken by the fused path, against central differences."""
    sizes = [20, 16, 8, 3]
    net, _ = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=17)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=1, seed=18)
    params = net.params.copy()
    rate = 1e-3
    net.train(X, Y, epochs=1, batch_size=1, learning_rate=rate)
    step = (net.params - params) / -rate
    rng = np.random.default_rng(0)
    probe = fb.Network(sizes, weights=net.weights, biases=net.biases)
    for k in rng.choice(params.size, size=40, replace=False):
        h = 1e-6
        probe.params[:] = params
        probe.params[k] += h
        up = probe.loss(X, Y)
        probe.params[k] -= 2 * h
        down = probe.loss(X, Y)
        assert step[k] == pytest.approx((up - down) / (2 * h), abs=1e-8)


def test_a_nan_input_mid_epoch_keeps_the_epochs_start():
    """A NaN in row 9 of 20 stops the online epoch; the parameters are those of
    the epoch's start, and the error names the input."""
    sizes = [30, 16, 8, 3]
    net, _ = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=19)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=20, seed=20)
    net.train(X, Y, epochs=1, batch_size=1, learning_rate=0.1, shuffle=False)
    before = net.params.copy()
    X[9, 4] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        net.train(X, Y, epochs=1, batch_size=1, learning_rate=0.1, shuffle=False)
    np.testing.assert_array_equal(net.params, before)
