"""FANN's files, checked by libfann itself (2.2, loaded with ctypes).

Networks fastbp writes are loaded by ``fann_create_from_file`` and run with
``fann_run``; networks libfann creates, trains and saves are loaded by fastbp;
data files go both ways.  Skipped, with the reason, without libfann.
"""

from __future__ import annotations

import os

import fann_lib
import numpy as np
import pytest
from fann_lib import (
    ERRORFUNC_LINEAR,
    LINEAR,
    SIGMOID,
    SIGMOID_STEPWISE,
    SIGMOID_SYMMETRIC,
    SIGMOID_SYMMETRIC_STEPWISE,
    TRAIN_INCREMENTAL,
    Ann,
    read_train,
    save_train,
    set_scaling,
    skip_without_fann,
)

import fastbp as fb
from fastbp import fann

pytestmark = skip_without_fann

DATA = fann_lib.DATA or ""
DATA_FILES = sorted(f for f in os.listdir(DATA) if f.endswith((".train", ".test"))) if DATA else []
ACTIVATIONS = ("sigmoid", "tanh", "identity")
CODES = {"identity": LINEAR, "sigmoid": SIGMOID, "tanh": SIGMOID_SYMMETRIC}
rng = np.random.default_rng(0)


def _inputs(n_in: int, n: int = 50, scale: float = 2.0) -> np.ndarray:
    return np.random.default_rng(n_in).uniform(-scale, scale, (n, n_in))


def _fann_trained(
    tmp_path,
    sizes,
    hidden: int,
    output: int,
    steepness: tuple[float, float],
    connection_rate: float = 1.0,
    name: str = "fann.net",
) -> str:
    """A network libfann creates, trains for a few online updates and saves."""
    path = str(tmp_path / name)
    X = _inputs(sizes[0], 40, 1.0)
    Y = np.tanh(X @ np.ones((sizes[0], sizes[-1])) / sizes[0]) * 0.4 + 0.5
    with Ann.standard(sizes, connection_rate) as ann:
        ann.set_activation_function_hidden(hidden)
        ann.set_activation_function_output(output)
        ann.set_activation_steepness_hidden(steepness[0])
        ann.set_activation_steepness_output(steepness[1])
        ann.randomize_weights(-1.0, 1.0)
        ann.set_training_algorithm(TRAIN_INCREMENTAL)
        ann.set_learning_rate(0.05)  # small enough that linear layers do not diverge
        ann.set_train_error_function(ERRORFUNC_LINEAR)
        ann.train_rows(X, Y)
        assert ann.save(path.encode()) == 0
    return path


def _fann_run(path, X, scaled: bool = False) -> np.ndarray:
    with Ann.from_file(path) as ann:
        return ann.run(X, scaled)


# -- fastbp -> libfann ---------------------------------------------------------


@pytest.mark.parametrize("hidden", ACTIVATIONS)
@pytest.mark.parametrize("output", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [[3, 5, 4, 2], [4, 1], [2, 7, 3]])
def test_fann_runs_what_fastbp_saves(tmp_path, hidden, output, sizes):
    net = fb.Network(sizes, activation=hidden, output_activation=output, seed=1)
    path = tmp_path / "net.net"
    fann.save(net, path)
    X = _inputs(sizes[0])
    np.testing.assert_allclose(_fann_run(path, X), net.predict(X), rtol=0, atol=1e-12)


def test_fann_saves_back_the_very_file_fastbp_wrote(tmp_path):
    """libfann reads all of fastbp's file: saving what it loaded rewrites it byte for byte."""
    net = fb.Network([3, 4, 2], activation="tanh", output_activation="identity", seed=2)
    ours, theirs = tmp_path / "ours.net", tmp_path / "theirs.net"
    fann.save(net, ours, training={"learning_rate": 0.25, "rprop_delta_max": 20.0})
    with Ann.from_file(ours) as ann:
        assert ann.save(str(theirs).encode()) == 0
    assert theirs.read_text() == ours.read_text()


def test_a_float32_network_saves_its_float32_values(tmp_path):
    net = fb.Network([3, 6, 2], activation="tanh", dtype="float32", seed=3)
    fann.save(net, tmp_path / "f32.net")
    X = _inputs(3).astype(np.float32)
    expected = net.predict(X).astype(np.float64)
    np.testing.assert_allclose(_fann_run(tmp_path / "f32.net", X), expected, atol=1e-6)
    again = fann.load(tmp_path / "f32.net", dtype="float32")
    np.testing.assert_array_equal(again.params, net.params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_estimator_saves_its_network(tmp_path):
    from fastbp.sklearn import BPRegressor

    X = _inputs(3, 60)
    y = X.sum(axis=1)
    reg = BPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=20, random_state=0)
    reg.fit(X, y)
    fann.save(reg, tmp_path / "reg.net")
    np.testing.assert_allclose(
        _fann_run(tmp_path / "reg.net", X)[:, 0], reg.predict(X), rtol=0, atol=1e-12
    )


# -- libfann -> fastbp ---------------------------------------------------------


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("output", ["sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("steepness", [(0.5, 1.0), (0.25, 1.7), (1.3, 0.5)])
def test_fastbp_loads_what_fann_trained(tmp_path, hidden, output, steepness):
    path = _fann_trained(tmp_path, [3, 6, 2], CODES[hidden], CODES[output], steepness)
    net = fann.load(path)
    assert (net.activation, net.output_activation) == (hidden, output)
    X = _inputs(3)  # a linear output stays far inside FANN's clip at 150/steepness
    np.testing.assert_allclose(net.predict(X), _fann_run(path, X), rtol=0, atol=1e-12)


def test_fastbp_loads_a_deep_fann_network(tmp_path):
    path = _fann_trained(tmp_path, [5, 8, 7, 6, 3], SIGMOID_SYMMETRIC, SIGMOID, (0.7, 0.9))
    net, info = fann.read_net(path)
    assert net.sizes == (5, 8, 7, 6, 3)
    assert info.missing_connections == 0 and info.connection_rate == 1.0
    X = _inputs(5)
    np.testing.assert_allclose(net.predict(X), _fann_run(path, X), rtol=0, atol=1e-12)


def test_a_sparse_fann_network_loads_with_zero_weights(tmp_path):
    path = _fann_trained(tmp_path, [6, 8, 3], SIGMOID_SYMMETRIC, SIGMOID, (0.5, 0.5), 0.4)
    net, info = fann.read_net(path)
    assert info.connection_rate < 1
    n_connections = open(path).read().split("connections (connected_to_neuron, weight)=")[1]
    listed = n_connections.count("(")
    dense = sum((a + 1) * b for a, b in zip(net.sizes, net.sizes[1:]))
    assert info.missing_connections == dense - listed > 0
    assert np.count_nonzero(net.params) <= listed
    X = _inputs(6)
    np.testing.assert_allclose(net.predict(X), _fann_run(path, X), rtol=0, atol=1e-12)
    assert info.to_metadata()["missing_connections"] == info.missing_connections


def test_fastbp_keeps_fann_training_parameters(tmp_path):
    path = _fann_trained(tmp_path, [2, 3, 1], SIGMOID, SIGMOID, (0.5, 0.5))
    with Ann.from_file(path) as ann:
        ann.set_learning_rate(0.125)
        ann.set_training_algorithm(TRAIN_INCREMENTAL)
        assert ann.save(path.encode()) == 0
    net, info = fann.read_net(path)
    assert info.training["learning_rate"] == 0.125
    assert info.training["training_algorithm"] == TRAIN_INCREMENTAL
    again = tmp_path / "again.net"
    fann.save(net, again, training=info.training)
    before = open(path).read().split("layer_sizes")[0]
    assert again.read_text().split("layer_sizes")[0] == before


# -- scaling -------------------------------------------------------------------


@fann_lib.skip_without_data
def test_fann_scaling_is_kept_and_applied_as_fann_applies_it(tmp_path):
    data = os.path.join(DATA, "two-spiral.train")
    path = str(tmp_path / "scaled.net")
    with Ann.standard([2, 6, 1]) as ann:
        ann.set_activation_function_hidden(SIGMOID_SYMMETRIC)
        ann.set_activation_function_output(SIGMOID_SYMMETRIC)
        ann.randomize_weights(-1.0, 1.0)
        set_scaling(ann, data, -1.0, 1.0)
        assert ann.save(path.encode()) == 0
    net, info = fann.read_net(path)
    assert info.scaling is not None
    X, _ = fann.read_data(data)
    ours = info.scaling.unscale_outputs(net.predict(info.scaling.scale_inputs(X)))
    # libfann holds the scaling in float: agreement to float precision.
    np.testing.assert_allclose(ours, _fann_run(path, X, scaled=True), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        info.scaling.scale_outputs(ours), net.predict(info.scaling.scale_inputs(X)), atol=1e-12
    )

    # and written back: libfann applies fastbp's scaling block the same way
    fann.save(net, tmp_path / "back.net", scaling=info.scaling)
    back = _fann_run(tmp_path / "back.net", X, scaled=True)
    np.testing.assert_allclose(back, ours, rtol=1e-6, atol=1e-6)


# -- stepwise ------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation, code, exact",
    [
        ("sigmoid", SIGMOID_STEPWISE, SIGMOID),
        ("tanh", SIGMOID_SYMMETRIC_STEPWISE, SIGMOID_SYMMETRIC),
    ],
)
def test_the_stepwise_error_constant_is_libfanns(tmp_path, activation, code, exact):
    """fann.STEPWISE_ERROR is the largest gap between FANN's stepwise function and the exact one."""
    net = fb.Network([1, 1], output_activation=activation, weights=[[[1.0]]], biases=[[0.0]])
    path = tmp_path / "one.net"
    fann.save(net, path)
    path.write_text(path.read_text().replace(f"(2, {exact}, ", f"(2, {code}, "))
    x = np.linspace(-12, 12, 240001)[:, None]
    gap = float(np.max(np.abs(_fann_run(path, x) - net.predict(x))))
    assert 0.99 * fann.STEPWISE_ERROR[activation] < gap <= fann.STEPWISE_ERROR[activation]


def test_stepwise_networks_are_refused_by_name(tmp_path):
    path = tmp_path / "default.net"
    with Ann.standard([2, 4, 1]) as ann:  # FANN's default: FANN_SIGMOID_STEPWISE
        assert ann.save(str(path).encode()) == 0
    with pytest.raises(ValueError, match="FANN_SIGMOID_STEPWISE.*stepwise='exact'"):
        fann.load(path)


@pytest.mark.parametrize(
    "codes",
    [
        (SIGMOID_STEPWISE, SIGMOID_STEPWISE),
        (SIGMOID_SYMMETRIC_STEPWISE, SIGMOID_STEPWISE),
        (SIGMOID_SYMMETRIC, SIGMOID_SYMMETRIC_STEPWISE),
    ],
)
def test_stepwise_read_as_exact_stays_within_its_bound(tmp_path, codes):
    path = _fann_trained(tmp_path, [3, 8, 6, 2], codes[0], codes[1], (0.5, 0.5))
    with pytest.warns(UserWarning, match="outputs may move by up to"):
        net, info = fann.read_net(path, stepwise="exact")
    assert info.stepwise and info.stepwise_bound > 0
    X = _inputs(3, 400, 3.0)
    gap = float(np.max(np.abs(net.predict(X) - _fann_run(path, X))))
    assert 0 < gap <= info.stepwise_bound


# -- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden, output, named",
    [
        ("relu", "sigmoid", "relu"),
        ("leaky_relu", "identity", "leaky_relu"),
        ("tanh", "softmax", "softmax"),
    ],
)
def test_save_refuses_what_fann_lacks_and_keeps_the_old_file(tmp_path, hidden, output, named):
    path = tmp_path / "kept.net"
    fann.save(fb.Network([2, 3, 2], seed=0), path)
    before = path.read_bytes()
    loss = "cross_entropy" if output == "softmax" else "squared_error"
    net = fb.Network([2, 3, 2], activation=hidden, output_activation=output, loss=loss)
    with pytest.raises(ValueError, match=f"uses {named}, which FANN 2.2 does not have"):
        fann.save(net, path)
    assert path.read_bytes() == before


def test_save_refuses_nan_parameters_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "kept.net"
    net = fb.Network([2, 3, 1], seed=0)
    fann.save(net, path)
    before = path.read_bytes()
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite parameters"):
        fann.save(net, path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "code, name",
    [
        (7, "FANN_GAUSSIAN"),
        (10, "FANN_ELLIOT"),
        (1, "FANN_THRESHOLD"),
        (14, "FANN_SIN_SYMMETRIC"),
        (12, "FANN_LINEAR_PIECE"),
    ],
)
def test_other_activations_are_refused_by_name(tmp_path, code, name):
    path = _fann_trained(tmp_path, [2, 3, 1], SIGMOID, SIGMOID, (0.5, 0.5))
    with Ann.from_file(path) as ann:
        ann.set_activation_function_hidden(code)
        assert ann.save(path.encode()) == 0
    with pytest.raises(ValueError, match=f"uses {name}, which fastbp does not support"):
        fann.load(path)


def test_mixed_hidden_layers_are_refused(tmp_path):
    path = _fann_trained(tmp_path, [2, 3, 3, 1], SIGMOID, SIGMOID, (0.5, 0.5))
    with Ann.from_file(path) as ann:
        ann.set_activation_function_layer(SIGMOID_SYMMETRIC, 2)
        assert ann.save(path.encode()) == 0
    with pytest.raises(ValueError, match="hidden layers use different activations"):
        fann.load(path)


def test_shortcut_and_fixed_point_files_are_refused(tmp_path):
    path = _fann_trained(tmp_path, [2, 3, 1], SIGMOID, SIGMOID, (0.5, 0.5))
    text = open(path).read()
    shortcut, fixed = tmp_path / "shortcut.net", tmp_path / "fixed.net"
    shortcut.write_text(text.replace("network_type=0", "network_type=1"))
    fixed.write_text(text.replace("FANN_FLO_2.1", "FANN_FIX_2.0"))
    with pytest.raises(ValueError, match="shortcut network .network_type=1"):
        fann.load(shortcut)
    with pytest.raises(ValueError, match="fixed-point FANN network .FANN_FIX_2.0"):
        fann.load(fixed)


def test_a_fann_2_1_file_without_the_cascade_min_keys_loads(tmp_path):
    path = _fann_trained(tmp_path, [2, 3, 1], SIGMOID, SIGMOID, (0.5, 0.5))
    lines = [line for line in open(path) if not line.startswith("cascade_min_")]
    older = tmp_path / "older.net"
    older.write_text("".join(lines))
    X = _inputs(2)
    np.testing.assert_allclose(fann.load(older).predict(X), _fann_run(path, X), atol=1e-12)


# -- data files ----------------------------------------------------------------


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_shared_data_file_reads_as_libfann_reads_it(name):
    X, Y = fann.read_data(os.path.join(DATA, name))
    X_fann, Y_fann = read_train(os.path.join(DATA, name))
    np.testing.assert_array_equal(X, X_fann)
    np.testing.assert_array_equal(Y, Y_fann)


@fann_lib.skip_without_data
def test_libfann_reads_the_data_fastbp_writes_exactly(tmp_path):
    X = rng.normal(size=(37, 5)) * 10.0 ** rng.integers(-8, 8, size=(37, 5))
    Y = np.round(rng.normal(size=(37, 3)), 2)
    fann.write_data(tmp_path / "ours.data", X, Y)
    X_fann, Y_fann = read_train(tmp_path / "ours.data")
    np.testing.assert_array_equal(X_fann, X)
    np.testing.assert_array_equal(Y_fann, Y)
    np.testing.assert_array_equal(fann.read_data(tmp_path / "ours.data")[0], X)


@fann_lib.skip_without_data
def test_fastbp_reads_the_data_libfann_writes(tmp_path):
    save_train(os.path.join(DATA, "robot.train"), tmp_path / "theirs.data")
    X, Y = fann.read_data(tmp_path / "theirs.data")
    X_fann, Y_fann = read_train(tmp_path / "theirs.data")
    np.testing.assert_array_equal(X, X_fann)
    np.testing.assert_array_equal(Y, Y_fann)
    assert X.shape == (len(Y), X_fann.shape[1])


def test_the_readmes_three_lines_bring_a_fann_network_and_data_over(tmp_path, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Coming from FANN")[1].split("```python\n")[1].split("```")[0]
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[-1.0], [1.0], [1.0], [-1.0]])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xor.data").write_text(
        "4 2 1\n" + "".join(f"{a:g} {b:g}\n{t:g}\n" for (a, b), (t,) in zip(X, Y))
    )
    _fann_trained(
        tmp_path, [2, 3, 1], SIGMOID_SYMMETRIC, SIGMOID_SYMMETRIC, (1.0, 1.0), 1.0, "xor.net"
    )
    namespace: dict = {}
    exec(block, namespace)
    np.testing.assert_array_equal(namespace["X"], read_train("xor.data")[0])
    np.testing.assert_array_equal(namespace["Y"], read_train("xor.data")[1])
    np.testing.assert_allclose(namespace["net"].predict(X), _fann_run("xor.net", X), atol=1e-12)
