"""fastbp against scikit-learn's MLP on sparse inputs and with L-BFGS: fit time, loss, score.

Run:  python bench/sparse_lbfgs_compare.py [--seeds 1] [--threads 1] [--quick]
      [--rows 100000] [--features 20000] [--density 0.001] [--epochs 5] [--lbfgs-iter 200]

Two workloads, each fitted by ``BPClassifier``/``BPRegressor`` and by scikit-learn's
``MLPClassifier``/``MLPRegressor`` on the same data with the same hyperparameters:

* **Sparse input**, Adam: the same ``scipy.sparse.csr_matrix`` X (float64, never
  densified) goes to both.  ``sparse random`` is ``--rows`` x ``--features`` at
  ``--density``, its values uniform in [0, 1) at distinct random positions (as
  ``scipy.sparse.random`` draws them, but in a second rather than minutes), with binary
  labels, the sign of X @ w for a fixed random w; ``sparse one-hot`` is 20 categorical
  columns of ``--features / 20`` levels each, one-hot encoded (20 stored values a row,
  all 1), with 10 classes, the argmax of X @ W for a fixed random W.  One hidden layer
  of 64 ReLU units, batches of 200, learning rate 0.001, alpha 1e-4, ``--epochs``
  epochs exactly (tol=0 and n_iter_no_change larger than the epochs; no early
  stopping; the script checks both ``n_iter_``).
* **L-BFGS**, dense: scikit-learn's ``load_digits`` (1,797 x 64, standardised) with
  one hidden layer of 100 ReLU units, and ``make_regression`` (5,000 x 50, noise 1,
  X and y standardised) with 64; alpha 1e-4, at most ``--lbfgs-iter`` iterations with
  tol=0, so both run that many unless SciPy's line search or its relative-reduction
  test (``ftol``) ends the run sooner; the table gives ``n_iter_`` of both.

Columns: iterations (epochs for Adam) of scikit-learn / fastbp, the fit seconds, the
ratio scikit-learn / fastbp (above 1: fastbp is faster), the seconds per iteration,
the final ``loss_`` and the training score (accuracy or R^2).  For L-BFGS both minimise
the same objective (the mean loss plus alpha / 2 * sum W^2 / n), so their ``loss_``
compare directly, up to the different initial weights; for Adam ``loss_`` is the last
epoch's loss as each library reports it.  The data are fixed (seed 0); each of
``--seeds`` runs seeds the estimators with ``random_state=seed`` and the table reports
medians.  BLAS runs with ``--threads`` threads (threadpoolctl) for both libraries.
``--quick`` shrinks everything (2,000 x 500 sparse at density 0.02, 2 epochs, 10
L-BFGS iterations, 1,000 regression samples) for a smoke run of a few seconds.
Prints the machine, the command and a Markdown table.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastbp import BPClassifier, BPRegressor
from fastbp.bench.machine import machine_info, machine_lines

FULL = {
    "rows": 100_000,
    "features": 20_000,
    "density": 0.001,
    "epochs": 5,
    "lbfgs_iter": 200,
    "regression_rows": 5_000,
}
QUICK = {
    "rows": 2_000,
    "features": 500,
    "density": 0.02,
    "epochs": 2,
    "lbfgs_iter": 10,
    "regression_rows": 1_000,
}
CATEGORICAL_COLUMNS = 20  # of the one-hot workload
HEADER = (
    "| workload | solver | iters MLP / fastbp | MLP fit s | fastbp fit s | MLP / fastbp | "
    "MLP s/iter | fastbp s/iter | MLP loss_ | fastbp loss_ | MLP score | fastbp score |"
)


@dataclass
class Workload:
    name: str
    solver: str
    X: Any
    y: np.ndarray
    classifier: bool
    params: dict[str, Any]
    exact_iterations: int | None = None  # Adam: the epochs both must run


def sparse_random(rows: int, features: int, density: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """A random CSR matrix (values uniform in [0, 1) at distinct positions drawn uniformly,
    as ``scipy.sparse.random`` makes them, which takes minutes at 100,000 x 20,000) and
    binary labels from the sign of a fixed linear rule."""
    rng = np.random.default_rng(0)
    flat = rng.choice(rows * features, size=round(density * rows * features), replace=False)
    X = sp.csr_matrix(
        (rng.random(flat.size), (flat // features, flat % features)), shape=(rows, features)
    )
    w = rng.standard_normal(features)
    return X, (X @ w > 0).astype(np.int64)


def sparse_one_hot(rows: int, features: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """20 categorical columns one-hot encoded as CSR, 10 classes from a linear rule."""
    rng = np.random.default_rng(2)
    levels = max(features // CATEGORICAL_COLUMNS, 2)
    codes = rng.integers(0, levels, size=(rows, CATEGORICAL_COLUMNS))
    indices = (codes + levels * np.arange(CATEGORICAL_COLUMNS)).ravel()
    indptr = np.arange(0, rows * CATEGORICAL_COLUMNS + 1, CATEGORICAL_COLUMNS)
    shape = (rows, levels * CATEGORICAL_COLUMNS)
    X = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=shape)
    W = rng.standard_normal((shape[1], 10))
    return X, np.asarray(X @ W).argmax(axis=1)


def standardised(X: np.ndarray) -> np.ndarray:
    return StandardScaler().fit_transform(X)


def workloads(settings: dict[str, Any]) -> list[Workload]:
    epochs = settings["epochs"]
    adam = {
        "hidden_layer_sizes": (64,),
        "solver": "adam",
        "batch_size": 200,
        "max_iter": epochs,
        "tol": 0.0,
        "n_iter_no_change": epochs + 1,
        "early_stopping": False,
    }
    lbfgs = {"solver": "lbfgs", "alpha": 1e-4, "max_iter": settings["lbfgs_iter"], "tol": 0.0}
    rows, features = settings["rows"], settings["features"]
    X_rand, y_rand = sparse_random(rows, features, settings["density"])
    X_hot, y_hot = sparse_one_hot(rows, features)
    digits = load_digits()
    X_reg, y_reg = make_regression(
        n_samples=settings["regression_rows"], n_features=50, noise=1, random_state=0
    )
    y_reg = (y_reg - y_reg.mean()) / y_reg.std()
    return [
        Workload(
            f"sparse random {rows:,} x {features:,}, {X_rand.nnz / rows:.0f} nnz/row, 2 classes",
            "adam",
            X_rand,
            y_rand,
            True,
            adam,
            epochs,
        ),
        Workload(
            f"sparse one-hot {rows:,} x {X_hot.shape[1]:,}, "
            f"{CATEGORICAL_COLUMNS} nnz/row, 10 classes",
            "adam",
            X_hot,
            y_hot,
            True,
            adam,
            epochs,
        ),
        Workload(
            f"load_digits {digits.data.shape[0]:,} x 64, hidden 100",
            "lbfgs",
            standardised(digits.data),
            digits.target,
            True,
            {**lbfgs, "hidden_layer_sizes": (100,)},
        ),
        Workload(
            f"make_regression {X_reg.shape[0]:,} x 50, hidden 64",
            "lbfgs",
            standardised(X_reg),
            y_reg,
            False,
            {**lbfgs, "hidden_layer_sizes": (64,)},
        ),
    ]


def fit(make: Callable[..., Any], work: Workload, seed: int) -> dict[str, float]:
    """Fit one estimator on the workload; its time, iterations, loss_ and training score."""
    estimator = make(random_state=seed, **work.params)
    start = time.perf_counter()
    estimator.fit(work.X, work.y)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "n_iter": estimator.n_iter_,
        "per_iter": seconds / max(estimator.n_iter_, 1),
        "loss": float(estimator.loss_),
        "score": estimator.score(work.X, work.y),
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def score_text(score: float, classifier: bool) -> str:
    return f"{100 * score:.1f}%" if classifier else f"R² {score:.4f}"


def iterations_text(n_iter: float) -> str:
    return f"{n_iter:g}"


def row(work: Workload, mlp: dict[str, float], bp: dict[str, float]) -> str:
    scores = [score_text(r["score"], work.classifier) for r in (mlp, bp)]
    return (
        f"| {work.name} | {work.solver} | {iterations_text(mlp['n_iter'])} / "
        f"{iterations_text(bp['n_iter'])} | {mlp['seconds']:.2f} | {bp['seconds']:.2f} | "
        f"{mlp['seconds'] / bp['seconds']:.2f}x | {mlp['per_iter']:.4f} | "
        f"{bp['per_iter']:.4f} | {mlp['loss']:.4g} | {bp['loss']:.4g} | "
        f"{scores[0]} | {scores[1]} |"
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="runs of each setting (medians)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--rows", type=int, help=f"sparse rows ({FULL['rows']:,})")
    parser.add_argument("--features", type=int, help=f"sparse columns ({FULL['features']:,})")
    parser.add_argument("--density", type=float, help=f"sparse density ({FULL['density']})")
    parser.add_argument("--epochs", type=int, help=f"Adam epochs ({FULL['epochs']})")
    parser.add_argument("--lbfgs-iter", type=int, help=f"L-BFGS max_iter ({FULL['lbfgs_iter']})")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    settings = dict(QUICK if args.quick else FULL)
    for key in ("rows", "features", "density", "epochs", "lbfgs_iter"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    command = list(argv) if argv is not None else sys.argv[1:]
    print("\n".join(machine_lines(machine_info())))
    print(f"BLAS threads for the run: {args.threads} (threadpoolctl), seeds: {args.seeds}")
    print("command: " + shlex.join(["python", "bench/sparse_lbfgs_compare.py", *command]))
    print()
    with warnings.catch_warnings(), threadpool_limits(args.threads):
        warnings.simplefilter("ignore", ConvergenceWarning)
        todo = workloads(settings)
        print(HEADER)
        print("|---" * (HEADER.count("|") - 1) + "|")
        for work in todo:
            peers = (
                (MLPClassifier, BPClassifier) if work.classifier else (MLPRegressor, BPRegressor)
            )
            runs: dict[str, list[dict[str, float]]] = {"mlp": [], "bp": []}
            for seed in range(args.seeds):
                runs["mlp"].append(fit(peers[0], work, seed))
                runs["bp"].append(fit(peers[1], work, seed))
            mlp, bp = medians(runs["mlp"]), medians(runs["bp"])
            print(row(work, mlp, bp), flush=True)
            if work.exact_iterations is not None:
                for name, result in (("MLP", mlp), ("fastbp", bp)):
                    if result["n_iter"] != work.exact_iterations:
                        raise RuntimeError(
                            f"{name} ran {result['n_iter']} epochs on {work.name}, "
                            f"not {work.exact_iterations}"
                        )


if __name__ == "__main__":
    main()
