"""fb.blas_threads / fb.set_blas_threads: what threadpoolctl reports for the engine's BLAS."""

from pathlib import Path

import numpy as np
import pytest

import fastbp as fb
from fastbp.threads import engine_blas_info

threadpoolctl = pytest.importorskip("threadpoolctl")


def engine_threads():
    info = engine_blas_info()
    if info is None:
        pytest.skip("threadpoolctl finds no BLAS library in this environment")
    return info["num_threads"]


def test_the_engine_blas_is_the_one_scipy_loads():
    info = engine_blas_info()
    if info is None:
        pytest.skip("threadpoolctl finds no BLAS library in this environment")
    import scipy.linalg.cython_blas  # noqa: F401

    paths = [lib["filepath"] for lib in threadpoolctl.threadpool_info()]
    assert info["filepath"] in paths
    if any(Path(p).parent.name.startswith("scipy") for p in paths):
        # SciPy's wheels bundle their own OpenBLAS; NumPy may load another copy.
        assert Path(info["filepath"]).parent.name.startswith("scipy")


def test_blas_threads_limits_inside_the_block_and_restores_after():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = engine_threads()
        with fb.blas_threads(1):
            assert engine_threads() == 1
            assert fb.get_blas_threads() == 1
        assert engine_threads() == before


def test_blas_threads_restores_after_an_exception():
    before = engine_threads()
    with pytest.raises(RuntimeError), fb.blas_threads(1):
        raise RuntimeError("boom")
    assert engine_threads() == before


def test_set_blas_threads_persists_until_changed():
    before = engine_threads()
    try:
        fb.set_blas_threads(1)
        assert engine_threads() == 1
        assert fb.get_blas_threads() == 1
    finally:
        fb.set_blas_threads(before)
    assert engine_threads() == before


def test_training_gives_the_same_result_with_any_thread_count():
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(64, 30)), rng.uniform(size=(64, 3))
    results = []
    for n in (1, 2):
        net = fb.Network([30, 40, 3], seed=0)
        with fb.blas_threads(n):
            net.train(X, Y, epochs=2, batch_size=16, seed=0)
        results.append(net.params.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "bad, error",
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_a_bad_thread_count_is_refused(bad, error):
    with pytest.raises(error, match="BLAS threads"):
        fb.blas_threads(bad)
    with pytest.raises(error, match="BLAS threads"):
        fb.set_blas_threads(bad)
