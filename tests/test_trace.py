"""fastbp.trace: the worked example's chain rule, neuron by neuron, to the published digits."""

import json

import numpy as np
import pytest

import fastbp as fb
from fastbp.classic import WORKED_T, WORKED_X, worked_network


@pytest.fixture
def step():
    return fb.trace(
        worked_network(), WORKED_X[0], WORKED_T[0], learning_rate=0.5, train_biases=False
    )


def test_forward_values_match_the_worked_example(step):
    # net_h1 = 0.15 * 0.05 + 0.2 * 0.1 + 0.35, out_h1 = sigmoid(net_h1), and so on.
    assert step.neuron("h1").net == pytest.approx(0.3775, abs=1e-12)
    assert step.neuron("h1").out == pytest.approx(0.593269992, abs=5e-10)
    assert step.neuron("h2").out == pytest.approx(0.596884378, abs=5e-10)
    assert step.neuron("o1").net == pytest.approx(1.105905967, abs=5e-10)
    assert step.outputs == pytest.approx((0.75136507, 0.772928465), abs=5e-9)
    assert step.error == pytest.approx(0.298371109, abs=5e-10)


def test_output_layer_chain_rule_matches_published_figures(step):
    o1, o2 = step.neuron("o1"), step.neuron("o2")
    assert o1.dE_dout == pytest.approx(0.74136507, abs=5e-9)
    assert o1.dout_dnet == pytest.approx(0.186815602, abs=5e-10)
    assert o1.delta == pytest.approx(0.138498562, abs=5e-10)
    assert o2.dE_dout == pytest.approx(-0.217071535, abs=5e-10)
    assert o2.delta == pytest.approx(-0.038098237, abs=5e-10)


def test_hidden_layer_chain_rule_matches_published_figures(step):
    h1 = step.neuron("h1")
    assert h1.dE_dout == pytest.approx(0.036350306, abs=5e-10)
    assert h1.dout_dnet == pytest.approx(0.241300709, abs=5e-10)
    assert h1.delta == pytest.approx(0.036350306 * 0.241300709, abs=1e-9)
    for n in step.neurons:
        assert n.delta == pytest.approx(n.dE_dout * n.dout_dnet, rel=1e-12)


def test_weight_gradients_and_updates_match_published_figures(step):
    w5, w1 = step.weight("w5"), step.weight("w1")
    assert (w5.source, w5.target, w5.value) == ("h1", "o1", 0.40)
    assert w5.gradient == pytest.approx(0.082167041, abs=5e-10)
    assert w5.new_value == pytest.approx(0.35891648, abs=5e-9)
    assert (w1.source, w1.target) == ("i1", "h1")
    assert w1.gradient == pytest.approx(0.000438568, abs=5e-10)
    new = [step.weight(f"w{k}").new_value for k in range(1, 9)]
    published = [0.149780716, 0.19956143, 0.24975114, 0.29950229,
                 0.35891648, 0.408666186, 0.511301270, 0.561370121]  # fmt: skip
    np.testing.assert_allclose(new, published, atol=5e-9)
    assert step.error_after == pytest.approx(0.291027774, abs=5e-10)


def test_biases_get_gradients_but_stay_fixed(step):
    b = step.bias("b_o1")
    assert b.gradient == pytest.approx(0.138498562, abs=5e-10)
    assert b.value == b.new_value == 0.60


def test_trained_biases_give_the_per_neuron_result():
    step = fb.trace(worked_network(), WORKED_X[0], WORKED_T[0], learning_rate=0.5)
    assert step.bias("b_o1").new_value == pytest.approx(0.60 - 0.5 * 0.138498562, abs=1e-9)
    assert step.error_after == pytest.approx(0.280471447, abs=5e-10)


def test_trace_leaves_the_network_unchanged():
    net = worked_network()
    before = net.params.copy()
    fb.trace(net, WORKED_X[0], WORKED_T[0])
    np.testing.assert_array_equal(net.params, before)


def test_trace_agrees_with_gradients_on_a_deeper_network():
    net = fb.Network([3, 4, 3, 2], activation="tanh", seed=3)
    x, t = [0.3, -0.1, 0.8], [0.2, 0.7]
    step = fb.trace(net, x, t, learning_rate=0.1)
    dW, db = net.gradients([x], [t])
    assert [n.name for n in step.neurons[:5]] == ["h1_1", "h1_2", "h1_3", "h1_4", "h2_1"]
    assert len(step.weights) == 3 * 4 + 4 * 3 + 3 * 2
    flat = [g for W in dW for g in W.T.ravel()]
    np.testing.assert_allclose([w.gradient for w in step.weights], flat, rtol=1e-12)
    np.testing.assert_allclose([b.gradient for b in step.biases], np.concatenate(db), rtol=1e-12)
    for n in step.neurons:
        assert n.delta == pytest.approx(n.dE_dout * n.dout_dnet, rel=1e-9, abs=1e-15)


def test_softmax_output_has_no_per_neuron_split():
    net = fb.Network([2, 3, 2], output_activation="softmax", loss="cross_entropy", seed=0)
    step = fb.trace(net, [0.5, -0.5], [1.0, 0.0])
    o1 = step.neuron("o1")
    assert o1.dE_dout is None and o1.dout_dnet is None
    assert o1.delta == pytest.approx(o1.out - 1.0, abs=1e-12)
    assert "out - target" in str(step)


def test_str_reads_as_the_chain_rule(step):
    text = str(step)
    assert "delta = dE/dout * dout/dnet" in text
    assert "w5      h1 -> o1" in text
    assert "0.082167041" in text and "0.358916480" in text
    assert "total error after the update: 0.291027774" in text


def test_to_dict_is_json_ready(step):
    record = json.loads(json.dumps(step.to_dict()))
    assert record["outputs"] == pytest.approx([0.75136507, 0.772928465], abs=5e-9)
    w5 = next(w for w in record["weights"] if w["name"] == "w5")
    assert w5["gradient"] == pytest.approx(0.082167041, abs=5e-10)


def test_trace_takes_one_sample_only():
    with pytest.raises(ValueError, match="one sample"):
        fb.trace(worked_network(), [[0.05, 0.1], [0.1, 0.2]], [[0.01, 0.99], [0.5, 0.5]])


def test_unknown_names_are_reported(step):
    with pytest.raises(KeyError, match="no weight called 'w9'"):
        step.weight("w9")


def test_float32_network_traces_in_float32_close_to_float64():
    from fastbp.classic import WORKED_BIASES, WORKED_WEIGHTS

    net = fb.Network([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES, dtype="float32")
    step = fb.trace(net, WORKED_X[0], WORKED_T[0], learning_rate=0.5, train_biases=False)
    assert step.weight("w5").gradient == pytest.approx(0.082167041, abs=1e-7)
    assert step.neuron("h1").dout_dnet == pytest.approx(0.241300709, abs=1e-7)


def test_wrong_sample_width_is_reported():
    with pytest.raises(ValueError, match="the network expects 2"):
        fb.trace(worked_network(), [0.05, 0.1, 0.2], WORKED_T[0])


def test_sigmoid_output_under_cross_entropy_has_no_per_neuron_split():
    net = fb.Network([2, 3, 1], loss="cross_entropy", seed=0)
    step = fb.trace(net, [0.5, -0.5], [1.0])
    o1 = step.neuron("o1")
    assert o1.dE_dout is None and o1.dout_dnet is None
    assert o1.delta == pytest.approx(o1.out - 1.0, abs=1e-12)
    h1 = step.neuron("h1")
    assert h1.delta == pytest.approx(h1.dE_dout * h1.dout_dnet, rel=1e-12)


def test_trace_records_the_architecture_but_its_dtype():
    net = fb.Network([3, 4, 2], activation="relu", output_activation="identity", seed=1)
    step = fb.trace(net, [0.1, 0.2, 0.3], [0.0, 1.0])
    arch = net.architecture
    assert (step.sizes, step.activation, step.output_activation, step.loss) == (
        arch.sizes,
        arch.activation,
        arch.output_activation,
        arch.loss,
    )
    assert "dtype" not in step.to_dict()
