"""L-BFGS: the engine's full-batch objective, the solver in Network.train and the estimators."""

import signal
import threading
import warnings

import numpy as np
import pytest
from helpers import PAIRS, problem, twins
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import fastbp as fb
from fastbp import _engine, reference


def objective(net, X, Y, sample_weight=None, alpha=0.0, train_biases=True):
    """The engine's L-BFGS objective and gradient at the network's parameters."""
    X, Y = net._data(X, Y)
    rows = X.shape[0]
    grad = np.empty_like(net.params)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=net.dtype)
    weight_sum = X.shape[0] if sw is None else float(sw.sum())
    total = _engine.gradient_into(
        net._layout, net.params, X, Y, grad, net._buffer(rows), net._buffer(rows), rows,
        sw=sw, l2=alpha, weight_sum=weight_sum, train_biases=train_biases,
    )  # fmt: skip
    return total / weight_sum, grad


def standard_iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("hidden,output,loss", PAIRS)
def test_objective_and_gradient_match_the_reference_with_weights_and_l2(hidden, output, loss):
    sizes = [4, 5, 3]
    net, ref = twins(sizes, hidden, output, loss, seed=2)
    X, Y = problem(sizes, output, loss, n=9, seed=3)
    sw = np.random.default_rng(4).uniform(0.2, 3.0, size=9)
    value, grad = objective(net, X, Y, sw, alpha=0.7)
    ref_value, ref_grad = ref.objective_and_gradient(X, Y, sw, alpha=0.7)
    assert value == pytest.approx(ref_value, rel=1e-13, abs=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-13)


def test_objective_gradient_is_that_of_its_value_by_finite_differences():
    net, _ = twins([3, 4, 2], "tanh", "sigmoid", "cross_entropy", seed=1)
    X, Y = problem([3, 4, 2], "sigmoid", "cross_entropy", n=8, seed=1)
    sw = np.linspace(0.5, 2.0, 8)
    _, grad = objective(net, X, Y, sw, alpha=0.3)
    h, numeric = 1e-6, np.empty_like(grad)
    for i in range(grad.size):
        saved = net.params[i]
        net.params[i] = saved + h
        up = objective(net, X, Y, sw, alpha=0.3)[0]
        net.params[i] = saved - h
        down = objective(net, X, Y, sw, alpha=0.3)[0]
        net.params[i] = saved
        numeric[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_objective_with_fixed_biases_zeroes_their_gradient():
    net, _ = twins([3, 4, 2], "sigmoid", "sigmoid", "squared_error", seed=0)
    X, Y = problem([3, 4, 2], "sigmoid", "squared_error", n=5, seed=0)
    _, grad = objective(net, X, Y, train_biases=False)
    _, free = objective(net, X, Y)
    dW, db = fb.network.layer_views(net.sizes, grad)
    fW, _ = fb.network.layer_views(net.sizes, free)
    assert all(not b.any() for b in db)
    for a, b in zip(dW, fW):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_minimises_the_objective_and_ends_at_its_last_iterate():
    X, y = standard_iris()
    Y = np.eye(3)[y]
    net = fb.Network([4, 8, 3], "tanh", "softmax", "cross_entropy", seed=0)
    start = objective(net, X, Y, alpha=0.01)[0]
    history = net.train(X, Y, epochs=300, batch_size=None, optimizer="lbfgs", alpha=0.01)
    final, grad = objective(net, X, Y, alpha=0.01)
    assert final < 0.2 * start
    assert history[-1] == pytest.approx(final, rel=1e-12)
    assert all(a >= b for a, b in zip(history, history[1:]))  # a line search never goes up
    assert history.converged and "converged" in history.stop_reason
    assert np.abs(grad).max() <= 1e-4  # the default tol, SciPy's gtol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lbfgs_reaches_scikit_learns_loss_on_the_same_problem(dtype):
    X, y = standard_iris()
    X = X.astype(dtype)
    ours = fb.BPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=80, alpha=1e-3,
                           random_state=0, activation="tanh")  # fmt: skip
    theirs = MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=80, alpha=1e-3,
                           random_state=0, activation="tanh")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    assert ours.coefs_[0].dtype == np.dtype(dtype)
    # different initial weights, the same objective: after 80 iterations both are near 0
    assert ours.loss_ < 0.1 and theirs.loss_ < 0.1
    assert ours.loss_ < 3 * theirs.loss_ + 0.01
    assert ours.score(X, y) >= 0.97


def test_lbfgs_regressor_matches_scikit_learns_fit_of_a_linear_model():
    # One identity hidden unit and identity output: a linear model, whose
    # least-squares optimum is unique in its predictions.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 + rng.normal(scale=0.1, size=200)
    common = dict(hidden_layer_sizes=(1,), activation="identity", solver="lbfgs", alpha=0.0,
                  tol=1e-10, max_iter=500, random_state=1)  # fmt: skip
    ours = fb.BPRegressor(**common).fit(X, y)
    theirs = MLPRegressor(**common).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-5)


def test_max_fun_bounds_the_evaluations_and_is_reported():
    X, y = standard_iris()
    net = fb.Network([4, 8, 3], "relu", "softmax", "cross_entropy", seed=0)
    calls = []
    original = _engine.gradient_into

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_engine, "gradient_into", counting)
        history = net.train(X, np.eye(3)[y], epochs=500, batch_size=None, optimizer="lbfgs",
                            tol=0.0, max_fun=12)  # fmt: skip
    assert len(calls) <= 12 + 1  # SciPy may finish the line search it is in
    assert history.converged is False
    assert "max_fun=12" in history.stop_reason


def test_the_callback_stops_lbfgs_and_the_network_keeps_that_iterate():
    X, y = standard_iris()
    Y = np.eye(3)[y]
    net = fb.Network([4, 8, 3], "relu", "softmax", "cross_entropy", seed=0)
    seen = []

    def callback(epoch, logs):
        seen.append((logs["loss"], net.params.copy()))
        return epoch < 4

    history = net.train(X, Y, epochs=100, batch_size=None, optimizer="lbfgs", callback=callback,
                        validation_data=(X, Y))  # fmt: skip
    assert len(history) == 5 and history.stop_reason == "the callback returned False"
    np.testing.assert_array_equal(net.params, seen[-1][1])
    assert net.loss(X, Y) == pytest.approx(seen[-1][0], rel=1e-12)
    assert history.val_loss == pytest.approx(list(history), rel=1e-12)


def test_ctrl_c_keeps_the_last_accepted_iterate():
    X, y = standard_iris()
    Y = np.eye(3)[y]
    net = fb.Network([4, 8, 3], "relu", "softmax", "cross_entropy", seed=0)
    iterates = []

    def callback(epoch, logs):
        iterates.append(net.params.copy())
        if epoch == 3:
            signal.raise_signal(signal.SIGINT)  # raised in the next engine call

    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(KeyboardInterrupt):
        net.train(X, Y, epochs=100, batch_size=None, optimizer="lbfgs", callback=callback)
    np.testing.assert_array_equal(net.params, iterates[-1])


def test_lbfgs_needs_full_batches_and_checks_x_for_nan():
    net = fb.Network([2, 3, 1], seed=0)
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="needs full batches"):
        net.train(X, Y, batch_size=2, optimizer="lbfgs")
    X[1, 1] = np.nan
    before = net.params.copy()
    with pytest.raises(ValueError, match="NaN"):
        net.train(X, Y, batch_size=None, optimizer="lbfgs")
    np.testing.assert_array_equal(net.params, before)
    with pytest.raises(ValueError, match="max_fun"):
        net.train(np.zeros((4, 2)), Y, batch_size=None, optimizer="lbfgs", max_fun=0)


def test_a_non_finite_start_is_refused_and_the_parameters_kept():
    net = fb.Network([2, 3, 1], activation="identity", output_activation="identity", seed=0)
    before = net.params.copy()
    X = np.full((4, 2), 1e200)
    with pytest.raises(fb.DivergenceError, match="initial parameters"):
        net.train(X, np.zeros((4, 1)), batch_size=None, optimizer="lbfgs")
    np.testing.assert_array_equal(net.params, before)


def test_the_reference_refuses_lbfgs_and_says_what_to_use():
    ref = reference.Network([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="objective_and_gradient"):
        ref.train([[0.0, 1.0]], [[1.0]], optimizer="lbfgs", batch_size=None)


def test_estimators_lbfgs_has_no_partial_fit_and_warns_when_unconverged():
    X, y = standard_iris()
    clf = fb.BPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=3, random_state=0)
    assert not hasattr(clf, "partial_fit")
    assert hasattr(clf.set_params(solver="adam"), "partial_fit")
    clf.set_params(solver="lbfgs")
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.validation_scores_ is None  # lbfgs ignores early stopping, as in scikit-learn


def test_a_step_into_overflow_is_not_taken_and_the_network_keeps_its_last_finite_iterate():
    # Inputs of 1e100 make the first line search overflow the loss: scipy must not
    # hand the network that point (nor take a zero gradient there for convergence).
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 2)) * 1e100, rng.normal(size=(20, 1))
    net = fb.Network([2, 3, 1], activation="identity", output_activation="identity", seed=0)
    before = net.params.copy()
    history = net.train(X, Y, epochs=20, batch_size=None, optimizer="lbfgs")
    assert history.converged is False and "not finite" in history.stop_reason
    assert np.isfinite(net.params).all() and all(np.isfinite(history))
    if not len(history):
        np.testing.assert_array_equal(net.params, before)
