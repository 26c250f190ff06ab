"""How ``fastbp train`` turns a table into network inputs and targets, and back.

An :class:`Encoding` standardises the feature columns (mean 0, standard
deviation 1, from the training rows) and encodes the target: one-hot vectors
over the sorted class labels for classification, a standardised value for
regression.  It travels in the model file's metadata, so ``fastbp predict``
applies the same steps and returns labels or values in the target's units.
"""

from __future__ import annotations

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
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


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
        if self._by_position(table):
            X = table.matrix(table.names)
        else:
            X = table.matrix(self.features)
        return (X - np.asarray(self.x_mean)) / np.asarray(self.x_scale)

    def targets(self, table: Table) -> np.ndarray:
        """The encoded target column: one-hot rows or standardised values."""
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            y = table.matrix([self.target])[:, 0]
            return ((y - self.y_mean) / self.y_scale).reshape(-1, 1)
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
            return (outputs[:, 0] * self.y_scale + self.y_mean).tolist()
        return [self.classes[k] for k in outputs.argmax(axis=1)]

    def score(self, outputs: np.ndarray, table: Table) -> float:
        """Accuracy (classification) or R² in the target's units (regression)."""
        if self.classes is not None:
            return float(np.mean(outputs.argmax(axis=1) == self.class_index(table)))
        y = table.matrix([self.target])[:, 0]
        predicted = np.asarray(self.decode(outputs))
        total = float(np.sum((y - y.mean()) ** 2))
        residual = float(np.sum((y - predicted) ** 2))
        return 1.0 - residual / total if total > 0 else 0.0

    @property
    def score_name(self) -> str:
        return "accuracy" if self.classes is not None else "r2"

    def to_metadata(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Encoding:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in metadata.items() if k in names})
