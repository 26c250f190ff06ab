"""The per-epoch progress display of training.

One display serves ``Network.train(verbose=True)`` and ``fastbp train``: a tqdm
bar, or one line per epoch on stderr (flushed, so that logs show each epoch as
it ends), both with the same figures, e.g.
``loss=0.3127, val_loss=0.3342, val_accuracy=0.9, 51,200 samples/s``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

_Describe = Callable[[dict[str, float]], str]


class Display:
    """A display that shows nothing: ``update(logs)`` after each epoch,
    ``close()`` at the end, and a context manager that closes it on leaving.
    The displays that show something derive from it."""

    def update(self, logs: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Lines(Display):
    """One printed line per epoch."""

    def __init__(self, epochs: int, describe: _Describe) -> None:
        self.epochs = epochs
        self.describe = describe
        self.epoch = 0

    def update(self, logs: dict[str, float]) -> None:
        self.epoch += 1
        line = f"epoch {self.epoch}/{self.epochs}: {self.describe(logs)}"
        print(line, file=sys.stderr, flush=True)


class _Bar(Display):
    def __init__(self, bar: Any, describe: _Describe) -> None:
        self.bar = bar
        self.describe = describe

    def update(self, logs: dict[str, float]) -> None:
        self.bar.set_postfix_str(self.describe(logs), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


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
) -> Display:
    """A display with ``update(logs)`` after each epoch and ``close()``.

    ``logs`` holds ``loss``, ``seconds`` and, when measured, ``val_loss`` and
    ``val_score`` (shown as ``score_name``, e.g. ``val_accuracy``); ``samples``
    (per epoch) and ``seconds`` give the samples per second.  Nothing unless
    ``verbose``.  Figures show ``digits`` significant digits.  The bar is
    tqdm's (``tqdm.auto``: a widget in a notebook), labelled ``desc``, when
    tqdm is installed -- with ``terminal_only``, only when stderr is also a
    terminal, as the command line wants for its logs; otherwise one line per
    epoch.
    """
    if not verbose:
        return Display()
    describe = functools.partial(_describe, samples=samples, score_name=score_name, digits=digits)
    if terminal_only and not sys.stderr.isatty():
        return _Lines(epochs, describe)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Lines(epochs, describe)
    return _Bar(tqdm(total=epochs, desc=desc, unit="epoch"), describe)
