"""Narrow layers: the engine's own kernels for layers one to four vectors wide.

A shuffled batch is read in place through its sample indices rather than
gathered, and X is checked for NaN and infinity while training instead of in a
pass before it (see ``_engine.checks_inputs``).  Both must be invisible: the
same numbers as the reference, the same errors as a check up front.
"""

import threading
import warnings

import numpy as np
import pytest
from helpers import problem, twins
from test_reference_equality import assert_same_params

import fastbp as fb
from fastbp import _engine

VECTOR_BYTES = {"baseline": 16, "avx2": 32, "avx512": 64}


def lanes(instruction_set, dtype):
    return VECTOR_BYTES[instruction_set] // np.dtype(dtype).itemsize


# Widths around one to four vectors of each build, with and without a tail of
# columns, next to layers too wide for the narrow kernels.
@pytest.mark.parametrize(
    "sizes",
    [[23, 16, 10, 3], [11, 32, 20, 8], [9, 24, 64, 5], [13, 8, 5, 3], [40, 4, 2]],
)
@pytest.mark.parametrize("batch_size", [1, 5, 13, None])
@pytest.mark.parametrize("shuffle", [True, False])
def test_narrow_layers_train_like_the_reference(instruction_set, sizes, batch_size, shuffle):
    net, ref = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=2)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=37, seed=5)
    kw = dict(epochs=3, batch_size=batch_size, learning_rate=0.3, shuffle=shuffle, seed=9)
    np.testing.assert_allclose(net.train(X, Y, **kw), ref.train(X, Y, **kw), rtol=0, atol=1e-10)
    assert_same_params(net, ref, 1e-10)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("optimizer", [{}, {"optimizer": "adam"}], ids=["sgd", "adam"])
def test_sample_weights_with_narrow_layers_train_like_the_reference(
    instruction_set, shuffle, optimizer
):
    sizes = [23, 16, 10, 3]
    net, ref = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=2)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=37, seed=5)
    weights = np.random.default_rng(3).uniform(0.0, 2.0, size=37)
    kw = dict(epochs=2, batch_size=8, learning_rate=0.3, shuffle=shuffle, seed=9,
              sample_weight=weights, **optimizer)  # fmt: skip
    np.testing.assert_allclose(net.train(X, Y, **kw), ref.train(X, Y, **kw), rtol=0, atol=1e-10)
    assert_same_params(net, ref, 1e-10)


def test_an_estimator_with_sample_weights_and_a_narrow_first_layer_fits():
    exceptions = pytest.importorskip("sklearn.exceptions")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 30))
    y = (X[:, 0] > 0).astype(int)
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        weighted = fb.BPClassifier(**kw).fit(X, y, sample_weight=np.ones(1000))
        plain = fb.BPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(weighted.predict_proba(X), plain.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("sizes", [[23, 16, 10, 3], [11, 32, 20, 8], [13, 8, 5, 3]])
def test_narrow_layers_in_float32_follow_float64(instruction_set, sizes):
    X, Y = problem(sizes, "sigmoid", "squared_error", n=29, seed=1)
    net64 = fb.Network(sizes, seed=4)
    net32 = fb.Network(sizes, seed=4, dtype="float32")
    kw = dict(epochs=2, batch_size=6, learning_rate=0.3, seed=3)
    np.testing.assert_allclose(net32.train(X, Y, **kw), net64.train(X, Y, **kw), rtol=1e-4)
    np.testing.assert_allclose(net32.params, net64.params, atol=1e-4)
    np.testing.assert_allclose(net32.predict(X), net64.predict(X), atol=1e-4)


def narrow_net(instruction_set, dtype, optimizer):
    """A network whose first layer takes the narrow kernels, trained one epoch."""
    optimizer = dict(optimizer)
    width = 2 * lanes(instruction_set, dtype)
    net = fb.Network([30, width, 4], dtype=dtype, seed=1)
    X, Y = problem(net.sizes, "sigmoid", "squared_error", n=50, seed=2)
    net.train(X, Y, epochs=1, batch_size=8, learning_rate=0.1, seed=0, **optimizer)
    assert _engine.checks_inputs(net._layout, net.dtype.itemsize, 8, 50)
    return net, X, Y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "optimizer", [{}, {"momentum": 0.9}, {"optimizer": "adam"}], ids=["sgd", "momentum", "adam"]
)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 49])
@pytest.mark.parametrize("shuffle", [True, False])
# One epoch with the bad row in the last batch: no later batch would notice.
@pytest.mark.parametrize("epochs", [1, 3])
def test_nan_found_while_training_leaves_the_network_as_it_was(
    instruction_set, dtype, optimizer, bad, row, shuffle, epochs
):
    net, X, Y = narrow_net(instruction_set, dtype, optimizer)
    twin, _, _ = narrow_net(instruction_set, dtype, optimizer)
    params = net.params.copy()
    state = {k: np.copy(net._optimizer[k]) for k in ("state", "t", "samples")}
    X_bad = X.copy()
    X_bad[row, 17] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X_bad, Y, epochs=epochs, batch_size=8, learning_rate=0.1, shuffle=shuffle, seed=1,
                  **optimizer)  # fmt: skip
    np.testing.assert_array_equal(net.params, params)
    for key, value in state.items():
        np.testing.assert_array_equal(net._optimizer[key], value)
    # Training goes on exactly as if the bad call had never been made.
    kw = dict(epochs=2, batch_size=8, learning_rate=0.1, seed=2, **optimizer)
    np.testing.assert_array_equal(net.train(X, Y, **kw), twin.train(X, Y, **kw))
    np.testing.assert_array_equal(net.params, twin.params)


def test_nan_found_while_switching_optimizer_keeps_the_old_optimizer(instruction_set):
    net, X, Y = narrow_net(instruction_set, "float64", {"optimizer": "adam"})
    before = {k: np.copy(v) for k, v in net._optimizer.items() if k != "grad"}
    X_bad = X.copy()
    X_bad[30, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X_bad, Y, epochs=1, batch_size=8, optimizer="sgd")
    for key, value in before.items():
        np.testing.assert_array_equal(net._optimizer[key], value)


@pytest.mark.parametrize("sample_weight", [None, "one zero"])
def test_finite_inputs_that_overflow_the_first_layer_train_as_after_a_check_up_front(
    instruction_set, sample_weight
):
    # The engine's check stands in for all_finite(X) and nothing more: z(1) =
    # 20 x 1e38 overflows float32, sigmoid saturates, training goes on.  With a
    # zero weight X is checked in Python instead; both must behave alike.
    net = fb.Network([20, 2 * lanes(instruction_set, "float32"), 1], dtype="float32", seed=0)
    net.weights[0][...] = 1.0
    X = np.full((64, 20), 1e38, dtype=np.float32)
    Y = np.full((64, 1), 0.5, dtype=np.float32)
    weights = None
    if sample_weight is not None:
        weights = np.ones(64)
        weights[0] = 0.0
    else:
        assert _engine.checks_inputs(net._layout, 4, 32, 64)
    history = net.train(X, Y, epochs=2, batch_size=32, shuffle=False, sample_weight=weights)
    assert np.isfinite(history).all() and np.isfinite(net.params).all()


def test_switching_instruction_sets_during_training_is_safe():
    # Choosing the narrow kernels and running them read the instruction set
    # apart; any width must still give the right numbers in any build.
    stop = threading.Event()

    def switch():
        while not stop.is_set():
            for name in _engine.INSTRUCTION_SETS:
                _engine.use_instruction_set(name)

    net, ref = twins([50, 4, 2], "sigmoid", "sigmoid", "squared_error", seed=0)
    X, Y = problem([50, 4, 2], "sigmoid", "squared_error", n=200, seed=1)
    thread = threading.Thread(target=switch)
    thread.start()
    try:
        history = net.train(X, Y, epochs=20, batch_size=32, learning_rate=0.3, seed=4)
    finally:
        stop.set()
        thread.join()
        _engine.use_instruction_set()
    expected = ref.train(X, Y, epochs=20, batch_size=32, learning_rate=0.3, seed=4)
    np.testing.assert_allclose(history, expected, rtol=0, atol=1e-10)


def test_nan_in_a_batch_of_zero_sample_weight_is_found(instruction_set):
    # The engine skips a batch whose weights are all zero, so it never sees its rows.
    net, X, Y = narrow_net(instruction_set, "float64", {})
    params = net.params.copy()
    weights = np.ones(len(X))
    weights[8:16] = 0.0
    X_bad = X.copy()
    X_bad[10, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X_bad, Y, epochs=1, batch_size=8, shuffle=False, sample_weight=weights)
    np.testing.assert_array_equal(net.params, params)


def test_infinity_meets_only_zero_weights_and_is_still_found(instruction_set):
    # inf x 0 is NaN: a feature whose weights are all zero cannot hide infinity.
    net, X, Y = narrow_net(instruction_set, "float64", {})
    net.weights[0][5, :] = 0.0
    params = net.params.copy()
    X_bad = X.copy()
    X_bad[20, 5] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X_bad, Y, epochs=1, batch_size=8, learning_rate=0.1)
    np.testing.assert_array_equal(net.params, params)


@pytest.mark.parametrize("scale", [1.0, 1e300])
def test_divergence_with_finite_data_is_still_divergence(instruction_set, scale):
    # Growing weights, or finite inputs whose first-layer products overflow.
    width = 2 * lanes(instruction_set, "float64")
    net = fb.Network([30, width, 4], activation="identity", output_activation="identity", seed=1)
    X, Y = problem(net.sizes, "identity", "squared_error", n=50, seed=2)
    net.weights[0][...] *= scale
    with pytest.raises(fb.DivergenceError, match="diverged"):
        net.train(X * scale, Y, epochs=50, batch_size=8, learning_rate=10.0)
    assert np.isfinite(net.params).all()


def test_a_blas_first_layer_is_checked_before_training():
    net = fb.Network([30, 300, 2], seed=0)
    X, Y = problem(net.sizes, "sigmoid", "squared_error", n=64, seed=0)
    assert not _engine.checks_inputs(net._layout, 8, 32, 64)
    X[63, 0] = np.nan
    params = net.params.copy()
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X, Y, epochs=1, batch_size=32)
    np.testing.assert_array_equal(net.params, params)


def test_large_batches_leave_the_first_layer_to_blas_and_its_check_to_python():
    # 256 x 784 x 16 is more work than the narrow loops take on one thread.
    layout = fb.Network([784, 16, 10])._layout
    expected = _engine.INSTRUCTION_SET != "baseline"  # 16 doubles: 2 AVX-512 or 4 AVX2 vectors
    assert _engine.checks_inputs(layout, 8, 32, 60_000) is expected
    assert _engine.checks_inputs(layout, 8, 256, 60_000) is False
    assert _engine.checks_inputs(layout, 8, 256, 1) is True  # one sample: the direct loops


@pytest.mark.parametrize(
    "itemsize,batch,n,problem_",
    [(4, 0, 10, "batch >= 1"), (8, 4, 0, "n >= 1"), (2, 4, 10, "itemsize")],
)
def test_checks_inputs_refuses_nonsense(itemsize, batch, n, problem_):
    layout = fb.Network([3, 2])._layout
    with pytest.raises(ValueError, match=problem_):
        _engine.checks_inputs(layout, itemsize, batch, n)
