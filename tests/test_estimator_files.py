"""Fitted estimators in the safe model format: fb.save(estimator, path), fb.load(path)."""

import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

import fastbp as fb  # noqa: E402
from fastbp import io  # noqa: E402
from fastbp.sklearn import BPClassifier, BPRegressor  # noqa: E402

RNG = np.random.RandomState(0)
X = RNG.rand(40, 3)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def classifier(y, **options):
    return BPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0, **options).fit(X, y)


def regressor(y, **options):
    return BPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0, **options).fit(X, y)


def round_trip(estimator, tmp_path):
    path = tmp_path / "model.fbp"
    fb.save(estimator, path)
    return fb.load(path)


TARGETS = {
    "binary int": (X[:, 0] > 0.5).astype(int),
    "binary str": np.where(X[:, 0] > 0.5, "yes", "no"),
    "binary bool": X[:, 0] > 0.5,
    "multiclass int": (X[:, 0] * 3).astype(int),
    "multiclass str": np.array(["a", "bb", "ccc"])[(X[:, 0] * 3).astype(int)],
    "multiclass float": (X[:, 0] * 3).astype(int) * 2.0,
    "multiclass object str": np.array(["a", "bb", "ccc"], dtype=object)[(X[:, 0] * 3).astype(int)],
    "multilabel": (X > 0.5).astype(int),
}


@pytest.mark.parametrize("name", list(TARGETS))
def test_classifiers_round_trip_with_identical_predictions(tmp_path, name):
    clf = classifier(TARGETS[name])
    loaded = round_trip(clf, tmp_path)
    assert type(loaded) is BPClassifier
    assert loaded.get_params() == clf.get_params()
    assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    predicted = loaded.predict(X)
    assert_array_equal(predicted, clf.predict(X))
    assert predicted.dtype == clf.predict(X).dtype
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.predict_proba(X).shape == clf.predict_proba(X).shape
    for attribute in ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_"):
        assert getattr(loaded, attribute) == getattr(clf, attribute)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert loaded.loss_ == clf.loss_
    assert loaded.best_loss_ == clf.best_loss_


def test_integer_and_string_labels_keep_their_type(tmp_path):
    ints = round_trip(classifier(TARGETS["binary int"]), tmp_path).predict(X)
    strings = round_trip(classifier(TARGETS["binary str"]), tmp_path).predict(X)
    assert ints.dtype.kind == "i" and set(ints.tolist()) <= {0, 1}
    assert strings.dtype.kind == "U" and set(strings.tolist()) <= {"yes", "no"}


@pytest.mark.parametrize("y", [X[:, 0] * 2 - 1, X[:, :2] * 2 - 1], ids=["1 output", "2 outputs"])
def test_regressors_round_trip_with_identical_predictions(tmp_path, y):
    reg = regressor(y)
    loaded = round_trip(reg, tmp_path)
    assert type(loaded) is BPRegressor
    assert loaded.get_params() == reg.get_params()
    assert loaded.predict(X).shape == reg.predict(X).shape == y.shape
    assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.score(X, y) == reg.score(X, y)


def test_float32_and_early_stopping_round_trip(tmp_path):
    clf = classifier(TARGETS["multiclass int"], dtype="float32", early_stopping=True)
    loaded = round_trip(clf, tmp_path)
    assert loaded.network_.dtype == np.float32
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.validation_scores_ == clf.validation_scores_
    assert loaded.best_validation_score_ == clf.best_validation_score_
    assert loaded.best_loss_ is None


def test_feature_names_from_a_data_frame_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["width", "height", "depth"])
    clf = BPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    clf.fit(frame, TARGETS["binary str"])
    loaded = round_trip(clf, tmp_path)
    assert_array_equal(loaded.feature_names_in_, ["width", "height", "depth"])
    assert_array_equal(loaded.predict(frame), clf.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"width": "breadth"}))


def test_warm_start_after_loading_continues_as_before_saving(tmp_path):
    y = TARGETS["multiclass str"]
    clf = classifier(y, warm_start=True)
    loaded = round_trip(clf, tmp_path)
    clf.fit(X, y)
    loaded.fit(X, y)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert_array_equal(loaded.network_.params, clf.network_.params)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_the_network_of_an_estimator_file(tmp_path):
    clf = classifier(TARGETS["binary int"])
    path = tmp_path / "model.fbp"
    fb.save(clf, path, metadata={"owner": "me"})
    net = io.load_network(path)
    assert isinstance(net, fb.Network)
    assert_array_equal(net.params, clf.network_.params)
    header = io.load_metadata(path)
    assert header["format_version"] == io.ESTIMATOR_VERSION
    assert header["metadata"] == {"owner": "me"}
    assert header["history"] == clf.loss_curve_


def test_network_files_are_unchanged(tmp_path):
    net = fb.Network([2, 3, 1], seed=0)
    fb.save(net, tmp_path / "net.fbp")
    assert io.load_metadata(tmp_path / "net.fbp")["format_version"] == io.FORMAT_VERSION
    assert "estimator" not in io.load_metadata(tmp_path / "net.fbp")
    loaded = fb.load(tmp_path / "net.fbp")
    assert type(loaded) is fb.Network
    assert_array_equal(io.load_network(tmp_path / "net.fbp").params, net.params)


def test_an_unfitted_estimator_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        fb.save(BPClassifier(), tmp_path / "m.fbp")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("thing", [MLPClassifier(), {"a": 1}, None], ids=["mlp", "dict", "none"])
def test_other_things_are_refused_naming_what_can_be_saved(tmp_path, thing):
    with pytest.raises(TypeError, match="fastbp.Network or a fitted fastbp.BPClassifier or"):
        fb.save(thing, tmp_path / "m.fbp")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"random_state": np.random.RandomState(0)}, "random_state.*as an integer"),
        ({"batch_size": lambda n: n}, "batch_size"),
    ],
)
def test_parameters_json_cannot_hold_are_refused_and_the_old_file_kept(tmp_path, options, message):
    path = tmp_path / "m.fbp"
    old = classifier(TARGETS["binary int"])
    fb.save(old, path)
    before = path.read_bytes()
    clf = classifier(TARGETS["binary int"])
    clf.set_params(**options)
    with pytest.raises(ValueError, match=message):
        fb.save(clf, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fbp"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.fbp"
    fb.save(classifier(TARGETS["binary int"]), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="No space left"):
        fb.save(classifier(TARGETS["binary str"]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fbp"]


# -- tampered files: the header is re-sealed, so only the estimator checks can refuse it --


def tampered(tmp_path, estimator, change):
    """A file of ``estimator`` whose estimator field ``change`` altered, sealed again."""
    path = tmp_path / "m.fbp"
    fb.save(estimator, path)
    with np.load(path) as archive:
        header, params = json.loads(archive["header"].tobytes()), archive["params"]
    change(header["estimator"])
    header["sha256"] = io.seal(header, params)
    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to the name
        np.savez(f, header=raw, params=params)
    return path


def set_field(field, value):
    def change(state):
        state[field] = value

    return change


def set_param(name, value):
    def change(state):
        state["params"][name] = value

    return change


def drop_class(state):
    state["classes"]["values"].pop()


TAMPERINGS = {
    "one class too few": (drop_class, "classes and a network of 3 outputs"),
    "unknown class": (set_field("class", "os.system"), "class must be one of"),
    # a classifier's params include class_weight, which a regressor does not have
    "class as a regressor": (set_field("class", "BPRegressor"), "its params are"),
    "unknown param": (set_param("evil", 1), "its params are"),
    "bad param value": (set_param("activation", "gelu"), "params that do not fit"),
    "hidden sizes of another network": (set_param("hidden_layer_sizes", [7]), "changed"),
    "alpha as a string": (set_param("alpha", "0.1"), "alpha must be a number"),
    "random_state as a list": (set_param("random_state", [1, 2]), "random_state must be null"),
    "param as an object": (set_param("verbose", {"a": 1}), "verbose=.*not one a model file holds"),
    "loss of another network": (set_param("loss", "squared_error"), "changed"),
    "bad target": (set_field("target", "continuous"), "target must be one of"),
    "binary target of 3 classes": (set_field("target", "binary"), "binary classifier of 3"),
    "bad classes dtype": (set_field("classes", {"dtype": "O", "values": [1, 2, 3]}), "dtype"),
    "classes of the wrong type": (
        set_field("classes", {"dtype": "int64", "values": ["a", "b", "c"]}),
        "labels of dtype int64",
    ),
    "repeated classes": (
        set_field("classes", {"dtype": "int64", "values": [1, 1, 2]}),
        "distinct labels",
    ),
    "classes beyond their dtype": (
        set_field("classes", {"dtype": "int8", "values": [1, 2, 300]}),
        "labels that fit int8",
    ),
    "features of another network": (set_field("n_features_in", 4), "4 features"),
    "feature names of another count": (set_field("feature_names_in", ["a"]), "3 names"),
    "feature names not strings": (set_field("feature_names_in", [1, 2, 3]), "list of strings"),
    "missing field": (lambda state: state.pop("rng"), "missing \\['rng'\\]"),
    "extra field": (set_field("pickle", "x"), "unknown \\['pickle'\\]"),
    "bad rng": (set_field("rng", {"key": [1], "pos": 0}), "MT19937"),
    "bad n_iter": (set_field("n_iter", -1), "n_iter must be a non-negative integer"),
    "bad loss curve": (set_field("loss_curve", ["x"]), "loss_curve must be a list of numbers"),
    "validation scores without early stopping": (
        set_field("validation_scores", [0.5]),
        "exactly when early_stopping",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_tampered_estimator_headers_are_refused(tmp_path, name):
    change, message = TAMPERINGS[name]
    path = tampered(tmp_path, classifier(TARGETS["multiclass int"]), change)
    with pytest.raises(ValueError, match=message):
        fb.load(path)


def test_a_multilabel_file_needs_classes_0_to_n(tmp_path):
    def change(state):
        state["classes"]["values"] = [5, 6, 7]

    path = tampered(tmp_path, classifier(TARGETS["multilabel"]), change)
    with pytest.raises(ValueError, match="0, 1, ... for multilabel"):
        fb.load(path)


def test_a_regressor_of_two_outputs_cannot_claim_a_1d_target(tmp_path):
    path = tampered(tmp_path, regressor(X[:, :2]), set_field("target", 1))
    with pytest.raises(ValueError, match="target must be 2"):
        fb.load(path)


def test_an_altered_estimator_field_fails_the_checksum(tmp_path):
    path = tmp_path / "m.fbp"
    fb.save(classifier(TARGETS["binary str"]), path)
    with np.load(path) as archive:
        header, params = json.loads(archive["header"].tobytes()), archive["params"]
    header["estimator"]["classes"]["values"] = ["yes", "oui"]
    raw = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to the name
        np.savez(f, header=raw, params=params)
    with pytest.raises(ValueError, match="failed its checksum"):
        fb.load(path)


def test_the_command_line_reads_an_estimator_file(tmp_path, capsys):
    from fastbp import cli

    path = tmp_path / "m.fbp"
    fb.save(classifier(TARGETS["binary int"]), path)
    net, header = cli._load(str(path))
    assert isinstance(net, fb.Network)
    assert header["estimator"]["class"] == "BPClassifier"


def test_estimators_are_in_dir_fastbp():
    assert {"BPClassifier", "BPRegressor", "save", "load"} <= set(dir(fb))
