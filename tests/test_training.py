"""Training semantics: modes, reproducibility, divergence, pickling, threads."""

import pickle
import threading

import numpy as np
import pytest

import fastbp as fb


def data(n=20, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.uniform(size=(n, n_out))


def test_history_has_one_mean_loss_per_epoch_and_decreases():
    X, Y = data()
    net = fb.Network([3, 8, 2], seed=0)
    history = net.train(X, Y, epochs=30, batch_size=4, learning_rate=0.5, seed=0)
    assert len(history) == 30 and all(isinstance(h, float) for h in history)
    assert history[-1] < history[0]


def test_full_batch_epoch_loss_is_the_loss_before_the_update():
    X, Y = data()
    net = fb.Network([3, 4, 2], seed=0)
    before = net.loss(X, Y)
    assert net.train(X, Y, epochs=1, batch_size=None)[0] == pytest.approx(before, rel=1e-14)


def test_without_shuffle_batches_follow_the_data_order():
    X, Y = data()
    a, b = fb.Network([3, 4, 2], seed=0), fb.Network([3, 4, 2], seed=0)
    a.train(X, Y, epochs=1, batch_size=5, shuffle=False)
    for start in range(0, 20, 5):
        b.train(X[start : start + 5], Y[start : start + 5], epochs=1, batch_size=None)
    np.testing.assert_allclose(a.params, b.params, atol=1e-15)


def test_functional_forms_match_methods():
    X, Y = data()
    a, b = fb.Network([3, 4, 2], seed=0), fb.Network([3, 4, 2], seed=0)
    assert fb.train(a, X, Y, epochs=2, seed=1) == b.train(X, Y, epochs=2, seed=1)
    np.testing.assert_array_equal(fb.predict(a, X), b.predict(X))


def test_weights_and_biases_are_views_into_params():
    net = fb.Network([3, 4, 2], seed=0)
    net.weights[1][0, 0] = 42.0
    net.biases[0][2] = -7.0
    assert 42.0 in net.params and -7.0 in net.params
    assert net.params.size == 3 * 4 + 4 + 4 * 2 + 2
    assert all(np.shares_memory(w, net.params) for w in net.weights + net.biases)


def test_seeded_initialisation_is_reproducible_and_scaled():
    a, b = fb.Network([50, 30, 2], seed=3), fb.Network([50, 30, 2], seed=3)
    np.testing.assert_array_equal(a.params, b.params)
    assert np.abs(a.weights[0]).max() <= np.sqrt(6 / 80)
    relu = fb.Network([50, 30, 2], activation="relu", seed=3)
    assert np.abs(relu.weights[0]).max() > np.sqrt(6 / 80)  # He: sqrt(6 / 50)
    assert np.abs(relu.weights[0]).max() <= np.sqrt(6 / 50)
    assert all((b == 0).all() for b in a.biases)


def test_divergence_raises_and_keeps_finite_parameters():
    X = np.full((8, 2), 1e6)
    Y = np.full((8, 1), 1e6)
    net = fb.Network([2, 3, 1], activation="identity", output_activation="identity", seed=0)
    with pytest.raises(fb.DivergenceError, match=r"diverged in epoch \d+.*smaller learning_rate"):
        net.train(X, Y, epochs=50, batch_size=1, learning_rate=10.0)
    assert np.isfinite(net.params).all()
    assert np.isfinite(net.predict(X[:1])).all()


def test_pickle_round_trip_predicts_the_same():
    X, Y = data()
    net = fb.Network([3, 4, 2], activation="relu", dtype="float32", seed=0)
    net.train(X, Y, epochs=3)
    copy = pickle.loads(pickle.dumps(net))
    assert repr(copy) == repr(net)
    np.testing.assert_array_equal(copy.predict(X), net.predict(X))
    assert not np.shares_memory(copy.params, net.params)
    copy.train(X, Y, epochs=1)  # the copy trains on its own buffers


def test_predict_from_eight_threads_matches_serial():
    X, _ = data(n=3000, n_in=20)
    net = fb.Network([20, 64, 10], seed=0)
    expected = net.predict(X)
    results = [None] * 8

    def work(i):
        results[i] = net.predict(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)
