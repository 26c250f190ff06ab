"""pytest-benchmark cases for issue 3's workloads W1-W4 (see ``python -m fastbp bench``).

Run:      python -m pytest bench --benchmark-only -k workloads
Track:    python -m pytest bench --benchmark-only --benchmark-autosave, then
          pytest-benchmark compare

Each fastbp case has a "NumPy GEMMs" twin that runs only the matrix products of
the same work: the ratio of the two is what the engine adds on top of BLAS, and
it stays comparable across machines.  BLAS runs on one thread, as in the
harness.  Speed targets are checked by ``python -m fastbp bench``, not here.
"""

import numpy as np
import pytest

import fastbp as fb
from fastbp import bench, reference
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X


@pytest.fixture(autouse=True)
def one_blas_thread():
    with fb.blas_threads(1):
        yield


# -- W1: the worked 2-2-2 example, online updates ---------------------------


@pytest.mark.parametrize("engine, updates", [("fastbp", 10_000), ("reference", 1_000)])
def test_w1_worked_example_online_updates(benchmark, engine, updates):
    cls = fb.Network if engine == "fastbp" else reference.Network
    X, T = np.array(WORKED_X), np.array(WORKED_T)

    def run():
        net = cls([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
        return net.train(X, T, epochs=updates, batch_size=1, learning_rate=0.5, train_biases=False)

    benchmark.extra_info["updates"] = updates
    history = benchmark(run)
    assert history[-1] < history[0]


# -- W2: 784-16-16-10, batch 32, one epoch of 60,000 samples ------------------

W2_N = 60_000


@pytest.fixture(scope="module", params=["float64", "float32"])
def w2_data(request):
    return request.param, *bench.synthetic(W2_N, 784, 10, request.param, seed=0)


def test_w2_epoch_fastbp(benchmark, w2_data):
    dtype, X, Y = w2_data
    net = fb.Network(list(bench.W2_SIZES), dtype=dtype, seed=0)
    history = benchmark(net.train, X, Y, epochs=1, batch_size=32, learning_rate=0.5, seed=0)
    assert len(history) == 1


def test_w2_epoch_numpy_gemms(benchmark, w2_data):
    dtype, X, _ = w2_data
    benchmark(bench.numpy_gemms(bench.W2_SIZES, W2_N, 32, dtype, seed=0))


# -- W3: 784-1024-1024-10, batch 256, one epoch of 10,240 samples --------------

W3_N = 10_240


@pytest.fixture(scope="module", params=["float64", "float32"])
def w3_data(request):
    return request.param, *bench.synthetic(W3_N, 784, 10, request.param, seed=0)


def test_w3_epoch_fastbp(benchmark, w3_data):
    dtype, X, Y = w3_data
    net = fb.Network(list(bench.W3_SIZES), dtype=dtype, seed=0)
    benchmark.extra_info["gflop"] = bench.nominal_flops(bench.W3_SIZES, W3_N) / 1e9
    history = benchmark(net.train, X, Y, epochs=1, batch_size=256, learning_rate=0.5, seed=0)
    assert len(history) == 1


def test_w3_epoch_numpy_gemms(benchmark, w3_data):
    dtype, _, _ = w3_data
    benchmark.extra_info["gflop"] = bench.nominal_flops(bench.W3_SIZES, W3_N) / 1e9
    benchmark(bench.numpy_gemms(bench.W3_SIZES, W3_N, 256, dtype, seed=0))


# -- W4: predict on one sample, 784-16-16-10, float64 -------------------------


@pytest.mark.parametrize("engine", ["fastbp", "reference"])
def test_w4_predict_one_sample(benchmark, engine):
    x, _ = bench.synthetic(1, 784, 10, "float64", seed=0)
    init = fb.Network(list(bench.W2_SIZES), seed=0)
    if engine == "fastbp":
        net = init
    else:
        net = reference.Network(list(bench.W2_SIZES), weights=init.weights, biases=init.biases)
        x = x.tolist()
    out = benchmark(net.predict, x)
    assert np.asarray(out).shape == (1, 10)
