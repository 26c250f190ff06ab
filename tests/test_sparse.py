"""Sparse inputs: CSR through the engine's own kernels, against dense X and the reference."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import PAIRS, problem, twins
from sklearn.exceptions import ConvergenceWarning

import fastbp as fb

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CONTAINERS = [sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.coo_matrix, sp.coo_array]


def sparse_problem(sizes, output, loss, n=12, seed=0, density=0.3):
    """A problem whose X is mostly zeros, with an empty row and an empty column."""
    X, Y = problem(sizes, output, loss, n=n, seed=seed)
    rng = np.random.default_rng(seed + 7)
    X = X * (rng.uniform(size=X.shape) < density)
    X[2] = 0.0
    X[:, 1] = 0.0
    return X, Y


@pytest.mark.parametrize("hidden,output,loss", PAIRS)
def test_predict_loss_and_gradients_match_the_dense_result_and_the_reference(hidden, output, loss):
    sizes = [6, 5, 3]
    net, ref = twins(sizes, hidden, output, loss, seed=1)
    X, Y = sparse_problem(sizes, output, loss)
    S = sp.csr_matrix(X)
    np.testing.assert_allclose(net.predict(S), net.predict(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.predict(S), ref.predict(X), rtol=0, atol=1e-12)
    assert net.loss(S, Y) == pytest.approx(net.loss(X, Y), abs=1e-12)
    assert net.loss(S, Y) == pytest.approx(ref.loss(X, Y), abs=1e-12)
    np.testing.assert_allclose(net.flat_gradient(S, Y), net.flat_gradient(X, Y), atol=1e-12)
    np.testing.assert_allclose(
        net.flat_gradient(S, Y), ref._flat(*ref.gradients(X, Y)), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_every_sparse_container_gives_the_dense_outputs(container, dtype, tol):
    X, _ = sparse_problem([6, 4, 2], "sigmoid", "squared_error", n=30)
    net = fb.Network([6, 4, 2], activation="tanh", dtype=dtype, seed=3)
    out = net.predict(container(X))
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, net.predict(X), rtol=0, atol=tol)


TRAININGS = {
    "online shuffled sgd": dict(batch_size=1, learning_rate=0.1, seed=5),
    "batches in order": dict(batch_size=4, shuffle=False, learning_rate=0.1),
    "adam with l2 and weights": dict(
        batch_size=5, optimizer="adam", learning_rate=0.01, alpha=0.1, seed=2
    ),  # fmt: skip
    "momentum": dict(
        batch_size=3, optimizer="sgd", momentum=0.9, nesterov=True, learning_rate=0.05, seed=1
    ),  # fmt: skip
    "rprop": dict(batch_size=None, optimizer="rprop"),
    "lbfgs": dict(batch_size=None, optimizer="lbfgs", alpha=0.01),
}


@pytest.mark.parametrize("name", TRAININGS)
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-4)])
def test_training_on_sparse_x_follows_training_on_dense_x(name, dtype, tol):
    sizes = [6, 5, 2]
    X, Y = sparse_problem(sizes, "sigmoid", "cross_entropy", n=20)
    kw = dict(TRAININGS[name])
    if name == "adam with l2 and weights":
        kw["sample_weight"] = np.linspace(0.1, 1.0, 20)
    dense = fb.Network(sizes, "relu", "sigmoid", "cross_entropy", dtype=dtype, seed=4)
    sparse = fb.Network(sizes, "relu", "sigmoid", "cross_entropy", dtype=dtype, seed=4)
    h_dense = dense.train(X, Y, epochs=6, **kw)
    h_sparse = sparse.train(sp.csr_matrix(X), Y, epochs=6, **kw)
    np.testing.assert_allclose(h_sparse, h_dense, rtol=tol, atol=tol)
    np.testing.assert_allclose(sparse.params, dense.params, rtol=tol, atol=tol)


def test_training_matches_the_reference_number_for_number():
    sizes = [6, 4, 3]
    net, ref = twins(sizes, "tanh", "softmax", "cross_entropy", seed=8)
    X, Y = sparse_problem(sizes, "softmax", "cross_entropy", n=15)
    kw = dict(epochs=3, batch_size=4, learning_rate=0.1, seed=9)
    np.testing.assert_allclose(net.train(sp.csr_matrix(X), Y, **kw), ref.train(X, Y, **kw),
                               rtol=0, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(net.params, ref._flat(ref.weights, ref.biases), atol=1e-12)


def test_validation_data_may_be_sparse():
    X, Y = sparse_problem([6, 3, 1], "sigmoid", "squared_error", n=20)
    net = fb.Network([6, 3, 1], seed=0)
    history = net.train(X, Y, epochs=3, validation_data=(sp.csr_matrix(X), Y), seed=0)
    net2 = fb.Network([6, 3, 1], seed=0)
    np.testing.assert_allclose(
        history.val_loss, net2.train(X, Y, epochs=3, validation_data=(X, Y), seed=0).val_loss,
        atol=1e-12,
    )  # fmt: skip


def test_an_all_zero_sparse_matrix_gives_the_bias_outputs():
    net = fb.Network([5, 3, 2], seed=0)
    for b in net.biases:
        b[...] = 0.3
    S = sp.csr_matrix((4, 5))
    np.testing.assert_allclose(net.predict(S), net.predict(np.zeros((4, 5))), atol=1e-15)
    net.train(S, np.full((4, 2), 0.5), epochs=2)  # only the biases learn
    assert net.weights[0].tolist() == fb.Network([5, 3, 2], seed=0).weights[0].tolist()


def test_duplicate_entries_add_up_as_scipy_defines_them():
    # (row, column) pairs stored twice: their values add, as in scipy's toarray
    S = sp.csr_matrix(([1.0, 0.5, -2.0], [2, 2, 0], [0, 2, 3]), shape=(2, 3))
    assert S.nnz == 3 and not S.has_canonical_format
    net = fb.Network([3, 2, 1], seed=1)
    np.testing.assert_allclose(net.predict(S), net.predict(S.toarray()), atol=1e-15)


# -- hostile sparse input -------------------------------------------------------------


def malformed(change):
    S = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    change(S)
    return S


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: sp.csr_matrix(np.array([[np.nan, 0, 1.0]])), ValueError, "NaN"),
        (lambda: sp.csr_matrix(np.array([[np.inf, 0, 1.0]])), ValueError, "infinit"),
        (lambda: sp.csr_matrix((2, 4)), ValueError, "has 4 columns; the network expects 3"),
        (lambda: sp.csr_matrix((0, 3)), ValueError, "no samples"),
        (lambda: sp.csr_matrix(np.array([[1 + 1j, 0, 0]])), TypeError, "complex"),
        (lambda: sp.csr_matrix(np.array([[1e300, 0, 0]])), None, None),  # fine in float64
        (lambda: malformed(lambda S: S.indices.__setitem__(0, 7)), ValueError,
         r"column indices must lie in \[0, 3\)"),
        (lambda: malformed(lambda S: S.indices.__setitem__(0, -1)), ValueError,
         r"column indices must lie in \[0, 3\)"),
        (lambda: malformed(lambda S: S.indptr.__setitem__(1, 4)), ValueError,
         "indptr must rise"),
    ],
)  # fmt: skip
def test_hostile_sparse_matrices_get_clear_errors(make, error, message):
    net = fb.Network([3, 2, 1], output_activation="identity", seed=0)
    S = make()
    if error is None:
        net.predict(S)
        return
    for call in (lambda: net.predict(S), lambda: net.loss(S, np.zeros((S.shape[0], 1))),
                 lambda: net.train(S, np.zeros((S.shape[0], 1)), epochs=1)):  # fmt: skip
        with pytest.raises(error, match=message):
            call()


def test_int64_indices_beyond_int32_are_refused_not_wrapped():
    S = sp.csr_matrix(np.array([[1.0, 0.0, 2.0]]))
    S.indices = S.indices.astype(np.int64)
    S.indices[1] = 2**32 + 2  # would wrap to column 2 in int32
    with pytest.raises(ValueError, match="column indices must lie"):
        fb.Network([3, 2, 1], seed=0).predict(S)


def test_float32_sparse_values_too_large_are_refused():
    net = fb.Network([3, 2, 1], dtype="float32", seed=0)
    with pytest.raises(ValueError, match="too large for float32"):
        net.predict(sp.csr_matrix(np.array([[1e300, 0.0, 0.0]])))


def test_sparse_targets_are_refused():
    net = fb.Network([3, 2, 1], seed=0)
    with pytest.raises(TypeError, match="Y must be a dense array"):
        net.loss(np.zeros((2, 3)), sp.csr_matrix(np.zeros((2, 1))))


def test_the_engine_guards_against_a_malformed_csr_of_its_own():
    net = fb.Network([3, 2, 1], seed=0)
    values = np.ones(2)
    with pytest.raises(ValueError, match="column indices"):
        net._layout.predict_csr(net.params, values, np.array([0, 2], dtype=np.int64),
                                np.array([0, 9], dtype=np.int32), 16)  # fmt: skip
    with pytest.raises(ValueError, match="indptr"):
        net._layout.predict_csr(net.params, values, np.array([0, 5], dtype=np.int64),
                                np.array([0, 1], dtype=np.int32), 16)  # fmt: skip


# -- estimators -------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs", "sgd"])
def test_estimators_fit_and_predict_sparse_x_as_dense(solver):
    X, _ = sparse_problem([8, 1, 1], "sigmoid", "squared_error", n=80, density=0.4)
    y = (X.sum(axis=1) > 0).astype(int)
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, random_state=0)
    dense = fb.BPClassifier(**params).fit(X, y)
    sparse = fb.BPClassifier(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.network_.params, dense.network_.params, atol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X),
                               atol=1e-10)  # fmt: skip
    reg = fb.BPRegressor(**params).fit(sp.coo_matrix(X), X[:, 0])
    assert reg.predict(sp.csr_matrix(X)).shape == (80,)


def test_partial_fit_and_early_stopping_take_sparse_x():
    X, _ = sparse_problem([8, 1, 1], "sigmoid", "squared_error", n=100, density=0.4)
    y = (X.sum(axis=1) > 0).astype(int)
    clf = fb.BPClassifier(hidden_layer_sizes=(5,), random_state=0)
    for _ in range(3):
        clf.partial_fit(sp.csr_matrix(X), y, classes=[0, 1])
    assert clf.n_iter_ == 3
    with pytest.warns(ConvergenceWarning):
        stopped = fb.BPClassifier(hidden_layer_sizes=(5,), early_stopping=True, max_iter=5,
                                  random_state=0).fit(sp.csr_matrix(X), y)  # fmt: skip
    assert len(stopped.validation_scores_) == 5


def test_sparse_inputs_that_overflow_get_the_overflow_message():
    net = fb.Network([3, 1], output_activation="exp", loss="poisson", weights=[[[500.0], [0], [0]]])
    with pytest.raises(ValueError, match="overflowed to infinity"):
        net.loss(sp.csr_matrix([[2.0, 0, 0], [0, 1, 0]]), np.ones((2, 1)))
    biased = fb.Network([3, 1], output_activation="exp", loss="poisson", biases=[[1000.0]])
    with pytest.raises(ValueError, match="overflowed to infinity"):
        biased.predict(sp.csr_matrix((2, 3)))
