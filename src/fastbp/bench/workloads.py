"""Issue 3's workloads, one function each, and their table :data:`WORKLOADS_BY_NAME`.

A workload logs its heading, queues its rows on the :class:`~fastbp.bench.runner.Bench`
(fastbp first, then the baselines and the registered peers) and adds its notes.
A new workload is one function here plus its row in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from fastbp.bench.memory import rss_subprocess, traced_memory
from fastbp.bench.peers.fastbp_peer import (
    fastbp_pair_trainer,
    fastbp_predictor,
    fastbp_trainer,
    reference_predictor,
    reference_trainer,
)
from fastbp.bench.peers.gemms import (
    ENGINE_GEMM_NOTE,
    GEMM_NOTE,
    engine_gemms,
    nominal_flops,
    numpy_gemms,
)
from fastbp.bench.problems import (
    DTYPES,
    W2_SIZES,
    W3_SIZES,
    PredictionRun,
    TrainingRun,
    initial_parameters,
)
from fastbp.bench.render import fmt_bytes
from fastbp.bench.timing import RunPlan, ready, thread_limit
from fastbp.classic import WORKED_BIASES, WORKED_T, WORKED_WEIGHTS, WORKED_X

if TYPE_CHECKING:
    from fastbp.bench.peers.base import Peer, TrainerFactory
    from fastbp.bench.runner import Bench


def time_peer_trainers(
    bench: Bench,
    plan: RunPlan,
    run: TrainingRun,
    kind: Callable[[Peer], TrainerFactory | None],
) -> None:
    """Queue the row of every installed peer that does this ``kind`` of training."""
    for peer, handle in bench.peers:
        make = kind(peer)
        if make is not None:
            trainer = make(handle, run)
            bench.timed(plan, trainer.impl, trainer.setup, trainer.note)


def reference_plan(plan: RunPlan, n_run: int, repeats: int) -> RunPlan:
    """The reference's runs: fewer units, no warm-up (it is slow and needs none)."""
    return replace(plan, n_run=n_run, warmup=0, repeats=repeats)


def w1_worked_example(bench: Bench) -> None:
    """W1: the worked 2-2-2 example, online updates with the biases fixed."""
    bench.log("W1: the worked 2-2-2 example, 10,000 online updates, float64")
    units = bench.config.units()
    n, n_reference = units["W1"], units["W1_reference"]
    run = TrainingRun(
        (2, 2, 2),
        [np.array(W) for W in WORKED_WEIGHTS],
        [np.array(b) for b in WORKED_BIASES],
        np.array(WORKED_X),
        np.array(WORKED_T),
        batch=1,
        epochs=n,
        shuffle=False,
        train_biases=False,
    )
    plan = RunPlan("W1", "float64", n, n, "updates", bench.config.repeats)
    with bench.interleaved():
        bench.timed(plan, "fastbp", fastbp_trainer(run))
        bench.timed(
            reference_plan(plan, n_reference, max(1, min(bench.config.repeats, 3))),
            "fastbp.reference",
            reference_trainer(replace(run, epochs=n_reference)),
            "pure Python",
        )
        time_peer_trainers(bench, plan, run, lambda peer: peer.worked_example)


def w2_small_epoch(bench: Bench) -> None:
    """W2: one epoch of 784-16-16-10, batch 32, in each dtype; the reference in float64."""
    units = bench.config.units()
    n, n_reference, seed = units["W2"], units["W2_reference"], bench.config.seed
    weights, biases = initial_parameters(W2_SIZES, seed)
    for dtype in DTYPES:
        bench.log(f"W2: 784-16-16-10, batch 32, one epoch of {n:,} samples, {dtype}")
        X, Y = bench.data("W2", n, W2_SIZES, dtype)
        run = TrainingRun(W2_SIZES, weights, biases, X, Y, batch=32, seed=seed)
        plan = RunPlan("W2", dtype, n, 60_000, "samples", bench.config.repeats)
        gemms = numpy_gemms(W2_SIZES, n, run.batch, dtype, seed)
        with bench.interleaved():
            bench.timed(plan, "fastbp", fastbp_trainer(run))
            bench.timed(plan, "NumPy GEMMs only", ready(gemms), GEMM_NOTE)
            time_peer_trainers(bench, plan, run, lambda peer: peer.epoch)
            if dtype == "float64":
                bench.timed(
                    reference_plan(plan, n_reference, 1),
                    "fastbp.reference",
                    reference_trainer(replace(run, X=X[:n_reference], Y=Y[:n_reference])),
                    "pure Python, float64 only",
                )


def w3_large_epoch(bench: Bench) -> None:
    """W3: one epoch of 784-1024-1024-10, batch 256, in each dtype, with one and two threads."""
    n, seed = bench.config.units()["W3"], bench.config.seed
    repeats = max(1, min(bench.config.repeats, 3))
    weights, biases = initial_parameters(W3_SIZES, seed)
    for dtype in DTYPES:
        bench.log(f"W3: 784-1024-1024-10, batch 256, one epoch of {n:,} samples, {dtype}")
        X, Y = bench.data("W3", n, W3_SIZES, dtype)
        run = TrainingRun(W3_SIZES, weights, biases, X, Y, batch=256, seed=seed)
        plan = RunPlan("W3", dtype, n, 10_240, "samples", repeats, flops=nominal_flops(W3_SIZES, n))
        fastbp_setup = fastbp_trainer(run)
        gemms = numpy_gemms(W3_SIZES, n, run.batch, dtype, seed)
        engine = engine_gemms(W3_SIZES, n, run.batch, dtype, seed)
        with bench.interleaved():
            for threads in sorted({bench.config.threads, 2}):
                with_threads = replace(plan, threads=threads)
                bench.timed(with_threads, "fastbp", fastbp_setup)
                bench.timed(with_threads, "NumPy GEMMs only", ready(gemms), GEMM_NOTE)
            bench.timed(
                replace(plan, threads=bench.config.threads),
                "SciPy BLAS GEMMs only",
                ready(engine),
                ENGINE_GEMM_NOTE,
            )
            time_peer_trainers(bench, plan, run, lambda peer: peer.epoch)
    bench.report.notes.append(
        "W3: fastbp.reference is not run (about a second per sample in pure Python)"
    )


def w4_predict_one(bench: Bench) -> None:
    """W4: the latency of predict on one sample, 784-16-16-10, float64."""
    bench.log("W4: predict on one sample, 784-16-16-10, float64")
    min_time = 0.02 if bench.config.quick else 0.2
    x, _ = bench.data("W4", 1, W2_SIZES, "float64")
    weights, biases = initial_parameters(W2_SIZES, bench.config.seed)
    X, Y = bench.data("W2", 256, W2_SIZES, "float64")  # for a peer that must fit first
    training = TrainingRun(W2_SIZES, weights, biases, X, Y, batch=32, seed=bench.config.seed)
    run = PredictionRun(x, training)
    bench.time_calls(
        "W4",
        "fastbp",
        fastbp_predictor(run),
        "a (1, 784) float64 array, validation included",
        min_time,
    )
    bench.time_calls(
        "W4", "fastbp.reference", reference_predictor(run), "a list of one row", min_time
    )
    for peer, handle in bench.peers:
        if peer.predict_one is not None:
            predictor = peer.predict_one(handle, run)
            bench.time_calls("W4", predictor.impl, predictor.predict, predictor.note, min_time)


def w5_two_threads(bench: Bench) -> None:
    """W5: two W2 networks trained in two Python threads vs one after the other."""
    n = bench.config.units()["W5"]
    bench.log(f"W5: two W2 networks ({n:,} samples each), two threads vs one after the other")
    X, Y = bench.data("W2", n, W2_SIZES, "float64")
    weights, biases = initial_parameters(W2_SIZES, bench.config.seed)
    run = TrainingRun(W2_SIZES, weights, biases, X, Y, batch=32)
    plan = RunPlan("W5", "float64", 2 * n, 2 * n, "samples", bench.config.repeats, threads=1)
    note = "BLAS limited to one thread"
    one_after_the_other = fastbp_pair_trainer(run, threaded=False)
    in_two_threads = fastbp_pair_trainer(run, threaded=True)
    with thread_limit(1), bench.interleaved():
        bench.timed(plan, "fastbp, one after the other", one_after_the_other, note)
        bench.timed(plan, "fastbp, two threads", in_two_threads, note)


def m_memory(bench: Bench) -> None:
    """M: the memory of training W2, traced in this process and as RSS in a fresh one."""
    n = bench.config.units()["W2"]
    bench.log(f"M: memory of training W2 ({n:,} samples)")
    for dtype in DTYPES:
        X, Y = bench.data("W2", n, W2_SIZES, dtype)
        traced = traced_memory(X, Y, dtype, bench.config.seed)
        bench.report.memory[dtype] = traced
        bench.log(
            f"  {dtype}: X + Y = {fmt_bytes(traced['arrays_bytes'])}, training allocated at "
            f"most {fmt_bytes(traced['train_extra_bytes'])} more "
            f"({fmt_bytes(traced['train_extra_bytes_half'])} for half the samples: "
            f"{traced['extra_bytes_per_sample']:.1f} B per sample; tracemalloc)"
        )
    rss = rss_subprocess(n, bench.config.seed)
    bench.report.memory["rss"] = rss
    if rss:
        bench.log(
            f"  float64 in a fresh subprocess: peak RSS grew by "
            f"{fmt_bytes(rss['train_growth_bytes'])} during training "
            f"(X + Y = {fmt_bytes(rss['arrays_bytes'])})"
        )


# The workloads in the order they run; the names are those of --only.
WORKLOADS_BY_NAME: dict[str, Callable[[Bench], None]] = {
    "W1": w1_worked_example,
    "W2": w2_small_epoch,
    "W3": w3_large_epoch,
    "W4": w4_predict_one,
    "W5": w5_two_threads,
    "M": m_memory,
}
WORKLOADS = tuple(WORKLOADS_BY_NAME)
