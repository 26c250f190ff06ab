"""fastbp on Dask: distributed full-batch training, searches and Incremental on a real
LocalCluster (two worker processes), faults."""

import copy
import os
import pickle
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (the dask extra)")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed", reason="distributed is not installed")

import joblib  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

import fastbp as fb  # noqa: E402
from fastbp import dask as fbd  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def problem(n=3000, n_in=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    Y = (X[:, :1] - 0.5 * X[:, 1:2] + 0.3 * rng.normal(size=(n, 1)) > 0).astype(float)
    return X, Y, rng.uniform(0.1, 3.0, size=n)


CASES = {
    "lbfgs": dict(optimizer="lbfgs"),
    "lbfgs, alpha and weights": dict(optimizer="lbfgs", alpha=0.3, weighted=True),
    "rprop": dict(optimizer="rprop"),
    "rprop, alpha and weights": dict(optimizer="rprop", alpha=0.3, weighted=True),
    "lbfgs, fixed biases": dict(optimizer="lbfgs", train_biases=False),
}


def single_and_distributed(case, chunks=500, max_iter=25, dtype="float64", **extra):
    X, Y, sw = problem()
    kw = dict(CASES[case])
    weighted = kw.pop("weighted", False)
    single = fb.Network([8, 6, 1], seed=0, dtype=dtype)
    spread = fb.Network([8, 6, 1], seed=0, dtype=dtype)
    h_single = single.train(X, Y, epochs=max_iter, batch_size=None,
                            sample_weight=sw if weighted else None, **kw)  # fmt: skip
    h_spread = fbd.train(
        spread, da.from_array(X, chunks=chunks), da.from_array(Y, chunks=chunks),
        max_iter=max_iter, sample_weight=da.from_array(sw, chunks=chunks) if weighted else None,
        **kw, **extra,
    )  # fmt: skip
    return single, spread, h_single, h_spread


@pytest.mark.parametrize("case", CASES)
def test_distributed_training_equals_the_single_process_run(client, case):
    single, spread, h_single, h_spread = single_and_distributed(case)
    assert len(h_spread) == len(h_single)
    np.testing.assert_allclose(h_spread, h_single, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(spread.params, single.params, rtol=0, atol=1e-10)
    assert h_spread.converged == h_single.converged


def test_the_result_does_not_depend_on_the_chunking_beyond_rounding(client):
    _, a, _, _ = single_and_distributed("rprop", chunks=3000)
    _, b, _, _ = single_and_distributed("rprop", chunks=250)
    np.testing.assert_allclose(a.params, b.params, atol=1e-10)


def test_without_a_cluster_dasks_local_scheduler_runs_it_the_same():
    X, Y, _ = problem(n=600)
    a, b = fb.Network([8, 4, 1], seed=1), fb.Network([8, 4, 1], seed=1)
    with dask.config.set(scheduler="threads"):
        fbd.train(a, da.from_array(X, chunks=100), Y, max_iter=10)
    b.train(X, Y, epochs=10, batch_size=None, optimizer="lbfgs")
    np.testing.assert_allclose(a.params, b.params, atol=1e-10)


def test_float32_networks_train_on_the_cluster_too(client):
    single, spread, h_single, h_spread = single_and_distributed("rprop", dtype="float32")
    np.testing.assert_allclose(spread.params, single.params, rtol=0, atol=1e-4)


def test_a_worker_killed_mid_run_changes_nothing(client):
    X, Y, _ = problem()
    single = fb.Network([8, 6, 1], seed=0)
    single.train(X, Y, epochs=20, batch_size=None, optimizer="lbfgs")
    spread = fb.Network([8, 6, 1], seed=0)
    killed = []

    def kill_one(iteration, logs):
        if iteration == 3 and not killed:
            address, pid = next(iter(client.run(os.getpid).items()))
            os.kill(pid, 9)  # its nanny starts a new one; Dask recomputes its chunks
            killed.append(address)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed warns of the lost worker
        fbd.train(spread, da.from_array(X, chunks=500), da.from_array(Y, chunks=500),
                  max_iter=20, callback=kill_one)  # fmt: skip
    assert killed
    np.testing.assert_allclose(spread.params, single.params, rtol=0, atol=1e-10)


def test_an_interrupted_run_keeps_the_last_completed_step(client):
    X, Y, _ = problem()
    net = fb.Network([8, 6, 1], seed=0)
    steps = []

    def interrupt(iteration, logs):
        steps.append(net.params.copy())
        if iteration == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fbd.train(net, da.from_array(X, chunks=500), Y, max_iter=50, callback=interrupt)
    np.testing.assert_array_equal(net.params, steps[-1])


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X, Y, W: (X.compute(), Y, W), TypeError, "dask.array.Array"),
        (lambda X, Y, W: (X[:, :3], Y, W), ValueError, "the network expects"),
        (lambda X, Y, W: (X, Y[:10], W), ValueError, "Y has shape"),
        (lambda X, Y, W: (da.where(X > 2, np.nan, X), Y, W), ValueError, "NaN"),
        (lambda X, Y, W: (X, Y * 3, W), ValueError, "cross_entropy"),
        (lambda X, Y, W: (X, Y, W * 0), ValueError, "sums to zero"),
        (lambda X, Y, W: (X, Y, -W), ValueError, "sample_weight"),
    ],
)
def test_bad_inputs_are_refused_before_training(change, error, message):
    X, Y, sw = problem(n=400)
    net = fb.Network([8, 3, 1], loss="cross_entropy", seed=0)
    before = net.params.copy()
    args = change(da.from_array(X, chunks=100), da.from_array(Y, chunks=100),
                  da.from_array(sw, chunks=100))  # fmt: skip
    with dask.config.set(scheduler="threads"):
        with pytest.raises(error, match=message):
            fbd.train(net, args[0], args[1], sample_weight=args[2], max_iter=3)
    np.testing.assert_array_equal(net.params, before)


# -- searches and ensembles ---------------------------------------------------------


@pytest.mark.parametrize("search", [GridSearchCV, RandomizedSearchCV])
def test_searches_under_the_dask_joblib_backend_match_the_local_ones(client, search):
    X, Y, _ = problem(n=600)
    y = Y.ravel().astype(int)
    grid = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-2]}
    estimator = fb.BPClassifier(max_iter=30, random_state=0)
    options = {"cv": 2} if search is GridSearchCV else {"cv": 2, "n_iter": 3, "random_state": 0}
    local = search(estimator, grid, **options).fit(X, y)
    with joblib.parallel_backend("dask"):
        spread = search(estimator, grid, n_jobs=-1, **options).fit(X, y)
    assert spread.best_params_ == local.best_params_
    np.testing.assert_allclose(
        spread.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_dask_ml_incremental_trains_one_partial_fit_per_block(client):
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    X, Y, _ = problem(n=2000)
    y = Y.ravel().astype(int)
    dX, dy = da.from_array(X, chunks=250), da.from_array(y, chunks=250)
    model = wrappers.Incremental(
        fb.BPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05, random_state=0),
        shuffle_blocks=False,
    )
    model.fit(dX, dy, classes=[0, 1])
    fitted = model.estimator_
    assert fitted.n_iter_ == 8  # eight blocks, one partial_fit (one epoch) each
    by_hand = fb.BPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05, random_state=0)
    for start in range(0, 2000, 250):
        by_hand.partial_fit(X[start : start + 250], y[start : start + 250], classes=[0, 1])
    np.testing.assert_allclose(fitted.network_.params, by_hand.network_.params, atol=1e-12)
    assert model.score(dX, dy) > 0.8


def test_estimators_stay_cheap_to_pickle_and_copy():
    X, Y, _ = problem(n=500)
    clf = fb.BPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    clf.fit(X, Y.ravel().astype(int))
    blob = pickle.dumps(clf)
    assert len(blob) < 20 * clf.network_.params.nbytes + 20_000  # parameters, not C state
    twin = copy.deepcopy(clf)
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        twin.partial_fit(X, Y.ravel().astype(int))
    assert not np.array_equal(twin.network_.params, clf.network_.params)


def test_dask_ml_hyperband_search_over_partial_fit(client):
    model_selection = pytest.importorskip("dask_ml.model_selection", reason="dask-ml is absent")
    X, Y, _ = problem(n=2000)
    y = Y.ravel().astype(int)
    dX, dy = da.from_array(X, chunks=250), da.from_array(y, chunks=250)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(4,), (8,)]}
    search = model_selection.HyperbandSearchCV(
        fb.BPClassifier(learning_rate_init=0.05, random_state=0), grid, max_iter=9,
        random_state=0,
    )  # fmt: skip
    try:
        search.fit(dX, dy, classes=[0, 1])
    except RuntimeError as exc:
        if "asynchronous Client in a synchronous context" not in str(exc):
            raise
        pytest.skip(
            f"dask-ml's adaptive searches fail with this distributed ({distributed.__version__}): "
            f"{exc}; the dask extra pins distributed 2025.2.0, with which they run"
        )
    assert search.best_params_["alpha"] in grid["alpha"]
    assert search.best_score_ > 0.8
    assert isinstance(search.best_estimator_, fb.BPClassifier)


def test_sample_weights_are_relative_as_in_network_train():
    X, Y, _ = problem(n=300)
    for optimizer in ("lbfgs", "rprop"):
        single, spread = fb.Network([8, 4, 1], seed=0), fb.Network([8, 4, 1], seed=0)
        huge = np.full(300, 1e307)
        single.train(X, Y, epochs=5, batch_size=None, optimizer=optimizer, sample_weight=huge)
        with dask.config.set(scheduler="threads"):
            fbd.train(spread, da.from_array(X, chunks=100), Y, optimizer=optimizer, max_iter=5,
                      sample_weight=huge)  # fmt: skip
        np.testing.assert_allclose(spread.params, single.params, atol=1e-10)
        assert not np.array_equal(spread.params, fb.Network([8, 4, 1], seed=0).params)


def test_rprop_that_diverges_keeps_the_last_finite_parameters():
    X, Y = np.full((4, 1), 100.0), np.full((4, 1), 1e305)
    net = fb.Network([1, 1], output_activation="exp", loss="poisson", weights=[[[7.0]]],
                     biases=[[0.0]])  # fmt: skip
    with dask.config.set(scheduler="threads"):
        with pytest.raises(fb.DivergenceError):
            fbd.train(net, da.from_array(X, chunks=2), Y, optimizer="rprop", max_iter=5)
    assert np.isfinite(net.loss(X, Y))


def test_empty_and_unknown_chunks_and_short_targets():
    X, Y, _ = problem(n=120)
    net = fb.Network([8, 3, 1], seed=0)
    with dask.config.set(scheduler="threads"):
        uneven = da.from_array(X, chunks=((0, 60, 60), (8,)))
        fbd.train(net, uneven, Y, max_iter=2)  # the empty chunk is skipped
        with pytest.raises(ValueError, match="Y has shape"):
            fbd.train(net, da.from_array(X, chunks=60), Y[:100], max_iter=2)
        unknown = da.from_array(X, chunks=60)
        unknown = unknown[unknown[:, 0] > -10]
        with pytest.raises(ValueError, match="compute_chunk_sizes"):
            fbd.train(net, unknown, Y, max_iter=2)
