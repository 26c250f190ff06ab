"""How ``fastbp train`` turns a table into network inputs and targets, and back.

An :class:`Encoding` standardises the feature columns (mean 0, standard
deviation 1, from the training rows) and encodes the target: one-hot vectors
over the sorted class labels for classification, a standardised value for
regression.  It travels in the model file's metadata, so ``fastbp predict``
applies the same steps and returns labels or values in the target's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp._data import DataError, Table

TASKS = ("classification", "regression")
# A numeric target with at most this many distinct whole numbers is taken as class labels.
MAX_AUTO_CLASSES = 20


def detect_task(y: np.ndarray) -> tuple[str, str]:
    """The task a target column suggests, and why.

    Examples
    --------
    >>> import numpy as np
    >>> detect_task(np.array(["cat", "dog", "cat"]))
    ('classification', 'the target holds text labels')
    >>> detect_task(np.array([0.0, 2.0, 1.0, 2.0]))
    ('classification', 'the target holds 3 distinct whole numbers')
    >>> detect_task(np.array([0.5, 2.25, 1.0]))
    ('regression', 'the target holds numbers')
    """
    if y.dtype.kind != "f":
        return "classification", "the target holds text labels"
    distinct = np.unique(y)
    if len(distinct) <= MAX_AUTO_CLASSES and np.all(distinct == np.round(distinct)):
        return "classification", f"the target holds {len(distinct)} distinct whole numbers"
    return "regression", "the target holds numbers"


def _json_label(value: Any) -> str | int | float:
    if isinstance(value, str):
        return value
    number = float(value)
    return int(number) if number.is_integer() else number


def _scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column (1 where it is 0), for any finite values.

    Each column is first divided by a power of two at least its largest
    magnitude, exactly, so that neither the sum nor the squares overflow (at
    1e300) or underflow (at 1e-320); the results are multiplied back."""
    _, exponent = np.frexp(np.max(np.abs(values), axis=0, initial=0.0))
    unit = np.ldexp(values, -exponent)
    mean, std = np.ldexp(unit.mean(axis=0), exponent), np.ldexp(unit.std(axis=0), exponent)
    return mean, np.where(std > 0, std, 1.0)


def _overflow_safe(
    formula: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """``formula(a, b)``, linear in ``a`` and ``b`` together, where an intermediate
    overflows computed as twice ``formula(a / 2, b / 2)``: halving is exact for
    the numbers (near 1e308) that overflow.  NaN or infinity remains only
    where the result itself is beyond float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        plain = formula(a, b)
        halved = formula(np.ldexp(a, -1), np.ldexp(b, -1)) * 2.0
    return np.where(np.isfinite(plain), plain, halved)


def _sum_of_squares(values: np.ndarray) -> tuple[float, float]:
    """``(m, s)`` with ``sum(values**2) == m**2 * s``, neither overflowing."""
    largest = float(np.max(np.abs(values), initial=0.0))
    if largest == 0.0:
        return 0.0, 0.0
    return largest, float(np.sum((values / largest) ** 2))


def _r2(y: np.ndarray, predicted: np.ndarray) -> float:
    """The coefficient of determination, 0 for a constant ``y``, without overflow."""
    residual_unit, residual = _sum_of_squares(y - predicted)
    total_unit, total = _sum_of_squares(y - y.mean())
    if total == 0.0:
        return 0.0
    ratio = residual_unit / total_unit
    return 1.0 - ratio * ratio * residual / total


def _standardised(
    table: Table, names: list[str], mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """The columns ``names`` of ``table`` standardised; DataError where that is beyond float64."""
    values = table.matrix(names)
    result = _overflow_safe(lambda v, m: (v - m) / scale, values, mean)
    beyond = np.argwhere(~np.isfinite(result))
    if beyond.size:
        row, k = (int(i) for i in beyond[0])
        raise DataError(
            f"{table.path}: column {names[k]!r} {table.where(row)} is {values[row, k]:.6g}, "
            f"too many standard deviations ({scale[k]:.6g}) from the training rows' mean "
            f"({mean[k]:.6g}) to standardise within the range of float64"
        )
    return result


@dataclass
class Encoding:
    """Feature scaling and target coding of a table, fitted on training rows."""

    task: str
    target: str
    features: list[str]
    x_mean: list[float]
    x_scale: list[float]
    classes: list[str | int | float] | None = None
    y_mean: float | None = None
    y_scale: float | None = None

    @classmethod
    def fit(cls, table: Table, target: str, task: str, rows: np.ndarray) -> Encoding:
        """Fit on ``rows`` of ``table``: every column but ``target`` is a feature."""
        target = table.names[table.index(target)]
        features = [name for name in table.names if name != target]
        if not features:
            raise DataError(f"{table.path}: there are no feature columns besides {target!r}")
        x_mean, x_scale = _scale(table.matrix(features)[rows])
        encoding = cls(task, target, features, x_mean.tolist(), x_scale.tolist())
        y = table.columns[table.index(target)][rows]
        if task == "classification":
            labels = np.unique(y)
            if len(labels) < 2:
                raise DataError(
                    f"{table.path}: the target {target!r} has a single class "
                    f"({_json_label(labels[0])!r}); classification needs at least two"
                )
            encoding.classes = [_json_label(v) for v in labels]
        else:
            y = table.matrix([target])[rows, 0]
            mean, scale = _scale(y)
            encoding.y_mean, encoding.y_scale = float(mean), float(scale)
        return encoding

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.classes is not None else 1

    def _by_position(self, table: Table) -> bool:
        return not table.has_header and len(table.names) == len(self.features)

    def has_target(self, table: Table) -> bool:
        """Whether ``table`` holds the target column besides the features."""
        return not self._by_position(table) and self.target in table.names

    def inputs(self, table: Table) -> np.ndarray:
        """The standardised features of ``table``: by name, or by position without a header."""
        names = table.names if self._by_position(table) else self.features
        return _standardised(table, names, np.asarray(self.x_mean), np.asarray(self.x_scale))

    def targets(self, table: Table) -> np.ndarray:
        """The encoded target column: one-hot rows or standardised values."""
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            mean, scale = np.array([self.y_mean]), np.array([self.y_scale])
            return _standardised(table, [self.target], mean, scale)
        return np.eye(len(self.classes))[self.class_index(table)]

    def class_index(self, table: Table) -> np.ndarray:
        """Index of each row's label in ``classes``."""
        assert self.classes is not None
        column = table.columns[table.index(self.target)]
        lookup = {label: k for k, label in enumerate(self.classes)}
        index = np.empty(len(column), dtype=np.intp)
        for row, value in enumerate(column):
            label = _json_label(value)
            if label not in lookup:
                raise DataError(
                    f"{table.path}: the target {self.target!r} has the label {label!r} in row "
                    f"{row}, which the model was not trained on"
                )
            index[row] = lookup[label]
        return index

    def decode(self, outputs: np.ndarray) -> list[Any]:
        """Network outputs as labels (classification) or target values (regression)."""
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            z = outputs[:, 0]
            y_scale, y_mean = np.asarray(self.y_scale), np.asarray(self.y_mean)
            values = _overflow_safe(lambda scale, mean: z * scale + mean, y_scale, y_mean)
            beyond = np.flatnonzero(~np.isfinite(values))
            if beyond.size:
                raise DataError(
                    f"the prediction for row {beyond[0]} is {z[beyond[0]]:.6g} standard "
                    f"deviations ({self.y_scale:.6g}) from the mean ({self.y_mean:.6g}) of "
                    f"{self.target!r}: beyond the range of float64"
                )
            return values.tolist()
        return [self.classes[k] for k in outputs.argmax(axis=1)]

    def score(self, outputs: np.ndarray, table: Table) -> float:
        """Accuracy (classification) or R² (regression; computed on the standardised
        target, which gives the R² in the target's units without overflowing)."""
        if self.classes is not None:
            return float(np.mean(outputs.argmax(axis=1) == self.class_index(table)))
        return _r2(self.targets(table)[:, 0], outputs[:, 0])

    @property
    def score_name(self) -> str:
        return "accuracy" if self.classes is not None else "r2"

    def to_metadata(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], n_inputs: int, n_outputs: int) -> Encoding:
        """The encoding ``to_metadata`` stored, checked field by field against the
        network it was stored with (``n_inputs`` inputs, ``n_outputs`` outputs).

        Raises :class:`MetadataError` naming the first field that is missing or wrong."""
        task = _field(metadata, "task", f"one of {TASKS}", lambda v: v in TASKS)
        target = _field(metadata, "target", "the target column's name (a string)", _is_name)
        features = _field(
            metadata,
            "features",
            f"a list of {n_inputs} distinct column names, one per input of the network",
            lambda v: _is_list(v, n_inputs, _is_name) and len(set(v)) == n_inputs,
        )
        per_feature = f"a list of {n_inputs} finite numbers, one per feature"
        x_mean = _field(metadata, "x_mean", per_feature, lambda v: _is_list(v, n_inputs, is_number))
        x_scale = _field(
            metadata,
            "x_scale",
            per_feature.replace("finite", "positive finite"),
            lambda v: _is_list(v, n_inputs, _is_positive),
        )
        encoding = cls(task, target, features, list(map(float, x_mean)), list(map(float, x_scale)))
        if task == "classification":
            encoding.classes = _classes(metadata, n_outputs)
        else:
            encoding.y_mean, encoding.y_scale = _target_scaling(metadata, n_outputs)
        return encoding


class MetadataError(ValueError):
    """A field of a model file that the command line cannot use; ``field`` names it."""

    def __init__(self, field: str, expected: str, value: Any, where: str = "metadata field"):
        got = "nothing (it is missing)" if value is _MISSING else f"{value!r:.80}"
        super().__init__(f"the model's {where} {field!r} must be {expected}; got {got}")
        self.field = field


_MISSING = object()


def is_number(value: Any) -> bool:
    """Whether ``value`` (read from JSON) is a finite number, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float64
        return False


def _is_positive(value: Any) -> bool:
    return is_number(value) and value > 0


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_label(value: Any) -> bool:
    return isinstance(value, str) or is_number(value)


def _is_list(value: Any, length: int, item: Callable[[Any], bool]) -> bool:
    return isinstance(value, list) and len(value) == length and all(map(item, value))


def _field(metadata: dict[str, Any], name: str, expected: str, valid: Callable[[Any], bool]) -> Any:
    """``metadata[name]`` if it is there and ``valid``, else raise MetadataError."""
    value = metadata.get(name, _MISSING)
    if value is _MISSING or not valid(value):
        raise MetadataError(name, expected, value)
    return value


def _classes(metadata: dict[str, Any], n_outputs: int) -> list[str | int | float]:
    """The class labels of a classification: one per output, distinct."""
    expected = f"a list of {n_outputs} distinct labels (strings or numbers), one per output"
    if n_outputs < 2:
        expected = "a list of at least 2 class labels, one per output; the network has 1 output"
    labels = _field(
        metadata,
        "classes",
        expected,
        lambda v: (
            n_outputs >= 2
            and _is_list(v, n_outputs, _is_label)
            and len(set(map(_json_label, v))) == n_outputs
        ),
    )
    return list(labels)


def _target_scaling(metadata: dict[str, Any], n_outputs: int) -> tuple[float, float]:
    """The mean and scale of a regression target, for a network with one output."""
    if n_outputs != 1:
        raise MetadataError(
            "task", f"'classification' for a network of {n_outputs} outputs", "regression"
        )
    if metadata.get("classes") is not None:
        raise MetadataError("classes", "null for a regression", metadata["classes"])
    y_mean = _field(metadata, "y_mean", "a finite number", is_number)
    y_scale = _field(metadata, "y_scale", "a positive finite number", _is_positive)
    return float(y_mean), float(y_scale)
