"""``python -m fastbp bench``: fastbp against its peers on issue 3's workloads.

| id | workload |
|---|---|
| W1 | the worked 2-2-2 example: 10,000 online updates (batch 1), float64 |
| W2 | 784-16-16-10 sigmoid, squared error, mini-batch 32, one epoch over 60,000 samples |
| W3 | 784-1024-1024-10 sigmoid, mini-batch 256, one epoch over 10,240 samples (GFLOP/s) |
| W4 | latency of ``predict`` on one sample, 784-16-16-10, float64 |
| W5 | two W2 networks trained at once in two Python threads vs one after the other |
| M  | memory of training W2: extra bytes traced by tracemalloc, peak RSS in a subprocess |

Every implementation runs in this process, at equal settings, on the same
synthetic data: fastbp; :mod:`fastbp.reference` (pure Python, on fewer samples
where the full count would take minutes -- its time is then extrapolated
linearly per sample and labelled so); NumPy (the mini-batch algorithm written
here with ``@``; with batch 1 it is the per-sample loop of the classic
``network.py``); "NumPy GEMMs" (only the matrix products of the same epoch, with
NumPy, as the floor an engine built on BLAS can reach); scikit-learn's
``MLPRegressor`` and PyTorch when they are installed (skipped with a note
otherwise).  BLAS and OpenMP are limited to one thread (``--threads``) through
threadpoolctl, and PyTorch through ``torch.set_num_threads``.  Each time is the
median of ``--repeats`` runs after one warm-up run (none for the reference).

Nothing printed is a constant: every time, ratio and MET / NOT MET verdict comes
from a measurement made in the same run.

The modules: :mod:`~fastbp.bench.records` (results, targets, settings, report),
:mod:`~fastbp.bench.problems` (sizes, data, initial parameters, what each run
trains), :mod:`~fastbp.bench.timing`, :mod:`~fastbp.bench.peers` (one module per
peer, and their registry), :mod:`~fastbp.bench.runner` (the :class:`Bench` that
times jobs in turn), :mod:`~fastbp.bench.workloads` (W1-W5 and M, and their
table), :mod:`~fastbp.bench.memory`, :mod:`~fastbp.bench.targets`,
:mod:`~fastbp.bench.machine`, :mod:`~fastbp.bench.render` and
:mod:`~fastbp.bench.cli`.
"""

from fastbp.bench.cli import add_arguments, command_line, config_from_args, main, run_cli
from fastbp.bench.machine import load_average, machine_info, machine_lines
from fastbp.bench.memory import rss_subprocess, traced_memory, traced_training_bytes
from fastbp.bench.peers import PEERS, Peer
from fastbp.bench.peers.base import Predictor, Trainer, optional
from fastbp.bench.peers.fastbp_peer import (
    fastbp_pair_trainer,
    fastbp_predictor,
    fastbp_trainer,
    reference_predictor,
    reference_trainer,
)
from fastbp.bench.peers.gemms import engine_gemms, gemm_shapes, nominal_flops, numpy_gemms
from fastbp.bench.peers.numpy_peer import numpy_predictor, numpy_train, numpy_trainer
from fastbp.bench.peers.sklearn_peer import (
    SKLEARN_NOTE,
    quiet_fit,
    sklearn_model,
    sklearn_trainer,
)
from fastbp.bench.peers.torch_peer import (
    TORCH_NOTE,
    torch_model,
    torch_predictor,
    torch_train,
    torch_trainer,
)
from fastbp.bench.problems import (
    DTYPES,
    LEARNING_RATE,
    W2_SIZES,
    W3_SIZES,
    PredictionRun,
    TrainingRun,
    initial_parameters,
    synthetic,
)
from fastbp.bench.records import Config, Report, Result, Target
from fastbp.bench.render import (
    HEADER,
    describe_config,
    fmt_bytes,
    fmt_time,
    markdown_report,
    png_report,
    table_rows,
    text_report,
    to_json,
)
from fastbp.bench.runner import Bench, Job
from fastbp.bench.targets import check_targets
from fastbp.bench.timing import RunPlan, Setup, measure, per_call, ready
from fastbp.bench.workloads import WORKLOADS, WORKLOADS_BY_NAME

__all__ = [
    "DTYPES",
    "HEADER",
    "LEARNING_RATE",
    "PEERS",
    "SKLEARN_NOTE",
    "TORCH_NOTE",
    "W2_SIZES",
    "W3_SIZES",
    "WORKLOADS",
    "WORKLOADS_BY_NAME",
    "Bench",
    "Config",
    "Job",
    "Peer",
    "PredictionRun",
    "Predictor",
    "Report",
    "Result",
    "RunPlan",
    "Setup",
    "Target",
    "Trainer",
    "TrainingRun",
    "add_arguments",
    "check_targets",
    "command_line",
    "config_from_args",
    "describe_config",
    "engine_gemms",
    "fastbp_pair_trainer",
    "fastbp_predictor",
    "fastbp_trainer",
    "fmt_bytes",
    "fmt_time",
    "gemm_shapes",
    "initial_parameters",
    "load_average",
    "machine_info",
    "machine_lines",
    "main",
    "markdown_report",
    "measure",
    "nominal_flops",
    "numpy_gemms",
    "numpy_predictor",
    "numpy_train",
    "numpy_trainer",
    "optional",
    "per_call",
    "png_report",
    "quiet_fit",
    "ready",
    "reference_predictor",
    "reference_trainer",
    "rss_subprocess",
    "run_cli",
    "sklearn_model",
    "sklearn_trainer",
    "synthetic",
    "table_rows",
    "text_report",
    "to_json",
    "torch_model",
    "torch_predictor",
    "torch_train",
    "torch_trainer",
    "traced_memory",
    "traced_training_bytes",
]
