"""Hostile input, generated: every call gives a right answer or a clear ValueError/TypeError.

For each generated argument the test first decides, independently of fastbp,
whether it is acceptable (real numbers of the right shape, finite, settings in
range).  Acceptable arguments must give a result that is right (compared with
the pure-Python reference) and finite; anything else must raise ``ValueError``
or ``TypeError`` and leave the network as it was.  Warnings are errors here, so
a call that merely warns fails too.  The one other outcome allowed is
documented: when finite values are so large that the arithmetic overflows,
``predict``/``loss``/``gradients`` raise ``ValueError`` ("overflowed") rather than
return infinity or NaN, and ``train`` raises ``DivergenceError`` keeping finite
parameters.
"""

import io
import math
import os
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import fastbp as fb
from fastbp import reference


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


CLEAR = (ValueError, TypeError)
# Above this magnitude an input may legitimately overflow the arithmetic.
SAFE = 1e3

NETWORKS = [
    ([3, 4, 2], "sigmoid", "sigmoid", "squared_error", "float64"),
    ([3, 5, 2], "relu", "identity", "squared_error", "float64"),
    ([3, 2], "identity", "identity", "squared_error", "float32"),
    ([3, 4, 4, 2], "tanh", "softmax", "cross_entropy", "float64"),
    ([3, 3, 2], "leaky_relu", "sigmoid", "cross_entropy", "float32"),
]


def build(index, seed=0):
    sizes, hidden, output, loss, dtype = NETWORKS[index]
    return fb.Network(
        sizes, activation=hidden, output_activation=output, loss=loss, dtype=dtype, seed=seed
    )


def twin(net):
    return reference.Network(
        list(net.sizes),
        activation=net.activation,
        output_activation=net.output_activation,
        loss=net.loss_name,
        weights=[w.astype(float) for w in net.weights],
        biases=[b.astype(float) for b in net.biases],
    )


# -- array-likes, and what a correct fastbp makes of them ----------------------

# Ordinary values, and values at the edges of float16 (65504), float32 (3.4e38)
# and float64 (1.8e308), where sums and products overflow.
MAGNITUDES = st.sampled_from(
    [0.0, 1.0, -2.5, 0.3, 7.0, 1e-300, 65504.0, 3e38, -3e38, 1e300, 1.5e308, -1.5e308]
)
SPECIALS = st.sampled_from([math.nan, math.inf, -math.inf])

NUMERIC = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "longdouble"]
OTHER = ["complex128", "complex64", "str", "bytes", "datetime64[s]"]


@st.composite
def matrices(draw, rows, cols):
    """(value, verdict): an argument and what it should be read as.

    The verdict is the float64 matrix the value means, or None when fastbp must
    refuse it.
    """
    form = draw(st.sampled_from(["right"] * 4 + ["2-D", "1-D", "3-D", "0-D"]))
    shape = {
        "right": (rows, cols),
        "2-D": (draw(st.integers(0, 4)), draw(st.integers(0, 5))),
        "1-D": (draw(st.integers(0, 4)),),
        "3-D": (rows, cols, draw(st.integers(1, 2))),
        "0-D": (),
    }[form]
    # Mostly numbers, so that values, layouts and dtypes get explored too.
    kind = draw(st.sampled_from(NUMERIC * 3 + OTHER + ["object"] * 3 + ["list", "ragged", "none"]))
    if kind == "none":
        return None, None
    if kind == "ragged":
        return [[1.0] * cols, [1.0] * (cols + 1)], None
    n = int(np.prod(shape))
    values = np.array(draw(st.lists(MAGNITUDES, min_size=n, max_size=n)), dtype=float)
    if n and draw(st.booleans()) and draw(st.booleans()):
        values[draw(st.integers(0, n - 1))] = draw(SPECIALS)
    base = values.reshape(shape)
    meaning = None
    if kind in NUMERIC:
        with np.errstate(over="ignore", invalid="ignore"):
            value = base.astype(kind)
        meaning = value.astype(np.float64) if kind != "longdouble" else base
        layout = draw(st.sampled_from(["C", "F", "strided", "reversed", "readonly"]))
        if layout == "F":
            value = np.asfortranarray(value)
        elif layout == "strided" and value.ndim:
            value = np.repeat(value, 2, axis=-1)[..., ::2]
        elif layout == "reversed" and value.ndim:
            value = value[::-1]
            meaning = meaning[::-1]
        elif layout == "readonly":
            value.setflags(write=False)
    elif kind == "object":
        value = base.astype(object)
        if n and draw(st.booleans()):
            value.flat[0] = draw(st.sampled_from([None, "x", 1j, [1, 2], 10**400]))
        else:
            meaning = base
    elif kind == "list":
        value = base.tolist()
        meaning = base
    else:
        value = np.zeros(shape, dtype=kind)
    if meaning is not None:
        # Any number of rows is a valid input; the callers check that X and Y agree.
        ok = (
            meaning.ndim == 2
            and meaning.shape[0] >= 1
            and meaning.shape[1] == cols
            and np.isfinite(meaning).all()
        )
        meaning = meaning.astype(np.float64) if ok else None
    return value, meaning


def finite_in(meaning, dtype):
    """The meaning fits the network's dtype (large float64 values do not fit float32)."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(meaning.astype(dtype)).all())


def small(*arrays):
    return all(np.abs(a).max() <= SAFE for a in arrays)


def comparable(net, *arrays):
    """Small enough to compare with the float64 reference.

    In float32, sigmoid(z) rounds to exactly 1 from z of about 17 on, and the
    cross-entropy then takes its floor log(FLT_MIN); such values are right for
    float32 but not comparable with float64 arithmetic.  Nor are values that
    float32 flushes to zero (1e-300 becomes 0, where ReLU-family derivatives
    change).
    """
    if net.dtype == np.float32:
        tiny = np.finfo(np.float32).tiny
        if any(((a != 0) & (np.abs(a) < tiny)).any() for a in arrays):
            return False
    limit = SAFE if net.dtype == np.float64 else 4.0
    return all(np.abs(a).max() <= limit for a in arrays)


@st.composite
def inputs(draw, net, same_rows=None):
    rows = same_rows if same_rows is not None else draw(st.integers(1, 4))
    return draw(matrices(rows, net.n_inputs))


# -- predict ---------------------------------------------------------------------


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(NETWORKS) - 1), data=st.data())
def test_predict_answers_right_or_refuses_clearly(index, data):
    net = build(index)
    before = net.params.copy()
    X, meaning = data.draw(inputs(net))
    acceptable = meaning is not None and finite_in(meaning, net.dtype)
    try:
        out = net.predict(X)
    except CLEAR as exc:
        event(type(exc).__name__)
        assert not acceptable or ("overflowed" in str(exc) and not small(meaning)), exc
    else:
        assert acceptable, f"accepted {X!r}"
        event("answered")
        assert out.shape == (meaning.shape[0], net.n_outputs) and out.dtype == net.dtype
        assert np.isfinite(out).all()
        if comparable(net, meaning):
            tol = 1e-12 if net.dtype == np.float64 else 1e-4
            np.testing.assert_allclose(out, twin(net).predict(meaning), rtol=tol, atol=tol)
    np.testing.assert_array_equal(net.params, before)


# -- loss, gradients, check_gradients --------------------------------------------


def targets_fit(net, Y):
    if net.loss_name != "cross_entropy":
        return True
    if Y.min() < 0 or Y.max() > 1:
        return False
    return net.output_activation != "softmax" or np.allclose(Y.sum(axis=1), 1, atol=1e-6)


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(NETWORKS) - 1), data=st.data())
def test_loss_and_gradients_answer_right_or_refuse_clearly(index, data):
    net = build(index)
    before = net.params.copy()
    rows = data.draw(st.integers(1, 4))
    X, x_meaning = data.draw(inputs(net, rows))
    if data.draw(st.booleans()):  # well-formed targets, so the checks beyond shape are reached
        Y = data.draw(st.sampled_from([np.eye(net.n_outputs)[:1].repeat(rows, 0), 0.5]))
        Y = np.broadcast_to(Y, (rows, net.n_outputs))  # read-only, zero strides
        y_meaning = np.array(Y, dtype=np.float64)
    else:
        Y, y_meaning = data.draw(matrices(rows, net.n_outputs))
    acceptable = (
        x_meaning is not None
        and y_meaning is not None
        and x_meaning.shape[0] == y_meaning.shape[0]
        and finite_in(x_meaning, net.dtype)
        and finite_in(y_meaning, net.dtype)
        and targets_fit(net, y_meaning)
    )
    for call in ("loss", "gradients"):
        try:
            result = getattr(net, call)(X, Y)
        except CLEAR as exc:
            event(f"{call}: {type(exc).__name__}")
            assert not acceptable or (
                "overflowed" in str(exc) and not small(x_meaning, y_meaning)
            ), exc
            continue
        assert acceptable, f"{call} accepted X={X!r}, Y={Y!r}"
        event(f"{call}: answered")
        ref = twin(net)
        tol = 1e-10 if net.dtype == np.float64 else 1e-3
        if call == "loss":
            assert isinstance(result, float) and math.isfinite(result)
            if comparable(net, x_meaning, y_meaning):
                assert result == pytest.approx(ref.loss(x_meaning, y_meaning), rel=tol, abs=tol)
        else:
            dW, db = result
            assert [w.shape for w in dW] == [w.shape for w in net.weights]
            assert all(np.isfinite(g).all() for g in dW + db)
            if comparable(net, x_meaning, y_meaning):
                rdW, rdb = ref.gradients(x_meaning, y_meaning)
                for g, r in zip(dW + db, rdW + rdb):
                    np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
    np.testing.assert_array_equal(net.params, before)


STEPS = [None, 1e-3, 1e-6, 0.0, -1e-3, math.nan, math.inf, 1e300, 1e-300, "1e-3", True, 2]


@settings(deadline=None, max_examples=20)
@given(
    index=st.integers(0, len(NETWORKS) - 1),
    eps=st.sampled_from(STEPS),
    floor=st.sampled_from(STEPS),
)
def test_check_gradients_answers_or_refuses_and_restores_the_parameters(index, eps, floor):
    net = build(index)
    before = net.params.copy()
    X = np.linspace(-1, 1, 6).reshape(2, 3)
    Y = np.eye(2)
    valid = all(
        s is None or (type(s) in (int, float) and math.isfinite(s) and s > 0) for s in (eps, floor)
    )
    try:
        error = fb.check_gradients(net, X, Y, eps=eps, floor=floor)
    except CLEAR as exc:
        assert not valid or eps == 1e300, exc
    else:
        assert valid and isinstance(error, float) and math.isfinite(error) and error >= 0
        if eps is None and floor is None and net.activation in ("sigmoid", "tanh"):
            assert error < (1e-6 if net.dtype == np.float64 else 1e-2)
    np.testing.assert_array_equal(net.params, before)


# -- train -----------------------------------------------------------------------

GOOD = {
    "batch_size": [None, 1, 2, 3, 10**12, np.int64(2)],
    "learning_rate": [0.1, 0.5, 1e-8, 1e300, np.float32(0.1)],
    "epochs": [1, 3, np.int32(2)],
}
BAD = {
    "batch_size": [0, -1, 2.0, 0.5, True, "8", np.float64(2)],
    "learning_rate": [0, -0.1, math.nan, math.inf, "0.1", None, True],
    "epochs": [0, -1, 1.0, None, "3", False],
}


def valid_int(v, minimum):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum


def valid_rate(v):
    return (
        isinstance(v, (int, float, np.floating))
        and not isinstance(v, bool)
        and math.isfinite(v)
        and v > 0
    )


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(NETWORKS) - 1),
    hostile=st.sets(st.sampled_from(["X", "Y", *GOOD]), max_size=2),
    data=st.data(),
)
def test_train_trains_or_refuses_clearly(index, hostile, data):
    """Each example makes up to two of the arguments hostile; the others are good."""
    net = build(index)
    before = net.params.copy()
    setting = {
        name: data.draw(st.sampled_from(GOOD[name] + (BAD[name] if name in hostile else [])))
        for name in GOOD
    }
    batch_size, learning_rate, epochs = setting.values()
    rows = data.draw(st.integers(1, 5))
    if "X" in hostile:
        X, x_meaning = data.draw(matrices(rows, net.n_inputs))
    else:
        x_meaning = np.linspace(-1, 1, rows * net.n_inputs).reshape(rows, -1)
        X = x_meaning.astype(net.dtype)
    if "Y" in hostile:
        y_rows = data.draw(st.sampled_from([rows, rows + 1]))
        Y, y_meaning = data.draw(matrices(y_rows, net.n_outputs))
    else:
        Y = np.full((rows, net.n_outputs), 1.0 / net.n_outputs)
        y_meaning = Y
    acceptable = (
        x_meaning is not None
        and y_meaning is not None
        and y_meaning.shape[0] == x_meaning.shape[0]
        and finite_in(x_meaning, net.dtype)
        and finite_in(y_meaning, net.dtype)
        and targets_fit(net, y_meaning)
        and (batch_size is None or valid_int(batch_size, 1))
        and valid_rate(learning_rate)
        and float(learning_rate) <= float(np.finfo(net.dtype).max)
        and valid_int(epochs, 1)
    )
    try:
        history = net.train(X, Y, **setting, seed=0)
    except fb.DivergenceError:
        event("diverged")
        assert acceptable
        assert float(learning_rate) == 1e300 or not small(x_meaning, y_meaning)
        assert np.isfinite(net.params).all()
    except CLEAR as exc:
        event(type(exc).__name__)
        assert not acceptable, exc
        np.testing.assert_array_equal(net.params, before)
    else:
        assert acceptable, f"trained on X={X!r}, Y={Y!r}"
        event("trained")
        assert len(history) == epochs and all(math.isfinite(h) for h in history)
        assert np.isfinite(net.params).all()
        if comparable(net, x_meaning, y_meaning) and float(learning_rate) != 1e300:
            ref = twin(build(index))
            expected = ref.train(
                x_meaning,
                y_meaning,
                epochs=int(epochs),
                batch_size=None if batch_size is None else int(batch_size),
                learning_rate=float(learning_rate),
                seed=0,
            )
            tol = 1e-9 if net.dtype == np.float64 else 1e-3
            np.testing.assert_allclose(history, expected, rtol=tol, atol=tol)


# -- the constructor ---------------------------------------------------------------

WIDTHS = st.one_of(
    st.integers(1, 6),
    st.sampled_from([0, -1, 2**31, 2**64, 2.0, 1.5, True, "3", None, np.int64(3), np.uint8(2)]),
)
NAMES = st.sampled_from(
    [
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "identity",
        "softmax",
        "",
        "SIGMOID",
        None,
        3,
        ["relu"],
    ]
)
LOSS_NAMES = st.sampled_from(["squared_error", "cross_entropy", "mse", None, 0])
DTYPES = st.sampled_from(
    [
        "float64",
        "float32",
        np.float32,
        "float16",
        "int32",
        "complex128",
        "f8",
        "banana",
        3,
        None,
        {},
    ]
)
SEEDS = st.sampled_from([None, 0, 7, 2**64 - 1, 2**64, -1, 1.5, "1", True, np.int64(5)])


def valid_widths(sizes):
    if isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()
    return (
        isinstance(sizes, (list, tuple))
        and len(sizes) >= 2
        and all(valid_int(s, 1) and s < 2**31 for s in sizes)
    )


def valid_names(activation, output_activation, loss):
    hidden = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
    if activation not in hidden or output_activation not in (*hidden, "softmax"):
        return False
    if loss == "squared_error":
        return output_activation != "softmax"
    return loss == "cross_entropy" and output_activation in ("sigmoid", "softmax")


def valid_dtype(dtype):
    try:
        return np.dtype(dtype) in (np.float64, np.float32)
    except TypeError:
        return False


@settings(deadline=None)
@given(
    sizes=st.one_of(
        st.lists(WIDTHS, min_size=0, max_size=4),
        st.tuples(WIDTHS, WIDTHS),
        st.sampled_from(["3,2", None, 3, {3: 2}, np.array([3, 2]), np.array([[3, 2]])]),
    ),
    activation=NAMES,
    output_activation=NAMES,
    loss=LOSS_NAMES,
    dtype=DTYPES,
    seed=SEEDS,
)
def test_constructor_builds_or_refuses_clearly(
    sizes, activation, output_activation, loss, dtype, seed
):
    valid = (
        valid_widths(sizes)
        and valid_names(activation, output_activation, loss)
        and valid_dtype(dtype)
        and (seed is None or (valid_int(seed, 0) and seed < 2**64))
    )
    try:
        net = fb.Network(sizes, activation, output_activation, loss, dtype, seed)
    except CLEAR as exc:
        assert not valid, exc
        return
    assert valid
    assert net.sizes == tuple(int(s) for s in sizes) and net.dtype == np.dtype(dtype)
    assert net.params.size == sum(a * b + b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
    assert np.isfinite(net.params).all()
    out = net.predict(np.ones((2, net.n_inputs)))
    assert out.shape == (2, net.n_outputs) and np.isfinite(out).all()


def test_widths_beyond_what_blas_takes_are_refused_before_allocating():
    with pytest.raises(ValueError, match=r"sizes\[1\] must be at most 2147483647"):
        fb.Network([2, 2**31])


@settings(deadline=None, max_examples=30)
@given(
    weights=st.sampled_from(
        [
            [np.zeros((3, 2), dtype=complex)],
            [np.full((3, 2), 1e300)],
            [[[1, 2], [3, 4], [5, "x"]]],
            [np.zeros((2, 3))],
            np.zeros((1, 3, 2)),
            "abc",
            3,
            (x for x in [np.zeros((3, 2))]),
            [np.zeros((3, 2)), np.zeros((3, 2))],
            [[[10**400] * 2] * 3],
            [np.ones((3, 2), dtype=np.float16)],
        ]
    ),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_given_weights_are_used_or_refused_clearly(weights, dtype):
    try:
        net = fb.Network([3, 2], dtype=dtype, weights=weights)
    except CLEAR:
        return
    expected = np.asarray(weights[0], dtype=np.float64)
    assert np.isfinite(expected.astype(dtype)).all()
    np.testing.assert_array_equal(net.weights[0], expected.astype(dtype))


# -- model files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.fbp"
    net = build(3, seed=1)
    net.save(path, history=[0.5, 0.25], metadata={"classes": ["a", "b"]})
    return net, path.read_bytes()


def load_bytes(data, directory):
    path = os.path.join(directory, "candidate.fbp")
    with open(path, "wb") as f:
        f.write(data)
    return fb.load(path)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_not_a_model(tmp_path, data):
    with pytest.raises(ValueError):
        load_bytes(data, tmp_path)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.floats(0, 1)),
    prefix=st.binary(max_size=3),
)
def test_mutated_model_files_load_identically_or_are_refused(
    tmp_path, model_bytes, edits, cut, prefix
):
    net, original = model_bytes
    data = bytearray(original)
    for where, byte in edits:
        data[int(where * len(data))] = byte
    if cut is not None:
        data = data[: int(cut * len(data))]
    data = prefix + bytes(data)
    assume(data != original)
    try:
        loaded = load_bytes(data, tmp_path)
    except ValueError:
        return
    assert repr(loaded) == repr(net)
    np.testing.assert_array_equal(loaded.params, net.params)


def test_a_member_declaring_an_unsupported_compression_is_refused(tmp_path, model_bytes):
    _, original = model_bytes
    data = bytearray(original)
    # Local file header and central directory both name the compression method.
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] = 99
            start = data.find(signature, start + 1)
    with pytest.raises(ValueError):
        load_bytes(bytes(data), tmp_path)


def test_a_member_declaring_deflate_over_stored_bytes_is_refused(tmp_path, model_bytes):
    _, original = model_bytes
    data = bytearray(original)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] = zipfile.ZIP_DEFLATED
            start = data.find(signature, start + 1)
    with pytest.raises(ValueError):
        load_bytes(bytes(data), tmp_path)


def test_an_npy_file_with_a_model_appended_is_refused(tmp_path, model_bytes):
    # The zip directory at the end makes it look like an archive to zipfile,
    # the .npy magic at the start makes np.load read it as a single array.
    with open(tmp_path / "a.npy", "wb") as f:
        np.save(f, np.zeros(3))
    data = (tmp_path / "a.npy").read_bytes() + model_bytes[1]
    assert zipfile.is_zipfile(io.BytesIO(data))
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_bytes(data, tmp_path)


# -- the scikit-learn estimators ---------------------------------------------------

# Good and certainly-bad values of the hyperparameters fastbp checks itself.
ESTIMATOR_GOOD = {
    "hidden_layer_sizes": [(3,), 4, (2, 2)],
    "activation": ["relu", "logistic", "tanh", "identity"],
    "solver": ["adam", "sgd", "rprop"],
    "batch_size": ["auto", 1, 3, 10**12],
    "learning_rate_init": [1e-3, 0.1],
    "max_iter": [1, 3],
    "alpha": [0.0, 1e-4],
    "dtype": ["float64", "float32"],
}
ESTIMATOR_BAD = {
    "hidden_layer_sizes": [(0,), (-1,), (2.5,), "3", None, (2**31,)],
    "activation": ["swish", "softmax", None, 3],
    "solver": ["bfgs", None],
    "batch_size": [0, -1, 2.5, None, "big"],
    "learning_rate_init": [0.0, -1.0, math.nan, math.inf, "fast"],
    "max_iter": [0, -1, 2.5, None],
    "alpha": [-1.0, math.nan, "none"],
    "dtype": ["float16", "int32", "banana"],
}


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    regressor=st.booleans(),
    hostile=st.sets(st.sampled_from(["X", "y", *ESTIMATOR_GOOD]), max_size=2),
    data=st.data(),
)
def test_estimators_fit_and_predict_or_refuse_clearly(regressor, hostile, data):
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

    # Two warnings are part of scikit-learn's contract, not noise: max_iter
    # reached, and a column vector passed as y.
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", DataConversionWarning)
    params = {}
    bad_param = False
    for name in ESTIMATOR_GOOD:
        if name in hostile and data.draw(st.booleans()):
            params[name] = data.draw(st.sampled_from(ESTIMATOR_BAD[name]))
            bad_param = True
        else:
            params[name] = data.draw(st.sampled_from(ESTIMATOR_GOOD[name]))
    if params["solver"] == "rprop" and params["batch_size"] in (1, 3):
        params["batch_size"] = "auto"  # Rprop takes full batches only
    rows = data.draw(st.integers(4, 8))
    if "X" in hostile:
        X, _ = data.draw(matrices(rows, 3))
    else:
        X = np.linspace(-1, 1, rows * 3).reshape(rows, 3)
    if "y" in hostile:
        y = data.draw(
            st.sampled_from(
                [
                    np.full(rows, math.nan),
                    np.zeros(rows + 1),
                    np.zeros((rows, 2, 2)),
                    np.zeros(rows),  # one class: a classifier refuses it
                    np.array(["a", "b"] * (rows // 2) + ["a"] * (rows % 2)),
                    [1.5e308, -1.5e308] * (rows // 2) + [0.0] * (rows % 2),
                    None,
                ]
            )
        )
    else:
        y = np.arange(rows) % 2 if not regressor else np.linspace(0, 1, rows)
    estimator = (fb.BPRegressor if regressor else fb.BPClassifier)(random_state=0, **params)
    try:
        estimator.fit(X, y)
        out = estimator.predict(X)
    except fb.DivergenceError:
        event("diverged")
        assert not bad_param
    except CLEAR as exc:
        event(type(exc).__name__)
        assert hostile, exc  # good data and settings must fit
    else:
        event("fitted")
        assert not bad_param, f"accepted {params}"
        n = np.asarray(X).shape[0]
        assert np.shape(out)[0] == n
        if regressor:
            assert np.isfinite(np.asarray(out, dtype=float)).all()
        else:
            assert set(np.unique(out)) <= set(estimator.classes_)


@pytest.mark.parametrize("estimator", ["BPClassifier", "BPRegressor"])
def test_estimators_refuse_python_ints_too_large_for_a_float(estimator):
    X = np.zeros((4, 3), dtype=object)
    X[0, 0] = 10**400
    model = getattr(fb, estimator)(max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="too large for float64"):
        model.fit(X, [0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter is reached, as meant
        model.fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="too large for float64"):
        model.predict(X)
