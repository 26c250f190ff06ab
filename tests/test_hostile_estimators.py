"""Hostile estimator parameters: nothing after ``fit`` accepts what ``fit`` refuses.

A parameter changed with ``set_params`` after ``fit`` either makes
``predict``/``predict_proba``/``predict_log_proba``/``score`` refuse exactly as
``fit`` would, or changes nothing they return; ``warm_start`` and
``partial_fit`` refuse to continue a network whose architecture the
parameters no longer describe; log-probabilities stay finite when the outputs
saturate.
"""

import copy
import functools
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import fastbp as fb


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is small on purpose
        yield


RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
TARGETS = {
    "BPClassifier": np.array(["a", "b", "c"])[np.arange(30) % 3],
    "BPRegressor": X @ [0.5, -1.0, 0.25],
}


class Opaque:
    """An object of no meaning to fastbp, with the same repr in every copy (clone
    deep-copies parameters, and the refusals name the value)."""

    def __repr__(self):
        return "Opaque()"


# Values a user might set by mistake: wrong types, out of range, other dtypes,
# truthy strings, and a few valid ones (which must change nothing in predict).
HOSTILE = [
    "int8", "bool", "int64", "float16", "float32", "object", -1, 0, 1, 2.5, 0.5,
    np.nan, np.inf, -np.inf, 1e300, "no", "", None, (), (0,), (3, -1), [2.5], (7,),
    True, np.True_, np.int64(2), "tanh", "squared_error", "cross_entropy", Opaque(),
]  # fmt: skip


@functools.cache
def fitted(kind):
    """A small fitted estimator and what its prediction methods return."""
    model = getattr(fb, kind)(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
        X, TARGETS[kind]
    )
    return model, {name: call(model) for name, call in _methods(kind).items()}


def _methods(kind):
    methods = {
        "predict": lambda m: m.predict(X),
        "score": lambda m: m.score(X, TARGETS[kind]),
    }
    if kind == "BPClassifier":
        methods["predict_proba"] = lambda m: m.predict_proba(X)
        methods["predict_log_proba"] = lambda m: m.predict_log_proba(X)
    return methods


def _fit_refusal(model, kind):
    """The (type, message) of the error ``fit`` raises, or None if it fits."""
    try:
        model.fit(X, TARGETS[kind])
    except Exception as exc:  # any refusal: predict must give the same one
        return type(exc), str(exc)
    return None


PARAMETERS = sorted(fb.BPClassifier().get_params())


@settings(deadline=None, max_examples=40)
@given(
    kind=st.sampled_from(sorted(TARGETS)),
    name=st.sampled_from(PARAMETERS),
    value=st.sampled_from(HOSTILE),
)
@example(kind="BPClassifier", name="dtype", value="int8")
@example(kind="BPClassifier", name="dtype", value="bool")
@example(kind="BPRegressor", name="dtype", value="int64")
@example(kind="BPClassifier", name="dtype", value="float32")
def test_a_parameter_set_after_fit_is_refused_as_fit_refuses_it_or_changes_nothing(
    kind, name, value
):
    assume(name in getattr(fb, kind)().get_params())  # class_weight is the classifier's
    model, answers = fitted(kind)
    model = copy.deepcopy(model)
    model.set_params(**{name: value})
    refusal = _fit_refusal(clone(model), kind)
    for method, call in _methods(kind).items():
        try:
            got = call(model)
        except Exception as exc:
            assert refusal is not None, f"{method} refused {name}={value!r}, which fit accepts"
            assert (type(exc), str(exc)) == refusal, method
        else:
            np.testing.assert_array_equal(got, answers[method], err_msg=method)


@pytest.mark.parametrize("dtype", ["int8", "bool", "int64"])
@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_predict_refuses_a_dtype_set_after_fit_as_fit_does(kind, dtype):
    model = copy.deepcopy(fitted(kind)[0]).set_params(dtype=dtype)
    for call in _methods(kind).values():
        with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
            call(model)


ARCHITECTURE_CHANGES = [
    ("hidden_layer_sizes", (7,)),
    ("hidden_layer_sizes", (4, 4)),
    ("hidden_layer_sizes", 5),
    ("activation", "tanh"),
    ("loss", "squared_error"),
    ("dtype", "float32"),
]


@pytest.mark.parametrize(("name", "value"), ARCHITECTURE_CHANGES)
@pytest.mark.parametrize("continuing", ["warm_start", "partial_fit"])
def test_continuing_a_network_whose_architecture_changed_is_refused(continuing, name, value):
    y = TARGETS["BPClassifier"]
    model = copy.deepcopy(fitted("BPClassifier")[0]).set_params(warm_start=True)
    before = model.network_.params.copy()
    model.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"{name} changed: the network was built with"):
        if continuing == "warm_start":
            model.fit(X, y)
        else:
            model.partial_fit(X, y)
    np.testing.assert_array_equal(model.network_.params, before)
    assert model.network_.sizes == (3, 4, 3)


@settings(deadline=None, max_examples=30)
@given(
    hidden=st.one_of(st.integers(1, 6), st.lists(st.integers(1, 6), min_size=1, max_size=3)),
    activation=st.sampled_from(["identity", "logistic", "sigmoid", "tanh", "relu", "leaky_relu"]),
)
def test_warm_start_continues_exactly_when_the_architecture_is_the_same(hidden, activation):
    y = TARGETS["BPRegressor"]
    model = fb.BPRegressor((3, 2), "sigmoid", max_iter=2, warm_start=True, random_state=0)
    model.fit(X, y)
    model.set_params(hidden_layer_sizes=hidden, activation=activation)
    same_sizes = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    same = same_sizes == (3, 2) and activation in ("logistic", "sigmoid")
    if same:
        model.fit(X, y)
        assert model.n_iter_ == 2
    else:
        with pytest.raises(ValueError, match="changed: the network was built with"):
            model.fit(X, y)
    assert model.network_.sizes == (3, 3, 2, 1)


@pytest.mark.parametrize(
    "y",
    [
        (X[:, 0] > 0).astype(int),  # binary: one sigmoid output
        TARGETS["BPClassifier"],  # multiclass: softmax
        np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int),  # multilabel
    ],
    ids=["binary", "multiclass", "multilabel"],
)
def test_log_probabilities_of_saturated_outputs_are_finite(y):
    model = fb.BPClassifier((8,), max_iter=50, learning_rate_init=0.1, random_state=0)
    model.fit(X, y)
    far = X * 1e6  # saturates the outputs: probabilities of 0 (or a softmax's floor)
    proba = model.predict_proba(far)
    assert (proba < 1e-300).any()
    log_proba = model.predict_log_proba(far)
    assert np.isfinite(log_proba).all()
    positive = proba > 0
    np.testing.assert_allclose(log_proba[positive], np.log(proba[positive]))
    np.testing.assert_array_equal(log_proba[~positive], np.log(np.finfo(np.float64).tiny))


@pytest.mark.parametrize("flag", ["shuffle", "warm_start", "nesterovs_momentum", "early_stopping"])
@pytest.mark.parametrize("value", ["no", "", 0, 1, None])
def test_boolean_parameters_are_not_read_by_truthiness(flag, value):
    model = fb.BPClassifier((4,), max_iter=2, random_state=0).set_params(**{flag: value})
    with pytest.raises(TypeError, match=f"{flag} must be True or False; got"):
        model.fit(X, TARGETS["BPClassifier"])
    assert not hasattr(model, "network_")


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_estimators_refuse_masked_arrays(kind):
    y = TARGETS[kind]
    masked_x = np.ma.masked_greater(X, 1.0)
    model = getattr(fb, kind)((4,), max_iter=2, random_state=0)
    with pytest.raises(TypeError, match=r"X is a masked array.*X\.filled\(value\)"):
        model.fit(masked_x, y)
    with pytest.raises(TypeError, match="y is a masked array"):
        model.fit(X, np.ma.array(y))
    with pytest.raises(TypeError, match="sample_weight is a masked array"):
        model.fit(X, y, sample_weight=np.ma.array(np.ones(30), mask=np.arange(30) == 0))
    model = fitted(kind)[0]
    with pytest.raises(TypeError, match="X is a masked array"):
        model.predict(masked_x)
