"""The classic 2-2-2 worked example, through the public API, to its published digits."""

import numpy as np
import pytest

import fastbp as fb
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X


@pytest.fixture
def net():
    return fb.Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)


def one_update(net):
    return net.train(
        WORKED_X, WORKED_T, epochs=1, batch_size=1, learning_rate=0.5, train_biases=False
    )


def test_forward_pass_matches_published_outputs(net):
    np.testing.assert_allclose(net.predict(WORKED_X)[0], [0.75136507, 0.77292847], atol=5e-9)


def test_total_error_matches_published_value(net):
    assert net.loss(WORKED_X, WORKED_T) == pytest.approx(0.298371109, abs=5e-10)


def test_one_update_gives_published_weights(net):
    one_update(net)
    # w1..w4 into the hidden layer, w5..w8 into the output layer (from -> to)
    W1, W2 = net.weights
    np.testing.assert_allclose(
        [W1[0, 0], W1[1, 0], W1[0, 1], W1[1, 1]],
        [0.149780716, 0.19956143, 0.24975114, 0.29950229],
        atol=5e-9,
    )
    np.testing.assert_allclose(
        [W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]],
        [0.35891648, 0.408666186, 0.511301270, 0.561370121],
        atol=5e-9,
    )


def test_one_update_keeps_biases_fixed(net):
    one_update(net)
    np.testing.assert_array_equal(net.biases[0], [0.35, 0.35])
    np.testing.assert_array_equal(net.biases[1], [0.60, 0.60])


def test_error_after_one_update(net):
    one_update(net)
    assert net.loss(WORKED_X, WORKED_T) == pytest.approx(0.291027774, abs=5e-10)


def test_history_reports_error_seen_before_each_update(net):
    history = net.train(
        WORKED_X, WORKED_T, epochs=2, batch_size=1, learning_rate=0.5, train_biases=False
    )
    assert history == pytest.approx([0.298371109, 0.291027774], abs=5e-10)


def test_ten_thousand_updates(net):
    net.train(
        WORKED_X, WORKED_T, epochs=10_000, batch_size=1, learning_rate=0.5, train_biases=False
    )
    assert net.loss(WORKED_X, WORKED_T) == pytest.approx(3.51e-05, rel=1e-3)
    np.testing.assert_allclose(net.predict(WORKED_X)[0], [0.015914, 0.984064], atol=1e-6)


def test_training_biases_per_neuron_changes_the_result(net):
    net.train(WORKED_X, WORKED_T, epochs=1, batch_size=1, learning_rate=0.5)
    assert net.loss(WORKED_X, WORKED_T) == pytest.approx(0.280471447, abs=5e-10)


def test_float32_follows_float64():
    net = fb.Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES, dtype="float32")
    net.train(WORKED_X, WORKED_T, epochs=1, batch_size=1, learning_rate=0.5, train_biases=False)
    assert net.params.dtype == np.float32
    assert net.loss(WORKED_X, WORKED_T) == pytest.approx(0.291027774, abs=1e-6)
