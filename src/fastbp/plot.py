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
from collections.abc import Iterable, Mapping, Sequence
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


def _final_estimator(model: Any) -> Any:
    """The estimator at the end of a scikit-learn ``Pipeline`` (or the best one of a
    fitted search such as ``GridSearchCV``); anything else as it is."""
    while True:
        if hasattr(model, "steps") and isinstance(model.steps, list) and model.steps:
            model = model.steps[-1][1]
        elif hasattr(model, "best_estimator_") and not hasattr(model, "loss_curve_"):
            model = model.best_estimator_
        else:
            return model


def _curves(history: Any) -> tuple[list[float], list[float] | None, list[float] | None]:
    """(training loss, validation loss, validation score) of any supported history."""
    history = _final_estimator(history)
    if hasattr(history, "loss_curve_"):
        return (
            _series(history.loss_curve_, "loss_curve_") or [],
            _series(getattr(history, "validation_loss_curve_", None), "validation_loss_curve_"),
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
        ``validation_scores_`` -- also at the end of a ``Pipeline`` or as the
        best estimator of a fitted ``GridSearchCV``.
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
    net: Any,
    path: str | os.PathLike[str] | None = None,
    max_neurons: int = 16,
    title: str | None = None,
    *,
    input_names: Sequence[Any] | None = None,
    output_names: Sequence[Any] | None = None,
) -> Figure:
    """Draw the network: neurons as circles, weights as lines shaded by sign and size.

    Positive weights are drawn in red, negative in blue; the stronger the
    weight relative to the largest in the network, the darker and thicker its
    line.  Layers wider than ``max_neurons`` show their first ``max_neurons``
    neurons and a note of how many more there are.

    Parameters
    ----------
    net : Network, fitted BPClassifier or BPRegressor, or a Pipeline ending in one
    path : str or path-like, optional
        Also save the figure there as a PNG.
    max_neurons : int
        Most neurons drawn per layer.
    title : str, optional
        Defaults to the layer sizes and activations.
    input_names, output_names : sequence, optional
        Labels of the input and output neurons.  By default an estimator's
        own: its ``feature_names_in_`` (or, in a pipeline, the names the steps
        before it give out) and a classifier's ``classes_`` (one output for
        two classes is labelled with the second, whose probability it is).

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

    model, net = _model_and_network(net)
    inputs = _names(input_names, "input_names", net.n_inputs) or _input_names(model, net)
    outputs = _names(output_names, "output_names", net.n_outputs) or _output_names(model, net)
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
    for names, k, side in ((inputs, 0, "right"), (outputs, len(sizes) - 1, "left")):
        for name, height in zip(names or (), heights[k]):
            offset = -0.12 if side == "right" else 0.12
            ax.text(k + offset, height, f"{name}"[:24], ha=side, va="center", fontsize=8)
    ax.set_xlim(-0.5 - 0.9 * bool(inputs), len(sizes) - 0.5 + 0.9 * bool(outputs))
    ax.set_ylim(-top - 1.2, top + 2.2)
    ax.set_title(title or f"{'-'.join(map(str, sizes))} network   (red +, blue -)", fontsize=10)
    return _save(fig, path)


def _model_and_network(model: Any) -> tuple[Any, Network]:
    """The estimator (or None) and the network to draw, from any accepted argument."""
    if isinstance(model, Network):
        return None, model
    estimator = _final_estimator(model)
    from fastbp.export import fitted_network

    net = fitted_network(estimator, "net must be")
    return model, net


def _names(names: Sequence[Any] | None, what: str, n: int) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or len(names) != n:
        count = "a str" if isinstance(names, (str, bytes)) else f"{len(names)} names"
        raise ValueError(f"{what} must be {n} names, one per neuron; got {count}")
    return [str(name) for name in names]


def _input_names(model: Any, net: Network) -> list[str] | None:
    if model is None:
        return None
    estimator = _final_estimator(model)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None and hasattr(model, "steps") and len(model.steps) > 1:
        try:  # what the steps before the estimator hand it, when they can say
            names = model[:-1].get_feature_names_out()
        except (AttributeError, ValueError, TypeError):
            names = None
    if names is None or len(names) != net.n_inputs:
        return None
    return [str(name) for name in names]


def _output_names(model: Any, net: Network) -> list[str] | None:
    classes = getattr(_final_estimator(model), "classes_", None) if model is not None else None
    if classes is None:
        return None
    classes = [str(c) for c in classes]
    if len(classes) == 2 and net.n_outputs == 1:
        return classes[1:]
    return classes if len(classes) == net.n_outputs else None


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
