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
from fastbp.architecture import Architecture
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


def _times(work: Callable[[Callable[..., Any]], object]) -> tuple[float, float]:
    """Seconds ``work(Network)`` takes (best of three) and ``work(reference.Network)`` (once)."""
    return _best_time(lambda: work(Network)), _best_time(lambda: work(reference.Network), repeat=1)


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


# The digit classifier, trained by fastbp and timed against the reference.
_DIGITS_ARCHITECTURE = Architecture(
    (64, 32, 10), activation="tanh", output_activation="softmax", loss="cross_entropy"
)

_Say = Callable[..., None]
"""The demo's printer: ``say(line)`` writes one line of the report, ``say()`` a blank one."""


def run(out: TextIO) -> dict[str, float]:
    """Run the demo, writing a report to ``out``; return the key figures."""

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    say("fastbp demo")
    say("===========")
    say()
    results = _worked_example(say)
    say()
    results.update(_xor(say))
    say()
    results.update(_digits(say))
    return results


def _worked_example(say: _Say) -> dict[str, float]:
    """Part 1: the classic 2-2-2 example against its published figures, and its speed."""
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

    def train_worked(cls: Callable[..., Any]) -> object:
        return worked_network(cls).train(
            WORKED_X, WORKED_T, epochs=10_000, batch_size=1, learning_rate=0.5, train_biases=False
        )

    fast, slow = _times(train_worked)
    say(
        f"   10,000 updates: fastbp {fast * 1e3:.1f} ms, reference {slow * 1e3:.1f} ms "
        f"-> {slow / fast:.0f}x faster"
    )
    return {
        "worked_error": error,
        "worked_error_after_one": error_one,
        "worked_speedup": slow / fast,
    }


def _xor(say: _Say) -> dict[str, float]:
    """Part 2: XOR learnt by a 2-5-1 network."""
    say("2. XOR with a 2-5-1 network, online updates")
    xor = Network([2, 5, 1], seed=1)
    xor.train(XOR_X, XOR_T, epochs=5000, batch_size=1, learning_rate=0.5, seed=1)
    pred = xor.predict(XOR_X)[:, 0]
    correct = int(np.sum((pred > 0.5) == (np.asarray(XOR_T)[:, 0] > 0.5)))
    for x, p in zip(XOR_X, pred):
        say(f"   {x} -> {p:.3f}")
    say(f"   {correct}/4 correct")
    return {"xor_correct": correct}


def _digits(say: _Say) -> dict[str, float]:
    """Part 3: a digit classifier's held-out accuracy, and the speed of one epoch."""
    X, labels, source = digits_data()
    say(f"3. A 64-32-10 digit classifier on {source}")
    perm = np.random.default_rng(0).permutation(len(X))
    n_test = len(X) // 5
    test, train = perm[:n_test], perm[n_test:]
    onehot = np.eye(10)[labels]
    clf = Network(**_DIGITS_ARCHITECTURE.to_dict(), seed=0)
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
    few = train[:200]
    fast, slow = _times(_one_digits_epoch(X[few], onehot[few]))
    say(
        f"   one epoch over 200 samples: fastbp {fast * 1e3:.2f} ms, reference "
        f"{slow * 1e3:.0f} ms -> {slow / fast:.0f}x faster"
    )
    return {"digits_accuracy": accuracy, "digits_speedup": slow / fast}


def _one_digits_epoch(X: np.ndarray, Y: np.ndarray) -> Callable[[Callable[..., Any]], object]:
    """The ``work`` for :func:`_times`: one epoch over (X, Y), from one start for any class."""
    init = Network(**_DIGITS_ARCHITECTURE.to_dict(), seed=0)

    def train_epoch(cls: Callable[..., Any]) -> object:
        copy = cls(**_DIGITS_ARCHITECTURE.to_dict(), weights=init.weights, biases=init.biases)
        return copy.train(X, Y, epochs=1, batch_size=16, learning_rate=0.1, seed=0)

    return train_epoch
