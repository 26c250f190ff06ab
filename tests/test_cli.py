"""The command line, run as a user runs it: in a subprocess."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastbp as fb
from fastbp.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *args], capture_output=True, text=True, timeout=120
    )


def call(capsys, *args):
    """Run the command line in this process (faster than a subprocess): status, out, err."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_demo_reproduces_the_worked_example_and_learns():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0.75136507 0.77292847" in out
    assert "total error    0.298371109" in out
    assert "after 1 update 0.291027774" in out
    assert "4/4 correct" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 90
    assert out.count("x faster") == 2


def test_console_script_is_installed():
    exe = shutil.which("fastbp")
    if exe is None:
        pytest.skip("the fastbp console script is not on PATH in this environment")
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "demo" in result.stdout


def test_unknown_command_fails_with_usage(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["fly"])
    assert exit.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- train, predict, info on files the tests write ---------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


@pytest.fixture(scope="module")
def animals(tmp_path_factory):
    """Two well-separated classes with text labels, and a model trained on them."""
    folder = tmp_path_factory.mktemp("animals")
    rng = np.random.default_rng(0)
    labels = np.array(["cat", "dog"])[rng.integers(0, 2, size=80)]
    centre = np.where(labels[:, None] == "cat", [-2.0, 1.0], [2.0, -1.0])
    X = centre + rng.normal(0, 0.5, size=(80, 2))
    rows = [[f"{a:.4f}", label, f"{b:.4f}"] for (a, b), label in zip(X, labels)]
    data = write_csv(folder / "animals.csv", ["weight", "animal", "height"], rows)
    model = folder / "animals.fbp"
    result = run(
        "train", str(data), "--target", "animal", "--layers", "8", "--epochs", "15",
        "--batch-size", "8", "--lr", "0.1", "--out", str(model),
    )  # fmt: skip
    return folder, data, model, labels, result


def test_train_classifies_a_csv_and_saves_the_model(animals):
    _, _, model, _, result = animals
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "task: classification of 'animal' (2 classes; the target holds text labels)" in out
    assert "network: 2-8-2, relu hidden layers, softmax output, cross_entropy" in out
    assert "64 training rows, 16 validation rows" in out
    accuracy = float(out.split("validation:")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 90
    assert model.is_file()


def test_predict_writes_labels_by_column_name(animals):
    folder, data, model, labels, _ = animals
    # the same features in another order, without the target: matched by name
    lines = data.read_text().splitlines()
    swapped = [",".join(reversed(line.split(",")[::2])) for line in lines]
    features = folder / "features.csv"
    features.write_text("\n".join(swapped) + "\n")
    preds = folder / "preds.csv"
    result = run("predict", str(model), str(features), "--out", str(preds))
    assert result.returncode == 0, result.stderr
    header, *predicted = preds.read_text().split()
    assert header == "animal"
    assert len(predicted) == 80
    assert np.mean(np.array(predicted) == labels) >= 0.9


def test_predict_writes_to_standard_output(animals, capsys):
    _, data, model, labels, _ = animals
    status, out, err = call(capsys, "predict", model, data)
    assert status == 0, err
    header, *predicted = out.split()
    assert header == "animal"
    accuracy = np.mean(np.array(predicted) == labels)
    assert f"has the target column 'animal': accuracy {accuracy:.1%}" in err


def test_models_saved_from_python_predict_raw_outputs(tmp_path, capsys):
    net = fb.Network([2, 1], output_activation="identity", weights=[[[1.0], [2.0]]])
    net.save(tmp_path / "plain.fbp")
    data = write_csv(tmp_path / "x.csv", ["p", "q"], [[1, 1], [0.5, -1]])
    assert main(["predict", str(tmp_path / "plain.fbp"), str(data)]) == 0
    assert capsys.readouterr().out.split() == ["output_1", "3", "-1.5"]
    assert main(["info", str(tmp_path / "plain.fbp")]) == 0
    out = capsys.readouterr().out
    assert "architecture: 2-1, sigmoid hidden layers, identity output" in out
    assert "history:      none stored" in out


def test_info_describes_architecture_task_and_history(animals):
    folder, _, model, _, _ = animals
    curve = folder / "curve.png"
    result = run("info", str(model), "--plot", str(curve))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "architecture: 2-8-2, relu hidden layers, softmax output, cross_entropy loss" in out
    assert "parameters:   42 (32 weights, 10 biases)" in out
    assert "classification of 'animal' into cat, dog" in out
    assert "features:     weight, height" in out
    assert "history:      15 epochs, loss " in out
    assert "validation accuracy" in out
    assert curve.read_bytes()[:8] == PNG_MAGIC


def test_info_json_holds_the_stored_metadata(animals, capsys):
    _, _, model, _, _ = animals
    status, out, err = call(capsys, "info", model, "--format", "json")
    assert status == 0, err
    header = json.loads(out)
    assert header["sizes"] == [2, 8, 2]
    assert header["metadata"]["classes"] == ["cat", "dog"]
    assert header["metadata"]["features"] == ["weight", "height"]
    assert len(header["history"]) == len(header["metadata"]["val_loss"]) == 15


def test_train_regression_on_npz_and_predict(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 3))
    y = 50 + 10 * X[:, 0] - 5 * X[:, 1] + 2 * X[:, 2]
    data = tmp_path / "linear.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "linear.fbp"
    status, out, err = call(
        capsys, "train", data, "--layers", "8", "--activation", "tanh", "--epochs", "40",
        "--lr", "0.05", "--out", model, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    assert "task: regression of 'y'" in out
    assert "R^2" in out and err == ""
    status, out, err = call(capsys, "predict", model, data)
    assert status == 0, err
    header, *values = out.split()
    predicted = np.array(values, dtype=float)
    assert header == "y"
    assert np.sqrt(np.mean((predicted - y) ** 2)) < 1.0  # y spans about 30 units


def test_train_shows_a_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[0, 1, 0], [1, 0, 1]] * 10)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    status, _, err = call(
        capsys, "train", data, "--target", "y", "--epochs", "3", "--out", tmp_path / "m.fbp"
    )
    assert status == 0, err
    assert "training: 100%" in err and "3/3" in err and "val_accuracy=" in err


@pytest.mark.parametrize("tqdm", ["installed", "missing"])
def test_train_prints_plain_epoch_lines_to_logs_or_without_tqdm(
    tmp_path, capsys, monkeypatch, tqdm
):
    if tqdm == "missing":
        monkeypatch.setitem(sys.modules, "tqdm", None)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[0, 1, 0], [1, 0, 1]] * 10)
    status, _, err = call(
        capsys, "train", data, "--target", "y", "--epochs", "3", "--out", tmp_path / "m.fbp"
    )
    assert status == 0, err
    lines = err.splitlines()
    # the first and the last epoch always; the second only if a second has passed
    assert [line.split(":")[0] for line in lines] in (
        ["epoch 1/3", "epoch 3/3"],
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"],
    )
    assert "loss" in lines[0] and "val_accuracy" in lines[0]


def test_train_saves_what_network_train_gives_with_validation_data(tmp_path, capsys):
    """fastbp train is one Network.train(validation_data=..., score=...) on its split."""
    from fastbp._data import read_table
    from fastbp._tabular import Encoding
    from fastbp.cli import _rows, _split

    rng = np.random.default_rng(3)
    rows = [
        [f"{a:.4f}", f"{b:.4f}", "yes" if a + b > 0 else "no"] for a, b in rng.normal(size=(50, 2))
    ]
    data = write_csv(tmp_path / "s.csv", ["a", "b", "label"], rows)
    model = tmp_path / "s.fbp"
    status, out, err = call(
        capsys, "train", data, "--target", "label", "--layers", "5", "--epochs", "4",
        "--batch-size", "8", "--lr", "0.2", "--seed", "7", "--out", model, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    table = read_table(str(data))
    train, val = _split(table.n_rows, 0.2, 7)
    encoding = Encoding.fit(table, "label", "classification", train)
    X, Y = encoding.inputs(table), encoding.targets(table)
    net = fb.Network(
        [2, 5, 2], activation="relu", output_activation="softmax", loss="cross_entropy", seed=7
    )
    scores = []
    history = net.train(
        X[train], Y[train], epochs=4, batch_size=8, learning_rate=0.2, seed=7,
        optimizer="adam", alpha=1e-4, validation_data=(X[val], Y[val]),
        early_stopping=True, tol=1e-4, n_iter_no_change=20,
        callback=lambda e, logs: scores.append(
            encoding.score(net.predict(X[val]), _rows(table, val))
        ),
    )  # fmt: skip
    header = fb.io.load_metadata(model)
    assert header["history"] == list(history)
    assert header["metadata"]["val_loss"] == history.val_loss
    assert header["metadata"]["val_score"] == scores
    best = int(np.argmin(history.val_loss))
    assert header["metadata"]["best_epoch"] == best + 1
    np.testing.assert_array_equal(fb.io.load(model).params, net.params)
    # the model keeps the best epoch's parameters, and the report measures them
    assert fb.io.load(model).loss(X[val], Y[val]) == pytest.approx(history.val_loss[best])
    assert f"validation:  loss {history.val_loss[best]:.4f}, accuracy {scores[best]:.1%}" in out


def test_train_epoch_lines_of_a_regression_name_its_score(tmp_path, capsys):
    data = write_csv(tmp_path / "r.csv", ["a", "y"], [[i, 2 * i + 0.5] for i in range(20)])
    status, _, err = call(
        capsys, "train", data, "--target", "y", "--epochs", "2", "--out", tmp_path / "m.fbp"
    )
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2: loss=")
    assert "val_loss=" in lines[1] and "val_r2=" in lines[1] and "samples/s" in lines[1]


def test_train_that_diverges_names_the_epoch_and_the_learning_rate(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[0, 1, 0], [1, 0, 1]] * 10)
    status, _, err = call(
        capsys, "train", data, "--target", "y", "--lr", "1e300", "--val-fraction", "0",
        "--out", tmp_path / "m.fbp",
    )  # fmt: skip
    assert status == 1
    *epochs, message = err.splitlines()
    # the lines show the first epoch, about one a second, and the last one trained
    shown = [int(line.split("/")[0].removeprefix("epoch ")) for line in epochs]
    assert shown[:1] in ([], [1]) and shown == sorted(set(shown))
    assert f"training diverged in epoch {shown[-1] + 1 if shown else 1}:" in message
    assert message.endswith("(--lr 1e+300)")
    assert not (tmp_path / "m.fbp").exists()


# -- trace -------------------------------------------------------------------


def test_trace_prints_the_worked_example():
    result = run("trace")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "biases fixed" in out
    assert "o1          0.741365070    0.186815602    0.138498562" in out
    assert "h1          0.036350306    0.241300709    0.008771355" in out
    assert "w5      h1 -> o1          0.400000000    0.082167041    0.358916480" in out
    assert "w1      i1 -> h1          0.150000000    0.000438568    0.149780716" in out
    assert "total error after the update: 0.291027774" in out


def test_trace_json_of_a_network_of_your_own(tmp_path, capsys):
    spec = {
        "weights": [[[2.0]]],
        "biases": [[0.5]],
        "x": [1.0],
        "t": [1.0],
        "output_activation": "identity",
        "learning_rate": 0.1,
    }
    (tmp_path / "net.json").write_text(json.dumps(spec))
    status, out, err = call(capsys, "trace", "--weights", tmp_path / "net.json", "--format", "json")
    assert status == 0, err
    record = json.loads(out)
    (o1,) = record["neurons"]
    # out = 2 * 1 + 0.5 = 2.5; dE/dout = out - t = 1.5; identity: dout/dnet = 1
    assert (o1["net"], o1["out"], o1["dE_dout"], o1["dout_dnet"], o1["delta"]) == (
        2.5, 2.5, 1.5, 1.0, 1.5,
    )  # fmt: skip
    (w1,) = record["weights"]
    assert (w1["gradient"], w1["new_value"]) == (1.5, pytest.approx(2.0 - 0.1 * 1.5))
    (b,) = record["biases"]
    assert b["new_value"] == pytest.approx(0.5 - 0.1 * 1.5)  # train_biases defaults to true
    assert record["error"] == pytest.approx(0.5 * 1.5**2)


# -- errors: a message on stderr and exit status 1 (2 for usage) -------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{tmp}/none.csv", "--target", "y"], "none.csv: no such file"),
        (["train", "{tmp}/ok.csv", "--target", "nope"], "no column named 'nope'; the"),
        (["train", "{tmp}/ragged.csv", "--target", "y"], "line 3: 2 fields; the header has 3"),
        (["train", "{tmp}/text.csv", "--target", "y"], "column 'a' must hold numbers; on line 3"),
        (["train", "{tmp}/binary.csv", "--target", "y"], "not a text CSV file"),
        (["train", "{tmp}/empty.csv", "--target", "y"], "the file is empty"),
        (["train", "{tmp}/text.csv", "--target", "a", "--task", "regression"],
         "cannot be a regression target"),
        (["predict", "{tmp}/broken.fbp", "{tmp}/ok.csv"], "could not load the model"),
        (["info", "{tmp}/none.fbp"], "none.fbp: no such model file"),
        (["trace", "--weights", "{tmp}/ok.csv"], "not a readable JSON file"),
    ],
)  # fmt: skip
def test_errors_name_the_problem_and_exit_with_status_1(tmp_path, capsys, args, message):
    # In-process, for speed; the next test checks the same path through a subprocess.
    write_csv(tmp_path / "ok.csv", ["a", "b", "y"], [[0, 1, 0], [1, 0, 1]])
    write_csv(tmp_path / "ragged.csv", ["a", "b", "y"], [[0, 1, 0], [1, 0]])
    write_csv(tmp_path / "text.csv", ["a", "b", "y"], [[0, 1, 0], ["x", 0, 1]])
    (tmp_path / "broken.fbp").write_bytes(b"not a model")
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "empty.csv").write_text("\n\n")
    assert main([a.format(tmp=tmp_path) for a in args]) == 1
    assert message in capsys.readouterr().err


def test_a_failing_command_exits_with_status_1_and_no_traceback(tmp_path):
    (tmp_path / "broken.fbp").write_bytes(b"not a model")
    result = run("info", str(tmp_path / "broken.fbp"))
    assert result.returncode == 1
    assert result.stderr.startswith("fastbp info: error: could not load the model: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--layers", "64,x", "expected comma-separated layer widths"),
        ("--epochs", "0", "expected a whole number of at least 1"),
        ("--val-fraction", "1.5", "expected a number in [0, 1)"),
    ],
)
def test_bad_option_values_are_usage_errors(capsys, option, value, message):
    with pytest.raises(SystemExit) as exit:
        main(["train", "data.csv", option, value])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "train", "predict", "info", "trace"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"fastbp {command}" in out


def test_train_on_npy_with_a_column_index(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 3))
    data = np.column_stack([(X[:, 0] > 0).astype(float), X])  # the target first
    np.save(tmp_path / "d.npy", data)
    model = str(tmp_path / "d.fbp")
    argv = ["train", str(tmp_path / "d.npy"), "--target", "0", "--epochs", "60", "--lr", "0.3"]
    assert main([*argv, "--layers", "4", "--out", model, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (
        "task: classification of '0' (2 classes; the target holds 2 distinct whole numbers)" in out
    )
    header = fb.io.load_metadata(model)
    assert header["metadata"]["features"] == ["1", "2", "3"]
    assert header["metadata"]["classes"] == [0, 1]
    # features only, by position: the predictions match the rule that made the labels
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", model, str(tmp_path / "x.npy")]) == 0
    predicted = np.array(capsys.readouterr().out.split()[1:], dtype=int)
    assert np.mean(predicted == (X[:, 0] > 0)) >= 0.95


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"a": np.zeros(5)}, "must be a 2-D array of numbers"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, "y must hold one value per row of X (4)"),
        ({"p": np.zeros((2, 2)), "q": np.zeros((2, 2))}, "expected arrays X (and y)"),
    ],
)
def test_unusable_npz_files_are_reported(tmp_path, capsys, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    assert main(["train", str(tmp_path / "bad.npz"), "--target", "y"]) == 1
    assert message in capsys.readouterr().err


def test_nan_in_a_target_is_reported_with_its_line(tmp_path, capsys):
    data = write_csv(tmp_path / "n.csv", ["a", "y"], [[0, 1.5], [1, "nan"], [2, 0.5]])
    assert main(["train", str(data), "--target", "y"]) == 1
    assert (
        "column 'y' on line 3 is nan; every value must be a finite number"
        in capsys.readouterr().err
    )
