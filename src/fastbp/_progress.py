"""The per-epoch progress display of training.

One display serves ``Network.train(verbose=True)`` and ``fastbp train``: a tqdm
bar, or lines on stderr (flushed, so that logs show each epoch as it ends),
both with the same figures, e.g.
``loss=0.3127, val_loss=0.3342, val_accuracy=0.9, 51,200 samples/s``.
Both are throttled: the bar redraws at most twice a second, the lines show
the first and the last epoch and about one epoch a second in between.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_Describe = Callable[[dict[str, float]], str]
Clock = Callable[[], float]

# The plain lines' least interval between two epochs shown, in seconds (of
# the display's clock), and the bar's least interval between two redraws.
LINE_INTERVAL = 1.0
BAR_INTERVAL = 0.5


@dataclass(frozen=True)
class Stall:
    """The monitored value failed to improve for more epochs than the patience allows.

    ``epoch`` is 0-based; ``value`` names what was monitored (``"validation
    score"``, ``"validation loss"`` or ``"training loss"``); ``stalled``
    counts the epochs in a row that failed to improve by ``tol``;
    ``rate`` is the learning rate the adaptive schedule lowered it to, or
    None when training stops (``at_floor``: because the adaptive schedule's
    rate could go no lower).
    """

    epoch: int
    value: str
    tol: float
    patience: float
    stalled: int
    rate: float | None = None
    at_floor: bool = False

    def describe(self) -> str:
        """What happened, in a phrase: ``training loss did not improve by 0.0001 for 11 epochs``."""
        text = f"{self.value} did not improve by {self.tol:g} for {self.stalled} epochs"
        if self.rate is not None:
            return f"{text}; learning rate lowered to {self.rate:g}"
        if self.at_floor:
            return f"{text} with the learning rate at its floor"
        return text


class Display:
    """A display that shows nothing: ``update(logs)`` after each epoch,
    ``stall(stall)`` when a stopping rule's patience runs out, ``stopped(line)``
    when training ends early, ``close()`` at the end, and a context manager that
    closes it on leaving.  The displays that show something derive from it."""

    def update(self, logs: dict[str, float]) -> None:
        pass

    def stall(self, stall: Stall) -> None:
        pass

    def stopped(self, line: str) -> None:
        """Training ended early: ``line`` says why (shown after the last epoch)."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Lines(Display):
    """Lines on stderr: the first and the last epoch, and in between an epoch
    only once ``LINE_INTERVAL`` seconds of ``clock`` have passed since the last
    line; the last epoch is printed on ``close`` if training ends early."""

    def __init__(self, epochs: int, describe: _Describe, clock: Clock = time.monotonic) -> None:
        self.epochs = epochs
        self.describe = describe
        self.clock = clock
        self.epoch = 0
        self.pending: str | None = None
        self.printed_at: float | None = None
        self.stop_line: str | None = None

    def update(self, logs: dict[str, float]) -> None:
        self.epoch += 1
        self.pending = f"epoch {self.epoch}/{self.epochs}: {self.describe(logs)}"
        now = self.clock()
        due = self.printed_at is None or now - self.printed_at >= LINE_INTERVAL
        if due or self.epoch >= self.epochs:
            self._print_pending(now)

    def stall(self, stall: Stall) -> None:
        if stall.rate is not None:
            self._print_pending(self.clock())
            self._print(f"epoch {stall.epoch + 1}: {stall.describe()}")

    def stopped(self, line: str) -> None:
        self.stop_line = line

    def close(self) -> None:
        self._print_pending(self.clock())
        if self.stop_line is not None:
            self._print(self.stop_line)
            self.stop_line = None

    def _print_pending(self, now: float) -> None:
        if self.pending is not None:
            self._print(self.pending)
            self.pending, self.printed_at = None, now

    @staticmethod
    def _print(line: str) -> None:
        print(line, file=sys.stderr, flush=True)


class _Bar(Display):
    def __init__(self, bar: Any, describe: _Describe) -> None:
        self.bar = bar
        self.describe = describe
        self.stop_line: str | None = None

    def update(self, logs: dict[str, float]) -> None:
        self.bar.set_postfix_str(self.describe(logs), refresh=False)
        self.bar.update(1)

    def stall(self, stall: Stall) -> None:
        if stall.rate is not None:
            self.bar.write(f"epoch {stall.epoch + 1}: {stall.describe()}", file=sys.stderr)

    def stopped(self, line: str) -> None:
        self.stop_line = line

    def close(self) -> None:
        self.bar.close()
        if self.stop_line is not None:
            print(self.stop_line, file=sys.stderr, flush=True)
            self.stop_line = None


def _describe(logs: dict[str, float], samples: int, score_name: str, digits: int) -> str:
    shown = {"loss": "loss", "val_loss": "val_loss", "val_score": score_name}
    parts = [f"{name}={logs[key]:.{digits}g}" for key, name in shown.items() if key in logs]
    parts.append(f"{samples / max(logs['seconds'], 1e-12):,.0f} samples/s")
    return ", ".join(parts)


def progress_bar(
    epochs: int,
    samples: int,
    verbose: bool,
    *,
    desc: str | None = None,
    score_name: str = "val_score",
    digits: int = 6,
    terminal_only: bool = False,
    clock: Clock = time.monotonic,
) -> Display:
    """A display with ``update(logs)`` after each epoch, ``stall``, ``stopped`` and ``close()``.

    ``logs`` holds ``loss``, ``seconds`` and, when measured, ``val_loss`` and
    ``val_score`` (shown as ``score_name``, e.g. ``val_accuracy``); ``samples``
    (per epoch) and ``seconds`` give the samples per second.  Nothing unless
    ``verbose``.  Figures show ``digits`` significant digits.  The bar is
    tqdm's (``tqdm.auto``: a widget in a notebook), labelled ``desc``, when
    tqdm is installed -- with ``terminal_only``, only when stderr is also a
    terminal, as the command line wants for its logs; it redraws at most every
    ``BAR_INTERVAL`` seconds and every hundredth of the epochs.  Otherwise
    lines: the first and the last epoch, and in between at most about one a
    second (``LINE_INTERVAL`` of ``clock``).  ``stopped(line)`` prints
    ``line`` (why training ended early) once the last epoch is shown, and a stall that
    lowers the learning rate gets a line of its own.
    """
    if not verbose:
        return Display()
    describe = functools.partial(_describe, samples=samples, score_name=score_name, digits=digits)
    if terminal_only and not sys.stderr.isatty():
        return _Lines(epochs, describe, clock)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Lines(epochs, describe, clock)
    bar = tqdm(
        total=epochs,
        desc=desc,
        unit="epoch",
        mininterval=BAR_INTERVAL,
        miniters=max(1, epochs // 100),
    )
    return _Bar(bar, describe)
