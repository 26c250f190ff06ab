"""Hostile inputs to ``Network``: huge Decimals, masked arrays, truthy flags.

Each is refused with a message that names the real problem: a finite number
too large for float64 is not "NaN or infinity", a masked array is not read
with its mask dropped, and ``shuffle``/``train_biases`` are True or False,
not whatever is truthy.
"""

import warnings
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbp as fb


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def _objects(value):
    """X as an object array with ``value`` in its first cell."""
    X_obj = X.astype(object)
    X_obj[0, 0] = value
    return X_obj


def _calls(net, X_in):
    return {
        "predict": lambda: net.predict(X_in),
        "loss": lambda: net.loss(X_in, Y),
        "gradients": lambda: net.gradients(X_in, Y),
        "train": lambda: net.train(X_in, Y, epochs=1, batch_size=2),
    }


@pytest.mark.parametrize("value", [Decimal("1e500"), Decimal("-1e500"), Decimal("1e309")])
@pytest.mark.parametrize("call", ["predict", "loss", "gradients", "train"])
def test_a_decimal_beyond_float64_is_too_large_not_infinite(call, value):
    net = fb.Network([3, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="X holds numbers too large for float64"):
        _calls(net, _objects(value))[call]()
    with pytest.raises(ValueError, match="X holds numbers too large for float64"):
        _calls(net, _objects(value).tolist())[call]()
    np.testing.assert_array_equal(net.params, before)


def test_a_decimal_weight_beyond_float64_is_too_large_not_infinite():
    with pytest.raises(ValueError, match=r"weights\[0\] holds numbers too large for float64"):
        fb.Network([1, 1], weights=[[[Decimal("1e500")]]])


@settings(deadline=None, max_examples=60)
@given(
    value=st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.builds(Decimal, st.sampled_from(["1e308", "1.8e308", "1.7976931348623158e308"])),
        st.builds(lambda e: Decimal(f"-1e{e}"), st.integers(300, 100_000)),
    ),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_decimals_are_read_or_refused_for_what_they_are(value, dtype):
    net = fb.Network([3, 1], dtype=dtype, seed=0)
    if value.is_nan():  # a quiet NaN is NaN; a signalling one refuses even to be a float
        with pytest.raises((ValueError, TypeError), match="NaN or infinity|not numbers"):
            net.predict(_objects(value))
    elif value.is_infinite():
        with pytest.raises(ValueError, match="NaN or infinity"):
            net.predict(_objects(value))
    elif not np.isfinite(float(value)):
        with pytest.raises(ValueError, match="too large for float64"):
            net.predict(_objects(value))
    elif dtype == "float32" and _beyond_float32(float(value)):
        with pytest.raises(ValueError, match="too large for float32"):
            net.predict(_objects(value))
    else:
        expected = net.predict(_objects(float(value)).astype(np.float64))
        np.testing.assert_array_equal(net.predict(_objects(value)), expected)


def _beyond_float32(number):
    with np.errstate(over="ignore"):
        return not np.isfinite(np.float32(number))


def _masked(array):
    return np.ma.array(array, mask=np.zeros(np.shape(array), dtype=bool))


MASKED_CALLS = {
    "predict X": lambda net: net.predict(_masked(X)),
    "loss X": lambda net: net.loss(_masked(X), Y),
    "loss Y": lambda net: net.loss(X, _masked(Y)),
    "gradients X": lambda net: net.gradients(_masked(X), Y),
    "train X": lambda net: net.train(_masked(X), Y, epochs=1),
    "train Y": lambda net: net.train(X, _masked(Y), epochs=1),
    "train sample_weight": lambda net: net.train(X, Y, epochs=1, sample_weight=_masked(np.ones(4))),
    "train validation X": lambda net: net.train(X, Y, epochs=1, validation_data=(_masked(X), Y)),
}


@pytest.mark.parametrize("call", sorted(MASKED_CALLS))
def test_masked_arrays_are_refused_not_read_without_their_mask(call):
    net = fb.Network([3, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(TypeError, match=r"is a masked array.*\.filled\(value\)"):
        MASKED_CALLS[call](net)
    np.testing.assert_array_equal(net.params, before)


def test_masked_arrays_that_hide_values_are_refused():
    hidden = np.ma.masked_greater(X, 0.5)  # the data under the mask would be read
    with pytest.raises(TypeError, match="X is a masked array"):
        fb.Network([3, 1], seed=0).predict(hidden)


@pytest.mark.parametrize("name", ["weights", "biases"])
def test_masked_initial_parameters_are_refused(name):
    given = {"weights": [np.ones((2, 1))], "biases": [np.ones(1)]}[name]
    with pytest.raises(TypeError, match=rf"{name}\[0\] is a masked array"):
        fb.Network([2, 1], **{name: [_masked(given[0])]})


NOT_BOOLS = ["no", "", "False", 0, 1, 0.0, None, np.int64(1), [True], [], np.array(True)]


@pytest.mark.parametrize("flag", ["shuffle", "train_biases"])
@pytest.mark.parametrize("value", NOT_BOOLS, ids=repr)
def test_train_flags_must_be_booleans(flag, value):
    net = fb.Network([3, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(TypeError, match=f"{flag} must be True or False; got"):
        net.train(X, Y, epochs=1, batch_size=2, **{flag: value})
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_train_flags_take_python_and_numpy_booleans(value):
    nets = [fb.Network([3, 2, 1], seed=0) for _ in range(2)]
    nets[0].train(X, Y, epochs=2, batch_size=2, seed=0, shuffle=value, train_biases=value)
    nets[1].train(
        X, Y, epochs=2, batch_size=2, seed=0, shuffle=bool(value), train_biases=bool(value)
    )
    np.testing.assert_array_equal(nets[0].params, nets[1].params)
    frozen = fb.Network([3, 2, 1], seed=0).biases
    assert all(np.array_equal(a, b) for a, b in zip(nets[0].biases, frozen)) is not bool(value)


def test_trace_refuses_a_truthy_train_biases():
    net = fb.Network([3, 2, 1], seed=0)
    with pytest.raises(TypeError, match="train_biases must be True or False"):
        fb.trace(net, X[0], Y[0], train_biases="no")
