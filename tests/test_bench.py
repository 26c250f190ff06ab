"""The benchmark harness (fastbp.bench): its peers compute what fastbp computes, and its
verdicts follow its measurements.  No timing is asserted here."""

import json
import subprocess
import sys

import numpy as np
import pytest

import fastbp as fb
from fastbp import bench


def small_problem(dtype="float64"):
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(24, 7)).astype(dtype)
    Y = rng.uniform(size=(24, 3)).astype(dtype)
    return X, Y


@pytest.mark.parametrize("batch", [1, 5, 24])
def test_numpy_peer_trains_exactly_like_fastbp(batch):
    X, Y = small_problem()
    Ws, bs = bench.initial_parameters((7, 6, 4, 3), seed=0)
    net = fb.Network([7, 6, 4, 3], weights=Ws, biases=bs)
    net.train(X, Y, epochs=2, batch_size=batch, learning_rate=0.5, shuffle=False)
    history = bench.numpy_train(Ws, bs, X, Y, 2, batch, 0.5, False, 0)
    for mine, theirs in zip(Ws + bs, net.weights + net.biases):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
    assert history[-1] == pytest.approx(net.loss(X, Y), rel=0.2)


def test_numpy_peer_can_freeze_the_biases_like_the_worked_example():
    from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X

    Ws = [np.array(W) for W in WORKED_WEIGHTS]
    bs = [np.array(b) for b in WORKED_BIASES]
    bench.numpy_train(Ws, bs, np.array(WORKED_X), np.array(WORKED_T), 1, 1, 0.5, False, 0, False)
    np.testing.assert_allclose(Ws[1].ravel(), [0.35891648, 0.511301270, 0.408666186, 0.561370121])
    np.testing.assert_array_equal(bs[0], WORKED_BIASES[0])


def test_torch_peer_trains_exactly_like_fastbp():
    torch = pytest.importorskip("torch")
    X, Y = small_problem()
    sizes = (7, 6, 4, 3)
    Ws, bs = bench.initial_parameters(sizes, seed=0)
    net = fb.Network(list(sizes), weights=Ws, biases=bs)
    net.train(X, Y, epochs=2, batch_size=8, learning_rate=bench.LEARNING_RATE, shuffle=False)
    model = bench.torch_model(torch, sizes, "float64", seed=0)
    bench.torch_train(torch, model, torch.from_numpy(X), torch.from_numpy(Y), 2, 8, False, 0)
    linears = list(model)[::2]
    for l, linear in enumerate(linears):
        np.testing.assert_allclose(linear.weight.detach().numpy().T, net.weights[l], atol=1e-12)
        np.testing.assert_allclose(linear.bias.detach().numpy(), net.biases[l], atol=1e-12)


def test_gemm_baseline_runs_the_eight_products_of_a_batch():
    shapes = bench.gemm_shapes((784, 16, 16, 10), 32)
    assert len(shapes) == 8  # forward 3 + backward-delta 2 + weight-gradient 3
    flops = sum(2 * m * k * n for (m, k), (_, n), _ in shapes)
    # The nominal 6 * rows * sum(n_in * n_out) counts the first layer's delta too.
    assert flops == bench.nominal_flops((784, 16, 16, 10), 32) - 2 * 32 * 784 * 16
    run = bench.numpy_gemms((5, 4, 3), 10, 4, "float32", seed=0)
    run()  # two full batches and a remainder batch of 2


def test_synthetic_data_is_c_contiguous_in_the_asked_dtype():
    for dtype in ("float64", "float32"):
        X, Y = bench.synthetic(50, 8, 3, dtype, seed=0)
        assert X.dtype == dtype and Y.dtype == dtype
        assert X.flags.c_contiguous and Y.flags.c_contiguous
        np.testing.assert_array_equal(Y.sum(axis=1), 1)


def fake_report(fast, slow):
    report = bench.Report(machine={}, config=bench.Config(only=("W1",)))
    report.results = [
        bench.Result("W1", "fastbp", "float64", fast, 10_000, 10_000, "updates", 1),
        bench.Result("W1", "fastbp.reference", "float64", slow, 1_000, 10_000, "updates", 1),
    ]
    return report


@pytest.mark.parametrize("slow, met", [(0.0049, False), (0.0051, True)])
def test_a_target_is_met_only_when_the_measured_ratio_reaches_it(slow, met):
    # The reference ran a tenth of the updates: its time is extrapolated x10.
    (target,) = bench.check_targets(fake_report(0.001, slow))
    assert target.met is met
    assert target.measured == f"{slow * 10 / 0.001:.1f}x (extrapolated)"


def test_a_missing_peer_is_skipped_not_failed():
    report = bench.Report(machine={}, config=bench.Config(only=("W2",)))
    report.results = [bench.Result("W2", "fastbp", "float64", 1.0, 60_000, 60_000, "samples", 1)]
    verdicts = {t.text: t.verdict for t in bench.check_targets(report)}
    assert verdicts["W2 float64: >= 4x faster than scikit-learn"] == "SKIPPED"


def test_bench_command_runs_and_writes_its_files(tmp_path):
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastbp",
            "bench",
            "--quick",
            "--only",
            "W4,M",
            "--markdown",
            str(md),
            "--json",
            str(js),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "machine:" in done.stdout and "targets:" in done.stdout
    data = json.loads(js.read_text())
    fastbp_w4 = next(r for r in data["results"] if r["impl"] == "fastbp")
    latency = next(t for t in data["targets"] if t["text"].startswith("W4: <= 3 us"))
    assert latency["verdict"] == ("MET" if fastbp_w4["seconds"] <= 3e-6 else "NOT MET")
    text = md.read_text()
    assert text.startswith("Command: `python -m fastbp bench --quick --only W4,M")
    assert "| target | measured | verdict |" in text


def test_bench_rejects_an_unknown_workload():
    done = subprocess.run(
        [sys.executable, "-m", "fastbp", "bench", "--only", "W9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "W9" in done.stderr


def test_rss_probe_runs_its_child_module():
    rss = bench.rss_subprocess(64, seed=0)
    if rss is None:
        pytest.skip("no resource module on this platform")
    assert rss["arrays_bytes"] == 64 * (784 + 10) * 8
    assert rss["train_growth_bytes"] == rss["trained"] - rss["loaded"] >= 0


def test_every_workload_has_its_function_and_every_peer_a_name():
    assert bench.WORKLOADS == ("W1", "W2", "W3", "W4", "W5", "M")
    assert tuple(bench.WORKLOADS_BY_NAME) == bench.WORKLOADS
    assert bench.Config().only == bench.WORKLOADS
    assert [peer.name for peer in bench.PEERS] == ["NumPy", "scikit-learn", "PyTorch"]
