"""The per-epoch progress display of ``verbose`` training: tqdm when installed."""

from __future__ import annotations

import sys
from typing import Any


class _Lines:
    """One printed line per epoch, when tqdm is not installed."""

    def __init__(self, epochs: int, samples: int) -> None:
        self.epochs = epochs
        self.samples = samples
        self.epoch = 0

    def update(self, logs: dict[str, float]) -> None:
        self.epoch += 1
        print(f"epoch {self.epoch}/{self.epochs}: {_describe(logs, self.samples)}", file=sys.stderr)

    def close(self) -> None:
        pass


class _Bar:
    def __init__(self, bar: Any, samples: int) -> None:
        self.bar = bar
        self.samples = samples

    def update(self, logs: dict[str, float]) -> None:
        self.bar.set_postfix_str(_describe(logs, self.samples), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class _Silent:
    def update(self, logs: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _describe(logs: dict[str, float], samples: int) -> str:
    parts = [f"loss={logs['loss']:.6g}"]
    for key in ("val_loss", "val_score"):
        if key in logs:
            parts.append(f"{key}={logs[key]:.6g}")
    parts.append(f"{samples / max(logs['seconds'], 1e-12):,.0f} samples/s")
    return ", ".join(parts)


def progress_bar(epochs: int, samples: int, verbose: bool) -> _Lines | _Bar | _Silent:
    """A display with ``update(logs)`` after each epoch and ``close()``."""
    if not verbose:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Lines(epochs, samples)
    return _Bar(tqdm(total=epochs, unit="epoch"), samples)
