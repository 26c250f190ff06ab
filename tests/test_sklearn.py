"""BPClassifier and BPRegressor: scikit-learn's own checks and the behaviour users rely on."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastbp as fb  # noqa: E402
from fastbp import BPClassifier, BPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks(
    [
        BPClassifier(max_iter=20),
        BPRegressor(max_iter=100, learning_rate_init=0.01),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    # No check is expected to fail.  Two report a skip of their own, with its reason
    # (pytest -rs): check_array_api_input without SCIPY_ARRAY_API set, and the
    # multilabel decision_function format, as the estimators have no decision_function.
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return train_test_split(d.data, d.target, test_size=0.25, random_state=0, stratify=d.target)


def blobs(n=90, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4, size=(n_classes, 4))
    y = np.arange(n) % n_classes
    return centres[y] + rng.normal(size=(n, 4)), y


@pytest.mark.parametrize("solver", ["adam", "sgd", "rprop"])
def test_digits_are_learned_by_every_solver(digits, solver):
    X_train, X_test, y_train, y_test = digits
    rate = {"sgd": 0.1, "adam": 0.01, "rprop": 0.001}[solver]  # Rprop has no learning rate
    bp = BPClassifier((32,), solver=solver, learning_rate_init=rate, max_iter=40, random_state=0)
    clf = Pipeline([("scale", StandardScaler()), ("bp", bp)])
    assert clf.fit(X_train, y_train).score(X_test, y_test) > 0.95


def test_multiclass_string_labels_use_softmax_and_probabilities():
    X, y = blobs()
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = BPClassifier(hidden_layer_sizes=(10,), max_iter=300, random_state=0).fit(X, labels)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3 and clf.n_layers_ == 3
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert (clf.predict(X) == labels).mean() > 0.95
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert [w.shape for w in clf.coefs_] == [(4, 10), (10, 3)]
    assert [b.shape for b in clf.intercepts_] == [(10,), (3,)]


def test_binary_uses_one_sigmoid_output():
    X, y = blobs(n_classes=2)
    clf = BPClassifier(hidden_layer_sizes=(5,), max_iter=200, random_state=0)
    clf.fit(X, np.where(y == 1, "yes", "no"))
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    assert proba.shape == (90, 2)
    np.testing.assert_allclose(proba[:, 1], clf.network_.predict(X)[:, 0])
    expected = np.where(proba[:, 1] > 0.5, "yes", "no")
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_multilabel_predicts_an_indicator_matrix():
    X, y = blobs()
    Y = np.column_stack([y == 0, y != 1, y == 2]).astype(int)
    clf = BPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.01, random_state=0)
    clf.fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    pred = clf.predict(X)
    assert pred.shape == (90, 3) and set(np.unique(pred)) <= {0, 1}
    assert (pred == Y).all()
    np.testing.assert_allclose(clf.predict_proba(X), clf.network_.predict(X))


def test_squared_error_classifier_normalises_sigmoid_outputs():
    X, y = blobs()
    clf = BPClassifier(hidden_layer_sizes=(8,), loss="squared_error", max_iter=50, random_state=0)
    clf.fit(X, y)
    assert clf.out_activation_ == "logistic"
    out = clf.network_.predict(X)
    np.testing.assert_allclose(clf.predict_proba(X), out / out.sum(axis=1, keepdims=True))


def test_regressor_fits_several_outputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], np.sin(X[:, 0])])
    reg = BPRegressor(
        hidden_layer_sizes=(20,), max_iter=500, learning_rate_init=0.01, random_state=0
    )
    reg.fit(X, Y)
    assert reg.out_activation_ == "identity" and reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.95
    assert reg.fit(X, Y[:, 0]).predict(X).shape == (200,)


def test_pandas_dataframe_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = BPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(df, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    assert clf.n_features_in_ == 4
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = clf.predict(X.copy(order="F"))
    np.testing.assert_array_equal(clf.predict(df), from_array)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"a": "z"}))


def test_zero_sample_weights_equal_dropping_the_samples():
    X, y = blobs()
    sw = np.ones(90)
    sw[::4] = 0
    kw = dict(hidden_layer_sizes=(6,), batch_size=500, max_iter=20, random_state=3)
    a = BPClassifier(**kw).fit(X, y, sample_weight=sw)
    b = BPClassifier(**kw).fit(X[sw > 0], y[sw > 0])
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(wa, wb, atol=1e-13)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, atol=1e-13)


def test_fitted_attributes_follow_mlp(digits):
    X_train, _, y_train, _ = digits
    clf = BPClassifier(hidden_layer_sizes=(16,), max_iter=15, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        clf.fit(X_train / 16, y_train)
    assert clf.n_iter_ == len(clf.loss_curve_) == 15
    assert clf.t_ == 15 * len(X_train)
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_early_stopping_records_scores_and_keeps_the_best(digits):
    X_train, _, y_train, _ = digits
    clf = BPClassifier(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        learning_rate_init=0.05,
        random_state=0,
    )
    clf.fit(X_train / 16, y_train)
    assert clf.n_iter_ < 200 and clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # the restored parameters score the best validation accuracy again, on the
    # split the estimator drew after the initial weights' seed (stratified only
    # for a single output, as in MLPClassifier)
    rng = np.random.RandomState(0)
    rng.randint(2**32 - 1)
    _, X_val, _, y_val = train_test_split(X_train / 16, y_train, test_size=0.1, random_state=rng)
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_tol_stops_training_when_the_loss_stalls():
    X, y = blobs()
    clf = BPClassifier(
        hidden_layer_sizes=(5,), learning_rate_init=1e-9, n_iter_no_change=4, random_state=0
    )
    clf.fit(X, y)
    assert clf.n_iter_ == 6


def test_partial_fit_trains_one_epoch_per_call():
    X, y = blobs()
    clf = BPClassifier(hidden_layer_sizes=(5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.out_activation_ == "softmax"
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2 and clf.t_ == 60 + 90 and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match=r"classes \[7\] not in classes_"):
        clf.partial_fit(X[:2], [7, 0])
    with pytest.raises(ValueError, match="early_stopping"):
        BPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_adam_state_carries_over_partial_fit_calls():
    """Two partial_fit calls are two epochs of one Network.train run."""
    X, y = blobs()
    est = BPRegressor(hidden_layer_sizes=(4,), batch_size=30, shuffle=False, random_state=0)
    est.partial_fit(X, y.astype(float))
    est.partial_fit(X, y.astype(float))
    net = fb.Network(
        [4, 4, 1],
        activation="relu",
        output_activation="identity",
        seed=int(np.random.RandomState(0).randint(2**32 - 1)),
    )
    history = net.train(
        X,
        y[:, None].astype(float),
        epochs=2,
        batch_size=30,
        shuffle=False,
        learning_rate=0.001,
        optimizer="adam",
        alpha=0.0001,
    )
    np.testing.assert_allclose(est.loss_curve_, history, atol=1e-14)
    np.testing.assert_allclose(est.network_.params, net.params, atol=1e-14)


def test_warm_start_continues_from_the_fitted_parameters():
    X, y = blobs()
    clf = BPClassifier(hidden_layer_sizes=(5,), max_iter=5, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = clf.loss_curve_[:]
    params = clf.network_.params
    clf.fit(X, y)
    assert clf.network_.params is params and clf.n_iter_ == 5
    assert clf.loss_curve_[:5] == first and len(clf.loss_curve_) == 10
    assert clf.loss_curve_[5] < first[0]


def test_grid_search_over_a_pipeline_in_two_processes(digits):
    X_train, X_test, y_train, y_test = digits
    bp = BPClassifier(learning_rate_init=0.01, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("bp", bp)])
    grid = GridSearchCV(
        pipe, {"bp__hidden_layer_sizes": [(2,), (32,)], "bp__max_iter": [30]}, cv=2, n_jobs=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X_train[:600], y_train[:600])
    assert grid.best_params_["bp__hidden_layer_sizes"] == (32,)
    assert grid.score(X_test, y_test) > 0.9


def test_pickle_round_trip_and_clone(digits):
    X_train, X_test, y_train, _ = digits
    clf = BPClassifier(hidden_layer_sizes=(16,), max_iter=10, dtype="float32", random_state=0)
    clf.fit(X_train, y_train)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X_test), clf.predict_proba(X_test))
    assert copy.coefs_[0].dtype == np.float32
    assert np.shares_memory(copy.coefs_[0], copy.network_.params)
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "network_")


@pytest.mark.parametrize(
    "params,error,match",
    [
        (dict(hidden_layer_sizes=(0,)), ValueError, r"hidden_layer_sizes\[0\] must be at least 1"),
        (dict(hidden_layer_sizes="big"), TypeError, "hidden_layer_sizes must be a sequence"),
        (dict(activation="softplus"), ValueError, "activation must be one of"),
        (dict(solver="bfgs"), ValueError, "solver must be one of"),
        (dict(loss="hinge"), ValueError, "loss must be one of"),
        (dict(batch_size=0), ValueError, "batch_size must be at least 1"),
        (dict(max_iter=0), ValueError, "max_iter must be at least 1"),
        (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
        (dict(dtype="float16"), ValueError, "dtype must be"),
        (dict(momentum=2.0), ValueError, "momentum"),
        (dict(solver="rprop", batch_size=10), ValueError, "full batches"),
        (dict(early_stopping=True, validation_fraction=0.01), ValueError, "too small"),
    ],
)
def test_bad_parameters_raise_at_fit(params, error, match):
    X, y = blobs()
    with pytest.raises(error, match=match):
        BPClassifier(**params).fit(X, y)


def test_fastbp_imports_without_scikit_learn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import fastbp\n"
        "try:\n"
        "    fastbp.BPClassifier\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'fastbp[sklearn]'" in out.stdout
