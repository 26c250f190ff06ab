"""Other libraries' files for the command line: FANN models and data, and exports.

``fastbp train``/``predict``/``info`` read FANN ``.net`` networks and ``.data``
training files here, and ``fastbp export`` writes a model as a FANN network,
an ONNX model or a C file.  A model that ``fastbp train`` fitted on a CSV
expects standardised features (and a regression predicts a standardised
target): the exports take that into account, so that each exported file maps
the raw features to the model's outputs in the data's units.

- ONNX and C: the standardisation is folded into the first layer's weights
  and biases (``x' = (x - mean) / scale`` is affine), a regression's output
  scaling into the last (its output is linear).  Classifiers export their
  class probabilities, in the order ``fastbp info`` lists the classes.
- FANN: the standardisation is written as the network's scaling block
  (``new_min = -1``, ``factor = 1`` makes FANN's scaling exactly
  ``(x - mean) / deviation``); a FANN program applies it with
  ``fann_scale_input`` and ``fann_descale_output`` around ``fann_run``, as
  it does for networks FANN scaled itself.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import IO, Any

import numpy as np

from fastbp import fann
from fastbp._tabular import Encoding
from fastbp.network import Network

FANN_NET, FANN_DATA = ".net", ".data"


def is_fann_net(path: str) -> bool:
    return os.path.splitext(path)[1].lower() == FANN_NET


_FANN_DATA_HEAD = re.compile(rb"\s*\d+[ \t]+\d+[ \t]+\d+[ \t]*\r?\n")


def is_fann_data(path: str) -> bool:
    """Whether ``path`` is a FANN data file: named ``.data``, or (FANN's benchmark files
    are ``.train`` and ``.test``) any file but a CSV or NumPy one whose first line is
    three whole numbers."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == FANN_DATA:
        return True
    if suffix in (".csv", ".npy", ".npz"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return _FANN_DATA_HEAD.match(head) is not None


def load_fann_net(path: str, stepwise: str) -> tuple[Network, dict[str, Any]]:
    """A FANN network and a header for it, as ``fastbp info --format json`` shows one."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net, info = fann.read_net(path, stepwise=stepwise)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return net, {"format": fann.HEADER, "metadata": info.to_metadata()}


def fann_scaling(header: dict[str, Any]) -> fann.Scaling | None:
    """The scaling block of a FANN network loaded by :func:`load_fann_net`, if any."""
    metadata = header.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("source") != "FANN":
        return None
    scaling = metadata.get("scaling")
    if scaling is None:
        return None
    return fann.Scaling(**{key: np.asarray(value) for key, value in scaling.items()})


def fann_outputs(Y: np.ndarray) -> str:
    """The output activation for a FANN data file's outputs: the narrowest range they fit."""
    if Y.size and Y.min() >= 0 and Y.max() <= 1:
        return "sigmoid"
    if Y.size and Y.min() >= -1 and Y.max() <= 1:
        return "tanh"
    return "identity"


def mse(outputs: np.ndarray, Y: np.ndarray) -> float:
    """FANN's mean squared error: the mean of (t - o)² over every output of every sample."""
    return float(np.mean((Y - outputs) ** 2))


def raw_network(net: Network, encoding: Encoding | None) -> Network:
    """``net`` with ``encoding``'s standardisation folded into its first layer (and, for a
    regression, the target's scaling into its last): a network of the raw features."""
    if encoding is None:
        return net
    weights = [W.astype(np.float64) for W in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    mean, scale = np.asarray(encoding.x_mean), np.asarray(encoding.x_scale)
    biases[0] = biases[0] - (mean / scale) @ weights[0]
    weights[0] = weights[0] / scale[:, None]
    if encoding.classes is None:
        assert encoding.y_mean is not None and encoding.y_scale is not None
        weights[-1] = weights[-1] * encoding.y_scale
        biases[-1] = biases[-1] * encoding.y_scale + encoding.y_mean
    return Network(
        net.sizes,
        activation=net.activation,
        output_activation=net.output_activation,
        loss=net.loss_name,
        dtype=net.dtype,
        weights=weights,
        biases=biases,
    )


def encoding_scaling(net: Network, encoding: Encoding) -> fann.Scaling:
    """``encoding``'s standardisation as FANN's scaling block."""
    n_in, n_out = net.n_inputs, net.n_outputs
    if encoding.classes is None:
        assert encoding.y_mean is not None and encoding.y_scale is not None
        mean_out, deviation_out = np.full(1, encoding.y_mean), np.full(1, encoding.y_scale)
    else:  # probabilities need no scaling: FANN's identity scaling
        mean_out, deviation_out = np.zeros(n_out), np.ones(n_out)
    return fann.Scaling(
        mean_in=np.asarray(encoding.x_mean, dtype=np.float64),
        deviation_in=np.asarray(encoding.x_scale, dtype=np.float64),
        new_min_in=np.full(n_in, -1.0),
        factor_in=np.ones(n_in),
        mean_out=mean_out,
        deviation_out=deviation_out,
        new_min_out=np.full(n_out, -1.0),
        factor_out=np.ones(n_out),
    )


def describe(encoding: Encoding | None, fmt: str) -> str:
    """What the exported file computes, in one line."""
    if encoding is None:
        return "inputs and outputs as the model's network has them"
    inputs = f"inputs: the raw features {', '.join(encoding.features)}"
    if fmt == "fann":
        inputs += " (scaled by fann_scale_input; fann_descale_output undoes the output scaling)"
    if encoding.classes is None:
        return f"{inputs}; output: {encoding.target!r} in its own units"
    labels = ", ".join(map(str, encoding.classes))
    return f"{inputs}; outputs: the probabilities of {labels}"


def export(path: str, fmt: str, net: Network, header: dict[str, Any], encoding: Any) -> None:
    """Write ``net`` (loaded with ``header``; ``encoding`` from ``fastbp train`` or None)
    to ``path`` as ``fmt``: ``fann``, ``onnx`` or ``c``.  A model with text features
    is refused: the exported file maps numbers to outputs and cannot one-hot encode."""
    if encoding is not None and encoding.categories is not None:
        raise ValueError(
            "this model one-hot encodes the text columns "
            f"{', '.join(map(repr, encoding.categories))}, which an exported network cannot "
            "do (it reads numbers only); only models of numeric features can be exported"
        )
    if fmt == "fann":
        metadata = header.get("metadata")
        training = None
        if isinstance(metadata, dict) and metadata.get("source") == "FANN":
            training = metadata.get("training")
        scaling = encoding_scaling(net, encoding) if encoding is not None else fann_scaling(header)
        fann.save(net, path, training=training, scaling=scaling)
        return
    if fann_scaling(header) is not None:
        raise ValueError(
            "this FANN network has a scaling block (scale_included=1), which an ONNX or C "
            "export would not carry; export it with --format fann, or remove the scaling in FANN"
        )
    raw = raw_network(net, encoding)
    if fmt == "c":
        from fastbp.export import to_c

        to_c(raw, path, prefix="model")
        return
    from fastbp import io as _io
    from fastbp.onnx import to_onnx

    data = to_onnx(raw).SerializeToString()

    def write(f: IO[bytes]) -> None:
        f.write(data)

    _io._replace(os.fspath(path), write)
