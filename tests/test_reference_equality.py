"""fastbp's engine against the pure-Python reference, number for number."""

import numpy as np
import pytest
from helpers import PAIRS, assert_same_params, float32_twin, problem, twins
from hypothesis import given
from hypothesis import strategies as st

import fastbp as fb
from fastbp import _engine, reference


@pytest.mark.parametrize("hidden,output,loss", PAIRS)
def test_predict_loss_and_gradients_match_reference(hidden, output, loss):
    sizes = [4, 5, 3, 3]
    net, ref = twins(sizes, hidden, output, loss, seed=3)
    X, Y = problem(sizes, output, loss, n=7, seed=4)
    np.testing.assert_allclose(net.predict(X), ref.predict(X), rtol=0, atol=1e-13)
    assert net.loss(X, Y) == pytest.approx(ref.loss(X, Y), abs=1e-13)
    dW, db = net.gradients(X, Y)
    rdW, rdb = ref.gradients(X, Y)
    for a, b in zip(dW + db, rdW + rdb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("hidden,output,loss", PAIRS)
@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_training_matches_reference(hidden, output, loss, batch_size):
    sizes = [3, 6, 4]
    net, ref = twins(sizes, hidden, output, loss, seed=5)
    X, Y = problem(sizes, output, loss, n=10, seed=6)
    # an exp output grows fast: a smaller step keeps the Poisson network finite
    rate = 0.01 if loss == "poisson" else 0.05
    kw = dict(epochs=4, batch_size=batch_size, learning_rate=rate, shuffle=True, seed=11)
    history = net.train(X, Y, **kw)
    ref_history = ref.train(X, Y, **kw)
    np.testing.assert_allclose(history, ref_history, rtol=0, atol=1e-10)
    assert_same_params(net, ref, 1e-10)


def test_shuffle_visits_samples_in_the_reference_order():
    for n, seed in [(1, 0), (2, 5), (17, 123), (1000, 2**63 + 7)]:
        order = np.arange(n, dtype=np.int64)
        ref_order = list(range(n))
        state = _engine.shuffle_order(order, seed)
        ref_state = reference.shuffle_order(ref_order, seed)
        assert order.tolist() == ref_order
        assert state == ref_state
        assert sorted(ref_order) == list(range(n))


def test_shuffled_epochs_differ_and_repeat_with_the_seed():
    sizes = [2, 3, 1]
    X, Y = problem(sizes, "sigmoid", "squared_error", n=20, seed=0)
    runs = []
    for seed in (1, 1, 2):
        net = fb.Network(sizes, seed=0)
        runs.append(net.train(X, Y, epochs=3, batch_size=4, seed=seed))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_digit_sized_network_matches_reference_after_an_epoch():
    sizes = [784, 16, 16, 10]
    net, ref = twins(sizes, "sigmoid", "sigmoid", "squared_error", seed=0)
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(40, 784))
    Y = np.eye(10)[rng.integers(0, 10, size=40)]
    kw = dict(epochs=1, batch_size=8, learning_rate=0.5, seed=3)
    np.testing.assert_allclose(net.train(X, Y, **kw), ref.train(X, Y, **kw), atol=1e-10)
    assert_same_params(net, ref, 1e-10)


@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    pair=st.sampled_from(PAIRS),
    n=st.integers(1, 12),
    batch_size=st.one_of(st.none(), st.integers(1, 14)),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_property_training_matches_reference(sizes, pair, n, batch_size, shuffle, seed):
    hidden, output, loss = pair
    if output == "softmax" and sizes[-1] < 2:
        sizes = [*sizes[:-1], 2]
    net, ref = twins(sizes, hidden, output, loss, seed=seed % 1000)
    X, Y = problem(sizes, output, loss, n=n, seed=seed)
    kw = dict(epochs=2, batch_size=batch_size, learning_rate=0.1, shuffle=shuffle, seed=seed)
    np.testing.assert_allclose(net.train(X, Y, **kw), ref.train(X, Y, **kw), atol=1e-10)
    assert_same_params(net, ref, 1e-10)
    np.testing.assert_allclose(net.predict(X), ref.predict(X), atol=1e-10)


@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    pair=st.sampled_from(PAIRS),
    batch_size=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_property_float32_agrees_with_float64(sizes, pair, batch_size, seed):
    hidden, output, loss = pair
    if output == "softmax" and sizes[-1] < 2:
        sizes = [*sizes[:-1], 2]
    net64, _ = twins(sizes, hidden, output, loss, seed=seed)
    net32 = float32_twin(net64)
    X, Y = problem(sizes, output, loss, n=8, seed=seed)
    kw = dict(epochs=3, batch_size=batch_size, learning_rate=0.05, seed=seed)
    h64, h32 = net64.train(X, Y, **kw), net32.train(X, Y, **kw)
    assert net32.params.dtype == np.float32
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(net32.params, net64.params, rtol=1e-4, atol=1e-4)
