"""``fastbp.trace``: one back-propagation step, written out as the chain rule.

Every number in a :class:`Trace` comes from the engine, not from a second
implementation of the math:

- net inputs and outputs of layer l: :meth:`Network.predict` of the one-layer
  network made of layer l's weights, with an identity output (net input) and
  with the layer's own activation (output);
- ``dout/dnet`` = f'(net): the back-propagated delta of that one-layer network
  under the squared error, with targets one below its outputs, so that
  ``dE/dout`` is exactly 1 and the delta is f'(net) alone;
- ``dE/dout`` of an output neuron: the same with an identity layer in front of
  the targets (the derivative of the loss, o - t for the squared error); of a
  hidden neuron: the sum over the neurons it feeds of weight times their
  delta, the back-propagated error;
- ``delta`` and ``dE/dw``: :meth:`Network.gradients` of the whole network;
- new values and the error after the step: :meth:`Network.train` for one
  update on a copy.

Neurons are named as in the classic worked example: inputs ``i1, i2, ...``,
hidden neurons ``h1, h2, ...`` (``h1_1, h1_2, ..., h2_1, ...`` with several
hidden layers), outputs ``o1, o2, ...``.  Weights are numbered ``w1, w2, ...``
layer by layer, for each neuron of the layer in turn the weights coming into
it; the bias into neuron ``h1`` is ``b_h1``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp.architecture import FIELDS
from fastbp.network import Network

__all__ = ["NeuronTrace", "ParameterTrace", "Trace", "trace"]


@dataclass(frozen=True)
class NeuronTrace:
    """The forward and backward values of one neuron.

    ``dE_dout`` and ``dout_dnet`` are None where the chain rule does not
    split per neuron: for a softmax output (its outputs depend on every net
    input) and for an output under cross-entropy (the engine forms
    ``delta = out - target`` directly).
    """

    name: str
    layer: int
    net: float
    out: float
    dE_dout: float | None
    dout_dnet: float | None
    delta: float


@dataclass(frozen=True)
class ParameterTrace:
    """One weight or bias: its value, its gradient and its value after the update."""

    name: str
    source: str | None
    target: str
    value: float
    gradient: float
    new_value: float


@dataclass(frozen=True)
class Trace:
    """The record of one back-propagation step; see :func:`trace`."""

    sizes: tuple[int, ...]
    activation: str
    output_activation: str
    loss: str
    learning_rate: float
    train_biases: bool
    inputs: tuple[float, ...]
    targets: tuple[float, ...]
    error: float
    neurons: tuple[NeuronTrace, ...]
    weights: tuple[ParameterTrace, ...]
    biases: tuple[ParameterTrace, ...]
    error_after: float

    @property
    def outputs(self) -> tuple[float, ...]:
        """The outputs of the network before the update."""
        return tuple(n.out for n in self.neurons if n.layer == len(self.sizes) - 1)

    def neuron(self, name: str) -> NeuronTrace:
        """The neuron called ``name`` (``"h1"``, ``"o2"``, ...)."""
        return _find(self.neurons, name, "neuron")

    def weight(self, name: str) -> ParameterTrace:
        """The weight called ``name`` (``"w1"``, ...)."""
        return _find(self.weights, name, "weight")

    def bias(self, name: str) -> ParameterTrace:
        """The bias called ``name`` (``"b_h1"``, ...)."""
        return _find(self.biases, name, "bias")

    def to_dict(self) -> dict[str, Any]:
        """The record as plain dicts, lists, numbers and strings, ready for JSON."""
        record = dataclasses.asdict(self)
        record["outputs"] = list(self.outputs)
        return record

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def _lines(self) -> list[str]:
        return [
            *self._header_lines(),
            "",
            *self._forward_lines(),
            "",
            *self._backward_lines(),
            "",
            *self._weight_lines(),
            "",
            *self._bias_lines(),
            "",
            f"total error after the update: {_num(self.error_after).strip()}",
        ]

    def _header_lines(self) -> list[str]:
        names = ", ".join((self.activation, self.output_activation, self.loss))
        return [
            f"One back-propagation step of a {'-'.join(map(str, self.sizes))} network "
            f"({names}), learning rate {self.learning_rate:g}, "
            f"biases {'trained' if self.train_biases else 'fixed'}",
            "",
            "inputs:  " + ", ".join(f"i{k + 1} = {v:g}" for k, v in enumerate(self.inputs)),
            "targets: " + ", ".join(f"t{k + 1} = {v:g}" for k, v in enumerate(self.targets)),
        ]

    def _forward_lines(self) -> list[str]:
        return [
            "Forward pass: net = sum over inputs of w * out + b;  out = f(net)",
            f"  {'neuron':<8}{'net':>15}{'out':>15}",
            *(f"  {n.name:<8}{_num(n.net)}{_num(n.out)}" for n in self.neurons),
            f"  total error E = {_num(self.error).strip()}",
        ]

    def _backward_lines(self) -> list[str]:
        lines = [
            "Backward pass, output layer first: delta = dE/dout * dout/dnet",
            f"  {'neuron':<8}{'dE/dout':>15}{'dout/dnet':>15}{'delta':>15}",
        ]
        for n in sorted(self.neurons, key=lambda n: -n.layer):
            lines.append(f"  {n.name:<8}{_num(n.dE_dout)}{_num(n.dout_dnet)}{_num(n.delta)}")
        if any(n.dE_dout is None for n in self.neurons):
            lines.append("  (-: the output delta is formed directly as out - target)")
        return lines

    def _weight_lines(self) -> list[str]:
        eta = f"{self.learning_rate:g}"
        return [
            f"Weights: dE/dw = out(from) * delta(to);  new w = w - {eta} * dE/dw",
            f"  {'weight':<8}{'from -> to':<14}{'w':>15}{'dE/dw':>15}{'new w':>15}",
            *(_parameter_line(p, f"{p.source} -> {p.target}") for p in self.weights),
        ]

    def _bias_lines(self) -> list[str]:
        eta = f"{self.learning_rate:g}"
        rule = f"new b = b - {eta} * dE/db" if self.train_biases else "not updated"
        return [
            f"Biases: dE/db = delta(to);  {rule}",
            f"  {'bias':<8}{'to':<14}{'b':>15}{'dE/db':>15}{'new b':>15}",
            *(_parameter_line(p, p.target) for p in self.biases),
        ]


def _parameter_line(p: ParameterTrace, route: str) -> str:
    """A row of the weight or bias table: name, where it connects, value, gradient, new value."""
    return f"  {p.name:<8}{route:<14}{_num(p.value)}{_num(p.gradient)}{_num(p.new_value)}"


def _find(items: tuple[Any, ...], name: str, kind: str) -> Any:
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(item.name for item in items)
    raise KeyError(f"no {kind} called {name!r}; the trace has {known}")


def _num(value: float | None) -> str:
    """A value as the tutorial prints them: nine decimals, or scientific when tiny."""
    if value is None:
        return f"{'-':>15}"
    if value != 0 and abs(value) < 1e-4:
        return f"{value:15.6e}"
    return f"{value:15.9f}"


def _neuron_names(sizes: tuple[int, ...]) -> list[list[str]]:
    n_hidden = len(sizes) - 2
    names = [[f"i{j + 1}" for j in range(sizes[0])]]
    for k in range(1, n_hidden + 1):
        prefix = "h" if n_hidden == 1 else f"h{k}_"
        names.append([f"{prefix}{j + 1}" for j in range(sizes[k])])
    names.append([f"o{j + 1}" for j in range(sizes[-1])])
    return names


def _one_row(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one sample, a flat sequence of numbers; got shape {array.shape}"
        )
    return array.reshape(1, -1)


def _layer(net: Network, l: int, activation: str) -> Network:
    """Layer l of ``net`` (1-based) as a one-layer network with the given output."""
    loss = "cross_entropy" if activation == "softmax" else "squared_error"
    return Network(
        net.sizes[l - 1 : l + 1],
        output_activation=activation,
        loss=loss,
        dtype=net.dtype,
        weights=[net.weights[l - 1]],
        biases=[net.biases[l - 1]],
    )


def _forward(net: Network, l: int, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The net inputs and the outputs of layer l, given the outputs of layer l - 1."""
    activation = net.architecture.layer_activations[l - 1]
    return _layer(net, l, "identity").predict(inputs), _layer(net, l, activation).predict(inputs)


def _delta_formed_directly(net: Network, l: int) -> bool:
    """Whether layer l is an output whose delta the engine forms as out - target."""
    return l == len(net.sizes) - 1 and net.loss_name != "squared_error"


def _dout_dnet(net: Network, l: int, inputs: np.ndarray, out: np.ndarray) -> np.ndarray | None:
    """f'(net) of each neuron of layer l, or None where the chain rule does not split."""
    activation = net.architecture.layer_activations[l - 1]
    if activation == "softmax" or _delta_formed_directly(net, l):
        return None
    # Targets one below the outputs: dE/dout = out - t = 1, so delta = f'(net).
    _, unit = _layer(net, l, activation).gradients(inputs, out - 1.0)
    return unit[0]


def _dE_dout(
    net: Network, l: int, out: np.ndarray, T: np.ndarray, deltas: list[np.ndarray]
) -> np.ndarray | None:
    """dE/dout of each neuron of layer l, or None where the chain rule does not split."""
    if l < len(net.sizes) - 1:
        # The back-propagated error: over the neurons fed, weight times their delta.
        return deltas[l] @ net.weights[l].T
    if _delta_formed_directly(net, l):
        return None
    return _loss_derivative(net, out, T)


def _loss_derivative(net: Network, out: np.ndarray, T: np.ndarray) -> np.ndarray:
    """dE/dout of the outputs: the delta of an identity layer in front of the targets."""
    width = net.sizes[-1]
    identity = Network(
        [width, width],
        output_activation="identity",
        dtype=net.dtype,
        weights=[np.eye(width)],
        biases=[np.zeros(width)],
    )
    return identity.gradients(out, T)[1][0]


def _entry(values: np.ndarray | None, j: int) -> float | None:
    return None if values is None else float(values[j])


def _neuron_records(
    net: Network, names: list[list[str]], X: np.ndarray, T: np.ndarray, deltas: list[np.ndarray]
) -> list[NeuronTrace]:
    """The forward and backward values of every neuron, layer by layer."""
    records: list[NeuronTrace] = []
    inputs = X
    for l in range(1, len(net.sizes)):
        net_in, out = _forward(net, l, inputs)
        dE_dout = _dE_dout(net, l, out, T, deltas)
        dout_dnet = _dout_dnet(net, l, inputs, out)
        records += [
            NeuronTrace(
                name=name,
                layer=l,
                net=float(net_in[0, j]),
                out=float(out[0, j]),
                dE_dout=_entry(dE_dout, j),
                dout_dnet=_entry(dout_dnet, j),
                delta=float(deltas[l - 1][j]),
            )
            for j, name in enumerate(names[l])
        ]
        inputs = out
    return records


_LayerParameters = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One layer's weights or biases: their values, their gradients, their values after the update."""


def _parameter(
    name: str,
    source: str | None,
    target: str,
    parameters: _LayerParameters,
    index: Any,
) -> ParameterTrace:
    """The record of the parameter at ``index`` in ``parameters``."""
    value, gradient, new_value = (float(array[index]) for array in parameters)
    return ParameterTrace(name, source, target, value, gradient, new_value)


def _weight_records(
    names: list[list[str]], layers: Iterable[_LayerParameters]
) -> list[ParameterTrace]:
    """The weights numbered layer by layer, for each neuron the weights coming into it."""
    records: list[ParameterTrace] = []
    for l, parameters in enumerate(layers, start=1):
        for j, target in enumerate(names[l]):
            for i, source in enumerate(names[l - 1]):
                records.append(
                    _parameter(f"w{len(records) + 1}", source, target, parameters, (i, j))
                )
    return records


def _bias_records(
    names: list[list[str]], layers: Iterable[_LayerParameters]
) -> list[ParameterTrace]:
    """The bias into each neuron, layer by layer; its gradient is the neuron's delta."""
    return [
        _parameter(f"b_{target}", None, target, parameters, j)
        for l, parameters in enumerate(layers, start=1)
        for j, target in enumerate(names[l])
    ]


def _after_one_update(
    net: Network, X: np.ndarray, T: np.ndarray, learning_rate: float, train_biases: bool
) -> Network:
    """A copy of ``net`` trained by one online update on the sample."""
    after = Network(**net.architecture.to_dict(), weights=net.weights, biases=net.biases)
    after.train(
        X,
        T,
        epochs=1,
        batch_size=1,
        learning_rate=learning_rate,
        shuffle=False,
        train_biases=train_biases,
    )
    return after


def _recorded_architecture(net: Network) -> dict[str, Any]:
    """The architecture fields a :class:`Trace` records: all but the dtype."""
    return {name: getattr(net.architecture, name) for name in FIELDS if name != "dtype"}


def trace(
    net: Network, x: Any, t: Any, learning_rate: float = 0.5, train_biases: bool = True
) -> Trace:
    """Record one online back-propagation step of ``net`` on one sample, neuron by neuron.

    ``net`` itself is not changed: the update is made on a copy.

    Parameters
    ----------
    net : Network
    x : sequence of float
        One input sample, ``n_inputs`` numbers.
    t : sequence of float
        Its targets, ``n_outputs`` numbers.
    learning_rate : float
        Step size of the update.
    train_biases : bool
        False keeps the biases fixed, as the classic worked example does.

    Returns
    -------
    Trace
        Forward values, deltas, gradients and updated parameters; ``str()``
        gives a readable table, ``to_dict()`` a JSON-ready record.

    Examples
    --------
    The classic 2-2-2 worked example:

    >>> import fastbp as fb
    >>> net = fb.Network([2, 2, 2], weights=[[[0.15, 0.25], [0.20, 0.30]],
    ...                                      [[0.40, 0.50], [0.45, 0.55]]],
    ...                  biases=[[0.35, 0.35], [0.60, 0.60]])
    >>> step = fb.trace(net, [0.05, 0.10], [0.01, 0.99], learning_rate=0.5,
    ...                 train_biases=False)
    >>> o1 = step.neuron("o1")
    >>> print(f"{o1.dE_dout:.8f} {o1.dout_dnet:.9f} {o1.delta:.9f}")
    0.74136507 0.186815602 0.138498562
    >>> w5 = step.weight("w5")
    >>> print(w5.source, w5.target, f"{w5.gradient:.9f} {w5.new_value:.8f}")
    h1 o1 0.082167041 0.35891648
    >>> print(f"{step.error:.9f} -> {step.error_after:.9f}")
    0.298371109 -> 0.291027774
    """
    X, T = net._data(_one_row(x, "x"), _one_row(t, "t"))
    if not isinstance(X, np.ndarray):
        raise TypeError("trace follows one dense sample x; got a sparse matrix")
    dW, db = net.gradients(X, T)
    after = _after_one_update(net, X, T, learning_rate, train_biases)
    names = _neuron_names(net.sizes)
    return Trace(
        **_recorded_architecture(net),
        learning_rate=float(learning_rate),
        train_biases=bool(train_biases),
        inputs=tuple(float(v) for v in X[0]),
        targets=tuple(float(v) for v in T[0]),
        error=net.loss(X, T),
        neurons=tuple(_neuron_records(net, names, X, T, db)),
        weights=tuple(_weight_records(names, zip(net.weights, dW, after.weights))),
        biases=tuple(_bias_records(names, zip(net.biases, db, after.biases))),
        error_after=after.loss(X, T),
    )
