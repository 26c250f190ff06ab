"""Whole pipelines through skops.io, trusting fastbp.sklearn.SKOPS_TRUSTED and nothing else."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

sio = pytest.importorskip("skops.io", reason="skops is the optional extra fastbp[skops]")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastbp.sklearn import SKOPS_TRUSTED, BPClassifier, BPRegressor  # noqa: E402

RNG = np.random.RandomState(0)
X = RNG.rand(40, 3) * 10


def fitted(estimator, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def pipeline():
    y = np.array(["low", "mid", "high"])[(X[:, 0] / 10 * 3).astype(int)]
    clf = BPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    return fitted(Pipeline([("scale", StandardScaler()), ("clf", clf)]), y)


def regressor():
    return fitted(BPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0), X[:, :2])


@pytest.mark.parametrize("make", [pipeline, regressor], ids=["pipeline", "regressor"])
def test_skops_needs_to_trust_only_fastbp_types(tmp_path, make):
    path = tmp_path / "model.skops"
    sio.dump(make(), path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted  # fastbp's types are not trusted by default ...
    assert set(untrusted) <= set(SKOPS_TRUSTED)  # ... and they are all that is needed
    assert all(name.startswith("fastbp.") for name in SKOPS_TRUSTED)


def test_a_pipeline_round_trips_with_identical_predictions(tmp_path):
    pipe = pipeline()
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED)
    assert isinstance(loaded[-1], BPClassifier)
    assert_array_equal(loaded.predict(X), pipe.predict(X))
    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert_array_equal(loaded.classes_, pipe.classes_)


def test_a_regressor_round_trips_with_identical_predictions(tmp_path):
    reg = regressor()
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED)
    assert isinstance(loaded, BPRegressor)
    assert_array_equal(loaded.predict(X), reg.predict(X))


def test_an_untrusted_type_is_still_refused(tmp_path):
    path = tmp_path / "pipe.skops"
    sio.dump(pipeline(), path)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path, trusted=["fastbp.network.Network"])
