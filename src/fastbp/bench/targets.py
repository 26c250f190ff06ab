"""Issue 3's targets, each judged from the run's measurements: a check per workload."""

from __future__ import annotations

from collections.abc import Callable

from fastbp.bench.problems import DTYPES
from fastbp.bench.records import Report, Result, Target


def ratio_target(
    workload: str, text: str, slow: Result | None, fast: Result | None, need: float, why: str
) -> Target:
    """Met when ``slow`` takes at least ``need`` times as long as ``fast``; ``why``: if absent."""
    if slow is None or fast is None:
        return Target(workload, text, why, None)
    ratio = slow.full_seconds / fast.full_seconds
    extra = " (extrapolated)" if slow.extrapolated or fast.extrapolated else ""
    return Target(workload, text, f"{ratio:.1f}x{extra}", ratio >= need)


def worked_example_targets(report: Report) -> list[Target]:
    fastbp = report.find("W1", "fastbp")
    slow = report.find("W1", "fastbp.reference")
    return [ratio_target("W1", "W1 >= 50x faster than fastbp.reference", slow, fastbp, 50, "")]


def w2_targets(report: Report) -> list[Target]:
    targets = []
    for dtype in DTYPES:
        fastbp = report.find("W2", "fastbp", dtype)
        for peer, need in (("scikit-learn", 4), ("PyTorch", 8)):
            targets.append(
                ratio_target(
                    "W2",
                    f"W2 {dtype}: >= {need}x faster than {peer}",
                    report.find("W2", peer, dtype),
                    fastbp,
                    need,
                    f"{peer} not installed",
                )
            )
        gemm = report.find("W2", "NumPy GEMMs only", dtype)
        if fastbp is not None and gemm is not None:
            ratio = fastbp.full_seconds / gemm.full_seconds
            targets.append(
                Target(
                    "W2",
                    f"W2 {dtype}: within 1.3x of the time of its GEMMs alone",
                    f"{ratio:.2f}x the GEMM time",
                    ratio <= 1.3,
                )
            )
    return targets


def w3_targets(report: Report) -> list[Target]:
    targets = []
    threads = report.config.threads
    for dtype in DTYPES:
        fastbp = report.find("W3", "fastbp", dtype, threads)
        numpy = report.find("W3", "NumPy GEMMs only", dtype, threads)
        fastbp_two = report.find("W3", "fastbp", dtype, 2)
        if fastbp and numpy and fastbp.gflops and numpy.gflops:
            share = fastbp.gflops / numpy.gflops
            targets.append(
                Target(
                    "W3",
                    f"W3 {dtype}: >= 95% of the NumPy matmul GFLOP/s",
                    f"{fastbp.gflops:.1f} vs {numpy.gflops:.1f} GFLOP/s = {100 * share:.0f}%",
                    share >= 0.95,
                )
            )
        if threads == 1 and fastbp and fastbp_two and fastbp.gflops and fastbp_two.gflops:
            gain = fastbp_two.gflops / fastbp.gflops
            targets.append(
                Target(
                    "W3",
                    f"W3 {dtype}: two BLAS threads >= 1.7x the one-thread rate",
                    f"{fastbp_two.gflops:.1f} vs {fastbp.gflops:.1f} GFLOP/s = {gain:.2f}x",
                    gain >= 1.7,
                )
            )
    return targets


def w4_targets(report: Report) -> list[Target]:
    targets = []
    fastbp = report.find("W4", "fastbp")
    if fastbp is not None:
        us = fastbp.seconds * 1e6
        targets.append(
            Target("W4", "W4: <= 3 us per single-sample predict", f"{us:.2f} us", us <= 3.0)
        )
    torch = report.find("W4", "PyTorch")
    text = "W4: >= 8x faster than PyTorch"
    targets.append(ratio_target("W4", text, torch, fastbp, 8, "PyTorch not installed"))
    return targets


def w5_targets(report: Report) -> list[Target]:
    sequential = report.find("W5", "fastbp, one after the other")
    threaded = report.find("W5", "fastbp, two threads")
    if not (sequential and threaded):
        return []
    gain = sequential.seconds / threaded.seconds
    return [
        Target(
            "W5",
            "W5: two threads >= 1.8x the throughput of sequential",
            f"{gain:.2f}x",
            gain >= 1.8,
        )
    ]


def memory_targets(report: Report) -> list[Target]:
    targets = []
    for dtype in DTYPES:
        traced = report.memory.get(dtype)
        if not traced:
            continue
        per_sample = traced["extra_bytes_per_sample"]
        row = min(traced["x_row_bytes"], traced["y_row_bytes"])
        targets.append(
            Target(
                "M",
                f"M {dtype}: training does not copy X or Y",
                f"allocations grow {per_sample:.1f} B per sample (a copy: >= {row} B)",
                per_sample < row,
            )
        )
        targets.append(
            Target(
                "M",
                f"M {dtype}: peak memory of training W2 <= 1.10x the arrays",
                f"{traced['peak_ratio']:.4f}x (tracemalloc)",
                traced["peak_ratio"] <= 1.10,
            )
        )
    return targets


# The checks of each workload, in the order the report lists them; a workload
# that did not run has no targets.
TARGETS: tuple[tuple[str, Callable[[Report], list[Target]]], ...] = (
    ("W1", worked_example_targets),
    ("W2", w2_targets),
    ("W3", w3_targets),
    ("W4", w4_targets),
    ("W5", w5_targets),
    ("M", memory_targets),
)


def check_targets(report: Report) -> list[Target]:
    """Issue 3's targets, each judged from this run's measurements."""
    targets: list[Target] = []
    for workload, check in TARGETS:
        if workload in report.config.only:
            targets += check(report)
    return targets
