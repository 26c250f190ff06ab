"""Hostile sample weights and sizes: weights of any magnitude, networks, histories
and work buffers too large for memory.

Sample weights are relative: a weight vector and every rescaling of it train
alike, or are all refused with a message about ``sample_weight``.  A network,
history or work buffer that cannot be allocated is refused with a
``ValueError`` that names its size in bytes, before anything is allocated:
never a ``MemoryError``, a wrapped count or a crash.  Warnings are errors here.
"""

import re
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import fastbp as fb
from fastbp import _training, _validation, reference
from fastbp.cli import main

M = 2**31 - 1  # the widest layer allowed
BYTES = re.compile(r"would take ([\d,]+) bytes")
TINY = {"float64": np.finfo(np.float64).tiny, "float32": np.finfo(np.float32).tiny}


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def named_bytes(exc):
    """The size in bytes that a refusal names."""
    match = BYTES.search(str(exc))
    assert match, f"no size in bytes in {exc}"
    return int(match.group(1).replace(",", ""))


def n_params(sizes):
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def network_bytes(sizes, dtype):
    """What building a network takes: its parameters, and the float64 draw of
    its largest layer's initial weights."""
    draw = max(a * b for a, b in zip(sizes, sizes[1:]))
    return n_params(sizes) * np.dtype(dtype).itemsize + 8 * draw


def data(n=10, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.uniform(0.1, 0.9, size=(n, n_out))


def trained(sample_weight, dtype="float64", **options):
    """A [3, 4, 2] network's parameters and history after training with these weights
    (for a training that diverges, the epoch it names instead of the history)."""
    X, Y = data()
    net = fb.Network([3, 4, 2], dtype=dtype, seed=1)
    kw = {"epochs": 2, "batch_size": 4, "learning_rate": 0.3, "seed": 5, **options}
    try:
        history = list(net.train(X, Y, sample_weight=sample_weight, **kw))
    except fb.DivergenceError as exc:
        history = re.search(r"diverged in epoch \d+", str(exc)).group()
    return net.params.copy(), history


# -- sample weights ------------------------------------------------------------


@pytest.mark.parametrize(
    "value,dtype",
    [(1e308, "float64"), (1e307, "float64"), (5e-324, "float64"), (1e-300, "float64"),
     (1e-50, "float32"), (3e38, "float32"), (1e-45, "float32")],
)  # fmt: skip
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_equal_weights_of_any_magnitude_train_like_weights_of_one(value, dtype, alpha):
    X, _ = data()
    ones = trained(np.ones(len(X)), dtype, alpha=alpha)
    params, history = trained(np.full(len(X), value), dtype, alpha=alpha)
    assert np.all(np.isfinite(history)) and history[-1] > 0
    np.testing.assert_array_equal(params, ones[0])
    assert history == ones[1]


@pytest.mark.parametrize(
    "weights,dtype",
    [([1.0] * 9 + [5e-324], "float64"), ([1e300] * 9 + [1e-10], "float64"),
     ([1.0] * 9 + [1e-40], "float32"), ([1e30] * 9 + [1e-10], "float32")],
)  # fmt: skip
def test_weights_too_far_apart_for_the_dtype_are_refused_naming_them(weights, dtype):
    net = fb.Network([3, 4, 2], dtype=dtype, seed=1)
    before = net.params.copy()
    with pytest.raises(ValueError, match=f"sample_weight spans too wide a range for {dtype}"):
        net.train(*data(), sample_weight=weights)
    np.testing.assert_array_equal(net.params, before)


def test_the_reference_divides_weights_by_the_largest_as_the_engine_does():
    # With alpha, relative weights are part of the semantics: the L2 penalty counts
    # the largest weight as one sample, in the engine and in the reference alike.
    X, Y = data()
    weights = np.random.default_rng(2).uniform(0.0, 3.0, size=len(X))
    kw = dict(epochs=2, batch_size=4, learning_rate=0.3, seed=5, alpha=0.2)
    net = fb.Network([3, 4, 2], seed=1)
    ref = reference.Network([3, 4, 2], weights=net.weights, biases=net.biases)
    history = net.train(X, Y, sample_weight=weights, **kw)
    np.testing.assert_allclose(
        ref.train(X, Y, sample_weight=weights * 1e300, **kw), history, rtol=0, atol=1e-12
    )
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# A log10 magnitude of a weight (None: a zero weight), and of a rescaling.
LOG_WEIGHT = st.one_of(st.none(), st.floats(-330, 308))
SCALE = st.one_of(
    st.floats(-330, 308).map(lambda e: ("10^", 10.0**e)),
    st.integers(-1074, 1023).map(lambda k: ("2^", 2.0**k)),
)


def weight_vector(logs):
    return np.array([0.0 if e is None else 10.0**e for e in logs])


def is_rescaling(w, v):
    """Whether v is w rescaled up to rounding: the same zeros, every other value normal."""
    normal = np.finfo(np.float64).tiny
    positive = w > 0
    return bool(
        np.isfinite(v).all()
        and np.array_equal(positive, v > 0)
        and (w[positive] >= normal).all()
        and (v[positive] >= normal).all()
    )


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(
    logs=st.lists(LOG_WEIGHT, min_size=10, max_size=10),
    scales=st.lists(SCALE, min_size=1, max_size=4),
    dtype=st.sampled_from(["float64", "float32"]),
    options=st.sampled_from(
        [dict(), dict(alpha=0.1), dict(optimizer="adam", learning_rate=0.01, alpha=0.05),
         dict(optimizer="rprop", batch_size=None, alpha=0.5)]
    ),
)  # fmt: skip
@example(logs=[0.0] * 10, scales=[("10^", 1e308), ("10^", 1e-300)], dtype="float64", options={})
@example(logs=[0.0] * 9 + [-50.0], scales=[("2^", 2.0**-100)], dtype="float32", options={})
def test_rescaled_sample_weights_train_alike_or_are_all_refused(logs, scales, dtype, options):
    """Sample-weight magnitudes per dtype: w and c * w for c across magnitudes."""
    w = weight_vector(logs)
    assume((w > 0).any())
    ratio = w[w > 0].min() / w.max()
    assume(not TINY[dtype] / 4 <= ratio <= TINY[dtype] * 4)  # clear of the boundary
    with np.errstate(over="ignore", under="ignore"):
        twins = [(kind, c * w) for kind, c in scales if is_rescaling(w, c * w)]
    assume(twins)
    refused = ratio < TINY[dtype]
    event(f"{dtype}: {'refused' if refused else 'accepted'}")
    if refused:
        for weights in [w] + [v for _, v in twins]:
            with pytest.raises(ValueError, match="sample_weight spans too wide a range"):
                trained(weights, dtype, **options)
        return
    # Training may also diverge (a batch of tiny weight gets alpha / its weight sum), but
    # then every twin diverges in the same epoch and keeps the same parameters.
    params, history = trained(w, dtype, **options)
    diverged = isinstance(history, str)
    event("diverged" if diverged else "trained")
    assert np.isfinite(params).all() and (diverged or np.isfinite(history).all())
    tol = 1e-9 if dtype == "float64" else 1e-4
    for kind, v in twins:
        twin_params, twin_history = trained(v, dtype, **options)
        if kind == "2^":  # an exact rescaling: the very same numbers
            np.testing.assert_array_equal(twin_params, params)
            assert twin_history == history
        else:
            np.testing.assert_allclose(twin_params, params, rtol=tol, atol=tol)
            if diverged:
                assert twin_history == history
            else:
                np.testing.assert_allclose(twin_history, history, rtol=tol, atol=tol)


def regressor_fit(sample_weight, alpha):
    X, Y = data(n=12, n_out=1)
    reg = fb.BPRegressor(hidden_layer_sizes=(4,), alpha=alpha, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X, Y[:, 0], sample_weight=sample_weight)


@pytest.mark.parametrize("value", [1e308, 1e-300, 5e-324])
def test_estimator_weights_of_any_magnitude_without_alpha_train_like_ones(value):
    ones = regressor_fit(np.ones(12), 0.0)
    scaled = regressor_fit(np.full(12, value), 0.0)
    for a, b in zip(scaled.coefs_ + scaled.intercepts_, ones.coefs_ + ones.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert scaled.loss_curve_ == ones.loss_curve_


def test_estimator_weights_divide_alpha_as_scikit_learn_does():
    # scikit-learn divides the L2 penalty by the weights' sum: huge weights make it vanish,
    # weights so small that alpha / their sum overflows are refused, naming them.
    huge = regressor_fit(np.full(12, 1e308), 1e-4)
    plain = regressor_fit(None, 0.0)
    for a, b in zip(huge.coefs_ + huge.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="sample_weight is too small for alpha=0.0001"):
        regressor_fit(np.full(12, 5e-324), 1e-4)


# -- huge sizes ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [[M] * 5 + [4], [M] * 5 + [5], [2, M, 1]])
def test_networks_too_large_for_memory_are_refused_naming_their_bytes(sizes, dtype):
    # [M] * 5 + [4] has 2**64 parameters: a 64-bit count wraps to 0.
    size = network_bytes(sizes, dtype)
    if size <= _validation.memory_limit():
        pytest.skip("this machine has the memory for it")
    with pytest.raises(ValueError, match=f"{n_params(sizes):,} parameters in {dtype}") as caught:
        fb.Network(sizes, dtype=dtype)
    assert named_bytes(caught.value) == size


@pytest.mark.parametrize("estimator", [fb.BPClassifier, fb.BPRegressor])
def test_an_estimator_with_a_huge_hidden_layer_is_refused_naming_bytes(estimator):
    X, Y = data(n=6)
    y = (Y[:, 0] > 0.5).astype(int) if estimator is fb.BPClassifier else Y[:, 0]
    with pytest.raises(ValueError, match="a network of sizes") as caught:
        estimator(hidden_layer_sizes=(M,)).fit(X, y)
    assert named_bytes(caught.value) == network_bytes([3, M, 1], "float64")


def test_the_command_line_refuses_a_huge_layer_without_a_traceback(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "0,1,0\n1,0,1\n" * 10)
    args = ["train", str(csv), "--target", "y", "--layers", "2000000000", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "m.fbp")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastbp train: error: a network of sizes [2, 2000000000, 2]")
    assert "Traceback" not in err
    assert named_bytes(err) > _validation.memory_limit()
    assert not (tmp_path / "m.fbp").exists()


@pytest.mark.parametrize("epochs", [10**12, 2**63, 10**30])
def test_epochs_whose_history_cannot_be_stored_are_refused(epochs):
    net = fb.Network([2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=f"the history of {epochs:,} epochs") as caught:
        net.train([[0.0, 1.0]], [[1.0]], epochs=epochs, batch_size=1)
    assert named_bytes(caught.value) > _validation.memory_limit()
    np.testing.assert_array_equal(net.params, before)


def test_many_epochs_reach_the_engine_in_bounded_chunks():
    calls = []
    engine_train = _training._engine.train_epochs

    def counting(*args, **kwargs):
        calls.append(len(args[13]))  # the array of epoch losses
        return engine_train(*args, **kwargs)

    net, whole = fb.Network([2, 1], seed=0), fb.Network([2, 1], seed=0)
    epochs = 2 * _training.EPOCH_CHUNK + 3
    with mock.patch.object(_training._engine, "train_epochs", counting):
        history = net.train([[0.0, 1.0]], [[1.0]], epochs=epochs, batch_size=1)
    assert calls == [_training.EPOCH_CHUNK, _training.EPOCH_CHUNK, 3]
    assert len(history) == len(history.seconds) == epochs
    # The same numbers as in one call of the engine.
    with mock.patch.object(_training, "EPOCH_CHUNK", epochs):
        assert whole.train([[0.0, 1.0]], [[1.0]], epochs=epochs, batch_size=1) == history
    np.testing.assert_array_equal(net.params, whole.params)


def test_training_buffers_too_large_for_memory_are_refused_and_wide_predicts_chunk():
    # Half a million units: a batch of 20,000 rows needs 168 GB of activations and deltas.
    net = fb.Network([1, 2**19, 1], seed=0)
    X = np.linspace(-1, 1, 20_000).reshape(-1, 1)
    before = net.params.copy()
    if 2 * 20_000 * 2**19 * 8 <= _validation.memory_limit():
        pytest.skip("this machine has the memory for it")
    with pytest.raises(ValueError, match="training in batches of 20,000 rows") as caught:
        net.train(X, np.zeros((20_000, 1)), epochs=1, batch_size=None)
    assert named_bytes(caught.value) > _validation.memory_limit()
    np.testing.assert_array_equal(net.params, before)
    # predict and loss work in chunks of the rows that fit in 64 MiB (16 here).
    out = net.predict(X[:40])
    np.testing.assert_allclose(out, np.vstack([net.predict(x[None]) for x in X[:40]]), rtol=1e-9)
    assert np.isfinite(net.loss(X[:40], out))


# Widths from small to beyond the limit, for sizes drawn with the real memory limit.
WIDTH = st.one_of(
    st.integers(1, 8),
    st.sampled_from([2**16, 2**20, 2**24, 2**28, 2**30, M, 2**31, 2**40]),
)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(
    sizes=st.lists(WIDTH, min_size=2, max_size=6),
    dtype=st.sampled_from(["float64", "float32"]),
    how=st.sampled_from(["Network", "BPClassifier", "BPRegressor"]),
)
def test_huge_sizes_are_refused_naming_their_bytes(sizes, dtype, how):
    """Huge sizes: a network of them is built, or refused naming its exact size."""
    if how != "Network":  # the estimators take the input width from X, the output from y
        sizes = [min(sizes[0], 8), *sizes[1:-1], 1]
    size = network_bytes(sizes, dtype)
    too_wide = max(sizes) > M
    assume(too_wide or size > _validation.memory_limit() or size <= 2**24)
    event("too wide" if too_wide else "too large" if size > 2**24 else "built")

    def build():
        if how == "Network":
            return fb.Network(sizes, dtype=dtype, seed=0)
        X, y = np.ones((4, sizes[0])), np.array([0.0, 1.0, 0.0, 1.0])
        estimator = getattr(fb, how)(hidden_layer_sizes=sizes[1:-1], dtype=dtype, max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.fit(X, y).network_

    if too_wide:
        with pytest.raises(ValueError, match=f"must be at most {M}"):
            build()
    elif size > _validation.memory_limit():
        with pytest.raises(ValueError, match="a network of sizes") as caught:
            build()
        assert named_bytes(caught.value) == size
    else:
        assert build().params.size == n_params(sizes)


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(
    limit=st.integers(2**12, 2**20),
    hidden=st.integers(1, 3000),
    rows=st.integers(1, 400),
    epochs=st.one_of(st.integers(1, 3), st.integers(2**12, 2**15)),
    dtype=st.sampled_from(["float64", "float32"]),
    optimizer=st.sampled_from(["sgd", "adam"]),
)
def test_sizes_near_the_memory_limit_are_refused_only_above_it(
    limit, hidden, rows, epochs, dtype, optimizer
):
    """Near the limit (made small here): what is allocated fits it, what is refused
    names a size above it."""
    X = np.linspace(-1, 1, rows).reshape(-1, 1)
    with mock.patch.object(_validation, "memory_limit", lambda: limit):
        try:
            net = fb.Network([1, hidden, 1], dtype=dtype, seed=0)
        except ValueError as exc:
            event("network refused")
            assert named_bytes(exc) == network_bytes([1, hidden, 1], dtype) > limit
            return
        assert network_bytes([1, hidden, 1], dtype) <= limit
        try:
            net.train(X, X**2, epochs=epochs, batch_size=None, optimizer=optimizer)
        except ValueError as exc:
            event("training refused")
            assert named_bytes(exc) > limit
            return
    event("trained")
    state, grad = net._optimizer["state"], net._optimizer["grad"]
    # the parameters and their copy at the start, the work buffers, the optimiser's
    # gradient, state and the copy of the state kept for a rollback
    held = [net.params, net.params, *net._workspace.values(), grad, state, state]
    assert sum(a.nbytes for a in held) <= limit
    assert epochs * _training.HISTORY_BYTES <= limit


def test_a_divergence_from_the_l2_penalty_of_a_light_batch_says_so():
    weights = [1.0] * 8 + [1e-100, 1e-100]  # the last batch: alpha / 2e-100 times W
    net = fb.Network([3, 4, 2], seed=1)
    with pytest.raises(fb.DivergenceError, match="alpha divided by the batch's weight sum"):
        net.train(*data(), epochs=5, batch_size=4, shuffle=False, alpha=0.1, sample_weight=weights)
