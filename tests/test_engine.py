"""The engine's building blocks: the GEMM wrapper, the kernels, the shared tables."""

import warnings

import numpy as np
import pytest

import fastbp as fb
from fastbp import _engine, optimizers
from fastbp.activations import ACTIVATIONS, HUBER_DELTA, LOSSES


def test_activation_and_loss_codes_match_the_c_header():
    assert _engine.ACTIVATION_CODES == ACTIVATIONS
    assert _engine.LOSS_CODES == LOSSES
    assert _engine.HUBER_DELTA == HUBER_DELTA


def test_optimizer_table_matches_the_engine():
    table = {name: row for name, row in optimizers.OPTIMIZERS.items() if row.in_engine}
    assert _engine.OPTIMIZER_CODES == {name: row.code for name, row in table.items()}
    assert _engine.OPTIMIZER_STATE == {row.code: len(row.state) for row in table.values()}
    assert _engine.RPROP_CONSTANTS == {
        "increase": optimizers.RPROP_INCREASE,
        "decrease": optimizers.RPROP_DECREASE,
        "step_min": optimizers.RPROP_STEP_MIN,
        "step_max": optimizers.RPROP_STEP_MAX,
    }
    assert set(optimizers.SOLVERS) <= set(optimizers.OPTIMIZERS)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-4)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
# Tiny, rank-one (k = 1) and single-row products take the engine's direct loops
# (single rows in vector blocks of 2 x lanes, 1 x lanes and a remainder); C one
# to four vectors wide the narrow kernels (unless the product is large enough
# for BLAS's threads), in register blocks of rows with remainders of 4, 2 and 1
# and a tail of columns; the rest BLAS.
@pytest.mark.parametrize(
    "m,n,k",
    [
        (1, 1, 1),
        (2, 3, 4),
        (3, 2, 2),
        (40, 50, 1),
        (1, 300, 40),
        (1, 24, 7),
        (1, 16, 784),
        (7, 33, 65),
        (64, 17, 9),
        (32, 16, 784),
        (37, 10, 50),
        (29, 24, 300),
        (13, 32, 40),
        (23, 64, 33),
        (200, 20, 17),
        (3, 12, 260),
        (300, 16, 500),
    ],
)
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_gemm_matches_numpy_for_every_transpose_and_dtype(
    dtype, tol, trans_a, trans_b, m, n, k, beta, instruction_set
):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    A = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.normal(size=(m, n)).astype(dtype)
    expected = 1.5 * (A.T if trans_a else A) @ (B.T if trans_b else B) + beta * C
    if beta == 0.0:
        C[...] = np.nan  # beta == 0 must not read C
    _engine.gemm_check(trans_a, trans_b, 1.5, A, B, beta, C)
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "output,loss",
    [
        ("sigmoid", "squared_error"),
        ("sigmoid", "cross_entropy"),
        ("softmax", "cross_entropy"),
        ("tanh", "squared_error"),
    ],
)
def test_no_overflow_for_huge_net_inputs(dtype, output, loss):
    net = fb.Network(
        [1, 3],
        output_activation=output,
        loss=loss,
        dtype=dtype,
        weights=[[[1.0, -1.0, 0.5]]],
        biases=[[0.0, 0.0, 0.0]],
    )
    X = np.array([[1000.0], [-1000.0]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = net.predict(X)
        loss_value = net.loss(X, Y)
        dW, db = net.gradients(X, Y)
    assert np.isfinite(out).all() and np.isfinite(loss_value)
    assert all(np.isfinite(g).all() for g in dW + db)
    if output == "sigmoid":
        np.testing.assert_allclose(out, [[1, 0, 1], [0, 1, 0]], atol=1e-12)
    if output == "softmax":
        np.testing.assert_allclose(out, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,f", [("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("tanh", np.tanh)])
def test_sigmoid_and_tanh_are_accurate_to_a_few_ulp(dtype, name, f):
    tiny = np.geomspace(1e-30, 1, 500)
    z = np.concatenate([np.linspace(-800, 800, 20001), tiny, -tiny, [0.0]]).astype(dtype)
    net = fb.Network(
        [1, z.size], output_activation=name, dtype=dtype, weights=[[z]], biases=[np.zeros(z.size)]
    )
    got = net.predict([[1.0]])[0].astype(np.float64)
    with np.errstate(over="ignore"):
        exact = f(z.astype(np.float64))
    normal = np.abs(exact) > 1e3 * np.finfo(dtype).tiny
    relative = np.abs(got - exact)[normal] / np.abs(exact)[normal]
    assert relative.max() <= 4 * np.finfo(dtype).eps
    assert np.abs(got - exact).max() <= 2 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-14), ("float32", 1e-5)])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_every_instruction_set_build_computes_the_same(dtype, tol, hidden):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(37, 9)) * 3, np.eye(5)[rng.integers(0, 5, size=37)]
    results = []
    try:
        for name in _engine.INSTRUCTION_SETS:
            _engine.use_instruction_set(name)
            net = fb.Network(
                [9, 23, 5],
                activation=hidden,
                output_activation="softmax",
                loss="cross_entropy",
                dtype=dtype,
                seed=0,
            )
            net.train(X, Y, epochs=3, batch_size=8, learning_rate=0.1, seed=0)
            results.append((net.predict(X), net.params.copy(), _engine.all_finite(X)))
    finally:
        _engine.use_instruction_set()
    for out, params, finite in results[1:]:
        np.testing.assert_allclose(out, results[0][0], rtol=tol, atol=tol)
        np.testing.assert_allclose(params, results[0][1], rtol=tol, atol=tol)
        assert finite is True


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_finds_any_nan_or_infinity(dtype):
    for n in (1, 7, 1023, 1024, 1025, 5000):
        X = np.zeros((1, n), dtype=dtype)
        assert _engine.all_finite(X)
        for position in {0, n // 2, n - 1}:
            for bad in (np.nan, np.inf, -np.inf):
                X[0, position] = bad
                assert not _engine.all_finite(X)
                X[0, position] = np.finfo(dtype).max
                assert _engine.all_finite(X)


def test_softmax_rows_sum_to_one():
    net = fb.Network([3, 4], output_activation="softmax", loss="cross_entropy", seed=0)
    out = net.predict(np.random.default_rng(0).normal(size=(50, 3)) * 30)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert (out >= 0).all()


@pytest.mark.parametrize(
    "name,f",
    [
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
        ("tanh", np.tanh),
        ("relu", lambda z: np.maximum(z, 0)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
        ("identity", lambda z: z),
    ],
)
def test_each_activation_computes_its_function(name, f):
    z = np.linspace(-5, 5, 11)
    net = fb.Network([1, 11], output_activation=name, weights=[[z]], biases=[np.zeros(11)])
    np.testing.assert_allclose(net.predict([[1.0]])[0], f(z), atol=1e-15)


def test_cross_entropy_loss_values():
    sig = fb.Network(
        [1, 2],
        output_activation="sigmoid",
        loss="cross_entropy",
        weights=[[[0.0, 0.0]]],
        biases=[[np.log(3.0), 0.0]],
    )
    # outputs 0.75 and 0.5 against targets 1 and 0.5
    expected = -np.log(0.75) - (0.5 * np.log(0.5) + 0.5 * np.log(0.5))
    assert sig.loss([[1.0]], [[1.0, 0.5]]) == pytest.approx(expected, rel=1e-14)
    soft = fb.Network(
        [1, 2],
        output_activation="softmax",
        loss="cross_entropy",
        weights=[[[0.0, 0.0]]],
        biases=[[np.log(3.0), 0.0]],
    )
    assert soft.loss([[1.0]], [[1.0, 0.0]]) == pytest.approx(-np.log(0.75), rel=1e-14)


def test_work_buffers_are_reused_across_calls():
    net = fb.Network([3, 4, 2], seed=0)
    X, Y = np.ones((10, 3)), np.zeros((10, 2))
    net.train(X, Y, epochs=1, batch_size=4)
    first = net._workspace["acts"]
    net.train(X, Y, epochs=2, batch_size=4)
    assert net._workspace["acts"] is first


def test_training_does_not_copy_contiguous_inputs_of_the_network_dtype():
    from fastbp._validation import as_matrix

    X = np.ones((5, 3))
    assert as_matrix(X, "X", np.dtype("float64"), 3) is X
    X32 = np.ones((5, 3), dtype=np.float32)
    assert as_matrix(X32, "X", np.dtype("float32"), 3) is X32
    converted = as_matrix(np.asfortranarray(X), "X", np.dtype("float64"), 3)
    assert converted.flags.c_contiguous


def test_read_only_inputs_are_accepted():
    X = np.ones((4, 3))
    Y = np.zeros((4, 2))
    X.setflags(write=False)
    Y.setflags(write=False)
    net = fb.Network([3, 2], seed=0)
    net.train(X, Y, epochs=1, batch_size=2)
    assert net.predict(X).shape == (4, 2)
