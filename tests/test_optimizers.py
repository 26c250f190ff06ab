"""Optimisers, L2, sample weights and schedules: hand-computed steps and the reference."""

import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import PAIRS, float32_twin, problem, twins
from hypothesis import given
from hypothesis import strategies as st

import fastbp as fb

# A 1-1 identity network, w = 0.5, b = 0.25, one sample x = 2, t = 0:
# o = 1.25, dE/dw = (o - t) x = 2.5, dE/db = o - t = 1.25.
X1, T1 = [[2.0]], [[0.0]]
G_W, G_B = 2.5, 1.25


def line(**kw):
    return fb.Network(
        [1, 1],
        output_activation="identity",
        weights=[[[0.5]]],
        biases=[[0.25]],
        **kw,
    )


def test_sgd_with_l2_penalises_weights_not_biases():
    net = line()
    history = net.train(X1, T1, epochs=1, batch_size=None, learning_rate=0.1, alpha=0.2)
    # grad(w) = 2.5 + 0.2 / 1 * 0.5 = 2.6; grad(b) = 1.25
    assert net.weights[0][0, 0] == pytest.approx(0.5 - 0.1 * 2.6, abs=1e-15)
    assert net.biases[0][0] == pytest.approx(0.25 - 0.1 * 1.25, abs=1e-15)
    # loss 1/2 1.25^2 plus the penalty 0.2 / 2 * 0.5^2
    assert history[0] == pytest.approx(0.78125 + 0.025, abs=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_first_step(nesterov):
    net = line()
    net.train(X1, T1, epochs=1, batch_size=None, learning_rate=0.1, momentum=0.9, nesterov=nesterov)
    # v = -lr g; plain: w += v = -0.25; Nesterov: w += 0.9 v - lr g = -0.475
    expected = 0.5 - (0.475 if nesterov else 0.25)
    assert net.weights[0][0, 0] == pytest.approx(expected, abs=1e-15)


def test_momentum_velocity_carries_into_the_next_call():
    net = line(dtype="float64")
    net.train([[0.0]], [[0.25]], epochs=1, batch_size=None, learning_rate=0.1, momentum=0.5)
    # x = 0 and t = b: zero gradient everywhere, so w only moves with the velocity
    w1 = net.weights[0][0, 0]
    assert w1 == 0.5
    net.train(X1, T1, epochs=1, batch_size=None, learning_rate=0.1, momentum=0.5)
    v = -0.1 * G_W
    net.train(
        [[0.0]], [[net.biases[0][0]]], epochs=1, batch_size=None, learning_rate=0.1, momentum=0.5
    )
    assert net.weights[0][0, 0] == pytest.approx(0.5 + v + 0.5 * v, abs=1e-15)


def test_adam_first_steps():
    net = line()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    net.train(X1, T1, epochs=1, batch_size=None, learning_rate=lr, optimizer="adam")
    m, v = (1 - b1) * G_W, (1 - b2) * G_W**2
    lr_t = lr * math.sqrt(1 - b2) / (1 - b1)
    w = 0.5 - lr_t * m / (math.sqrt(v) + eps)
    assert net.weights[0][0, 0] == pytest.approx(w, abs=1e-15)
    assert w == pytest.approx(0.5 - lr, abs=1e-8)  # Adam's first step is ~lr
    # the second step uses t = 2 and the moments of both gradients
    g = (w * 2.0 + net.biases[0][0]) * 2.0
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    lr_t = lr * math.sqrt(1 - b2**2) / (1 - b1**2)
    net.train(X1, T1, epochs=1, batch_size=None, learning_rate=lr, optimizer="adam")
    assert net.weights[0][0, 0] == pytest.approx(w - lr_t * m / (math.sqrt(v) + eps), abs=1e-15)


def test_irprop_minus_steps_grow_then_shrink_and_skip():
    net = line()
    kw = dict(epochs=1, batch_size=None, optimizer="rprop")
    net.train(X1, T1, **kw)  # first step 0.1 against the gradient's sign
    assert net.weights[0][0, 0] == pytest.approx(0.4, abs=1e-15)
    assert net.biases[0][0] == pytest.approx(0.15, abs=1e-15)
    net.train(X1, T1, **kw)  # o = 0.95 > 0: same sign, step 0.12
    assert net.weights[0][0, 0] == pytest.approx(0.28, abs=1e-15)
    net.train(X1, [[5.0]], **kw)  # o - t < 0: the sign flips, step halves and is skipped
    assert net.weights[0][0, 0] == pytest.approx(0.28, abs=1e-15)
    net.train(X1, [[5.0]], **kw)  # previous gradient forgotten: step 0.06, no growth
    assert net.weights[0][0, 0] == pytest.approx(0.34, abs=1e-15)


def test_sample_weights_scale_each_sample_and_divide_by_their_sum():
    X, T = [[2.0], [1.0]], [[0.0], [1.0]]
    net = line()
    history = net.train(
        X, T, epochs=1, batch_size=None, learning_rate=0.1, sample_weight=[3.0, 1.0]
    )
    # sample 1: o = 1.25, e = 1.25; sample 2: o = 0.75, e = -0.25
    g_w = (3.0 * 1.25 * 2.0 + 1.0 * -0.25 * 1.0) / 4.0
    g_b = (3.0 * 1.25 + 1.0 * -0.25) / 4.0
    assert net.weights[0][0, 0] == pytest.approx(0.5 - 0.1 * g_w, abs=1e-15)
    assert net.biases[0][0] == pytest.approx(0.25 - 0.1 * g_b, abs=1e-15)
    assert history[0] == pytest.approx((3 * 0.78125 + 0.03125) / 4, abs=1e-15)


def test_integer_sample_weights_match_repeated_samples_in_a_full_batch():
    X, Y = problem([3, 4, 2], "sigmoid", "squared_error", n=6, seed=0)
    weights = np.array([1, 2, 0, 3, 1, 1])
    a, b = fb.Network([3, 4, 2], seed=0), fb.Network([3, 4, 2], seed=0)
    kw = dict(epochs=3, batch_size=None, learning_rate=0.01, optimizer="adam")
    ha = a.train(X, Y, sample_weight=weights, **kw)
    hb = b.train(np.repeat(X, weights, axis=0), np.repeat(Y, weights, axis=0), **kw)
    np.testing.assert_allclose(ha, hb, atol=1e-14)
    np.testing.assert_allclose(a.params, b.params, atol=1e-14)


CASES = [
    dict(optimizer="sgd", learning_rate=0.05, alpha=0.01),
    dict(optimizer="sgd", learning_rate=0.05, momentum=0.9),
    dict(optimizer="sgd", learning_rate=0.05, momentum=0.8, nesterov=True, alpha=0.1),
    dict(optimizer="sgd", learning_rate=0.2, schedule="invscaling", power_t=0.5),
    dict(optimizer="adam", learning_rate=0.01),
    dict(optimizer="adam", learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-6, alpha=0.3),
    dict(optimizer="adam", learning_rate=0.01, sample_weight=[0.5, 2, 0, 1, 1, 3, 1, 1, 2, 1]),
    dict(optimizer="adam", learning_rate=0.01, train_biases=False),
    dict(
        optimizer="sgd", learning_rate=0.05, momentum=0.9, sample_weight=[1, 0, 0, 4] * 2 + [1, 1]
    ),
    dict(optimizer="rprop", batch_size=None),
    dict(optimizer="rprop", batch_size=None, alpha=0.5, sample_weight=[1, 2] * 5),
]


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize(
    "hidden,output,loss",
    [("tanh", "softmax", "cross_entropy"), ("relu", "identity", "squared_error")],
)
def test_optimisers_match_reference_across_calls(kw, hidden, output, loss):
    sizes = [3, 5, 4]
    net, ref = twins(sizes, hidden, output, loss, seed=7)
    X, Y = problem(sizes, output, loss, n=10, seed=8)
    kw = {"batch_size": 3, "seed": 5, **kw}
    for call in range(2):  # the optimiser state carries over between calls
        kw["seed"] += call
        history = net.train(X, Y, epochs=3, **kw)
        np.testing.assert_allclose(history, ref.train(X, Y, epochs=3, **kw), rtol=0, atol=1e-10)
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kw", CASES[1:8:2])
def test_per_epoch_training_matches_one_call(kw):
    """Validation, callbacks and stopping rules train epoch by epoch; the result is the same."""
    X, Y = problem([3, 5, 2], "sigmoid", "squared_error", n=10, seed=1)
    a, b = fb.Network([3, 5, 2], seed=0), fb.Network([3, 5, 2], seed=0)
    kw = {"batch_size": 3, "seed": 2, **kw}
    ha = a.train(X, Y, epochs=4, **kw)
    hb = b.train(X, Y, epochs=4, validation_data=(X, Y), **kw)
    assert ha == hb and len(hb.val_loss) == 4
    assert hb.val_loss[-1] == pytest.approx(b.loss(X, Y), abs=1e-15)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("kw", CASES)
def test_float32_optimisers_agree_with_float64(kw):
    X, Y = problem([3, 5, 2], "sigmoid", "squared_error", n=10, seed=3)
    n64 = fb.Network([3, 5, 2], seed=0)
    n32 = float32_twin(n64)
    kw = {"batch_size": 3, "seed": 2, **kw}
    h64, h32 = n64.train(X, Y, epochs=3, **kw), n32.train(X, Y, epochs=3, **kw)
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(n32.params, n64.params, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "kw",
    [
        dict(optimizer="adam", learning_rate=1e100),
        dict(momentum=0.99, learning_rate=10.0),
        dict(alpha=1.0, learning_rate=10.0),
    ],
)
def test_divergence_is_caught_for_every_optimiser(kw):
    X = np.full((8, 2), 1e6)
    Y = np.full((8, 1), 1e6)
    net = fb.Network([2, 3, 1], activation="identity", output_activation="identity", seed=0)
    with pytest.raises(fb.DivergenceError, match="diverged"):
        net.train(X, Y, epochs=200, batch_size=1, **kw)
    assert np.isfinite(net.params).all()


def test_divergence_in_epoch_by_epoch_training_restores_like_one_call():
    """Training epoch by epoch (here for the validation data) keeps the backup rule."""
    X = np.full((8, 2), 1e6)
    Y = np.full((8, 1), 1e6)
    nets = []
    for kw in ({}, {"validation_data": (X, Y)}):
        net = fb.Network([2, 3, 1], activation="identity", output_activation="identity", seed=0)
        with pytest.raises(fb.DivergenceError, match=r"diverged in epoch \d+"):
            net.train(
                X, Y, epochs=50, batch_size=4, learning_rate=1e-12, momentum=0.999, seed=0, **kw
            )
        nets.append(net)
    assert np.isfinite(nets[0].params).all()
    np.testing.assert_array_equal(nets[0].params, nets[1].params)


SIGINT_CHILD = """
import sys
import numpy as np
import fastbp as fb

rng = np.random.default_rng(0)
X = rng.uniform(size=(20_000, 784))
Y = np.eye(10)[rng.integers(0, 10, size=20_000)]
net = fb.Network([784, 256, 256, 10], seed=0)
print("training", flush=True)
try:
    net.train(X, Y, epochs=1000, batch_size=64, learning_rate=1e-3, optimizer="adam",
              alpha=1e-4, callback=lambda epoch, logs: None)
except KeyboardInterrupt:
    print("interrupted", np.isfinite(net.params).all(), flush=True)
"""


def test_sigint_stops_optimiser_training():
    child = subprocess.Popen(
        [sys.executable, "-c", SIGINT_CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(1.0)  # inside the first epoch, which takes seconds
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.split() == ["interrupted", "True"]


@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    pair=st.sampled_from(PAIRS),
    n=st.integers(1, 10),
    batch_size=st.one_of(st.none(), st.integers(1, 12)),
    options=st.sampled_from(CASES),
    weighted=st.booleans(),
    alpha=st.sampled_from([0.0, 0.05]),
    seed=st.integers(0, 2**32),
)
def test_property_optimisers_match_reference(
    sizes, pair, n, batch_size, options, weighted, alpha, seed
):
    hidden, output, loss = pair
    if output == "softmax" and sizes[-1] < 2:
        sizes = [*sizes[:-1], 2]
    net, ref = twins(sizes, hidden, output, loss, seed=seed % 1000)
    X, Y = problem(sizes, output, loss, n=n, seed=seed)
    kw = {**options, "batch_size": batch_size, "seed": seed, "alpha": alpha}
    if options["optimizer"] == "rprop":
        kw["batch_size"] = None
    kw["sample_weight"] = (
        np.random.default_rng(seed).uniform(0.5, 2.0, size=n) if weighted else None
    )
    np.testing.assert_allclose(
        net.train(X, Y, epochs=2, **kw), ref.train(X, Y, epochs=2, **kw), rtol=0, atol=1e-10
    )
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_reset_optimizer_starts_adam_afresh_in_both_engines():
    sizes = [3, 4, 2]
    net, ref = twins(sizes, "tanh", "sigmoid", "squared_error", seed=2)
    kept = fb.Network(sizes, activation="tanh", weights=net.weights, biases=net.biases)
    X, Y = problem(sizes, "sigmoid", "squared_error", n=6, seed=3)
    kw = dict(epochs=2, batch_size=None, learning_rate=0.01, optimizer="adam")
    for model in (net, ref, kept):
        model.train(X, Y, **kw)
    net.reset_optimizer()
    ref.reset_optimizer()
    before = net.params.copy()
    for model in (net, ref, kept):
        model.train(X, Y, **{**kw, "epochs": 1})
    # t = 1 again: Adam's first step moves each parameter by lr |g| / (|g| + eps / sqrt(1 - b2))
    moved = np.abs(net.params - before)
    np.testing.assert_allclose(moved[moved > 0], 0.01, rtol=1e-3)
    assert np.abs(kept.params - net.params).max() > 1e-4  # t = 3 with the old moments
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_engine_checks_the_optimiser_buffers_it_is_handed():
    from fastbp import _engine

    net = fb.Network([2, 3, 1], seed=0)
    n = net.params.size
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    buf = net._training_buffers(4, 2, 1)

    def run(**kw):
        args = (net._layout, net.params, X, Y, np.arange(4, dtype=np.int64), False, 0, 4,
                buf["acts"], buf["deltas"], buf["xb"], buf["yb"], buf["backup"], np.zeros(1),
                0.1, True)  # fmt: skip
        return _engine.train_epochs(*args, **kw)

    adam = _engine.OPTIMIZER_CODES["adam"]
    with pytest.raises(ValueError, match="the gradient buffer holds 0 values; at least"):
        run(optimizer=adam)
    with pytest.raises(ValueError, match=f"the optimizer state holds {n} values; at least {2 * n}"):
        run(optimizer=adam, grad=np.zeros(n), opt_state=np.zeros(n))
    with pytest.raises(ValueError, match="sample_weight holds 3 values; at least 4"):
        run(grad=np.zeros(n), opt_state=np.zeros(0), sw=np.ones(3))
    with pytest.raises(ValueError, match="unknown optimizer code"):
        run(optimizer=9)
    assert run(optimizer=adam, grad=np.zeros(n), opt_state=np.zeros(2 * n), t=5)[2] == 6
