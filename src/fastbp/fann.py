"""FANN's files: networks (``.net``) and training data (``.data``), both ways.

FANN is the C library many classic back-propagation users know; this module
reads and writes the two text formats of its 2.2 release as libfann itself
does (the tests check every function here against libfann, loaded with
ctypes).

Networks.  A layered FANN network ends every layer with a bias neuron (value
1, no inputs), and each neuron has an activation function and a steepness
``s``: ``FANN_SIGMOID`` computes ``1/(1+exp(-2 s z))``, ``FANN_SIGMOID_SYMMETRIC``
``tanh(s z)`` and ``FANN_LINEAR`` ``s z``, ``z`` the neuron's weighted sum.
:func:`load` folds the steepness into the weights and the bias (``2 s`` for the
sigmoid, ``s`` for the other two), so the network is fastbp's ``sigmoid``,
``tanh`` or ``identity`` with the same outputs.  :func:`save` writes those three
with steepness 0.5, 1 and 1, which makes the folded factor exactly 1.

- ``FANN_SIGMOID_STEPWISE`` (FANN's default for new networks) and
  ``FANN_SIGMOID_SYMMETRIC_STEPWISE`` are piecewise-linear approximations of
  the sigmoid and tanh.  They are refused unless ``stepwise="exact"`` asks to
  read them as the exact functions; :attr:`FannInfo.stepwise_bound` then
  bounds how far any output may move, and a warning says it.
- Sparse networks (``connection_rate`` < 1) load with their missing connections
  as zero weights; :attr:`FannInfo.missing_connections` counts them.
- Refused, with a ``ValueError`` that names what is not supported: every other
  activation (threshold, Gaussian, Elliot, linear-piece, sine, cosine),
  shortcut networks (``network_type=1``, made by cascade training), hidden
  layers of different activations (fastbp has one hidden activation),
  fixed-point files (``FANN_FIX_2.0``), and any file that is not well formed.
- FANN clips ``s z`` to ``±150/s`` before the activation.  That never shows for
  the sigmoid and tanh (both are saturated long before), but a linear output
  of FANN stops at ``±150/s``, where fastbp's does not.
- The scaling block (``scale_included=1``, written by ``fann_set_scaling_params``)
  is kept as :class:`Scaling` in :attr:`FannInfo.scaling`, not folded into the
  network: ``fann_run`` does not apply it either.  ``fastbp predict`` applies it
  to a ``.net`` model (scaled inputs in, unscaled outputs out), as a FANN
  program calls ``fann_scale_input`` and ``fann_descale_output``.
- The training parameters (learning rate, Rprop and cascade settings, ...) are
  kept in :attr:`FannInfo.training`; ``save(..., training=info.training)``
  writes them back.

Data.  A ``.data`` file is ``num_data num_input num_output`` and then, per
sample, its inputs and its outputs, separated by any white space.
:func:`write_data` writes every value with 17 significant digits, so that
libdoublefann reads back the very doubles written.

>>> import os, tempfile
>>> import numpy as np
>>> import fastbp as fb
>>> from fastbp import fann
>>> net = fb.Network([2, 3, 1], activation="tanh", seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "xor.net")
>>> fann.save(net, path)
>>> again = fann.load(path)
>>> bool(np.allclose(again.predict([[0.0, 1.0]]), net.predict([[0.0, 1.0]]), atol=1e-15))
True
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from fastbp import io as _io
from fastbp.export import fitted_network
from fastbp.network import Network

HEADER = "FANN_FLO_2.1"
NEURONS_KEY = "neurons (num_inputs, activation_function, activation_steepness)"
CONNECTIONS_KEY = "connections (connected_to_neuron, weight)"

ACTIVATION_NAMES = (
    "FANN_LINEAR",
    "FANN_THRESHOLD",
    "FANN_THRESHOLD_SYMMETRIC",
    "FANN_SIGMOID",
    "FANN_SIGMOID_STEPWISE",
    "FANN_SIGMOID_SYMMETRIC",
    "FANN_SIGMOID_SYMMETRIC_STEPWISE",
    "FANN_GAUSSIAN",
    "FANN_GAUSSIAN_SYMMETRIC",
    "FANN_GAUSSIAN_STEPWISE",
    "FANN_ELLIOT",
    "FANN_ELLIOT_SYMMETRIC",
    "FANN_LINEAR_PIECE",
    "FANN_LINEAR_PIECE_SYMMETRIC",
    "FANN_SIN_SYMMETRIC",
    "FANN_COS_SYMMETRIC",
    "FANN_SIN",
    "FANN_COS",
)
"""FANN 2.2's activation functions, by code (``fann_activationfunc_enum``)."""

# code -> (fastbp activation, factor of the steepness folded into the weights)
_SUPPORTED = {0: ("identity", 1.0), 3: ("sigmoid", 2.0), 4: ("sigmoid", 2.0)}
_SUPPORTED.update({5: ("tanh", 1.0), 6: ("tanh", 1.0)})
_STEPWISE = (4, 6)
# fastbp activation -> (FANN code, steepness) on export: the folded factor is 1.
_EXPORTED = {"identity": (0, 1.0), "sigmoid": (3, 0.5), "tanh": (5, 1.0)}

# The largest |stepwise - exact| of FANN's two stepwise functions, in output
# units, measured against libfann 2.2 (tests/test_fann.py checks both).
STEPWISE_ERROR = {"sigmoid": 0.0333, "tanh": 0.0665}
# The steepest slope of each function, in fastbp's (folded) units.
_SLOPE = {"identity": 1.0, "sigmoid": 0.25, "tanh": 1.0}
# How far apart two outputs of each function can be at all.
_RANGE = {"identity": math.inf, "sigmoid": 1.0, "tanh": 2.0}
# FANN's counts are C unsigned ints; more digits than this are refused unread.
_MAX_DIGITS = 20

# The parameters FANN writes between the header and layer_sizes, in its order,
# with the values fann_create_standard gives them.  Lists hold their count
# line's key; floats written with %.20e by FANN are marked.
_TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.7,
    "connection_rate": 1.0,
    "network_type": 0,
    "learning_momentum": 0.0,
    "training_algorithm": 2,
    "train_error_function": 1,
    "train_stop_function": 0,
    "cascade_output_change_fraction": 0.01,
    "quickprop_decay": -0.0001,
    "quickprop_mu": 1.75,
    "rprop_increase_factor": 1.2,
    "rprop_decrease_factor": 0.5,
    "rprop_delta_min": 0.0,
    "rprop_delta_max": 50.0,
    "rprop_delta_zero": 0.1,
    "cascade_output_stagnation_epochs": 12,
    "cascade_candidate_change_fraction": 0.01,
    "cascade_candidate_stagnation_epochs": 12,
    "cascade_max_out_epochs": 150,
    "cascade_min_out_epochs": 50,
    "cascade_max_cand_epochs": 150,
    "cascade_min_cand_epochs": 50,
    "cascade_num_candidate_groups": 2,
    "bit_fail_limit": 0.35,
    "cascade_candidate_limit": 1000.0,
    "cascade_weight_multiplier": 0.4,
    "cascade_activation_functions": [3, 5, 7, 8, 10, 11, 14, 15, 16, 17],
    "cascade_activation_steepnesses": [0.25, 0.5, 0.75, 1.0],
}
_STRUCTURE_KEYS = ("connection_rate", "network_type")
TRAINING_KEYS = tuple(k for k in _TRAINING_DEFAULTS if k not in _STRUCTURE_KEYS)
"""The keys of :attr:`FannInfo.training` and of ``save``'s ``training``."""
_EXACT_KEYS = ("bit_fail_limit", "cascade_candidate_limit", "cascade_weight_multiplier")
_SCALING_KEYS = tuple(
    f"scale_{what}_{side}"
    for side in ("in", "out")
    for what in ("mean", "deviation", "new_min", "factor")
)

# A decimal number as C's strtod reads it, or nan/inf (refused by value, later).
# Written so that no digit can be matched two ways: a long malformed token
# fails in time proportional to its length, not its square.
_NUMBER = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)", re.I)
_INTEGER = re.compile(r"\+?\d+")
_NUMERIC_TEXT = re.compile(r"[\s0-9eE+\-.]*")
_TUPLE = re.compile(r"\(([^()]*)\)")
# A file that names more neurons or connections than this is refused before
# anything is allocated for it (FANN's largest networks are far smaller).
MAX_FILE_BYTES = 2**31
UINT_MAX = 2**32 - 1


@dataclass(frozen=True)
class Scaling:
    """FANN's per-column scaling: ``x' = ((x - mean) / deviation + 1) * factor + new_min``.

    ``fann_set_scaling_params`` fits it to map training data into a chosen
    range; ``fann_scale_input``/``fann_descale_output`` apply it around
    ``fann_run``.  Arrays have one entry per input (``*_in``) or output
    (``*_out``)."""

    mean_in: np.ndarray
    deviation_in: np.ndarray
    new_min_in: np.ndarray
    factor_in: np.ndarray
    mean_out: np.ndarray
    deviation_out: np.ndarray
    new_min_out: np.ndarray
    factor_out: np.ndarray

    def scale_inputs(self, X: Any) -> np.ndarray:
        """Inputs as the network expects them (``fann_scale_input``)."""
        return _forward(np.asarray(X, dtype=np.float64), *self._side("in"))

    def scale_outputs(self, Y: Any) -> np.ndarray:
        """Targets in the network's output units (``fann_scale_output``)."""
        return _forward(np.asarray(Y, dtype=np.float64), *self._side("out"))

    def unscale_outputs(self, Y: Any) -> np.ndarray:
        """Network outputs in the data's units (``fann_descale_output``)."""
        mean, deviation, new_min, factor = self._side("out")
        return ((np.asarray(Y, dtype=np.float64) - new_min) / factor - 1.0) * deviation + mean

    def _side(self, side: str) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f"{what}_{side}") for what in _WHATS)

    def to_metadata(self) -> dict[str, list[float]]:
        """The eight vectors as lists, keyed as in the ``.net`` file without ``scale_``."""
        return {
            key[len("scale_") :]: getattr(self, key[len("scale_") :]).tolist()
            for key in _SCALING_KEYS
        }


_WHATS = ("mean", "deviation", "new_min", "factor")


def _forward(
    x: np.ndarray, mean: np.ndarray, deviation: np.ndarray, new_min: np.ndarray, factor: np.ndarray
) -> np.ndarray:
    return ((x - mean) / deviation + 1.0) * factor + new_min


@dataclass(frozen=True)
class FannInfo:
    """What a ``.net`` file held besides the network :func:`read_net` returns."""

    path: str
    connection_rate: float
    missing_connections: int
    """Connections a sparse network lacks; each is a zero weight in the network."""
    stepwise: tuple[str, ...]
    """The stepwise activations read as exact functions (empty unless ``stepwise="exact"``)."""
    stepwise_bound: float
    """How far any output may move by reading the stepwise functions as exact ones (0 if none)."""
    scaling: Scaling | None
    training: dict[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-ready summary, for the metadata of a fastbp model file."""
        summary: dict[str, Any] = {
            "source": "FANN",
            "connection_rate": self.connection_rate,
            "missing_connections": self.missing_connections,
            "stepwise": list(self.stepwise),
            "stepwise_bound": self.stepwise_bound,
            "training": self.training,
        }
        if self.scaling is not None:
            summary["scaling"] = self.scaling.to_metadata()
        return summary


# -- reading a network --------------------------------------------------------


def load(path: Any, *, stepwise: str = "refuse", dtype: Any = "float64") -> Network:
    """The network in FANN's ``.net`` file ``path`` (see :func:`read_net`)."""
    return read_net(path, stepwise=stepwise, dtype=dtype)[0]


def read_net(
    path: Any, *, stepwise: str = "refuse", dtype: Any = "float64"
) -> tuple[Network, FannInfo]:
    """The network in FANN's ``.net`` file ``path``, and what else the file held.

    ``stepwise="exact"`` reads FANN's stepwise sigmoids as the exact functions
    (with a warning that says how far the outputs may move); the default
    refuses them.  ``dtype`` is the network's, ``float64`` or ``float32``.
    Raises ``ValueError`` naming the problem for a file fastbp cannot read."""
    if stepwise not in ("refuse", "exact"):
        raise ValueError(f"stepwise must be 'refuse' or 'exact'; got {stepwise!r}")
    name = _io._path(path)
    text = _read_text(name, "network")
    try:
        net, info = _parse_net(name, text, stepwise, dtype)
    except _Malformed as exc:
        raise ValueError(f"{name}: {exc}") from None
    if info.stepwise:
        warnings.warn(
            f"{name}: read {' and '.join(info.stepwise)} as the exact functions; outputs may "
            f"move by up to {info.stepwise_bound:.3g} from FANN's (a worst-case bound)",
            UserWarning,
            stacklevel=2,
        )
    return net, info


class _Malformed(ValueError):
    """A problem in a file; the reader adds the file's name."""


def _read_text(name: str, what: str) -> str:
    try:
        f = _io._open_regular_file(name)
    except FileNotFoundError:
        raise FileNotFoundError(f"no FANN {what} file at {name!r}") from None
    with f:
        # read(n) allocates n bytes up front: ask for what the file holds (plus one, to
        # notice a file that grew), never for the limit.
        size = os.fstat(f.fileno()).st_size
        raw = f.read(min(size, MAX_FILE_BYTES) + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{name}: more than {MAX_FILE_BYTES:,} bytes, too large for a {what} file")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{name}: byte {exc.start} is not ASCII; FANN's {what} files are plain text"
        ) from None


def _lines(text: str) -> tuple[str, dict[str, str]]:
    """The header line and the ``key=value`` lines, in order."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    header = lines[0].strip() if lines else ""
    if header == "FANN_FIX_2.0":
        raise _Malformed(
            "a fixed-point FANN network (FANN_FIX_2.0) is not supported; save it from the "
            "floating-point library (libfann or libdoublefann) to get FANN_FLO_2.1"
        )
    if header != HEADER:
        raise _Malformed(f"the first line is {header[:40]!r}; expected {HEADER!r}")
    entries: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise _Malformed(f"line {number} is not of the form key=value: {line[:40]!r}")
        if key in entries:
            raise _Malformed(f"line {number} repeats the key {key[:40]!r}")
        entries[key] = value
    return header, entries


def _value(entries: dict[str, str], key: str) -> str:
    try:
        return entries[key]
    except KeyError:
        raise _Malformed(f"there is no {key}= line") from None


def _number(text: str, what: str) -> float:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise _Malformed(f"{what} is {text[:40]!r}, not a number")
    return float(text)


def _finite(text: str, what: str) -> float:
    value = _number(text, what)
    if not math.isfinite(value):
        raise _Malformed(f"{what} is {value}; expected a finite number")
    return value


def _integer(text: str, what: str, low: int = 0, high: int | None = None) -> int:
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        raise _Malformed(f"{what} is {text[:40]!r}, not a whole number")
    significant = text.lstrip("+").lstrip("0") or "0"
    if len(significant) > _MAX_DIGITS:
        raise _Malformed(
            f"{what} is a whole number of {len(significant):,} digits; "
            f"expected at most {high or UINT_MAX}"
        )
    value = int(significant)
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise _Malformed(f"{what} is {value}; expected {bounds}")
    return value


def _tuples(text: str, what: str, width: int) -> list[list[str]]:
    if _TUPLE.sub("", text).strip():
        raise _Malformed(f"the {what} line holds something other than (...) groups")
    groups = [group.split(",") for group in _TUPLE.findall(text)]
    for k, group in enumerate(groups):
        if len(group) != width:
            raise _Malformed(f"{what} {k} has {len(group)} fields; expected {width}")
    return groups


def _training(entries: dict[str, str]) -> dict[str, Any]:
    training: dict[str, Any] = {}
    for key in TRAINING_KEYS:
        if key not in entries:  # FANN 2.1's files lack the cascade_min_* keys
            continue
        default, text = _TRAINING_DEFAULTS[key], entries[key]
        if isinstance(default, list):
            kind = int if isinstance(default[0], int) else float
            items = text.split()
            training[key] = [
                _integer(v, f"{key}[{k}]") if kind is int else _finite(v, f"{key}[{k}]")
                for k, v in enumerate(items)
            ]
        elif isinstance(default, int):
            training[key] = _integer(text, key)
        else:
            training[key] = _finite(text, key)
    return training


@dataclass
class _Neuron:
    n_inputs: int
    code: int
    steepness: float


def _parse_net(name: str, text: str, stepwise: str, dtype: Any) -> tuple[Network, FannInfo]:
    _, entries = _lines(text)
    num_layers = _integer(_value(entries, "num_layers"), "num_layers", 2)
    network_type = _integer(_value(entries, "network_type"), "network_type")
    if network_type == 1:
        raise _Malformed(
            "a shortcut network (network_type=1, as FANN's cascade training makes) is not "
            "supported; fastbp reads layered networks (network_type=0)"
        )
    if network_type != 0:
        raise _Malformed(f"network_type is {network_type}; expected 0 (layered)")
    rate = _finite(_value(entries, "connection_rate"), "connection_rate")
    if not 0 < rate <= 1:
        raise _Malformed(f"connection_rate is {rate}; expected a number in (0, 1]")
    sizes_text = _value(entries, "layer_sizes").split()
    if len(sizes_text) != num_layers:
        raise _Malformed(f"layer_sizes has {len(sizes_text)} entries; num_layers is {num_layers}")
    layer_sizes = [
        _integer(v, f"layer_sizes[{k}]", 2) for k, v in enumerate(sizes_text)
    ]  # each layer counts its bias neuron
    neurons = _neurons(entries, layer_sizes)
    sizes = [n - 1 for n in layer_sizes]
    activations, factors, stepwise_layers = _activations(neurons, layer_sizes, stepwise)
    weights, biases, missing = _connections(entries, neurons, layer_sizes, rate, factors)
    scaling = _scaling(entries, sizes[0], sizes[-1])
    net = Network(
        sizes,
        activation=activations[0] if len(activations) > 1 else "sigmoid",
        output_activation=activations[-1],
        dtype=dtype,
        weights=weights,
        biases=biases,
    )
    bound = stepwise_bound(net, stepwise_layers)
    names = tuple(sorted({ACTIVATION_NAMES[c] for c in stepwise_layers.values()}))
    info = FannInfo(name, rate, missing, names, bound, scaling, _training(entries))
    return net, info


def _neurons(entries: dict[str, str], layer_sizes: list[int]) -> list[_Neuron]:
    groups = _tuples(_value(entries, NEURONS_KEY), "neuron", 3)
    if len(groups) != sum(layer_sizes):
        raise _Malformed(
            f"there are {len(groups)} neurons; layer_sizes adds up to {sum(layer_sizes)}"
        )
    neurons = []
    for k, (n, code, steepness) in enumerate(groups):
        neuron = _Neuron(
            _integer(n, f"num_inputs of neuron {k}"),
            _integer(code, f"activation_function of neuron {k}"),
            _finite(steepness, f"activation_steepness of neuron {k}"),
        )
        neurons.append(neuron)
    return neurons


def _layers(layer_sizes: list[int]) -> Iterator[tuple[int, int, int]]:
    """(layer, its first neuron's index, its size with the bias), for each layer but the inputs."""
    first = layer_sizes[0]
    for layer, size in enumerate(layer_sizes[1:], start=1):
        yield layer, first, size
        first += size


def _activations(
    neurons: list[_Neuron], layer_sizes: list[int], stepwise: str
) -> tuple[list[str], list[np.ndarray], dict[int, int]]:
    """Per layer after the inputs: its fastbp activation and each neuron's folded factor."""
    activations, factors, stepwise_layers = [], [], {}
    for layer, first, size in _layers(layer_sizes):
        names, layer_factors = set(), []
        for k in range(first, first + size - 1):
            neuron = neurons[k]
            if neuron.code not in _SUPPORTED:
                kind = (
                    ACTIVATION_NAMES[neuron.code]
                    if neuron.code < len(ACTIVATION_NAMES)
                    else f"the unknown activation code {neuron.code}"
                )
                raise _Malformed(
                    f"neuron {k} (layer {layer}) uses {kind}, which fastbp does not support; "
                    "supported: FANN_LINEAR, FANN_SIGMOID, FANN_SIGMOID_SYMMETRIC (and their "
                    "stepwise versions with stepwise='exact')"
                )
            if neuron.code in _STEPWISE:
                if stepwise == "refuse":
                    raise _Malformed(
                        f"neuron {k} (layer {layer}) uses {ACTIVATION_NAMES[neuron.code]}, a "
                        "piecewise-linear approximation; pass stepwise='exact' to read it as "
                        "the exact function (outputs move slightly), or train the network in "
                        "FANN with FANN_SIGMOID or FANN_SIGMOID_SYMMETRIC"
                    )
                stepwise_layers[layer] = neuron.code
            if not neuron.steepness > 0:
                raise _Malformed(
                    f"neuron {k} has the steepness {neuron.steepness}; expected a positive number"
                )
            activation, factor = _SUPPORTED[neuron.code]
            names.add(activation)
            layer_factors.append(factor * neuron.steepness)
        if len(names) > 1:
            raise _Malformed(
                f"layer {layer} mixes the activations {', '.join(sorted(names))}; fastbp "
                "uses one activation per layer"
            )
        activations.append(names.pop())
        factors.append(np.array(layer_factors))
    hidden = set(activations[:-1])
    if len(hidden) > 1:
        raise _Malformed(
            f"the hidden layers use different activations ({', '.join(sorted(hidden))}); "
            "fastbp uses one activation for all hidden layers"
        )
    return activations, factors, stepwise_layers


def _connections(
    entries: dict[str, str],
    neurons: list[_Neuron],
    layer_sizes: list[int],
    rate: float,
    factors: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    expected = sum(n.n_inputs for n in neurons)
    text = _value(entries, CONNECTIONS_KEY)
    # Count before parsing: a file cannot make us build more groups than it holds.
    found = text.count("(")
    if found != expected:
        raise _Malformed(
            f"there are {found} connections; the neurons' num_inputs add up to {expected}"
        )
    groups = _tuples(text, "connection", 2)
    n_params = sum((a - 1) * (b - 1) + b - 1 for a, b in zip(layer_sizes, layer_sizes[1:]))
    if n_params > max(1000 * len(groups), 10**6):
        raise _Malformed(
            f"{len(groups):,} connections describe a network of {n_params:,} parameters; "
            "refusing to fill that many with zeros"
        )
    weights, biases, position, missing = [], [], 0, 0
    first_in = 0
    for (layer, first, size), factor in zip(_layers(layer_sizes), factors):
        n_in = layer_sizes[layer - 1]
        W, b = np.zeros((n_in - 1, size - 1)), np.zeros(size - 1)
        for j in range(size):
            k = first + j
            neuron = neurons[k]
            if j == size - 1:
                if neuron.n_inputs:
                    raise _Malformed(
                        f"neuron {k}, the bias of layer {layer}, has {neuron.n_inputs} inputs; "
                        "a bias neuron has none"
                    )
                continue
            if neuron.n_inputs == 0 or neuron.n_inputs > n_in:
                raise _Malformed(
                    f"neuron {k} (layer {layer}) has {neuron.n_inputs} inputs; expected 1 to "
                    f"{n_in}, the size of layer {layer - 1} with its bias"
                )
            if rate >= 1 and neuron.n_inputs != n_in:
                raise _Malformed(
                    f"neuron {k} has {neuron.n_inputs} inputs in a fully connected network; "
                    f"expected {n_in}"
                )
            seen = set()
            for c in range(neuron.n_inputs):
                source_text, weight_text = groups[position + c]
                what = f"connection {position + c} (to neuron {k})"
                source = _integer(source_text, f"the neuron of {what}")
                if rate >= 1 and source != first_in + c:
                    raise _Malformed(
                        f"the neuron of {what} is {source}; a fully connected network lists "
                        f"neuron {first_in + c} there"
                    )
                if not first_in <= source < first_in + n_in:
                    raise _Malformed(
                        f"the neuron of {what} is {source}; expected one of layer {layer - 1} "
                        f"({first_in} to {first_in + n_in - 1})"
                    )
                if source in seen:
                    raise _Malformed(f"neuron {k} lists a connection from neuron {source} twice")
                seen.add(source)
                weight = _finite(weight_text, f"the weight of {what}")
                folded = weight * factor[j]
                if not math.isfinite(folded):
                    raise _Malformed(
                        f"the weight of {what} is {weight:g}; times the neuron's steepness "
                        "it overflows a double"
                    )
                i = source - first_in
                if i == n_in - 1:
                    b[j] = folded
                else:
                    W[i, j] = folded
            position += neuron.n_inputs
            missing += n_in - neuron.n_inputs
        weights.append(W)
        biases.append(b)
        first_in = first
    return weights, biases, missing


def _scaling(entries: dict[str, str], n_in: int, n_out: int) -> Scaling | None:
    included = _integer(_value(entries, "scale_included"), "scale_included", 0, 1)
    if not included:
        return None
    vectors = {}
    for key in _SCALING_KEYS:
        width = n_in if key.endswith("_in") else n_out
        items = _value(entries, key).split()
        if len(items) != width:
            raise _Malformed(f"{key} has {len(items)} values; expected {width}")
        vector = np.array([_finite(v, f"{key}[{k}]") for k, v in enumerate(items)])
        if ("deviation" in key or "factor" in key) and np.any(vector == 0):
            raise _Malformed(f"{key} holds a zero; scaling divides by it")
        vectors[key[len("scale_") :]] = vector
    return Scaling(**vectors)


def stepwise_bound(net: Network, stepwise_layers: Mapping[int, int]) -> float:
    """A bound on how far any output of ``net`` moves when the layers in
    ``stepwise_layers`` (numbered from 1) compute FANN's stepwise functions
    instead of the exact ones.  Errors add up layer by layer: a layer's sums
    move by at most its largest absolute row sum of weights times the error of
    its inputs, its outputs by the activation's steepest slope times that, plus
    the stepwise function's own error, and never by more than the function's
    range (1 for sigmoid, 2 for tanh)."""
    error = 0.0
    names = [net.activation] * (len(net.sizes) - 2) + [net.output_activation]
    for layer, (W, name) in enumerate(zip(net.weights, names), start=1):
        with np.errstate(over="ignore"):
            spread = float(np.max(np.abs(W).sum(axis=0))) * error if error else 0.0
        error = _SLOPE[name] * spread
        if layer in stepwise_layers:
            error += STEPWISE_ERROR[name]
        error = min(error, _RANGE[name])
    return error


# -- writing a network --------------------------------------------------------


def save(
    model: Any,
    path: Any,
    *,
    training: Mapping[str, Any] | None = None,
    scaling: Scaling | None = None,
) -> None:
    """Write ``model`` (a ``Network`` or a fitted estimator) as FANN's ``.net`` file.

    sigmoid, tanh and identity layers become ``FANN_SIGMOID`` (steepness 0.5),
    ``FANN_SIGMOID_SYMMETRIC`` and ``FANN_LINEAR`` (steepness 1); ReLU, leaky
    ReLU and softmax have no FANN 2.2 counterpart and are refused.
    ``training`` sets FANN's training parameters (keys :data:`TRAINING_KEYS`,
    the others keep fann_create_standard's values); ``scaling`` writes a
    scaling block.  The file is replaced atomically: a failed save keeps the
    old one."""
    net = fitted_network(model, "model must be")
    name = _io._path(path)
    names = [net.activation] * (len(net.sizes) - 2) + [net.output_activation]
    for layer, activation in enumerate(names, start=1):
        if activation not in _EXPORTED:
            raise ValueError(
                f"layer {layer} uses {activation}, which FANN 2.2 does not have; FANN files "
                "hold sigmoid, tanh and identity layers"
            )
    params = net.params
    if not np.all(np.isfinite(params)):
        raise ValueError("the network has NaN or infinite parameters; FANN cannot use them")
    values = {**_TRAINING_DEFAULTS, **_check_training(training)}
    if scaling is not None:
        _check_scaling(scaling, net)
    text = "".join(_net_lines(net, names, values, scaling))

    def write(f: IO[bytes]) -> None:
        f.write(text.encode("ascii"))

    _io._replace(name, write)


def _check_training(training: Mapping[str, Any] | None) -> dict[str, Any]:
    if training is None:
        return {}
    if not isinstance(training, Mapping):
        raise TypeError(f"training must be a mapping; got {type(training).__name__}")
    checked = {}
    for key, value in training.items():
        if key not in TRAINING_KEYS:
            raise ValueError(f"training has the key {key!r}; expected keys among {TRAINING_KEYS}")
        default = _TRAINING_DEFAULTS[key]
        items = list(value) if isinstance(default, list) else [value]
        kind = (
            int
            if isinstance((default[0] if isinstance(default, list) else default), int)
            else float
        )
        for item in items:
            if (
                isinstance(item, bool)
                or not isinstance(item, (int, float, np.number))
                or not (math.isfinite(item) and (kind is float or float(item).is_integer()))
            ):
                raise ValueError(
                    f"training[{key!r}] must be {'whole' if kind is int else 'finite'} "
                    f"number{'s' if isinstance(default, list) else ''}; got {value!r:.60}"
                )
        converted = [kind(item) for item in items]
        checked[key] = converted if isinstance(default, list) else converted[0]
    return checked


def _check_scaling(scaling: Any, net: Network) -> None:
    if not isinstance(scaling, Scaling):
        raise TypeError(f"scaling must be a fastbp.fann.Scaling; got {type(scaling).__name__}")
    for key in _SCALING_KEYS:
        vector = getattr(scaling, key[len("scale_") :])
        width = net.n_inputs if key.endswith("_in") else net.n_outputs
        if np.shape(vector) != (width,) or not np.all(np.isfinite(vector)):
            raise ValueError(f"scaling.{key[6:]} must hold {width} finite numbers")


def _net_lines(
    net: Network, names: list[str], values: dict[str, Any], scaling: Scaling | None
) -> Iterator[str]:
    yield HEADER + "\n"
    yield f"num_layers={len(net.sizes)}\n"
    for key, value in values.items():
        if isinstance(value, list):
            yield f"{key}_count={len(value)}\n"
            items = " ".join(f"{v}" if isinstance(v, int) else f"{v:.20e}" for v in value)
            yield f"{key}={items} \n"
        elif isinstance(value, int):
            yield f"{key}={value}\n"
        else:
            yield f"{key}={value:.20e}\n" if key in _EXACT_KEYS else f"{key}={value:f}\n"
    yield "layer_sizes=" + "".join(f"{n + 1} " for n in net.sizes) + "\n"
    yield f"scale_included={int(scaling is not None)}\n"
    if scaling is not None:
        for key in _SCALING_KEYS:
            vector = getattr(scaling, key[len("scale_") :])
            yield f"{key}=" + "".join(f"{v:.9e} " for v in vector) + "\n"
    yield NEURONS_KEY + "=" + "".join(_neuron_groups(net, names)) + "\n"
    yield CONNECTIONS_KEY + "=" + "".join(_connection_groups(net)) + "\n"


def _neuron_groups(net: Network, names: list[str]) -> Iterator[str]:
    bias = "(0, 0, 0.00000000000000000000e+00) "
    yield bias * (net.sizes[0] + 1)
    for n_in, n_out, activation in zip(net.sizes, net.sizes[1:], names):
        code, steepness = _EXPORTED[activation]
        yield f"({n_in + 1}, {code}, {steepness:.20e}) " * n_out
        yield bias


def _connection_groups(net: Network) -> Iterator[str]:
    first_in = 0
    for W, b in zip(net.weights, net.biases):
        n_in = W.shape[0]
        for j in range(W.shape[1]):
            for i in range(n_in):
                yield f"({first_in + i}, {float(W[i, j]):.20e}) "
            yield f"({first_in + n_in}, {float(b[j]):.20e}) "
        first_in += n_in + 1


# -- data ---------------------------------------------------------------------


def read_data(path: Any, *, dtype: Any = "float64") -> tuple[np.ndarray, np.ndarray]:
    """The inputs and outputs of FANN's training-data file ``path``, as two
    ``(num_data, n)`` arrays of ``dtype``.  Raises ``ValueError`` naming the
    problem for a file that is not well formed or holds NaN or infinity."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32; got {dtype}")
    name = _io._path(path)
    text = _read_text(name, "data")
    try:
        X, Y = _parse_data(text)
    except _Malformed as exc:
        raise ValueError(f"{name}: {exc}") from None
    return X.astype(dtype), Y.astype(dtype)


def _parse_data(text: str) -> tuple[np.ndarray, np.ndarray]:
    head, _, body = text.lstrip().partition("\n")
    counts = head.split()
    if len(counts) != 3:
        raise _Malformed(
            f"the first line is {head.strip()[:40]!r}; expected three whole numbers, "
            "num_data num_input num_output"
        )
    n, n_in, n_out = (  # FANN's counts are unsigned ints
        _integer(v, what, low, UINT_MAX)
        for v, what, low in zip(counts, ("num_data", "num_input", "num_output"), (0, 1, 0))
    )
    tokens = body.split()
    width = n_in + n_out
    if len(tokens) != n * width:
        raise _Malformed(
            f"the header announces {n} samples of {n_in} inputs and {n_out} outputs, "
            f"{n * width:,} numbers; the file holds {len(tokens):,}"
        )
    values = _numbers(body, tokens).reshape(n, width)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        side, k = ("input", col) if col < n_in else ("output", col - n_in)
        raise _Malformed(
            f"{side} {k} of sample {row} is {values[row, col]}; expected finite numbers"
        )
    return values[:, :n_in].copy(), values[:, n_in:].copy()


def _numbers(body: str, tokens: list[str]) -> np.ndarray:
    if _NUMERIC_TEXT.fullmatch(body):
        try:
            return np.array(tokens, dtype=np.float64)
        except ValueError:
            pass  # one of them is malformed: find it below
    for k, token in enumerate(tokens):
        _number(token, f"value {k} after the first line")
    return np.array(tokens, dtype=np.float64)


def write_data(path: Any, X: Any, Y: Any) -> None:
    """Write ``X`` (inputs) and ``Y`` (outputs), one row per sample, as FANN's
    training-data file ``path``, atomically (a failed write keeps the old file)."""
    name = _io._path(path)
    X, Y = _two_dimensional(X, "X"), _two_dimensional(Y, "Y")
    if len(X) != len(Y):
        raise ValueError(f"X has {len(X)} rows and Y {len(Y)}; expected one row of each per sample")
    if X.shape[1] < 1:
        raise ValueError("X has no columns; a FANN data file needs at least one input")

    def write(f: IO[bytes]) -> None:
        f.write(f"{len(X)} {X.shape[1]} {Y.shape[1]}\n".encode("ascii"))
        for x, y in zip(X, Y):
            f.write((_row(x) + "\n" + _row(y) + "\n").encode("ascii"))

    _io._replace(name, write)


def _row(values: np.ndarray) -> str:
    return " ".join(f"{float(v):.17g}" for v in values)


def _two_dimensional(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be numbers of shape (n_samples, n); got {values!r:.60}"
        ) from None
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n); got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinity; FANN data must be finite")
    return array


__all__ = [
    "ACTIVATION_NAMES",
    "FannInfo",
    "Scaling",
    "TRAINING_KEYS",
    "load",
    "read_data",
    "read_net",
    "save",
    "stepwise_bound",
    "write_data",
]
