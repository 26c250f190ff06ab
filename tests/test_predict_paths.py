"""``Network.predict`` hands a ready array straight to the engine and converts the rest:
every other form of the same input gives the same outputs, or the same clear error."""

import numpy as np
import pytest

import fastbp as fb


@pytest.fixture(params=["float64", "float32"])
def case(request):
    net = fb.Network([6, 5, 3], dtype=request.param, seed=1)
    X = np.random.default_rng(2).normal(size=(4, 6)).astype(request.param)
    return net, X


def test_every_form_of_the_input_gives_the_ready_arrays_outputs(case, tmp_path):
    net, X = case
    expected = net.predict(X)
    other = "float32" if X.dtype == np.float64 else "float64"
    path = tmp_path / "X.bin"
    X.tofile(path)
    forms = [
        X.tolist(),
        np.asfortranarray(X),
        X.astype(other),
        np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape),
        np.concatenate([X, X], axis=1)[:, :6],  # a strided view
    ]
    for form in forms:
        np.testing.assert_allclose(
            net.predict(form), expected, rtol=1e-6 if form is forms[2] else 0
        )


def test_refusals_name_what_is_wrong(case):
    net, X = case
    with pytest.raises(ValueError, match="columns"):
        net.predict(X[:, :5])
    with pytest.raises(ValueError, match="no samples"):
        net.predict(X[:0])
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        net.predict(bad)
