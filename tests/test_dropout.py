"""Dropout: the engine's masks and gradients against the reference and finite differences."""

import numpy as np
import pytest
from helpers import PAIRS, problem, twins

import fastbp as fb
from fastbp import reference
from fastbp.optimizers import DROPOUT_SALT

SIZES = [3, 6, 5, 2]

TRAININGS = {
    "online": dict(batch_size=1),
    "batches": dict(batch_size=4),
    "adam full batch": dict(batch_size=None, optimizer="adam", learning_rate=0.01),
    "momentum, l2, weights": dict(
        batch_size=3,
        optimizer="sgd",
        momentum=0.9,
        alpha=0.1,
        sample_weight=np.linspace(0.0, 1.0, 10),
    ),  # fmt: skip
    "rprop": dict(batch_size=None, optimizer="rprop"),
}


@pytest.mark.parametrize("hidden,output,loss", PAIRS[::3])
@pytest.mark.parametrize("name", TRAININGS)
def test_dropout_training_matches_the_reference_number_for_number(hidden, output, loss, name):
    net, ref = twins(SIZES, hidden, output, loss, seed=1)
    X, Y = problem(SIZES, output, loss, n=10, seed=2)
    kw = {"learning_rate": 0.05, "seed": 7, "dropout": [0.5, 0.25], **TRAININGS[name]}
    history = net.train(X, Y, epochs=3, **kw)
    np.testing.assert_allclose(history, ref.train(X, Y, epochs=3, **kw), rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.params, ref._flat(ref.weights, ref.biases), atol=1e-12)


def test_dropout_in_float32_follows_float64():
    net, _ = twins(SIZES, "tanh", "sigmoid", "squared_error", seed=3)
    net32 = fb.Network(SIZES, "tanh", "sigmoid", dtype="float32", weights=net.weights,
                       biases=net.biases)  # fmt: skip
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=10, seed=3)
    kw = dict(epochs=3, batch_size=2, learning_rate=0.1, seed=5, dropout=0.3)
    np.testing.assert_allclose(net32.train(X, Y, **kw), net.train(X, Y, **kw), rtol=1e-5)
    np.testing.assert_allclose(net32.params, net.params, atol=1e-5)


def test_one_dropout_step_follows_the_finite_differences_of_the_masked_network():
    """One SGD step on one sample moves the parameters by -lr times the gradient
    of the loss of the network with that sample's masks fixed."""
    net, ref = twins(SIZES, "sigmoid", "identity", "squared_error", seed=4)
    X, Y = problem(SIZES, "identity", "squared_error", n=1, seed=4)
    seed, rate, lr = 11, 0.4, 1e-3
    ref._dropout, ref._drop_state = [rate, rate], seed ^ DROPOUT_SALT
    masks = ref._draw_masks()
    assert any(m == 0 for m in masks[0] + masks[1]), "choose a seed that drops a unit"
    before = net.params.copy()
    net.train(X, Y, epochs=1, batch_size=1, learning_rate=lr, seed=seed, dropout=rate)
    step = (net.params - before) / -lr

    def masked_loss(flat):
        probe = reference.Network(SIZES, "sigmoid", "identity")
        probe._unflat(list(flat))
        o = probe._forward(list(X[0]), masks)[-1]
        return probe._sample_loss(o, list(Y[0]))

    h, numeric = 1e-6, np.empty_like(before)
    for i in range(before.size):
        up, down = before.copy(), before.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (masked_loss(up) - masked_loss(down)) / (2 * h)
    np.testing.assert_allclose(step, numeric, rtol=1e-6, atol=1e-8)


def test_units_are_dropped_at_the_rate_given():
    ref = reference.Network([4, 400, 300, 1], seed=0)
    ref._dropout, ref._drop_state = [0.2, 0.6], 12345
    masks = [ref._draw_masks() for _ in range(20)]
    for layer, rate in ((0, 0.2), (1, 0.6)):
        values = np.array([m[layer] for m in masks])
        assert abs((values == 0).mean() - rate) < 0.02
        np.testing.assert_allclose(values[values != 0], 1 / (1 - rate))


def test_predict_and_the_validation_loss_never_drop():
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=20, seed=0)
    net = fb.Network(SIZES, seed=0)
    history = net.train(X, Y, epochs=2, dropout=0.5, validation_data=(X, Y), seed=0)
    assert history.val_loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-14)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))
    twin = fb.Network(SIZES, weights=net.weights, biases=net.biases)
    np.testing.assert_array_equal(net.predict(X), twin.predict(X))


def test_the_same_seed_drops_the_same_units_and_another_seed_others():
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=20, seed=0)
    runs = []
    for seed in (1, 1, 2):
        net = fb.Network(SIZES, seed=0)
        net.train(X, Y, epochs=2, dropout=0.5, seed=seed)
        runs.append(net.params)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_a_zero_rate_trains_exactly_as_no_dropout():
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=20, seed=0)
    nets = [fb.Network(SIZES, seed=0) for _ in range(2)]
    nets[0].train(X, Y, epochs=2, seed=3)
    nets[1].train(X, Y, epochs=2, seed=3, dropout=0.0)
    np.testing.assert_array_equal(nets[0].params, nets[1].params)


@pytest.mark.parametrize(
    "dropout, kw, error, message",
    [
        (1.0, {}, ValueError, r"dropout\[0\] must be"),
        (-0.1, {}, ValueError, r"dropout\[0\] must be"),
        ([0.1], {}, ValueError, "one rate per hidden layer"),
        ("half", {}, TypeError, "dropout must be a rate"),
        (0.5, dict(optimizer="lbfgs", batch_size=None), ValueError, "L-BFGS needs the same loss"),
    ],
)
def test_bad_dropout_is_refused(dropout, kw, error, message):
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=4, seed=0)
    with pytest.raises(error, match=message):
        fb.Network(SIZES, seed=0).train(X, Y, dropout=dropout, **kw)


def test_a_network_without_hidden_layers_has_nothing_to_drop():
    with pytest.raises(ValueError, match="no unit to drop"):
        fb.Network([2, 1], seed=0).train([[0.0, 1.0]], [[1.0]], dropout=0.5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_train_with_dropout_and_predict_without():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    plain = fb.BPClassifier(**params).fit(X, y)
    dropped = fb.BPClassifier(dropout=0.3, **params).fit(X, y)
    assert not np.array_equal(plain.network_.params, dropped.network_.params)
    assert dropped.score(X, y) > 0.9
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))
    with pytest.raises(ValueError, match="L-BFGS needs the same"):
        fb.BPRegressor(dropout=0.2, solver="lbfgs").fit(X, y)


def test_a_zero_dimensional_array_is_one_rate():
    X, Y = problem(SIZES, "sigmoid", "squared_error", n=8, seed=0)
    a, b = fb.Network(SIZES, seed=0), fb.Network(SIZES, seed=0)
    a.train(X, Y, epochs=1, seed=1, dropout=np.array(0.2))
    b.train(X, Y, epochs=1, seed=1, dropout=0.2)
    np.testing.assert_array_equal(a.params, b.params)
