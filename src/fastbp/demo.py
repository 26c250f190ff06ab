"""``python -m fastbp demo``: what fastbp does, in under half a minute.

It trains the classic 2-2-2 worked example and checks it against the
published figures, learns XOR, trains a digit classifier (scikit-learn's
``load_digits`` when scikit-learn is installed, otherwise a synthetic task
built here) and measures the speed-up over :mod:`fastbp.reference` on the same
work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from fastbp import reference
from fastbp.classic import (
    PUBLISHED_ERROR,
    PUBLISHED_ERROR_AFTER_ONE,
    PUBLISHED_OUTPUTS,
    WORKED_T,
    WORKED_X,
    XOR_T,
    XOR_X,
    worked_network,
)
from fastbp.network import Network


def _best_time(run: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def digits_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Digit images as (X scaled to [0, 1], integer labels, a description)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(seed)
        centres = rng.uniform(0, 1, size=(10, 64))
        labels = rng.integers(0, 10, size=1800)
        X = np.clip(centres[labels] + rng.normal(0, 0.25, size=(1800, 64)), 0, 1)
        return X, labels, "synthetic 64-feature, 10-class task (install scikit-learn for digits)"
    digits = load_digits()
    return digits.data / 16.0, digits.target, "scikit-learn load_digits (8x8 images)"


def run(out: TextIO) -> dict[str, float]:
    """Run the demo, writing a report to ``out``; return the key figures."""
    results: dict[str, float] = {}

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    say("fastbp demo")
    say("===========")
    say()
    say("1. The classic 2-2-2 worked example (sigmoid, learning rate 0.5, biases fixed)")
    net = worked_network()
    outputs = net.predict(WORKED_X)[0]
    error = net.loss(WORKED_X, WORKED_T)
    net.train(WORKED_X, WORKED_T, epochs=1, batch_size=1, learning_rate=0.5, train_biases=False)
    error_one = net.loss(WORKED_X, WORKED_T)
    say(
        f"   outputs        {outputs[0]:.8f} {outputs[1]:.8f}   "
        f"(published {PUBLISHED_OUTPUTS[0]} {PUBLISHED_OUTPUTS[1]})"
    )
    say(f"   total error    {error:.9f}              (published {PUBLISHED_ERROR})")
    say(f"   after 1 update {error_one:.9f}              (published {PUBLISHED_ERROR_AFTER_ONE})")
    net.train(WORKED_X, WORKED_T, epochs=9999, batch_size=1, learning_rate=0.5, train_biases=False)
    final = net.predict(WORKED_X)[0]
    say(
        f"   after 10,000   error {net.loss(WORKED_X, WORKED_T):.3e}, "
        f"outputs {final[0]:.6f} {final[1]:.6f}"
    )
    results["worked_error"] = error
    results["worked_error_after_one"] = error_one

    def fast_worked() -> None:
        worked_network().train(
            WORKED_X, WORKED_T, epochs=10_000, batch_size=1, learning_rate=0.5, train_biases=False
        )

    def slow_worked() -> None:
        worked_network(reference.Network).train(
            WORKED_X, WORKED_T, epochs=10_000, batch_size=1, learning_rate=0.5, train_biases=False
        )

    fast, slow = _best_time(fast_worked), _best_time(slow_worked, repeat=1)
    say(
        f"   10,000 updates: fastbp {fast * 1e3:.1f} ms, reference {slow * 1e3:.1f} ms "
        f"-> {slow / fast:.0f}x faster"
    )
    results["worked_speedup"] = slow / fast
    say()

    say("2. XOR with a 2-5-1 network, online updates")
    xor = Network([2, 5, 1], seed=1)
    xor.train(XOR_X, XOR_T, epochs=5000, batch_size=1, learning_rate=0.5, seed=1)
    pred = xor.predict(XOR_X)[:, 0]
    correct = int(np.sum((pred > 0.5) == (np.asarray(XOR_T)[:, 0] > 0.5)))
    for x, p in zip(XOR_X, pred):
        say(f"   {x} -> {p:.3f}")
    say(f"   {correct}/4 correct")
    results["xor_correct"] = correct
    say()

    X, labels, source = digits_data()
    say(f"3. A 64-32-10 digit classifier on {source}")
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(X))
    n_test = len(X) // 5
    test, train = perm[:n_test], perm[n_test:]
    onehot = np.eye(10)[labels]
    clf = Network(
        [64, 32, 10], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=0
    )
    start = time.perf_counter()
    history = clf.train(
        X[train], onehot[train], epochs=60, batch_size=16, learning_rate=0.1, seed=0
    )
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(clf.predict(X[test]).argmax(axis=1) == labels[test]))
    say(
        f"   60 epochs in {seconds:.2f} s, final training loss {history[-1]:.4f}, "
        f"test accuracy {accuracy:.1%} on {n_test} held-out samples"
    )
    results["digits_accuracy"] = accuracy

    few = train[:200]
    architecture: dict[str, Any] = dict(
        activation="tanh", output_activation="softmax", loss="cross_entropy"
    )
    init = Network([64, 32, 10], seed=0, **architecture)

    def one_epoch(cls: Callable[..., Any]) -> Callable[[], object]:
        def run() -> object:
            copy = cls([64, 32, 10], weights=init.weights, biases=init.biases, **architecture)
            return copy.train(
                X[few], onehot[few], epochs=1, batch_size=16, learning_rate=0.1, seed=0
            )

        return run

    fast_digits, slow_digits = one_epoch(Network), one_epoch(reference.Network)
    fast, slow = _best_time(fast_digits), _best_time(slow_digits, repeat=1)
    say(
        f"   one epoch over 200 samples: fastbp {fast * 1e3:.2f} ms, reference "
        f"{slow * 1e3:.0f} ms -> {slow / fast:.0f}x faster"
    )
    results["digits_speedup"] = slow / fast
    return results
