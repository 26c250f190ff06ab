"""ONNX export: ``to_onnx`` for networks and fitted estimators, and skl2onnx converters.

A network becomes one ``MatMul`` by the weights, one ``Add`` of the biases and
the activation per layer.  Inputs and outputs are named as skl2onnx names
them, so that a served model reads the same whichever route wrote it:

============  ==========================================================
model         outputs (the input is ``X``, shape ``(n, n_features)``)
============  ==========================================================
Network       ``output``: ``(n, n_outputs)``, what ``Network.predict`` gives
BPRegressor   ``variable``: ``(n, n_outputs)``, what ``predict`` gives (a
              single target, 1-D from ``predict``, is one column here)
BPClassifier  ``label``: ``(n,)`` classes as ``predict`` gives them (int64 or
              strings), or ``(n, n_labels)`` 0/1 for multilabel targets;
              ``probabilities``: ``(n, n_classes)`` as ``predict_proba``
============  ==========================================================

Importing this module registers ``BPClassifier`` and ``BPRegressor`` with
skl2onnx, when it is installed, so that ``skl2onnx.to_onnx`` converts
pipelines holding them, with its ``zipmap`` options for classifiers.  There
the graph computes in float64 for a float64 input and in float32 for any
other, as skl2onnx's own converters do; and since ONNX's ZipMap takes only
float32, the default ``zipmap`` output needs a float32 input (``zipmap=False``
and ``"columns"`` take either).

ONNX Runtime has no float64 kernel of ``LeakyRelu`` (version 1.32 has one
only for opsets 16 to 18), so a float64 graph computes ``leaky_relu`` as
``Max(z, 0.01 z)``: the same numbers, as the engine rounds ``0.01 z`` too.

>>> import fastbp as fb
>>> from fastbp.onnx import to_onnx
>>> model = to_onnx(fb.Network([2, 3, 1], activation="tanh", seed=0))
>>> [node.op_type for node in model.graph.node]
['MatMul', 'Add', 'Tanh', 'MatMul', 'Add', 'Sigmoid', 'Identity']
>>> [output.name for output in model.graph.output]
['output']
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from fastbp._validation import check_dtype, check_int
from fastbp._version import __version__
from fastbp.activations import LEAKY_SLOPE
from fastbp.export import fitted_network
from fastbp.network import Network

if TYPE_CHECKING:
    from onnx import ModelProto

DEFAULT_OPSET = 17
"""The opset ``to_onnx`` writes unless told: one that any recent ONNX Runtime runs."""
MIN_OPSET = 13
"""The oldest opset written: ``ReduceSum`` takes its axes as an input from 13 on."""

# The output of a network, and of a regressor: the names skl2onnx gives them.
_OUTPUT = {"network": "output", "regressor": "variable"}


def _onnx() -> ModuleType:
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            f"fastbp.onnx needs the onnx package: pip install 'fastbp[onnx]' ({exc})"
        ) from None
    return onnx


# -- what a model exports -----------------------------------------------------


@dataclass(frozen=True)
class _Export:
    """A model as the graph sees it: its network, the kind of its outputs, its labels."""

    network: Network
    kind: str
    labels: np.ndarray | None = None

    @property
    def n_columns(self) -> int:
        """Columns of the probabilities (classifiers) or predictions (the rest)."""
        return 2 if self.kind == "binary" else self.network.n_outputs


def _export_of(model: Any) -> _Export:
    """What ``model`` exports; TypeError for objects that are not fastbp models."""
    network = fitted_network(model, "to_onnx exports")
    if model is network:
        return _Export(network, "network")
    from fastbp.sklearn import BPRegressor

    if isinstance(model, BPRegressor):
        return _Export(model.network_, "regressor")
    # Binary, multiclass or multilabel: the binarizer's verdict on the targets
    # (multilabel and sigmoid-output multiclass fits have the same public attributes).
    target = model._binarizer.y_type_
    kind = "multilabel" if target == "multilabel-indicator" else target
    return _Export(model.network_, kind, _label_values(model.classes_))


def _label_values(classes: np.ndarray) -> np.ndarray:
    """The classes as a label tensor holds them: int64, or strings.

    Integers, booleans and integral floats become int64 (as in skl2onnx);
    strings stay strings.  Other labels have no ONNX label type.
    """
    if classes.dtype.kind == "U" or all(isinstance(c, str) for c in classes):
        return classes.astype(str)
    if classes.dtype.kind in "biuf" or all(isinstance(c, numbers.Integral) for c in classes):
        with np.errstate(invalid="ignore"):
            labels = classes.astype(np.int64)
        if np.array_equal(labels, classes):
            return labels
    raise TypeError(
        f"the classes {classes.tolist()!r:.80} cannot be ONNX labels, which are int64 or "
        "strings; fit the classifier on integer or string labels"
    )


# -- where the nodes go -------------------------------------------------------


class _Graph:
    """Where an export puts its nodes and constants, in one float dtype.

    ``node`` adds an operator and returns the name of its output; ``constant``
    adds a tensor and returns its name.  ``_ModelGraph`` collects both for
    ``to_onnx``, ``_Skl2onnxGraph`` hands them to skl2onnx's container.
    """

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype

    def fresh(self, hint: str) -> str:
        """A name no other node output or constant has."""
        raise NotImplementedError

    def _add_node(self, op: str, inputs: list[str], output: str, attrs: dict[str, Any]) -> None:
        raise NotImplementedError

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        raise NotImplementedError

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        """Add the operator ``op`` of one output (named ``output``, or a fresh name)."""
        output = output or self.fresh(op.lower())
        self._add_node(op, inputs, output, attrs)
        return output

    def constant(self, hint: str, value: Any) -> str:
        """Add the tensor ``value``, as it is (an array of its own dtype)."""
        name = self.fresh(hint)
        self._add_constant(name, np.asarray(value))
        return name

    def real(self, hint: str, value: Any) -> str:
        """Add the tensor ``value`` in the graph's float dtype."""
        return self.constant(hint, np.asarray(value, dtype=self.dtype))


class _ModelGraph(_Graph):
    """The nodes and initializers of a graph that ``to_onnx`` builds itself."""

    def __init__(self, dtype: np.dtype) -> None:
        super().__init__(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = itertools.count()

    def fresh(self, hint: str) -> str:
        return f"{hint}_{next(self._count)}"

    def _add_node(self, op: str, inputs: list[str], output: str, attrs: dict[str, Any]) -> None:
        self.nodes.append(_onnx().helper.make_node(op, inputs, [output], **attrs))

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        self.initializers.append(_onnx().numpy_helper.from_array(value, name))


class _Skl2onnxGraph(_Graph):
    """The nodes and initializers of one operator in a graph that skl2onnx builds."""

    def __init__(self, scope: Any, container: Any, dtype: np.dtype) -> None:
        super().__init__(dtype)
        self._scope = scope
        self._container = container

    def fresh(self, hint: str) -> str:
        return str(self._scope.get_unique_variable_name(hint))

    def _add_node(self, op: str, inputs: list[str], output: str, attrs: dict[str, Any]) -> None:
        name = self._scope.get_unique_operator_name(op)
        self._container.add_node(op, inputs, [output], name=name, **attrs)

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        tensor = _onnx().numpy_helper.from_array(value, name)
        shape = list(value.shape)
        if value.dtype.kind == "U":  # the container copies only raw data from a tensor
            self._container.add_initializer(name, tensor.data_type, shape, tensor.string_data)
        else:
            self._container.add_initializer(name, tensor.data_type, shape, tensor)


# -- the graph ----------------------------------------------------------------


def _leaky_relu(g: _Graph, z: str) -> str:
    """``LeakyRelu``, or in float64 (no ONNX Runtime kernel) ``Max(z, slope z)``."""
    if g.dtype == np.float32:
        return g.node("LeakyRelu", [z], alpha=LEAKY_SLOPE)
    return g.node("Max", [z, g.node("Mul", [z, g.real("slope", LEAKY_SLOPE)])])


def _activate(g: _Graph, z: str, activation: str) -> str:
    """The activation of a layer applied to its pre-activations ``z``."""
    if activation == "identity":
        return z
    if activation == "leaky_relu":
        return _leaky_relu(g, z)
    if activation == "softmax":
        return g.node("Softmax", [z], axis=1)
    ops = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "exp": "Exp"}
    return g.node(ops[activation], [z])


def _forward(g: _Graph, net: Network, x: str) -> str:
    """The forward pass: per layer ``a = f(a W + b)``; the name of the outputs."""
    a = x
    layers = zip(net.weights, net.biases, net.architecture.layer_activations)
    for layer, (W, b, activation) in enumerate(layers):
        z = g.node("MatMul", [a, g.real(f"W{layer}", W)])
        a = _activate(g, g.node("Add", [z, g.real(f"b{layer}", b)]), activation)
    return a


def _above_half(g: _Graph, p: str, output: str | None = None) -> str:
    """``int64(p > 0.5)``: LabelBinarizer's threshold."""
    above = g.node("Greater", [p, g.real("threshold", 0.5)])
    return g.node("Cast", [above], output, to=_onnx().TensorProto.INT64)


def _binary(g: _Graph, export: _Export, out: str, names: tuple[str, ...]) -> None:
    """One sigmoid output p: the label ``classes[p > 0.5]``, probabilities ``[1 - p, p]``."""
    p = g.node("Reshape", [out, g.constant("flat", np.array([-1], dtype=np.int64))])
    g.node("Gather", [g.constant("classes", export.labels), _above_half(g, p)], names[0], axis=0)
    g.node("Concat", [g.node("Sub", [g.real("one", 1.0), out]), out], names[1], axis=1)


def _multiclass(g: _Graph, export: _Export, out: str, names: tuple[str, ...]) -> None:
    """The class of the largest output; softmax outputs, or sigmoid ones made to sum to 1."""
    index = g.node("ArgMax", [out], axis=1, keepdims=0)
    g.node("Gather", [g.constant("classes", export.labels), index], names[0], axis=0)
    if export.network.output_activation == "softmax":
        g.node("Identity", [out], names[1])
        return
    # As predict_proba: clipped to the smallest normal number, then divided by the row's sum.
    p = g.node("Max", [out, g.real("tiny", np.finfo(g.dtype).tiny)])
    axis = g.constant("axis", np.array([1], dtype=np.int64))
    g.node("Div", [p, g.node("ReduceSum", [p, axis], keepdims=1)], names[1])


def _multilabel(g: _Graph, export: _Export, out: str, names: tuple[str, ...]) -> None:
    """Each label 1 where its sigmoid output is above 0.5; the outputs are the probabilities."""
    _above_half(g, out, names[0])
    g.node("Identity", [out], names[1])


def _outputs(g: _Graph, export: _Export, out: str, names: tuple[str, ...]) -> None:
    """The network's outputs, or a regressor's predictions, as they are."""
    g.node("Identity", [out], names[0])


_HEADS = {
    "network": _outputs,
    "regressor": _outputs,
    "binary": _binary,
    "multiclass": _multiclass,
    "multilabel": _multilabel,
}


def _build(g: _Graph, export: _Export, x: str, names: tuple[str, ...]) -> None:
    """The nodes that take the input ``x`` to the outputs ``names``."""
    _HEADS[export.kind](g, export, _forward(g, export.network, x), names)


def _signature(export: _Export) -> list[tuple[str, str, tuple[int | None, ...]]]:
    """Each output's name, element type (``real``, ``int64`` or ``string``) and shape.

    ``None`` in a shape is the number of samples.
    """
    columns = (None, export.n_columns)
    if export.labels is None:
        return [(_OUTPUT[export.kind], "real", columns)]
    label = "string" if export.labels.dtype.kind == "U" else "int64"
    label_shape = columns if export.kind == "multilabel" else (None,)
    return [("label", label, label_shape), ("probabilities", "real", columns)]


# -- to_onnx ------------------------------------------------------------------


def _value_infos(export: _Export, dtype: np.dtype) -> tuple[Any, list[Any]]:
    """The graph's input ``X`` and its outputs, with element types and shapes."""
    onnx = _onnx()
    types = {
        "real": onnx.helper.np_dtype_to_tensor_dtype(dtype),
        "int64": onnx.TensorProto.INT64,
        "string": onnx.TensorProto.STRING,
    }

    def info(name: str, element: str, shape: tuple[int | None, ...]) -> Any:
        dims = ["N" if size is None else size for size in shape]
        return onnx.helper.make_tensor_value_info(name, types[element], dims)

    inputs = info("X", "real", (None, export.network.n_inputs))
    return inputs, [info(*output) for output in _signature(export)]


def to_onnx(model: Any, dtype: Any = None, opset: int | None = None) -> ModelProto:
    """The ONNX model of a network or a fitted estimator, checked by ``onnx.checker``.

    Parameters
    ----------
    model : fastbp.Network, BPClassifier or BPRegressor
        A network, or a fitted estimator of :mod:`fastbp.sklearn`.
    dtype : {"float64", "float32"}, optional
        The input's and the arithmetic's dtype; by default the network's.
    opset : int, optional
        The ONNX opset, from 13 to the installed onnx's newest; by default 17.

    Returns
    -------
    onnx.ModelProto
        Input ``X``; outputs ``output`` (a network), ``variable`` (a regressor)
        or ``label`` and ``probabilities`` (a classifier): see :mod:`fastbp.onnx`.

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> import fastbp as fb
    >>> net = fb.Network([2, 3, 1], seed=0)
    >>> session = ort.InferenceSession(to_onnx(net).SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> bool(np.allclose(session.run(["output"], {"X": X})[0], net.predict(X)))
    True
    """
    onnx = _onnx()
    export = _export_of(model)
    dtype = export.network.dtype if dtype is None else check_dtype(dtype)
    newest = onnx.defs.onnx_opset_version()
    opset = (
        min(DEFAULT_OPSET, newest)
        if opset is None
        else check_int(opset, "opset", MIN_OPSET, newest)
    )
    g = _ModelGraph(dtype)
    _build(g, export, "X", tuple(name for name, _, _ in _signature(export)))
    inputs, outputs = _value_infos(export, dtype)
    graph = onnx.helper.make_graph(
        g.nodes, "fastbp", [inputs], outputs, g.initializers, doc_string=repr(export.network)
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
        producer_name="fastbp",
        producer_version=__version__,
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


# -- skl2onnx -----------------------------------------------------------------


def _graph_dtype(operator: Any) -> tuple[np.dtype, bool]:
    """The float dtype of the operator's graph, and whether its input must be cast to it.

    As in skl2onnx: float64 for a double input, float32 for any other.
    """
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    given = operator.inputs[0].type
    dtype = np.dtype(np.float64 if isinstance(given, DoubleTensorType) else np.float32)
    return dtype, not isinstance(given, (DoubleTensorType, FloatTensorType))


def _refuse_double_zipmap(operator: Any) -> None:
    """ValueError for a ZipMap of float64 probabilities: ONNX's ZipMap takes only float32."""
    options = operator.scope_inst.get_options(operator.raw_operator, {"zipmap": True})
    if options["zipmap"] is True:
        raise ValueError(
            "skl2onnx's default zipmap output needs float32 probabilities (ONNX's ZipMap "
            "takes no float64), but this BPClassifier gets a float64 input; convert with a "
            "float32 input (X[:1].astype(np.float32)), or pass "
            "options={BPClassifier: {'zipmap': False}} (or 'columns') to keep float64"
        )


def _shapes(operator: Any) -> None:
    """skl2onnx's shape calculator: the types and shapes of the operator's outputs."""
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    export = _export_of(operator.raw_operator)
    signature = _signature(export)
    if len(operator.inputs) != 1 or len(operator.outputs) != len(signature):
        raise RuntimeError(
            f"a {type(operator.raw_operator).__name__} operator takes 1 input and gives "
            f"{len(signature)} outputs; got {len(operator.inputs)} and {len(operator.outputs)}"
        )
    double = _graph_dtype(operator)[0] == np.float64
    if double and export.labels is not None:
        _refuse_double_zipmap(operator)
    real = DoubleTensorType if double else FloatTensorType
    types = {"real": real, "int64": Int64TensorType, "string": StringTensorType}
    n = operator.inputs[0].get_first_dimension()
    for variable, (_, element, shape) in zip(operator.outputs, signature):
        variable.set_type(types[element]([n, *shape[1:]]))


def _convert(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx's converter: the operator's nodes, from its input to its outputs."""
    export = _export_of(operator.raw_operator)
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(f"fastbp's estimators need target_opset {MIN_OPSET} or newer; got {opset}")
    dtype, cast = _graph_dtype(operator)
    g = _Skl2onnxGraph(scope, container, dtype)
    x = operator.inputs[0].full_name
    if cast:
        x = g.node("Cast", [x], to=_onnx().helper.np_dtype_to_tensor_dtype(dtype))
    _build(g, export, x, tuple(variable.full_name for variable in operator.outputs))


def _register() -> None:
    """Register the estimators with skl2onnx, when scikit-learn and skl2onnx are installed.

    Declaring the ``zipmap`` option makes skl2onnx parse ``BPClassifier`` as
    it parses its own classifiers: a ZipMap of the probabilities unless
    ``options={"zipmap": False}``.  Its ZipMap reads the option ``nocl``
    (labels as class indices), which the converter does not offer.
    """
    try:
        from skl2onnx import update_registered_converter

        from fastbp.sklearn import BPClassifier, BPRegressor
    except ImportError:
        return
    zipmap = {"zipmap": [True, False, "columns"], "nocl": [False]}
    update_registered_converter(
        BPClassifier, "FastbpBPClassifier", _shapes, _convert, options=zipmap
    )
    update_registered_converter(BPRegressor, "FastbpBPRegressor", _shapes, _convert)


_register()
