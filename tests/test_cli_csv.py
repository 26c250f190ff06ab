"""Everyday CSV files on the command line (issue 15): missing values, text
features, chosen columns, row IDs, predictions with kept columns and
probabilities, and the two CSV readers (pandas and the csv module) agreeing."""

import contextlib
import csv
import io
import subprocess
import sys

import numpy as np
import pytest

import fastbp as fb
from fastbp import _data
from fastbp._data import DataError, read_table
from fastbp._tabular import Encoding, MetadataError
from fastbp.cli import main


def call(*args):
    """Run the command line in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def run(*args):
    """Run ``python -m fastbp`` in a subprocess, as a user does."""
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=["pandas", "csv module"])
def reader(request, monkeypatch):
    """Each test that takes this fixture runs with both CSV readers."""
    if request.param == "pandas":
        pytest.importorskip("pandas")
    monkeypatch.setattr(_data, "USE_PANDAS", request.param == "pandas")
    return request.param


def wine(path, n=60, seed=0):
    """Two classes told apart by ``ash`` and ``colour``, with empty cells, NA markers,
    a row-ID column ``id`` and a text column ``region`` that is noise."""
    rng = np.random.default_rng(seed)
    lines = ["id,ash,colour,region,label"]
    for i in range(n):
        label = "red" if i % 2 else "white"
        ash = "" if i % 7 == 0 else f"{rng.normal() + (3 if label == 'red' else 0):.4f}"
        colour = "NA" if i % 11 == 0 else ("dark" if label == "red" else "pale")
        region = rng.choice(["north", "south"])
        lines.append(f"{i + 1},{ash},{colour},{region},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


# -- reading -------------------------------------------------------------------


def test_both_readers_read_an_ordinary_file_alike(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    data = tmp_path / "d.csv"
    data.write_text(
        '\ufeffname, size ,"note"\r\n'
        '"Smith, J", 1.5 ,"said ""hi"""\r\n'
        "\r\n"
        "Lee,NA,?\r\n"
        "Kim,2,\r\n"
        ",,\r\n"
        "Ng,null,plain\r\n"
    )
    tables = {}
    for use_pandas in (True, False):
        monkeypatch.setattr(_data, "USE_PANDAS", use_pandas)
        tables[use_pandas] = read_table(str(data))
    for table in tables.values():
        assert table.names == ["name", "size", "note"]
        assert table.columns[0].tolist() == ["Smith, J", "Lee", "Kim", "Ng"]
        np.testing.assert_array_equal(table.columns[1], [1.5, np.nan, 2.0, np.nan])
        assert table.columns[2].tolist() == ['said "hi"', "", "", "plain"]


def test_both_readers_read_text_numbers_and_booleans_alike(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    data = wine(tmp_path / "wine.csv")
    with data.open("a") as f:
        f.write("61, 2.5 ,True,false,red\n62,NA,TRUE,n/a,white\n")
    tables = []
    for use_pandas in (True, False):
        monkeypatch.setattr(_data, "USE_PANDAS", use_pandas)
        tables.append(read_table(str(data)))
    by_pandas, by_csv = tables
    assert by_pandas.names == by_csv.names
    for a, b in zip(by_pandas.columns, by_csv.columns):
        assert a.dtype.kind == b.dtype.kind
        np.testing.assert_array_equal(a, b)
    assert by_csv.columns[2][-2:].tolist() == ["True", "TRUE"]  # text, not booleans


def test_pandas_reads_a_clean_file_and_the_csv_module_a_padded_one(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    used = []
    read_by_csv_module = _data._csv_cells
    monkeypatch.setattr(
        _data, "_csv_cells", lambda path: used.append(path) or read_by_csv_module(path)
    )
    clean, padded = tmp_path / "clean.csv", tmp_path / "padded.csv"
    clean.write_text("a,c,y\n1,x,0\n,y,1\n")
    padded.write_text("a,c,y\n1,x,0\n2,y,\n")  # pandas would read "2,y" the same
    assert read_table(str(clean)).columns[0].tolist()[0] == 1.0 and used == []
    assert read_table(str(padded)).columns[2][1] != read_table(str(padded)).columns[2][1]
    assert used == [str(padded)] * 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a;b;y\n1;2;0\n3;4;1\n", "looks semicolon-separated; fastbp reads comma-separated"),
        ("a\tb\ty\n1\t2\t0\n", "looks tab-separated"),
        ("1.5,2,0\n3,4,1\n", "the first row (1.5,2,0) holds numbers, not column names"),
        ("a,b,y\n0,1,0\n1,0\n", "line 3: 2 fields; the header has 3"),
        ("a,b,y\n0,1,0\n1,0,1,5\n", "line 3: 4 fields; the header has 3"),
        ("a,b,y\n", "there are no data rows below the header"),
        ("\n\n", "the file is empty"),
    ],
)
def test_files_that_are_not_comma_separated_with_a_header_are_named(
    tmp_path, reader, text, message
):
    data = tmp_path / "d.csv"
    data.write_text(text)
    with pytest.raises(DataError) as error:
        read_table(str(data))
    assert message in str(error.value)
    status, _, err = call("train", data, "--target", "y")
    assert status == 1 and message in err and err.count("\n") == 1


def test_a_field_wider_than_the_csv_modules_default_limit_is_read(tmp_path, reader):
    wide = "w" * 200_000  # the csv module refuses fields over 131,072 characters by default
    data = tmp_path / "d.csv"
    data.write_text(f"note,x\n{wide},1\nshort,2\n")
    table = read_table(str(data))
    assert table.columns[0][0] == wide and table.columns[1].tolist() == [1.0, 2.0]
    assert len(wide) > csv.field_size_limit()  # the limit is back as it was


# -- training: missing values, text, chosen columns, row IDs ---------------------


def test_train_fills_encodes_and_says_so(tmp_path, reader):
    data, model = wine(tmp_path / "wine.csv"), tmp_path / "m.fbp"
    status, out, err = call(
        "train", data, "--target", "label", "--drop", "id", "--epochs", "40", "--lr", "0.1",
        "--out", model, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    table = read_table(str(data))
    ash = table.columns[1]
    train_rows = np.sort(np.random.default_rng(0).permutation(60)[12:])
    mean = np.nanmean(ash[train_rows])
    assert f"filled missing numbers with the training rows' mean: 'ash' 9 cells ({mean:.6g})" in out
    assert "filled missing text with the most frequent category: 'colour' 6 cells (" in out
    assert "one-hot encoded 2 text columns (categories): 'colour' (2), 'region' (2); 5 " in out
    assert "network: 5-32-2" in out and "row ID" not in out
    metadata = fb.io.load_metadata(model)["metadata"]
    assert metadata["features"] == ["ash", "colour", "region"]
    assert metadata["categories"] == {"colour": ["dark", "pale"], "region": ["north", "south"]}
    assert metadata["fill"]["colour"] in ("dark", "pale")
    assert metadata["x_mean"][0] == pytest.approx(mean)
    accuracy = float(out.split("validation:")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 90


def test_a_missing_value_standardises_to_zero_and_an_unseen_category_to_all_zeros(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,c,y\n1,a,0\n3,b,1\n,a,0\n5,b,1\n")
    table = read_table(str(data))
    encoding = Encoding.fit(table, "y", "classification", np.arange(4))
    assert encoding.input_names == ["x", "c=a", "c=b"] and encoding.n_inputs == 3
    assert encoding.x_mean[0] == 3.0  # the mean of 1, 3 and 5
    new = tmp_path / "new.csv"
    new.write_text("x,c\nNA,zebra\n3,\n")
    X = encoding.inputs(read_table(str(new)))
    mean, scale = np.array(encoding.x_mean), np.array(encoding.x_scale)
    np.testing.assert_allclose(X[0], (np.array([3.0, 0.0, 0.0]) - mean) / scale)
    np.testing.assert_allclose(X[1], (np.array([3.0, 1.0, 0.0]) - mean) / scale)  # fill: a
    assert X[0, 0] == 0.0


def test_a_text_feature_read_as_numbers_at_predict_time_is_encoded(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,size,y\n1,S,0\n2,3,1\n3,S,0\n4,M,1\n")
    encoding = Encoding.fit(read_table(str(data)), "y", "classification", np.arange(4))
    assert encoding.categories == {"size": ["3", "M", "S"]} and encoding.fill == {"size": "S"}
    new = tmp_path / "new.csv"
    new.write_text("x,size\n1,3\n2,\n3,7\n")  # a column of numbers (and a missing cell)
    raw = encoding._raw(read_table(str(new)))
    np.testing.assert_array_equal(raw[:, 1:], [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    new.write_text("x,size\n1,\n2,NA\n")  # nothing but missing cells: a column of NaN
    np.testing.assert_array_equal(encoding._raw(read_table(str(new)))[:, 1:], [[0, 0, 1]] * 2)


def test_a_column_of_mostly_numbers_with_a_stray_word_is_an_error(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\noops,0\n4,1\n")
    status, _, err = call("train", data, "--target", "y")
    assert status == 1
    assert "column 'a' must hold numbers; on line 4 it has 'oops' (most of its values" in err


def test_a_missing_target_is_an_error_naming_the_line(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,cat\n2,\n3,dog\n")
    status, _, err = call("train", data, "--target", "y")
    assert status == 1
    assert "the target 'y' is missing on line 3 (1 rows in all); every row needs" in err


@pytest.mark.parametrize(
    ("header", "value", "why"),
    [
        ("id", lambda i: str(100 + (i * 7) % 30), "distinct whole numbers in steps of one"),
        ("customer_id", lambda i: f"c{i:03d}", "distinct text in a column named like an ID"),
        ("userId", lambda i: f"u{i}", "distinct text in a column named like an ID"),
    ],
)
def test_a_column_that_looks_like_a_row_id_is_warned_about_and_drop_silences_it(
    tmp_path, header, value, why
):
    rows = [f"{value(i)},{i % 3},{i % 2}" for i in range(30)]
    data = tmp_path / "d.csv"
    data.write_text(f"{header},x,y\n" + "\n".join(rows) + "\n")
    argv = ["train", data, "--target", "y", "--epochs", "1", "--out", tmp_path / "m.fbp"]
    status, out, err = call(*argv, "--quiet")
    assert status == 0, err
    assert f"warning: column {header!r} looks like a row ID ({why}); --drop {header}" in out
    status, out, err = call(*argv, "--quiet", "--drop", header)
    assert status == 0, err
    assert "row ID" not in out and "network: 1-32-2" in out


def test_numbers_that_are_not_in_steps_of_one_are_no_row_id(tmp_path):
    rows = [f"{2 * i},{i % 2}" for i in range(30)]
    data = tmp_path / "d.csv"
    data.write_text("id,y\n" + "\n".join(rows) + "\n")
    status, out, err = call("train", data, "--target", "y", "--epochs", "1", "--quiet",
                            "--out", tmp_path / "m.fbp")  # fmt: skip
    assert status == 0, err
    assert "row ID" not in out


def test_features_chooses_the_columns_in_its_order(tmp_path):
    data, model = wine(tmp_path / "wine.csv"), tmp_path / "m.fbp"
    status, out, err = call("train", data, "--target", "label", "--features", "colour,ash",
                            "--epochs", "1", "--out", model, "--quiet")  # fmt: skip
    assert status == 0, err
    assert fb.io.load_metadata(model)["metadata"]["features"] == ["colour", "ash"]
    assert "network: 3-32-2" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--features", "ash,nope"], "no column named 'nope'; the columns are id, ash"),
        (["--features", "ash,label"], "--features names the target 'label'"),
        (["--features", "ash,ash"], "--features names 'ash' more than once"),
        (["--features", ","], "--features needs one or more column names"),
        (["--drop", "label"], "--drop names the target 'label'"),
        (["--drop", "id,ash,colour,region"], "no feature columns are left besides 'label'"),
    ],
)
def test_bad_column_choices_are_one_line_errors(tmp_path, options, message):
    data = wine(tmp_path / "wine.csv")
    status, _, err = call("train", data, "--target", "label", *options)
    assert status == 1 and message in err and err.count("\n") == 1


# -- predict: kept columns and probabilities -----------------------------------


@pytest.fixture(scope="module")
def wine_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wine")
    data, model = wine(folder / "wine.csv"), folder / "wine.fbp"
    status, _, err = call("train", data, "--target", "label", "--drop", "id", "--epochs", "40",
                          "--lr", "0.1", "--out", model, "--quiet")  # fmt: skip
    assert status == 0, err
    new = folder / "new.csv"
    new.write_text("id,ash,colour,region\n7,3.5,dark,east\n12345678901,,NA,north\n9,0.1,,\n")
    return folder, model, new


def test_predict_keeps_columns_and_writes_probabilities(wine_model):
    _, model, new = wine_model
    status, out, err = call("predict", model, new, "--keep", "id,region", "--proba")
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "region", "label", "proba_red", "proba_white"]
    assert [row[:2] for row in rows[1:]] == [["7", "east"], ["12345678901", "north"], ["9", ""]]
    net, header = fb.io.load(model), fb.io.load_metadata(model)
    encoding = Encoding.from_metadata(header["metadata"], net.n_inputs, net.n_outputs)
    probabilities = net.predict(encoding.inputs(read_table(str(new))))
    for row, p in zip(rows[1:], probabilities):
        np.testing.assert_allclose([float(v) for v in row[3:]], p, rtol=1e-9)
        assert row[2] == ("red", "white")[int(np.argmax(p))]
    assert rows[1][2] == "red"  # a dark wine with much ash, in a region never seen


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--keep", "nope"], "no column named 'nope'; the columns are id, ash, colour, region"),
        (["--keep", "id,id"], "--keep names 'id' more than once"),
    ],
)
def test_predict_option_errors_are_one_line(wine_model, options, message):
    _, model, new = wine_model
    status, out, err = call("predict", model, new, *options)
    assert status == 1 and out == "" and message in err and err.count("\n") == 1


def test_keep_refuses_a_column_named_like_the_predictions(wine_model, tmp_path):
    _, model, _ = wine_model
    data = tmp_path / "d.csv"
    data.write_text("ash,colour,region,label\n1,dark,north,red\n")
    status, _, err = call("predict", model, data, "--keep", "label")
    assert status == 1 and "the output already has a column named 'label'" in err


def test_proba_of_a_regression_and_keep_of_a_raw_model_are_refused(tmp_path):
    data = tmp_path / "r.csv"
    data.write_text("a,y\n" + "\n".join(f"{i % 5},{i * 0.37:.3f}" for i in range(20)) + "\n")
    model = tmp_path / "r.fbp"
    assert call("train", data, "--target", "y", "--epochs", "1", "--out", model, "--quiet")[0] == 0
    status, _, err = call("predict", model, data, "--proba")
    assert status == 1 and "--proba applies to classification; this model is a regression" in err
    raw = tmp_path / "raw.fbp"
    fb.Network([2, 1], seed=0).save(raw)
    status, _, err = call("predict", raw, data, "--keep", "a")
    assert status == 1 and "--keep applies to models written by fastbp train" in err


# -- model files: old and new metadata -------------------------------------------


def test_metadata_round_trips_and_older_metadata_still_reads(wine_model, tmp_path):
    _, model, new = wine_model
    net, metadata = fb.io.load(model), fb.io.load_metadata(model)["metadata"]
    encoding = Encoding.from_metadata(metadata, net.n_inputs, net.n_outputs)
    assert encoding.to_metadata() == {k: metadata[k] for k in encoding.to_metadata()}
    # A model of numeric features has the metadata of earlier versions: no new fields.
    old = {"task": "regression", "target": "y", "features": ["a", "b"], "x_mean": [0.0, 1.0],
           "x_scale": [1.0, 2.0], "classes": None, "y_mean": 0.5, "y_scale": 2.0}  # fmt: skip
    encoding = Encoding.from_metadata(old, 2, 1)
    assert encoding.categories is None and encoding.to_metadata() == old
    data = tmp_path / "d.csv"
    data.write_text("a,b\n,3\n")  # a missing number: the training mean, 0 standardised
    np.testing.assert_allclose(encoding.inputs(read_table(str(data))), [[0.0, 1.0]])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"categories": {"colour": ["dark", "pale"]}}, "categories"),  # too few inputs
        ({"categories": {"colour": ["dark", "dark"], "region": ["n", "s"]}}, "categories"),
        ({"categories": {"nope": ["a", "b"], "region": ["n", "s"]}}, "categories"),
        ({"categories": {"colour": ["dark", 3], "region": ["n", "s"]}}, "categories"),
        ({"categories": {}}, "categories"),
        ({"categories": ["colour"]}, "categories"),
        ({"fill": {"colour": "rosé", "region": "north"}}, "fill"),
        ({"fill": {"colour": "dark"}}, "fill"),
        ({"fill": None}, "fill"),
        ({"features": ["ash", "ash", "region"]}, "features"),
    ],
)  # fmt: skip
def test_new_metadata_fields_are_checked(wine_model, change, field):
    _, model, _ = wine_model
    net, metadata = fb.io.load(model), fb.io.load_metadata(model)["metadata"]
    with pytest.raises(MetadataError) as error:
        Encoding.from_metadata({**metadata, **change}, net.n_inputs, net.n_outputs)
    assert error.value.field == field


def test_predict_names_a_bad_new_field_in_one_line(wine_model, tmp_path):
    _, model, new = wine_model
    net, header = fb.io.load(model), fb.io.load_metadata(model)
    net.save(tmp_path / "m.fbp", metadata={**header["metadata"], "fill": {"colour": "x"}})
    status, out, err = call("predict", tmp_path / "m.fbp", new)
    assert status == 1 and out == "" and err.count("\n") == 1
    assert "the model's metadata field 'fill' must be an object mapping each text feature" in err


def test_fill_without_categories_is_refused():
    old = {"task": "regression", "target": "y", "features": ["a"], "x_mean": [0.0],
           "x_scale": [1.0], "y_mean": 0.5, "y_scale": 2.0, "fill": {}}  # fmt: skip
    with pytest.raises(MetadataError, match="'fill' must be absent"):
        Encoding.from_metadata(old, 1, 1)


def test_info_shows_the_text_columns(wine_model):
    _, model, _ = wine_model
    status, out, err = call("info", model)
    assert status == 0, err
    assert "features:     ash, colour, region" in out
    assert "text:         one-hot encoded: colour (2 categories, missing -> '" in out
    assert "region (2 categories" in out and "; 5 inputs" in out


@pytest.mark.parametrize("fmt", ["onnx", "c", "fann"])
def test_export_of_a_model_with_text_columns_is_refused_naming_them(wine_model, tmp_path, fmt):
    _, model, _ = wine_model
    status, _, err = call("export", model, "--format", fmt, "--out", tmp_path / "m.out")
    assert status == 1 and not (tmp_path / "m.out").exists()
    assert "one-hot encodes the text columns 'colour', 'region'" in err


# -- as a user runs it -------------------------------------------------------------


def test_everyday_csv_end_to_end_in_a_subprocess(tmp_path):
    data, model, out = wine(tmp_path / "wine.csv"), tmp_path / "m.fbp", tmp_path / "p.csv"
    train = run("train", data, "--target", "label", "--epochs", "30", "--lr", "0.1",
                "--out", model, "--quiet")  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert "warning: column 'id' looks like a row ID" in train.stdout
    assert "filled missing numbers with the training rows' mean: 'ash' 9 cells" in train.stdout
    predict = run("predict", model, data, "--keep", "id", "--proba", "--out", out)
    assert predict.returncode == 0, predict.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", "label", "proba_red", "proba_white"] and len(rows) == 61
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(1, 61)]
    assert "has the target column 'label': accuracy" in predict.stderr


def test_a_semicolon_file_fails_in_a_subprocess_with_one_line(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a;b;y\n1,5;2;0\n3;4;1\n")
    result = run("train", data, "--target", "y")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "looks semicolon-separated; fastbp reads comma-separated CSV files" in result.stderr
