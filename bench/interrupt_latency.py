"""How soon Ctrl-C stops fastbp: the time from SIGINT to KeyboardInterrupt.

Run:  python bench/interrupt_latency.py [--repeats 3] [--threads 1] [--only online,predict]

Each case runs in a child process, as Ctrl-C reaches a real program: the child
builds its network and data (float64, seeded), then makes the long call over and
over (a training run of many epochs, or a predict or loss over many rows), and
says when it has started; the parent sends SIGINT a random moment later, and the
child says when its ``KeyboardInterrupt`` arrived.  Both read the system-wide
monotonic clock.  BLAS runs on ``--threads`` threads (one by default, as in
``python -m fastbp bench``: on a shared machine, threads that wait for a core
add their wait to the latency).  About half a minute in all; the table gives
the median and the largest latency of each case.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

# How long after the child says it started the parent sends SIGINT (seconds).
DELAY = (0.3, 0.7)
# A child still running after this long is killed by its own alarm (seconds).
CHILD_LIMIT = 120


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    sizes: tuple[int, ...]
    rows: int
    call: str  # "train", "predict" or "loss"
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("online-tiny", "train 2-2-2, batch 1", (2, 2, 2), 4, "train",
         {"epochs": 1_000_000, "batch_size": 1}),
    Case("online", "train 784-256-10, batch 1", (784, 256, 10), 10_000, "train",
         {"epochs": 1_000, "batch_size": 1}),
    Case("mini-batch", "train 784-256-256-10, batch 64", (784, 256, 256, 10), 20_000, "train",
         {"epochs": 1_000, "batch_size": 64}),
    Case("full-batch-sgd", "train 1000-1000-10, 20,000 rows, sgd", (1000, 1000, 10), 20_000,
         "train", {"epochs": 1_000, "batch_size": None}),
    Case("full-batch-rprop", "train 1000-1000-10, 20,000 rows, rprop", (1000, 1000, 10),
         20_000, "train", {"epochs": 1_000, "batch_size": None, "optimizer": "rprop"}),
    Case("predict", "predict 1000-1000-10, 100,000 rows", (1000, 1000, 10), 100_000, "predict"),
    Case("loss", "loss 1000-1000-10, 100,000 rows", (1000, 1000, 10), 100_000, "loss"),
]  # fmt: skip
CASES_BY_NAME = {case.name: case for case in CASES}


def run_child(case: Case, repeats: int, threads: int) -> None:
    """The child: make the case's call until interrupted, ``repeats`` times."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    import fastbp as fb

    signal.alarm(CHILD_LIMIT)
    threadpool_limits(threads)
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(case.rows, case.sizes[0]))
    Y = np.eye(case.sizes[-1])[rng.integers(0, case.sizes[-1], size=case.rows)]
    net = fb.Network(list(case.sizes), seed=0)
    calls = {
        "train": lambda: net.train(X, Y, learning_rate=0.01, seed=0, **case.options),
        "predict": lambda: net.predict(X),
        "loss": lambda: net.loss(X, Y),
    }
    call = calls[case.call]
    for _ in range(repeats):
        try:
            print("started", time.monotonic(), flush=True)
            while True:
                call()
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)


def expect(child: subprocess.Popen[str], word: str) -> float:
    """The time on the child's next line, which must start with ``word``."""
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if len(line) != 2 or line[0] != word:
        raise RuntimeError(f"the child said {line!r}, expected {word!r} and a time")
    return float(line[1])


def latencies(case: Case, repeats: int, threads: int, rng: random.Random) -> list[float]:
    """Seconds from each SIGINT to the child's KeyboardInterrupt."""
    command = [sys.executable, __file__, "--child", case.name]
    command += ["--repeats", str(repeats), "--threads", str(threads)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    found = []
    try:
        for _ in range(repeats):
            expect(child, "started")
            time.sleep(rng.uniform(*DELAY))
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            found.append(expect(child, "interrupted") - sent)
        child.wait(timeout=CHILD_LIMIT)
    finally:
        child.kill()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interrupts per case")
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES_BY_NAME))
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the moments of SIGINT")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(CASES_BY_NAME[args.child], args.repeats, args.threads)
        return
    cases = [CASES_BY_NAME[name] for name in args.only.split(",")] if args.only else CASES
    rng = random.Random(args.seed)
    print(f"{'case':<18} {'what runs':<40} {'median':>9} {'largest':>9}")
    worst = 0.0
    for case in cases:
        found = sorted(latencies(case, args.repeats, args.threads, rng))
        worst = max(worst, found[-1])
        median = found[len(found) // 2]
        print(f"{case.name:<18} {case.what:<40} {median * 1e3:>6.1f} ms {found[-1] * 1e3:>6.1f} ms")
    print(
        f"largest latency: {worst * 1e3:.1f} ms ({args.repeats} interrupts per case, "
        f"BLAS on {args.threads} thread{'s' if args.threads > 1 else ''})"
    )


if __name__ == "__main__":
    main()
