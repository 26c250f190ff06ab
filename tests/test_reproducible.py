"""A seeded network trains the same way every time (issue 15, item 4)."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone

import fastbp as fb

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    Y = np.eye(3)[rng.integers(0, 3, n)]
    return X, Y


def derived_seed(net_seed, runs):
    return int(np.random.SeedSequence([net_seed, runs]).generate_state(1, np.uint64)[0])


def test_two_networks_of_one_seed_train_to_the_same_parameters():
    X, Y = data()
    a, b = fb.Network([4, 8, 3], seed=0), fb.Network([4, 8, 3], seed=0)
    a.train(X, Y, epochs=5, learning_rate=0.1)
    b.train(X, Y, epochs=5, learning_rate=0.1)
    np.testing.assert_array_equal(a.params, b.params)


def test_each_call_shuffles_differently_but_reproducibly():
    X, Y = data()
    net = fb.Network([4, 8, 3], seed=0)
    start = net.params.copy()
    net.train(X, Y, epochs=2, learning_rate=0.1)
    after_first = net.params.copy()
    net.train(X, Y, epochs=2, learning_rate=0.1)

    # the n-th call (from 0) shuffles with the seed derived from (net.seed, n)
    twin = fb.Network([4, 8, 3], seed=0)
    twin.train(X, Y, epochs=2, learning_rate=0.1, seed=derived_seed(0, 0))
    np.testing.assert_array_equal(twin.params, after_first)
    twin.train(X, Y, epochs=2, learning_rate=0.1, seed=derived_seed(0, 1))
    np.testing.assert_array_equal(twin.params, net.params)

    # the second call's order is not the first's again
    repeat = fb.Network([4, 8, 3], seed=0)
    repeat.params = after_first
    repeat.train(X, Y, epochs=2, learning_rate=0.1, seed=derived_seed(0, 0))
    assert not np.array_equal(repeat.params, net.params)
    assert not np.array_equal(start, after_first)


def test_a_network_built_without_a_seed_shuffles_from_fresh_entropy():
    X, Y = data()
    weights = fb.Network([4, 8, 3], seed=1).weights
    a, b = fb.Network([4, 8, 3], weights=weights), fb.Network([4, 8, 3], weights=weights)
    assert a.seed is None
    np.testing.assert_array_equal(a.params, b.params)
    a.train(X, Y, epochs=3, learning_rate=0.1)
    b.train(X, Y, epochs=3, learning_rate=0.1)
    assert not np.array_equal(a.params, b.params)


def test_a_given_seed_ignores_the_count_of_earlier_runs():
    X, Y = data()
    a = fb.Network([4, 8, 3], seed=0)
    a.train(X, Y, epochs=1, learning_rate=0.1)
    b = copy.copy(a)
    b._training_runs = 7
    a.train(X, Y, epochs=3, learning_rate=0.1, seed=3)
    b.train(X, Y, epochs=3, learning_rate=0.1, seed=3)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda net: pickle.loads(pickle.dumps(net))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_and_pickles_train_on_as_the_original_would(duplicate):
    X, Y = data()
    net = fb.Network([4, 8, 3], seed=0)
    net.train(X, Y, epochs=2, learning_rate=0.1, optimizer="sgd")
    twin = duplicate(net)
    assert twin._training_runs == 1
    net.train(X, Y, epochs=2, learning_rate=0.1)
    twin.train(X, Y, epochs=2, learning_rate=0.1)
    np.testing.assert_array_equal(twin.params, net.params)


def test_a_pickle_from_before_the_count_loads_as_a_network_never_trained():
    X, Y = data()
    net = fb.Network([4, 8, 3], seed=0)
    state = net.__getstate__()
    del state["training_runs"]
    old = fb.Network.__new__(fb.Network)
    old.__setstate__(state)
    assert old._training_runs == 0
    old.train(X, Y, epochs=2, learning_rate=0.1)
    net.train(X, Y, epochs=2, learning_rate=0.1)
    np.testing.assert_array_equal(old.params, net.params)


def test_refused_arguments_do_not_count_as_a_run():
    X, Y = data()
    a, b = fb.Network([4, 8, 3], seed=0), fb.Network([4, 8, 3], seed=0)
    with pytest.raises(ValueError):
        a.train(X, Y, epochs=0)
    assert a._training_runs == 0
    a.train(X, Y, epochs=2, learning_rate=0.1)
    b.train(X, Y, epochs=2, learning_rate=0.1)
    np.testing.assert_array_equal(a.params, b.params)


def test_a_file_round_trip_keeps_the_parameters_and_has_no_seed(tmp_path):
    X, Y = data()
    net = fb.Network([4, 8, 3], seed=0)
    net.train(X, Y, epochs=2, learning_rate=0.1)
    fb.save(net, tmp_path / "n.fbp")
    loaded = fb.load(tmp_path / "n.fbp")
    np.testing.assert_array_equal(loaded.params, net.params)
    assert loaded.seed is None  # the safe format stores no seed: fresh entropy from here


# -- the estimators: random_state as scikit-learn users expect ---------------


@pytest.mark.parametrize("estimator", [fb.BPClassifier, fb.BPRegressor])
def test_estimators_with_an_int_random_state_fit_identically(estimator):
    X, Y = data(60)
    y = Y.argmax(1) if estimator is fb.BPClassifier else X @ [1.0, -2.0, 0.5, 0.0]
    model = estimator((6,), max_iter=15, random_state=0, early_stopping=True)
    first = [c.copy() for c in model.fit(X, y).coefs_]
    second = [c.copy() for c in model.fit(X, y).coefs_]  # refit: the same again
    other = clone(model).fit(X, y)
    for a, b, c in zip(first, second, other.coefs_):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_estimators_warm_start_and_partial_fit_are_reproducible():
    X, Y = data(60)
    y = Y.argmax(1)
    runs = []
    for _ in range(2):
        warm = fb.BPClassifier((6,), max_iter=5, random_state=0, warm_start=True)
        warm.fit(X, y).fit(X, y)
        partial = fb.BPClassifier((6,), random_state=0, batch_size=8)
        for _ in range(3):
            partial.partial_fit(X, y, classes=[0, 1, 2])
        runs.append((warm.network_.params.copy(), partial.network_.params.copy()))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_estimators_without_a_random_state_differ_from_fit_to_fit():
    X, Y = data(60)
    y = Y.argmax(1)
    model = fb.BPClassifier((6,), max_iter=3)
    first = model.fit(X, y).network_.params.copy()
    assert not np.array_equal(first, model.fit(X, y).network_.params)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rprop"])
def test_a_pickled_network_goes_on_with_its_optimiser_state(optimizer):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), rng.uniform(size=(40, 1))
    kw = dict(epochs=3, batch_size=None if optimizer == "rprop" else 8, optimizer=optimizer,
              momentum=0.9, learning_rate=0.01, seed=1)  # fmt: skip
    net = fb.Network([3, 4, 1], seed=0)
    net.train(X, Y, **kw)
    twin = pickle.loads(pickle.dumps(net))
    net.train(X, Y, **kw)
    twin.train(X, Y, **kw)
    np.testing.assert_array_equal(twin.params, net.params)
