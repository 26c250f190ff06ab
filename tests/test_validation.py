"""Every kind of bad input is rejected in Python with a message that says what and why."""

import warnings

import numpy as np
import pytest

import fastbp as fb


@pytest.fixture
def net():
    return fb.Network([3, 4, 2], seed=0)


X = np.zeros((5, 3))
Y = np.zeros((5, 2))


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(sizes=[3]), ValueError, "at least an input and an output"),
        (dict(sizes=[3, 0, 2]), ValueError, r"sizes\[1\] must be at least 1"),
        (dict(sizes=[3, -2]), ValueError, r"sizes\[1\] must be at least 1"),
        (dict(sizes=[3, 2.5]), TypeError, r"sizes\[1\] must be an integer"),
        (dict(sizes="3,2"), TypeError, "sequence of layer widths"),
        (dict(sizes=[3, 2], activation="swish"), ValueError, "unknown activation 'swish'"),
        (dict(sizes=[3, 2], activation="softmax"), ValueError, "only for the output layer"),
        (dict(sizes=[3, 2], output_activation="gelu"), ValueError, "unknown output_activation"),
        (dict(sizes=[3, 2], loss="hinge"), ValueError, "unknown loss 'hinge'"),
        (
            dict(sizes=[3, 2], output_activation="softmax"),
            ValueError,
            "softmax output needs loss='cross_entropy'",
        ),
        (
            dict(sizes=[3, 2], output_activation="identity", loss="cross_entropy"),
            ValueError,
            "needs output_activation='sigmoid'",
        ),
        (dict(sizes=[3, 2], dtype="float16"), ValueError, "dtype must be 'float64' or 'float32'"),
        (dict(sizes=[3, 2], dtype="banana"), ValueError, "dtype must be"),
        (dict(sizes=[3, 2], seed=-1), ValueError, "seed must be at least 0"),
        (
            dict(sizes=[3, 2], weights=[np.zeros((2, 2))]),
            ValueError,
            r"weights\[0\] has shape \(2, 2\); expected \(3, 2\)",
        ),
        (dict(sizes=[3, 2], weights=[]), ValueError, "list of 1 arrays"),
        (dict(sizes=[3, 2], biases=[[np.nan, 0]]), ValueError, "NaN or infinity"),
        (dict(sizes=[3, 2], weights=[[["a", "b"]] * 3]), TypeError, r"array of \(real\) numbers"),
    ],
)
def test_constructor_rejects(kwargs, error, message):
    with pytest.raises(error, match=message):
        fb.Network(**kwargs)


@pytest.mark.parametrize(
    "bad,error,message",
    [
        (np.zeros(3), ValueError, r"must be 2-D .* got 1-D .*reshape\(1, -1\)"),
        (np.zeros((2, 3, 1)), ValueError, "must be 2-D"),
        (np.zeros((0, 3)), ValueError, "has no samples"),
        (np.zeros((5, 4)), ValueError, "has 4 columns; the network expects 3"),
        (np.full((5, 3), np.nan), ValueError, "NaN or infinity"),
        (np.full((5, 3), np.inf, dtype=np.float32), ValueError, "NaN or infinity"),
        (np.zeros((5, 3), dtype=complex), TypeError, "complex"),
        (np.array([["a", "b", "c"]]), TypeError, "expected numbers"),
        (np.array([[object(), 1, 2]], dtype=object), TypeError, "not numbers"),
        ([[1, 2, 3], [1, 2]], ValueError, "equal-length rows"),
    ],
)
def test_predict_rejects_bad_inputs(net, bad, error, message):
    with pytest.raises(error, match=message):
        net.predict(bad)


@pytest.mark.parametrize(
    "bad_y,message",
    [
        (np.zeros((4, 2)), "X has 5 samples but Y has 4"),
        (np.zeros((5, 3)), r"Y has 3 columns; the network has 2 outputs"),
        (np.full((5, 2), np.nan), "Y contains NaN"),
        (np.zeros(5), "Y must be 2-D"),
    ],
)
def test_targets_must_fit(net, bad_y, message):
    for call in (net.loss, net.gradients, net.train):
        with pytest.raises(ValueError, match=message):
            call(X, bad_y)


def test_cross_entropy_targets_must_be_probabilities():
    sig = fb.Network([3, 2], loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        sig.train(X, np.full((5, 2), 2.0))
    soft = fb.Network([3, 2], output_activation="softmax", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="row 0 sums to 0.5"):
        soft.train(X, np.full((5, 2), 0.25))


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(learning_rate=0), ValueError, "learning_rate must be a finite number > 0"),
        (dict(learning_rate=-0.1), ValueError, "learning_rate must be a finite number > 0"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate must be a finite"),
        (dict(learning_rate="fast"), TypeError, "learning_rate must be a number"),
        (dict(epochs=0), ValueError, "epochs must be at least 1"),
        (dict(epochs=2.0), TypeError, "epochs must be an integer"),
        (dict(batch_size=0), ValueError, "batch_size must be at least 1"),
        (dict(batch_size=-5), ValueError, "batch_size must be at least 1"),
        (dict(batch_size=True), TypeError, "batch_size must be an integer"),
        (dict(seed=-3), ValueError, "seed must be at least 0"),
    ],
)
def test_train_rejects_bad_settings(net, kwargs, error, message):
    before = net.params.copy()
    with pytest.raises(error, match=message):
        net.train(X, Y, **kwargs)
    np.testing.assert_array_equal(net.params, before)


def test_accepts_lists_ints_bools_float16_and_fortran_order(net):
    expected = net.predict(np.array([[1.0, 0.0, 1.0]]))
    for X_like in (
        [[1, 0, 1]],
        np.array([[True, False, True]]),
        np.array([[1, 0, 1]], dtype=np.float16),
        np.asfortranarray([[1.0, 0.0, 1.0]]),
        np.array([[1, 0, 1]], dtype=np.uint8),
        np.array([[1, 0, 1]], dtype=object),
    ):
        np.testing.assert_array_equal(net.predict(X_like), expected)


def test_non_contiguous_views_are_handled(net):
    big = np.arange(60, dtype=float).reshape(10, 6) / 60
    view = big[::2, ::2]
    np.testing.assert_array_equal(net.predict(view), net.predict(view.copy()))


def test_values_too_large_for_float32_are_rejected():
    net32 = fb.Network([3, 2], dtype="float32", seed=0)
    with pytest.raises(ValueError, match="too large for float32"):
        net32.predict(np.full((1, 3), 1e300))


def test_batch_larger_than_data_means_full_batch(net):
    a, b = fb.Network([3, 4, 2], seed=0), fb.Network([3, 4, 2], seed=0)
    data = np.random.default_rng(0).normal(size=(5, 3))
    a.train(data, Y, epochs=2, batch_size=None)
    b.train(data, Y, epochs=2, batch_size=500)
    np.testing.assert_array_equal(a.params, b.params)


# -- values so large that the arithmetic overflows --------------------------------


def identity_net(weights, biases, hidden="identity"):
    n_layers = len(weights)
    sizes = [len(weights[0])] + [len(w[0]) for w in weights]
    assert len(sizes) == n_layers + 1
    return fb.Network(
        sizes, activation=hidden, output_activation="identity", weights=weights, biases=biases
    )


def test_predict_refuses_to_return_an_overflowed_output():
    net = identity_net([[[1.0], [1.0]]], [[0.0]])
    with pytest.raises(ValueError, match=r"output overflowed .* magnitude up to 1.5e\+308"):
        net.predict([[1.5e308, 1.5e308]])
    with pytest.raises(ValueError, match="loss overflowed"):
        net.loss([[1.0, 1.0]], [[1.5e308]])  # (o - t)^2 / 2 is beyond float64
    with pytest.raises(ValueError, match="gradient overflowed"):
        net.gradients([[1.0, 1.0]], [[1.5e308]])


def test_an_overflow_hidden_behind_a_relu_is_not_turned_into_zero():
    # 1.5e308 * 10 is inf in the first hidden layer, and inf * 0 is NaN in the
    # second; ReLU must pass the NaN on rather than output 0 and let the
    # output layer's bias (0.5) out as the answer.
    net = identity_net([[[10.0]], [[0.0]], [[1.0]]], [[0.0], [0.0], [0.5]], hidden="relu")
    with pytest.raises(ValueError, match="output overflowed"):
        net.predict([[1.5e308]])
    assert net.predict([[1.0]]) == [[0.5]]


def test_a_nan_output_is_never_scored_as_a_finite_cross_entropy():
    # As above, the output is NaN; the safe log of the cross-entropy must not
    # turn log(NaN) into log(DBL_MIN), a finite loss.
    net = fb.Network(
        [1, 1, 1, 1],
        activation="identity",
        loss="cross_entropy",
        weights=[[[10.0]], [[0.0]], [[1.0]]],
    )
    with pytest.raises(ValueError, match="loss overflowed"):
        net.loss([[1.5e308]], [[0.0]])
    before = net.params.copy()
    with pytest.raises(fb.DivergenceError):
        net.train([[1.5e308]], [[0.0]], epochs=1)
    np.testing.assert_array_equal(net.params, before)


def test_saturating_activations_give_their_limits_for_huge_inputs():
    net = fb.Network([2, 1], output_activation="sigmoid", weights=[[[1.0], [1.0]]])
    # z overflows to +inf or -inf, and the sigmoid of that is its limit (to
    # within the smallest normal number, where the engine's exponential stops).
    out = net.predict([[1.5e308, 1.5e308], [-1.5e308, -1.5e308], [1e300, 0]])
    np.testing.assert_allclose(out, [[1.0], [0.0], [1.0]], rtol=0, atol=1e-300)


def test_an_overflowing_last_update_raises_divergence_and_keeps_the_epoch_start():
    # The loss before the update is finite (50); the update itself overflows.
    net = identity_net([[[1.0]]], [[0.0]])
    with pytest.raises(fb.DivergenceError, match="diverged in epoch 1"):
        net.train([[10.0]], [[0.0]], epochs=1, batch_size=None, learning_rate=1e307)
    np.testing.assert_array_equal(net.params, [1.0, 0.0])


def test_learning_rate_beyond_float32_is_refused():
    net = fb.Network([3, 2], dtype="float32", seed=0)
    with pytest.raises(ValueError, match="learning_rate 1e\\+300 is too large for float32"):
        net.train(X, Y, learning_rate=1e300)


def test_python_ints_beyond_float64_are_refused():
    with pytest.raises(ValueError, match="too large for float64"):
        fb.Network([3, 2], seed=0).predict(np.array([[10**400, 0, 0]], dtype=object))


def test_huge_longdouble_inputs_are_refused_without_warnings():
    big = np.full((1, 3), np.finfo(np.longdouble).max)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="NaN or infinity|too large"):
            fb.Network([3, 2], seed=0).predict(big)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(eps=0.0), ValueError, "eps must be a finite number > 0"),
        (dict(eps=-1e-3), ValueError, "eps must be a finite number > 0"),
        (dict(floor=float("nan")), ValueError, "floor must be a finite number > 0"),
        (dict(eps="small"), TypeError, "eps must be a number"),
        (dict(eps=1e300), ValueError, "use a smaller eps"),
    ],
)
def test_check_gradients_rejects_bad_steps_and_keeps_the_parameters(kwargs, error, message):
    net = identity_net([[[1.0], [2.0], [3.0]]], [[0.5]])
    before = net.params.copy()
    with pytest.raises(error, match=message):
        fb.check_gradients(net, np.ones((2, 3)), np.ones((2, 1)), **kwargs)
    np.testing.assert_array_equal(net.params, before)


def test_functional_forms_need_a_network():
    for call, args in ((fb.predict, (X,)), (fb.train, (X, Y)), (fb.check_gradients, (X, Y))):
        with pytest.raises(TypeError, match="net must be a fastbp.Network; got str"):
            call("net", *args)


@pytest.mark.parametrize(
    "weights,error,message",
    [
        ([np.ones((3, 2), dtype=complex)], TypeError, r"weights\[0\] must be an array of \(real\)"),
        ([np.full((3, 2), 1e300)], ValueError, r"weights\[0\] has values too large for float32"),
        (np.ones((1, 3, 2)), TypeError, "weights must be a list of 1 arrays"),
        ([np.ones((3, 2))] * 2, ValueError, "list of 1 arrays, one per layer; got 2 entries"),
    ],
)
def test_given_weights_must_fit_the_network(weights, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=message):
            fb.Network([3, 2], dtype="float32", weights=weights)


def test_seeds_must_fit_in_64_bits():
    with pytest.raises(ValueError, match="seed must be at most 18446744073709551615"):
        fb.Network([3, 4, 2], seed=0).train(X, Y, seed=2**64)
