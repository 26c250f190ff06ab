"""Figures: learning curves and network diagrams (needs matplotlib).

Install the extra with ``pip install "fastbp[plot]"``.  The figures are drawn
with matplotlib's Agg backend on a :class:`matplotlib.figure.Figure` of their
own, without pyplot, so they never change the backend or the current figure
of the caller; in a notebook, display the returned figure.

>>> from fastbp import plot
>>> fig = plot.learning_curve([0.9, 0.5, 0.3, 0.2])
>>> [line.get_label() for line in fig.axes[0].get_lines()]
['training loss']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fastbp.network import Network

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["learning_curve", "network"]


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'fastbp.plot needs matplotlib; install it with pip install "fastbp[plot]"'
        ) from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=120, format="png")
    return fig


def _series(values: Any, what: str) -> list[float] | None:
    if values is None:
        return None
    try:
        series = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a sequence of numbers; got {values!r:.80}") from None
    return series or None


def _curves(history: Any) -> tuple[list[float], list[float] | None, list[float] | None]:
    """(training loss, validation loss, validation score) of any supported history."""
    if hasattr(history, "loss_curve_"):
        return (
            _series(history.loss_curve_, "loss_curve_") or [],
            None,
            _series(getattr(history, "validation_scores_", None), "validation_scores_"),
        )
    if isinstance(history, Mapping):
        losses = history.get("loss", history.get("losses"))
        val_loss, val_score = history.get("val_loss"), history.get("val_score")
    else:
        losses = getattr(history, "losses", getattr(history, "loss", history))
        val_loss = getattr(history, "val_loss", None)
        val_score = getattr(history, "val_score", None)
    if isinstance(losses, (str, bytes)) or not isinstance(losses, Iterable):
        raise TypeError(
            "learning_curve needs a list of per-epoch losses, an object or dict with "
            "losses and optional val_loss / val_score, or an estimator with loss_curve_; "
            f"got {type(history).__name__}"
        )
    return (
        _series(losses, "the losses") or [],
        _series(val_loss, "val_loss"),
        _series(val_score, "val_score"),
    )


def _two_and_five(value: float, _: Any) -> str:
    """Label the minor ticks 2 and 5 (x a power of ten) of a log axis, no others."""
    mantissa = value / 10.0 ** np.floor(np.log10(value))
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def learning_curve(
    history: Any, path: str | os.PathLike[str] | None = None, title: str = "Learning curve"
) -> Figure:
    """Plot the loss per epoch (and the validation loss and score when known).

    Parameters
    ----------
    history : sequence of float, object, dict or estimator
        What :meth:`Network.train` returns (a list of per-epoch losses); an
        object with list-like ``losses`` (or itself list-like) and optional
        ``val_loss`` / ``val_score`` attributes; a dict with the keys
        ``loss``, ``val_loss``, ``val_score`` (as ``fastbp train`` stores);
        or a fitted estimator with ``loss_curve_`` and, when present,
        ``validation_scores_``.
    path : str or path-like, optional
        Also save the figure there as a PNG.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Losses on a log scale on the left axis; a validation score, if any,
        on a right-hand axis.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from fastbp import plot
    >>> run = SimpleNamespace(losses=[0.7, 0.4, 0.3], val_loss=[0.8, 0.5, 0.45],
    ...                       val_score=[0.6, 0.8, 0.85])
    >>> fig = plot.learning_curve(run)
    >>> [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    ['training loss', 'validation loss', 'validation score']
    """
    losses, val_loss, val_score = _curves(history)
    if not losses:
        raise ValueError("the history holds no losses to plot")
    fig = _new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, color="tab:blue", label="training loss")
    if val_loss is not None:
        ax.plot(
            np.arange(1, len(val_loss) + 1), val_loss, color="tab:orange", label="validation loss"
        )
    every_loss = losses + (val_loss or [])
    if min(every_loss) > 0:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        if max(every_loss) / min(every_loss) < 100:
            ax.yaxis.set_minor_formatter(FuncFormatter(_two_and_five))
        else:
            ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if val_score is not None:
        right = ax.twinx()
        right.plot(
            np.arange(1, len(val_score) + 1),
            val_score,
            color="tab:green",
            linestyle="--",
            label="validation score",
        )
        right.set_ylabel("validation score")
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    return _save(fig, path)


def network(
    net: Network,
    path: str | os.PathLike[str] | None = None,
    max_neurons: int = 16,
    title: str | None = None,
) -> Figure:
    """Draw the network: neurons as circles, weights as lines shaded by sign and size.

    Positive weights are drawn in red, negative in blue; the stronger the
    weight relative to the largest in the network, the darker and thicker its
    line.  Layers wider than ``max_neurons`` show their first ``max_neurons``
    neurons and a note of how many more there are.

    Parameters
    ----------
    net : Network
    path : str or path-like, optional
        Also save the figure there as a PNG.
    max_neurons : int
        Most neurons drawn per layer.
    title : str, optional
        Defaults to the layer sizes and activations.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import fastbp as fb
    >>> from fastbp import plot
    >>> fig = plot.network(fb.Network([2, 3, 1], seed=0))
    >>> len(fig.axes[0].collections)   # the weights, then the neurons of each layer
    4
    """
    if max_neurons < 2:
        raise ValueError(f"max_neurons must be at least 2; got {max_neurons}")
    from matplotlib.collections import LineCollection

    sizes = net.sizes
    shown = [min(n, max_neurons) for n in sizes]
    fig = _new_figure(max(4.0, 1.8 * len(sizes)), max(3.0, 0.45 * max(shown) + 1.2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    heights = [_neuron_heights(n) for n in shown]
    segments, colours, widths = _weight_strokes(net.weights, heights)
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths, zorder=1))
    top = max(shown) / 2.0
    for k, label in enumerate(_layer_labels(net)):
        _draw_layer(ax, k, heights[k], f"{label}\n{sizes[k]}", sizes[k] - shown[k], top)
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-top - 1.2, top + 2.2)
    ax.set_title(title or f"{'-'.join(map(str, sizes))} network   (red +, blue -)", fontsize=10)
    return _save(fig, path)


def _neuron_heights(shown: int) -> np.ndarray:
    """The heights of the ``shown`` neurons drawn of a layer, top first, centred on 0."""
    return (np.arange(shown) - (shown - 1) / 2.0)[::-1]


def _weight_strokes(
    weights: list[np.ndarray], heights: list[np.ndarray]
) -> tuple[list[Any], list[tuple[float, float, float, float]], list[float]]:
    """Segments, colours and widths of the weight lines, shaded as :func:`network` says."""
    largest = max(float(np.max(np.abs(W))) for W in weights) or 1.0
    segments, colours, widths = [], [], []
    for l, W in enumerate(weights):
        for i, y0 in enumerate(heights[l]):
            for j, y1 in enumerate(heights[l + 1]):
                strength = abs(float(W[i, j])) / largest
                segments.append([(l, y0), (l + 1, y1)])
                rgb = (0.8, 0.1, 0.1) if W[i, j] >= 0 else (0.1, 0.2, 0.8)
                colours.append((*rgb, 0.15 + 0.85 * strength))
                widths.append(0.3 + 2.7 * strength)
    return segments, colours, widths


def _layer_labels(net: Network) -> list[str]:
    """The caption of each layer: its role and, past the input, its activation."""
    *hidden, output = net.architecture.layer_activations
    roles = [f"hidden {k}" for k in range(1, len(hidden) + 1)]
    return ["input", *(f"{role}\n{name}" for role, name in zip(roles, hidden)), f"output\n{output}"]


def _draw_layer(
    ax: Axes, k: int, heights: np.ndarray, label: str, not_shown: int, top: float
) -> None:
    """Layer k's neurons as circles, its caption above and a note of those not drawn."""
    ax.scatter(
        np.full(heights.shape, k),
        heights,
        s=220,
        color="white",
        edgecolors="black",
        linewidths=1.2,
        zorder=2,
    )
    ax.text(k, top + 0.3, label, ha="center", va="bottom", fontsize=9)
    if not_shown > 0:
        ax.text(k, heights.min() - 0.8, f"+{not_shown} more", ha="center", fontsize=8)
