"""What the estimators add to scikit-learn's MLP, and where they follow it closely:
class_weight, the validation loss curve, the regression losses, dtype from X,
assignable coefs_, one-class targets, an endless patience, divergence."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_sample_weight

import fastbp as fb

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def imbalanced(n=300, seed=0):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, weights=[0.9, 0.1],
                               random_state=seed)  # fmt: skip
    return X, y


def small(**params):
    return fb.BPClassifier(**{"hidden_layer_sizes": (6,), "max_iter": 20, "random_state": 0,
                              **params})  # fmt: skip


# -- class_weight ---------------------------------------------------------------


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 5.0}])
def test_class_weight_trains_exactly_as_the_sample_weights_it_stands_for(class_weight):
    X, y = imbalanced()
    weighted = small(class_weight=class_weight).fit(X, y)
    by_samples = small().fit(X, y, sample_weight=compute_sample_weight(class_weight, y))
    np.testing.assert_array_equal(weighted.network_.params, by_samples.network_.params)


def test_class_weight_multiplies_sample_weight():
    X, y = imbalanced()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=y.size)
    both = small(class_weight="balanced").fit(X, y, sample_weight=sw)
    product = small().fit(X, y, sample_weight=sw * compute_sample_weight("balanced", y))
    np.testing.assert_array_equal(both.network_.params, product.network_.params)


def test_balanced_class_weight_recalls_the_rare_class():
    X, y = imbalanced(n=600, seed=3)
    plain = fb.BPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(X, y)
    balanced = clone(plain).set_params(class_weight="balanced").fit(X, y)
    rare = y == 1
    assert (balanced.predict(X)[rare] == 1).mean() > (plain.predict(X)[rare] == 1).mean()


@pytest.mark.parametrize(
    "class_weight, message",
    [
        ("even", "class_weight must be None, 'balanced' or a dict"),
        ({0: 1.0, 7: 2.0}, r"names classes \[7\]"),
    ],
)
def test_bad_class_weights_are_refused(class_weight, message):
    X, y = imbalanced(n=40)
    with pytest.raises(ValueError, match=message):
        small(class_weight=class_weight).fit(X, y)


def test_balanced_class_weight_is_refused_by_partial_fit_and_multilabel_by_fit():
    X, y = imbalanced(n=40)
    with pytest.raises(ValueError, match="partial_fit sees one part at a time"):
        small(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    small(class_weight={0: 1.0, 1: 3.0}).partial_fit(X, y, classes=[0, 1])  # a dict is fine
    with pytest.raises(ValueError, match="multilabel sample has several"):
        small(class_weight="balanced").fit(X, np.column_stack([y, 1 - y]))


# -- the validation loss curve ----------------------------------------------------


def test_validation_loss_curve_is_recorded_every_epoch_under_early_stopping():
    X, y = imbalanced()
    clf = small(early_stopping=True, max_iter=15, n_iter_no_change=100).fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_ == 15
    assert all(np.isfinite(clf.validation_loss_curve_))
    assert small().fit(X, y).validation_loss_curve_ is None


# -- regression losses --------------------------------------------------------------


def test_poisson_regressor_predicts_positive_means_near_the_truth():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(2000, 2))
    mean = np.exp(0.5 + X @ [1.0, -0.5])
    y = rng.poisson(mean)
    reg = fb.BPRegressor(hidden_layer_sizes=(8,), loss="poisson", solver="lbfgs", max_iter=300,
                         random_state=0).fit(X, y)  # fmt: skip
    assert reg.out_activation_ == "exp"
    prediction = reg.predict(X)
    assert prediction.min() > 0
    assert np.abs(prediction - mean).mean() < 0.15 * mean.mean()


def test_poisson_regressor_refuses_negative_targets():
    with pytest.raises(ValueError, match="loss='poisson' every target must be >= 0"):
        fb.BPRegressor(loss="poisson", max_iter=2).fit([[0.0], [1.0]], [1.0, -1.0])


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_robust_losses_ignore_outliers_that_pull_squared_error(loss):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 1))
    y = 2.0 * X[:, 0]
    y[:20] += 50.0  # gross outliers
    common = dict(hidden_layer_sizes=(1,), activation="identity", solver="lbfgs", alpha=0.0,
                  max_iter=500, random_state=0)  # fmt: skip
    robust = fb.BPRegressor(loss=loss, **common).fit(X, y)
    squared = fb.BPRegressor(loss="squared_error", **common).fit(X, y)
    clean = slice(20, None)
    robust_error = np.abs(robust.predict(X[clean]) - y[clean]).mean()
    squared_error = np.abs(squared.predict(X[clean]) - y[clean]).mean()
    assert robust_error < 0.1 < squared_error


# -- dtype follows X ------------------------------------------------------------------


@pytest.mark.parametrize(
    "x_dtype, dtype, expected",
    [
        ("float32", None, "float32"),
        ("float64", None, "float64"),
        ("int64", None, "float64"),
        ("float32", "float64", "float64"),
        ("float64", "float32", "float32"),
    ],
)
def test_the_network_dtype_follows_x_unless_given(x_dtype, dtype, expected):
    X, y = imbalanced(n=60)
    X = (X * 10).astype(x_dtype)
    reg = fb.BPRegressor(hidden_layer_sizes=(4,), max_iter=3, dtype=dtype, random_state=0)
    reg.fit(X, y)
    assert reg.network_.dtype == np.dtype(expected)
    assert all(c.dtype == np.dtype(expected) for c in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X).dtype == np.dtype(expected)
    # later calls read X in the fitted dtype, whatever it comes in
    assert reg.predict(X.astype("float64")).dtype == np.dtype(expected)


# -- coefs_ and intercepts_ can be assigned ------------------------------------------


def test_coefs_and_intercepts_can_be_assigned_to_a_fitted_estimator():
    X, y = imbalanced(n=60)
    clf = small().fit(X, y)
    zeros = [np.zeros_like(c) for c in clf.coefs_]
    clf.coefs_ = zeros
    clf.intercepts_ = [np.full_like(b, 0.5) for b in clf.intercepts_]
    assert not any(c.any() for c in clf.network_.weights)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-0.5)))
    with pytest.raises(ValueError, match=r"weights\[0\] has shape"):
        clf.coefs_ = [np.zeros((2, 2)), zeros[1]]
    with pytest.raises(AttributeError, match="once the estimator is fitted"):
        small().coefs_ = zeros


# -- one class, an endless patience, divergence -------------------------------------


def test_a_single_class_is_learnt_and_always_predicted():
    X = np.random.default_rng(0).normal(size=(20, 3))
    clf = small().fit(X, ["only"] * 20)
    assert clf.classes_.tolist() == ["only"]
    assert clf.predict(X).tolist() == ["only"] * 20
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((20, 1)))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_an_infinite_n_iter_no_change_runs_every_epoch(solver):
    X, y = imbalanced(n=60)
    clf = small(solver=solver, max_iter=30, tol=10.0, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.n_iter_ == 30
    # a finite patience with the same hopeless tol stops at once: epoch 1 is the
    # first best, epochs 2 to 4 are more than 2 without an improvement of tol
    assert small(solver=solver, max_iter=30, tol=10.0, n_iter_no_change=2).fit(X, y).n_iter_ == 4


def test_divergence_under_early_stopping_keeps_the_best_epoch_and_warns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)) * 3
    y = X @ [1.0, 2.0, -1.0, 0.5]
    reg = fb.BPRegressor(hidden_layer_sizes=(50,), activation="identity", solver="sgd",
                         learning_rate_init=0.3, momentum=0.0, max_iter=50, early_stopping=True,
                         n_iter_no_change=50, random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="Early stopping kept the parameters of epoch"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg.predict(X)).all()
    assert reg.best_validation_score_ == max(s for s in reg.validation_scores_ if s == s)


def test_divergence_without_early_stopping_raises_in_scikit_learns_words():
    X = np.full((10, 2), 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            fb.BPRegressor(max_iter=3).fit(X, np.arange(10.0))
