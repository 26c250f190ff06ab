"""The command line with other libraries' files: FANN data and networks in,
``fastbp export --format {fann,onnx,c}`` out — each export checked by the
library that reads it (libfann, onnxruntime, the C compiler)."""

from __future__ import annotations

import csv
import os

import fann_lib
import numpy as np
import pytest
from fann_lib import SIGMOID_STEPWISE, Ann, skip_without_fann
from test_cli import call

import fastbp as fb
from fastbp import fann, io

DATA = fann_lib.DATA or ""
SPIRAL_TRAIN = os.path.join(DATA, "two-spiral.train")
SPIRAL_TEST = os.path.join(DATA, "two-spiral.test")
ROBOT_TRAIN, ROBOT_TEST = os.path.join(DATA, "robot.train"), os.path.join(DATA, "robot.test")
IRIS = os.path.join(os.path.dirname(__file__), "..", "examples", "iris.csv")


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def outputs_csv(text_or_path):
    names, rows = read_csv(text_or_path)
    return names, np.array(rows, dtype=np.float64)


def numeric_iris(tmp_path):
    """iris.csv without its text column: four measurements, all numbers."""
    names, rows = read_csv(IRIS)
    path = tmp_path / "measurements.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([names[:4]] + [r[:4] for r in rows])
    return path, np.array([r[:3] for r in rows], dtype=np.float64)


def train_fann_data(capsys, tmp_path, data=ROBOT_TRAIN, *extra):
    model = tmp_path / "model.fbp"
    status, out, err = call(
        capsys, "train", data, "--layers", "8", "--epochs", "5", "--quiet", "--out", model, *extra
    )
    assert status == 0, err
    return model, out


@fann_lib.skip_without_data
def test_train_on_a_fann_data_file_uses_its_inputs_and_outputs(capsys, tmp_path):
    model, out = train_fann_data(capsys, tmp_path)
    X, Y = fann.read_data(ROBOT_TRAIN)
    net = io.load(model)
    assert net.sizes == (X.shape[1], 8, Y.shape[1])
    assert net.activation == "tanh"  # the default for FANN data, which FANN can run
    assert net.output_activation == "sigmoid"  # robot's outputs lie in [0, 1]
    assert "FANN data" in out and "MSE" in out
    assert io.load_metadata(model)["metadata"]["source"] == "FANN data"


@fann_lib.skip_without_data
def test_predict_on_a_fann_data_file_writes_the_networks_outputs(capsys, tmp_path):
    model, _ = train_fann_data(capsys, tmp_path)
    preds = tmp_path / "preds.csv"
    status, _, err = call(capsys, "predict", model, ROBOT_TEST, "--out", preds)
    assert status == 0, err
    X, Y = fann.read_data(ROBOT_TEST)
    names, values = outputs_csv(preds)
    assert names == [f"output_{k + 1}" for k in range(Y.shape[1])]
    expected = io.load(model).predict(X)
    np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)
    mse = float(np.mean((expected - Y) ** 2))
    assert f"MSE {mse:.6g}" in err


@fann_lib.skip_without_data
def test_target_and_task_do_not_apply_to_fann_data(capsys, tmp_path):
    status, _, err = call(capsys, "train", ROBOT_TRAIN, "--target", "y", "--out", tmp_path / "m")
    assert status == 1
    assert "FANN data file: its outputs are the targets" in err


@fann_lib.skip_without_data
def test_a_malformed_fann_data_file_is_one_line_exit_1(capsys, tmp_path):
    bad = tmp_path / "bad.data"
    bad.write_text("3 2 1\n0 1\n1\n")
    status, out, err = call(capsys, "train", bad, "--out", tmp_path / "m.fbp")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "announces 3 samples" in err


# -- export, read by the other side -----------------------------------------


@fann_lib.skip_without_data
@skip_without_fann
def test_export_fann_of_a_fann_data_model_runs_in_libfann(capsys, tmp_path):
    model, _ = train_fann_data(capsys, tmp_path)
    net_file = tmp_path / "robot.net"
    status, _, err = call(capsys, "export", model, "--format", "fann", "--out", net_file)
    assert status == 0, err
    X, _ = fann.read_data(ROBOT_TEST)
    with Ann.from_file(net_file) as ann:
        np.testing.assert_allclose(ann.run(X), io.load(model).predict(X), rtol=0, atol=1e-12)


@fann_lib.skip_without_data
@skip_without_fann
def test_export_fann_of_a_csv_regression_carries_its_standardisation(capsys, tmp_path):
    """FANN's scaling block holds fastbp train's standardisation: libfann, scaling
    the raw features and unscaling the output, predicts what fastbp predict writes."""
    model = tmp_path / "petal.fbp"
    data, X = numeric_iris(tmp_path)
    args = ["train", data, "--target", "petal_width", "--activation", "tanh", "--epochs", "5"]
    status, _, err = call(capsys, *args, "--quiet", "--out", model)
    assert status == 0, err
    status, _, err = call(capsys, "export", model, "--format", "fann", "--out", tmp_path / "p.net")
    assert status == 0, err
    assert "'petal_width' in its own units" in err
    status, out, err = call(capsys, "predict", model, data)
    assert status == 0, err
    predicted = outputs_csv_text(out)[:, 0]
    with Ann.from_file(tmp_path / "p.net") as ann:
        ours = ann.run(X, scaled=True)[:, 0]
    np.testing.assert_allclose(ours, predicted, rtol=1e-6, atol=1e-6)  # FANN scales in float


@fann_lib.skip_without_data
@skip_without_fann
def test_a_fann_network_predicts_info_and_exports_on_the_command_line(capsys, tmp_path):
    path = tmp_path / "fann.net"
    with Ann.standard([2, 5, 1]) as ann:
        ann.set_activation_function_hidden(5)
        ann.set_activation_function_output(3)
        ann.randomize_weights(-1.0, 1.0)
        assert ann.save(str(path).encode()) == 0
    status, out, err = call(capsys, "predict", path, SPIRAL_TEST)
    assert status == 0, err
    X, _ = fann.read_data(SPIRAL_TEST)
    with Ann.from_file(path) as ann:
        expected = ann.run(X)
    np.testing.assert_allclose(outputs_csv_text(out), expected, rtol=1e-9, atol=1e-12)
    status, out, _ = call(capsys, "info", path)
    assert status == 0 and "FANN network (FANN_FLO_2.1)" in out and "2-5-1" in out
    status, _, err = call(capsys, "export", path, "--format", "onnx", "--out", tmp_path / "f.onnx")
    assert status == 0, err
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(onnx_out, expected, rtol=0, atol=1e-12)


def outputs_csv_text(text):
    rows = list(csv.reader(text.splitlines()))
    return np.array(rows[1:], dtype=np.float64)


@fann_lib.skip_without_data
@skip_without_fann
def test_a_stepwise_fann_network_needs_stepwise_exact(capsys, tmp_path):
    path = tmp_path / "default.net"
    with Ann.standard([2, 4, 1]) as ann:
        ann.set_activation_function_output(SIGMOID_STEPWISE)
        assert ann.save(str(path).encode()) == 0
    status, _, err = call(capsys, "predict", path, SPIRAL_TEST)
    assert status == 1 and "FANN_SIGMOID_STEPWISE" in err and "--stepwise exact" in err
    status, out, err = call(capsys, "predict", path, SPIRAL_TEST, "--stepwise", "exact")
    assert status == 0 and "warning:" in err and "outputs may move by up to" in err
    X, _ = fann.read_data(SPIRAL_TEST)
    with Ann.from_file(path) as ann:
        gap = np.max(np.abs(outputs_csv_text(out) - ann.run(X)))
    bound = float(err.split("outputs may move by up to ")[1].split()[0])
    assert 0 < gap <= bound


@fann_lib.skip_without_data
def test_export_onnx_of_a_csv_classifier_gives_the_probabilities_of_raw_features(capsys, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = tmp_path / "iris.fbp"
    status, _, err = call(capsys, "train", IRIS, "--target", "species", "--quiet", "--out", model)
    assert status == 0, err
    status, _, err = call(capsys, "export", model, "--format", "onnx", "--out", tmp_path / "i.onnx")
    assert status == 0, err
    assert "probabilities of setosa, versicolor, virginica" in err
    names, rows = read_csv(IRIS)
    X = np.array([[float(v) for v in r[:4]] for r in rows])
    session = ort.InferenceSession(str(tmp_path / "i.onnx"), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {session.get_inputs()[0].name: X})
    status, out, _ = call(capsys, "predict", model, IRIS)
    labels = [row[0] for row in csv.reader(out.splitlines()[1:])]
    classes = ["setosa", "versicolor", "virginica"]
    assert [classes[k] for k in probabilities.argmax(axis=1)] == labels
    meta = io.load_metadata(model)["metadata"]
    standardised = (X - np.array(meta["x_mean"])) / np.array(meta["x_scale"])
    np.testing.assert_allclose(probabilities, io.load(model).predict(standardised), atol=1e-12)


@fann_lib.skip_without_data
def test_export_c_of_a_csv_regression_compiles_and_predicts(capsys, tmp_path):
    from test_export_c import CC, build, run

    if CC is None:
        pytest.skip("no C compiler")
    model = tmp_path / "petal.fbp"
    data, X = numeric_iris(tmp_path)
    status, _, err = call(
        capsys, "train", data, "--target", "petal_width", "--quiet", "--out", model
    )
    assert status == 0, err
    status, _, err = call(capsys, "export", model, "--format", "c", "--out", tmp_path / "model.c")
    assert status == 0, err
    status, out, _ = call(capsys, "predict", model, data)
    predicted = outputs_csv_text(out)[:, 0]
    exe = build(tmp_path, [tmp_path / "model.c"], [("model", "float64")])
    single, batch = run(exe, [io.load(model)], [X])[0]
    np.testing.assert_allclose(single[:, 0], predicted, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(single, batch)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "fann"], "uses relu, which FANN 2.2 does not have"),
        (["--format", "xml"], None),
    ],
)
@fann_lib.skip_without_data
def test_export_errors(capsys, tmp_path, args, message):
    model = tmp_path / "iris.fbp"
    status, _, err = call(capsys, "train", IRIS, "--target", "species", "--quiet", "--out", model)
    assert status == 0
    out = tmp_path / "out.file"
    if message is None:
        with pytest.raises(SystemExit) as exit_info:
            call(capsys, "export", model, *args, "--out", out)
        assert exit_info.value.code == 2
    else:
        status, _, err = call(capsys, "export", model, *args, "--out", out)
        assert status == 1 and message in err and err.count("\n") == 1
    assert not out.exists()


@fann_lib.skip_without_data
def test_export_refuses_a_missing_model_and_a_directory(capsys, tmp_path):
    status, _, err = call(capsys, "export", tmp_path / "nope.fbp", "--format", "c", "--out", "x.c")
    assert status == 1 and "no such model file" in err
    fb.Network([2, 1], seed=0).save(tmp_path / "m.fbp")
    status, _, err = call(capsys, "export", tmp_path / "m.fbp", "--format", "c", "--out", tmp_path)
    assert status == 1 and "is a directory" in err
