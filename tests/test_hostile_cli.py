"""Hostile input to the command line: every command works or exits with status 1
(2 for a usage error) and a message that names what is wrong; never a
traceback, never a warning, never garbage printed as a result.

The families: wide CSV files, data of large (and tiny) magnitude, model files
written by the public API with metadata the command line did not write
("metadata mutations for the command line"), command-line numbers out of range
and trace files whose numbers and booleans are not JSON numbers and booleans.
"""

import contextlib
import copy
import csv
import io
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastbp as fb
from fastbp.cli import main


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def call(*args):
    """Run the command line in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def run(*args, timeout=120):
    """Run ``python -m fastbp`` in a subprocess, as a user does."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "fastbp", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _text(value):
    """A CSV field that reads back as ``value`` exactly."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str) else repr(value)


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(map(_text, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def usage_error(*args):
    """The stderr of a usage error (exit status 2), failing if there is none."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit:
        main([str(a) for a in args])
    assert exit.value.code == 2
    return err.getvalue()


# -- wide CSV files ------------------------------------------------------------

# The old header check and column lookups took time quadratic in the number of
# columns: 21 s to read 20,000 columns, minutes for this many.  Read in linear
# time this file trains and predicts in a few seconds, so the timeout (a
# subprocess's, no timing assert) is generous.
WIDE = 50_000


def test_a_wide_csv_trains_and_predicts_in_linear_time(tmp_path):
    names = [f"c{k}" for k in range(WIDE)]
    rows = [[float((r * 7 + k) % 5) for k in range(WIDE)] + [r % 2] for r in range(6)]
    data = write_csv(tmp_path / "wide.csv", [*names, "y"], rows)
    model = tmp_path / "wide.fbp"
    train = run(
        "train", data, "--target", "y", "--layers", "2", "--epochs", "1", "--val-fraction", "0",
        "--out", model, "--quiet", timeout=30,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert f"network: {WIDE}-2-2" in train.stdout
    predict = run("predict", model, data, timeout=30)
    assert predict.returncode == 0, predict.stderr
    assert predict.stdout.split()[0] == "y" and len(predict.stdout.split()) == 7


def test_a_wide_header_still_names_its_duplicate_columns(tmp_path):
    names = [f"c{k}" for k in range(WIDE)] + ["c7", "c123"]
    data = write_csv(tmp_path / "dup.csv", names, [[1.0] * len(names)] * 2)
    status, _, err = call("train", data, "--target", "c1")
    assert status == 1
    assert "the header names c123, c7 more than once" in err


# -- data of large and tiny magnitude ----------------------------------------


def test_regression_on_values_near_1e300_trains_and_predicts(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 60))
    rows = [[x * 1e300, z, (x - z) * 1e300] for x, z in zip(a, b)]
    data = write_csv(tmp_path / "big.csv", ["a", "b", "y"], rows)
    model = tmp_path / "big.fbp"
    status, out, err = call(
        "train", data, "--target", "y", "--layers", "8", "--epochs", "60", "--lr", "0.05",
        "--out", model, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    validation_r2 = float(out.split("validation:")[1].split("R^2 ")[1].split()[0])
    assert validation_r2 > 0.8  # neither nan nor a feature scaled to 0
    x_scale = fb.io.load_metadata(model)["metadata"]["x_scale"]
    assert 0.5e300 < x_scale[0] < 2e300 and 0.5 < x_scale[1] < 2  # standard deviations
    status, out, err = call("predict", model, data)
    assert status == 0, err
    predicted = np.array(out.split()[1:], dtype=float)
    assert np.all(np.isfinite(predicted)) and np.max(np.abs(predicted)) > 1e299


@pytest.mark.parametrize("huge", [1e300, 1.7e308])
def test_a_tiny_feature_beside_a_huge_one_is_not_scaled_to_zero(tmp_path, huge):
    """The label depends on a feature of magnitude 1e-318 only; a feature of
    magnitude ``huge`` (whose deviations from the mean overflow at 1.7e308) is noise."""
    rng = np.random.default_rng(1)
    noise = rng.choice([-1.0, 1.0], size=80) * huge
    tiny = rng.uniform(-1, 1, size=80) * 1e-318
    rows = [[n, t, int(t > 0)] for n, t in zip(noise, tiny)]
    data = write_csv(tmp_path / "mixed.csv", ["noise", "tiny", "label"], rows)
    status, out, err = call(
        "train", data, "--target", "label", "--layers", "8", "--epochs", "40", "--lr", "0.1",
        "--out", tmp_path / "m.fbp", "--quiet",
    )  # fmt: skip
    assert status == 0, err
    accuracy = float(out.split("training:")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 90


def test_a_value_too_far_from_the_training_rows_is_refused_naming_its_column(tmp_path):
    rows = [[k * 1e-300, k % 2] for k in range(1, 21)]
    model = tmp_path / "m.fbp"
    data = write_csv(tmp_path / "small.csv", ["x", "y"], rows)
    status, _, err = call("train", data, "--target", "y", "--epochs", "1", "--out", model)
    assert status == 0, err
    far = write_csv(tmp_path / "far.csv", ["x"], [[1.0], [1e300]])
    status, out, err = call("predict", model, far)
    assert status == 1 and out == ""
    assert "far.csv: column 'x' on line 3 is 1e+300, too many standard deviations" in err


def test_a_prediction_beyond_float64_is_refused(tmp_path):
    net = fb.Network([1, 1], output_activation="identity", weights=[[[1e10]]], biases=[[0.0]])
    metadata = {
        "task": "regression", "target": "y", "features": ["x"], "x_mean": [0.0],
        "x_scale": [1.0], "y_mean": 0.0, "y_scale": 1e300,
    }  # fmt: skip
    net.save(tmp_path / "m.fbp", metadata=metadata)
    data = write_csv(tmp_path / "x.csv", ["x"], [[1e-20], [1.0]])
    status, out, err = call("predict", tmp_path / "m.fbp", data)
    assert status == 1 and out == ""
    assert "the prediction for row 1 is 1e+10 standard deviations" in err
    assert "beyond the range of float64" in err


# -- metadata mutations for the command line ---------------------------------

BASE_ROWS = 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A regression and a classification model written by fastbp train, and
    features to predict by position (.npy: no names)."""
    folder = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(BASE_ROWS, 2))
    labels = np.array(["ant", "bee", "cat"])[rng.integers(0, 3, BASE_ROWS)]
    models = {}
    for task, target in [("regression", X @ [2.0, -1.0]), ("classification", labels)]:
        rows = [[a, b, t] for (a, b), t in zip(X, target)]
        data = write_csv(folder / f"{task}.csv", ["a", "b", "t"], rows)
        models[task] = folder / f"{task}.fbp"
        argv = ["train", data, "--target", "t", "--task", task, "--epochs", "3"]
        assert call(*argv, "--layers", "4", "--out", models[task], "--quiet")[0] == 0
    np.save(folder / "x.npy", X)
    return folder, models


def _is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _numbers(value, length, positive=False):
    return (
        isinstance(value, list)
        and len(value) == length
        and all(_is_number(v) and (not positive or v > 0) for v in value)
    )


def _label_key(value):
    return ("text", value) if isinstance(value, str) else ("number", float(value))


def _labels(value, n_outputs):
    return (
        n_outputs >= 2
        and isinstance(value, list)
        and len(value) == n_outputs
        and all(isinstance(v, str) or _is_number(v) for v in value)
        and len({_label_key(v) for v in value}) == n_outputs
    )


def wrong_fields(metadata, n_inputs, n_outputs):
    """The fields fastbp predict cannot use, decided without fastbp."""
    if not isinstance(metadata, dict) or "task" not in metadata:
        return set()  # not the command line's metadata: predict gives raw outputs
    get = metadata.get
    names = get("features")
    checks = {
        "task": get("task") in ("classification", "regression"),
        "target": isinstance(get("target"), str) and get("target") != "",
        "features": isinstance(names, list)
        and len(names) == n_inputs
        and all(isinstance(v, str) and v != "" for v in names)
        and len(set(names)) == n_inputs,
        "x_mean": _numbers(get("x_mean"), n_inputs),
        "x_scale": _numbers(get("x_scale"), n_inputs, positive=True),
    }
    if get("task") == "classification":
        checks["classes"] = _labels(get("classes"), n_outputs)
    elif get("task") == "regression":
        if n_outputs != 1:
            checks["task"] = False
        checks["classes"] = get("classes") is None
        checks["y_mean"] = _is_number(get("y_mean"))
        checks["y_scale"] = _is_number(get("y_scale")) and get("y_scale") > 0
    return {field for field, ok in checks.items() if not ok}


def wrong_curves(metadata):
    """The validation curves fastbp info cannot show, decided without fastbp."""
    if not isinstance(metadata, dict):
        return set()
    return {
        field
        for field in ("val_loss", "val_score")
        if not (
            metadata.get(field) in (None, [])
            or (isinstance(metadata[field], list) and all(map(_is_number, metadata[field])))
        )
    }


def _extreme(value):
    """Whether ``value`` holds a number so large or small that arithmetic may overflow."""
    if isinstance(value, list):
        return any(map(_extreme, value))
    return _is_number(value) and value != 0 and not 1e-100 < abs(value) < 1e100


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 10**400, 0.0, -2.5, 1e-320, 1e308])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=2)
    ),
    max_leaves=6,
)


@st.composite
def metadata_mutations(draw, base):
    """``base`` with one field deleted, replaced, or (a list) one item replaced, one
    dropped or one repeated: the field's name and the mutated metadata."""
    metadata = copy.deepcopy(base)
    field = draw(st.sampled_from(sorted(base)))
    value = metadata[field]
    how = draw(st.sampled_from(["delete", "replace", "item", "shorter", "longer"]))
    if how == "delete":
        del metadata[field]
    elif how == "replace" or not isinstance(value, list) or not value:
        metadata[field] = draw(JSON)
    elif how == "item":
        value[draw(st.integers(0, len(value) - 1))] = draw(JSON)
    elif how == "shorter":
        value.pop()
    else:
        value.append(value[0])
    return field, metadata


def _check_mutation(folder, model, field, metadata):
    net, header = fb.io.load(model), fb.io.load_metadata(model)
    mutated = folder / "mutated.fbp"
    net.save(mutated, history=header["history"], metadata=metadata)
    wrong = wrong_fields(metadata, net.n_inputs, net.n_outputs)

    status, out, err = call("predict", mutated, folder / "x.npy")
    if not wrong:
        if status == 1 and _extreme(metadata.get(field)):
            assert "float64" in err or "overflowed" in err, err  # huge or tiny scaling
        else:
            assert status == 0, err
            assert len(list(csv.reader(io.StringIO(out)))) == BASE_ROWS + 1
    else:
        assert status == 1 and out == ""
        assert err.startswith("fastbp predict: error: ") and err.count("\n") == 1
        assert any(f"metadata field {name!r}" in err for name in wrong), err

    status, out, err = call("info", mutated)
    assert status == 0 and err == "", err
    assert out.startswith(f"{mutated}: fastbp model")
    if wrong:
        assert "metadata:     not usable by fastbp predict: " in out
    named = wrong | wrong_curves(metadata)
    assert not named or any(f"metadata field {name!r}" in out for name in named), out


@pytest.mark.parametrize("task", ["regression", "classification"])
@given(data=st.data())
def test_metadata_mutations_for_the_command_line(trained, task, data):
    folder, models = trained
    base = fb.io.load_metadata(models[task])["metadata"]
    field, metadata = data.draw(metadata_mutations(base))
    _check_mutation(folder, models[task], field, metadata)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task": "regression"}, "target"),  # a model saved from Python with its own metadata
        ({"features": 5}, "features"),
        ({"features": [1, 2]}, "features"),
        ({"features": ["a", "a"]}, "features"),
        ({"classes": []}, "classes"),
        ({"classes": ["ant", "ant", "bee"]}, "classes"),
        ({"classes": [True, False, None]}, "classes"),
        ({"x_scale": [0]}, "x_scale"),
        ({"x_scale": [1.0, 0.0]}, "x_scale"),
        ({"x_mean": [0.5]}, "x_mean"),
        ({"x_mean": [True, 1.0]}, "x_mean"),
        ({"task": "clustering"}, "task"),
        ({"task": "regression"}, "task"),  # a classifier's three outputs
    ],
)  # fmt: skip
def test_metadata_the_command_line_cannot_use_is_named(trained, change, field):
    folder, models = trained
    base = fb.io.load_metadata(models["classification"])["metadata"]
    metadata = change if field == "target" else {**base, **change}
    _check_mutation(folder, models["classification"], field, metadata)
    status, _, err = call("predict", folder / "mutated.fbp", folder / "x.npy")
    assert f"metadata field {field!r}" in err


@pytest.mark.parametrize("metadata", [None, {}, {"note": "mine"}, {"classes": 3}])
def test_models_without_the_command_lines_metadata_predict_raw_outputs(trained, metadata):
    folder, models = trained
    net = fb.io.load(models["classification"])
    net.save(folder / "own.fbp", metadata=metadata)
    status, out, err = call("predict", folder / "own.fbp", folder / "x.npy")
    assert status == 0, err
    assert out.split()[0] == "output_1,output_2,output_3"
    status, out, err = call("info", folder / "own.fbp")
    assert status == 0, err
    assert "architecture: 2-4-3" in out and "task:" not in out and "metadata:" not in out


def test_a_model_saved_with_its_own_task_is_described_and_refused_clearly(tmp_path):
    net = fb.Network([2, 3, 1], output_activation="identity", seed=0)
    net.save(tmp_path / "m.fbp", metadata={"task": "regression"})
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    predict = run("predict", tmp_path / "m.fbp", tmp_path / "x.npy")
    assert predict.returncode == 1 and "Traceback" not in predict.stderr
    assert "the model's metadata field 'target' must be" in predict.stderr
    info = run("info", tmp_path / "m.fbp")
    assert info.returncode == 0 and info.stderr == ""
    assert "architecture: 2-3-1" in info.stdout
    assert "metadata:     not usable by fastbp predict: the model's metadata field 'target'" in (
        info.stdout
    )


def test_a_malformed_validation_curve_is_named_by_info_and_plot(trained, tmp_path):
    folder, models = trained
    net, header = fb.io.load(models["regression"]), fb.io.load_metadata(models["regression"])
    metadata = {**header["metadata"], "val_loss": ["low", "high"]}
    net.save(tmp_path / "m.fbp", history=header["history"], metadata=metadata)
    status, out, err = call("info", tmp_path / "m.fbp")
    assert status == 0, err
    assert "history:      the model's metadata field 'val_loss' must be a list of finite" in out
    status, _, err = call("info", tmp_path / "m.fbp", "--plot", tmp_path / "c.png")
    assert status == 1 and "metadata field 'val_loss'" in err


# -- numbers on the command line ----------------------------------------------


@pytest.fixture
def small_csv(tmp_path):
    return write_csv(tmp_path / "s.csv", ["a", "b", "y"], [[0.0, 1.0, 0], [1.0, 0.0, 1]] * 6)


def test_the_largest_seed_trains(small_csv, tmp_path):
    status, _, err = call(
        "train", small_csv, "--target", "y", "--seed", 2**64 - 1, "--epochs", "2",
        "--out", tmp_path / "m.fbp",
    )  # fmt: skip
    assert status == 0, err
    assert fb.io.load_metadata(tmp_path / "m.fbp")["metadata"]["seed"] == 2**64 - 1


@pytest.mark.parametrize("seed", [2**64, -1, 10**30, "1.5"])
def test_a_seed_out_of_range_is_a_usage_error(small_csv, seed):
    err = usage_error("train", small_csv, "--target", "y", "--seed", seed)
    assert f"argument --seed: expected a whole number from 0 to {2**64 - 1}; got '{seed}'" in err


@pytest.mark.parametrize("rate", ["nan", "inf", "0", "-0.1", "fast"])
def test_a_learning_rate_that_is_not_a_positive_number_is_a_usage_error(small_csv, rate):
    err = usage_error("train", small_csv, "--target", "y", "--lr", rate)
    assert f"argument --lr: expected a finite number > 0; got '{rate}'" in err


@pytest.mark.parametrize("validation", ["0.2", "0"])
def test_a_huge_learning_rate_is_blamed_not_the_data(small_csv, tmp_path, validation):
    status, _, err = call(
        "train", small_csv, "--target", "y", "--lr", "1e308", "--val-fraction", validation,
        "--out", tmp_path / "m.fbp", "--quiet",
    )  # fmt: skip
    assert status == 1
    assert "training diverged in epoch " in err and err.rstrip().endswith("(--lr 1e+308)")
    assert "learning" in err and "scale the data down" not in err
    assert not (tmp_path / "m.fbp").exists()


# -- trace files ---------------------------------------------------------------


def trace_file(tmp_path, **changes):
    spec = {"weights": [[[2.0]]], "biases": [[0.5]], "x": [1.0], "t": [1.0], **changes}
    (tmp_path / "net.json").write_text(json.dumps(spec))
    return tmp_path / "net.json"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train_biases": "no"}, 'train_biases must be true or false; got "no"'),
        ({"train_biases": 0}, "train_biases must be true or false; got 0"),
        ({"train_biases": None}, "train_biases must be true or false; got null"),
        ({"learning_rate": "0.1"}, 'learning_rate must hold finite JSON numbers'),
        ({"learning_rate": True}, "learning_rate must hold finite JSON numbers"),
        ({"x": ["1.0"]}, 'x must hold finite JSON numbers (not strings, booleans or null); '
                         'got ["1.0"]'),
        ({"t": [True]}, "t must hold finite JSON numbers"),
        ({"weights": [[[True]]]}, "weights must hold finite JSON numbers"),
        ({"biases": [[None]]}, "biases must hold finite JSON numbers"),
    ],
)  # fmt: skip
def test_trace_files_need_json_booleans_and_numbers(tmp_path, changes, message):
    status, out, err = call("trace", "--weights", trace_file(tmp_path, **changes))
    assert status == 1 and out == ""
    assert "net.json: " + message in err


def test_trace_file_booleans_are_read_as_booleans(tmp_path):
    status, out, err = call("trace", "--weights", trace_file(tmp_path, train_biases=False))
    assert status == 0, err
    assert "biases fixed" in out


def test_a_deeply_nested_trace_file_is_reported(tmp_path):
    (tmp_path / "deep.json").write_text('{"weights": ' + "[" * 100_000 + "]" * 100_000 + "}")
    status, _, err = call("trace", "--weights", tmp_path / "deep.json")
    assert status == 1 and "deep.json: not a readable JSON file" in err


@pytest.mark.parametrize("command", ["info", "predict"])
def test_a_model_file_that_cannot_be_read_is_reported_not_a_traceback(
    command, tmp_path, monkeypatch, capsys
):
    model = tmp_path / "m.fbp"
    fb.Network([2, 1], seed=0).save(model)
    data = tmp_path / "x.csv"
    data.write_text("a,b\n1,2\n")

    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fb.io, "load", unreadable)
    args = [command, str(model)] + ([str(data)] if command == "predict" else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "could not read the model" in err and "Permission denied" in err
