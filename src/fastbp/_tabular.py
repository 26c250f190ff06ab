"""How ``fastbp train`` turns a table into network inputs and targets, and back.

An :class:`Encoding` fills in missing feature values (a number: the training
rows' mean; text: the most frequent category), one-hot encodes text features
over their sorted categories, standardises every network input (mean 0,
standard deviation 1, from the training rows) and encodes the target: one-hot
vectors over the sorted class labels for classification, a standardised value
for regression.  It travels in the model file's metadata, so ``fastbp predict``
applies the same steps and returns labels or values in the target's units.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp._data import DataError, Table, _is_number, missing

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
    table: Table, names: list[str], values: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """``values``, the columns ``names`` of ``table``, standardised; DataError where that
    is beyond float64."""
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


# At most this many columns are named in each line of train's report.
SHOWN_COLUMNS = 10
# A column needs at least this many rows before it can look like a row ID.
MIN_ID_ROWS = 10
_ID_NAME = re.compile(r"(?i:(?:^|[_\W])id|^index|^row)$|[a-z]Id$")


def row_id_columns(table: Table, names: list[str]) -> list[tuple[str, str]]:
    """The columns among ``names`` that look like row IDs, and why: distinct
    whole numbers in steps of one (1, 2, 3, ... in any order), or distinct
    text in a column named like an ID (``id``, ``customer_id``, ``userId``,
    ``index``, ``row``).  Such a column tells the network which row it is
    looking at, not anything it can learn from."""
    if table.n_rows < MIN_ID_ROWS:
        return []
    found = []
    for name in names:
        column = table.columns[table.index(name)]
        if missing(column).any():
            continue
        if column.dtype.kind == "f":
            # n distinct whole numbers from low to low + n - 1 (Python's float
            # subtraction gives inf, without a warning, where NumPy's would overflow)
            low, high = float(column.min()), float(column.max())
            if (
                high - low == len(column) - 1
                and low.is_integer()
                and np.all(column == np.round(column))
                and len(np.unique(column)) == len(column)
            ):
                found.append((name, "distinct whole numbers in steps of one"))
        elif _ID_NAME.search(name) and len(np.unique(column)) == len(column):
            found.append((name, "distinct text in a column named like an ID"))
    return found


def _listed(items: list[str]) -> str:
    """Up to SHOWN_COLUMNS items, and how many more."""
    more = len(items) - SHOWN_COLUMNS
    return ", ".join(items[:SHOWN_COLUMNS]) + (f" and {more} more" if more > 0 else "")


def _cells(count: int) -> str:
    return f"{count} cell{'s' if count != 1 else ''}"


@dataclass
class Encoding:
    """Feature encoding and target coding of a table, fitted on training rows.

    ``features`` are the table's columns the network reads.  A text feature
    (one in ``categories``) becomes one input per category, 1 for the row's
    category and 0 for the others (all 0 for a category not seen in
    training, as scikit-learn's ``handle_unknown="ignore"``); a numeric
    feature is one input.  A missing value is filled in before that: a
    number with the training rows' mean (so that it standardises to 0), a
    text cell with ``fill``, its column's most frequent category.  Every
    input is then standardised with ``x_mean`` and ``x_scale``."""

    task: str
    target: str
    features: list[str]
    x_mean: list[float]
    x_scale: list[float]
    classes: list[str | int | float] | None = None
    y_mean: float | None = None
    y_scale: float | None = None
    categories: dict[str, list[str]] | None = None
    fill: dict[str, str] | None = None

    @classmethod
    def fit(
        cls,
        table: Table,
        target: str,
        task: str,
        rows: np.ndarray,
        features: list[str] | None = None,
    ) -> Encoding:
        """Fit on ``rows`` of ``table``: the columns ``features`` (default: every
        column but ``target``) as the features."""
        target = table.names[table.index(target)]
        if features is None:
            features = [name for name in table.names if name != target]
        features = [table.names[table.index(name)] for name in features]
        if not features:
            raise DataError(f"{table.path}: there are no feature columns besides {target!r}")
        _check_target(table, target)
        categories, fill = {}, {}
        for name in features:
            column = table.columns[table.index(name)]
            if column.dtype.kind != "f":
                _check_text(table, name, column)
                seen = Counter(str(value) for value in column[rows] if value != "")
                if not seen:
                    raise DataError(
                        f"{table.path}: the text column {name!r} has no values in the training rows"
                    )
                categories[name] = sorted(seen)
                fill[name] = max(categories[name], key=lambda c: seen[c])  # first of a tie
        encoding = cls(task, target, features, [], [])
        if categories:
            encoding.categories, encoding.fill = categories, fill
        mean, scale = _observed_scale(table, encoding._raw(table)[rows], encoding.input_names)
        encoding.x_mean, encoding.x_scale = mean.tolist(), scale.tolist()
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

    @property
    def input_names(self) -> list[str]:
        """One name per network input: a numeric feature's, or ``column=category``."""
        categories = self.categories or {}
        names: list[str] = []
        for name in self.features:
            if name in categories:
                names.extend(f"{name}={category}" for category in categories[name])
            else:
                names.append(name)
        return names

    @property
    def n_inputs(self) -> int:
        extra = sum(len(c) - 1 for c in (self.categories or {}).values())
        return len(self.features) + extra

    def _by_position(self, table: Table) -> bool:
        return not table.has_header and len(table.names) == len(self.features)

    def has_target(self, table: Table) -> bool:
        """Whether ``table`` holds the target column besides the features, with a
        value in every row: the target to score predictions against."""
        if self._by_position(table) or self.target not in table.names:
            return False
        return not missing(table.columns[table.index(self.target)]).any()

    def _raw(self, table: Table) -> np.ndarray:
        """The inputs of ``table`` before standardisation: numbers (NaN where missing)
        and one-hot columns (text features by name, or by position without a header)."""
        names = table.names if self._by_position(table) else self.features
        categories = self.categories or {}
        blocks: list[np.ndarray] = []
        numeric: list[np.ndarray] = []  # consecutive numeric features, stacked at once
        for feature, name in zip(self.features, names):
            column = table.columns[table.index(name)]
            if feature not in categories:
                numeric.append(column if column.dtype.kind == "f" else _numbers(table, name))
                continue
            if numeric:
                blocks.append(np.column_stack(numeric))
                numeric = []
            blocks.append(_one_hot(column, categories[feature], self.fill or {}, feature))
        if numeric:
            blocks.append(np.column_stack(numeric))
        values = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
        infinite = np.argwhere(np.isinf(values.T))  # (input, row), the first input first
        if infinite.size:
            k, row = (int(i) for i in infinite[0])
            raise DataError(
                f"{table.path}: column {self.input_names[k]!r} {table.where(row)} is "
                f"{values[row, k]}; every value must be a finite number"
            )
        return values

    def missing_counts(self, table: Table) -> dict[str, int]:
        """How many cells of each feature of ``table`` are missing (features with some)."""
        names = table.names if self._by_position(table) else self.features
        counts = {}
        for feature, name in zip(self.features, names):
            count = int(missing(table.columns[table.index(name)]).sum())
            if count:
                counts[feature] = count
        return counts

    def report(self, table: Table) -> list[str]:
        """What fitting did to the features of ``table``, one line per kind: the
        missing numbers and text cells filled in, and the text columns one-hot encoded."""
        counts, categories = self.missing_counts(table), self.categories or {}
        mean = dict(zip(self.input_names, self.x_mean))
        numbers = [f"{n!r} {_cells(c)} ({mean[n]:.6g})" for n, c in counts.items() if n in mean]
        texts = [f"{n!r} {_cells(c)} ({(self.fill or {})[n]!r})" for n, c in counts.items()
                 if n in categories]  # fmt: skip
        lines = []
        if numbers:
            lines.append(f"filled missing numbers with the training rows' mean: {_listed(numbers)}")
        if texts:
            lines.append(f"filled missing text with the most frequent category: {_listed(texts)}")
        if categories:
            encoded = [f"{name!r} ({len(values)})" for name, values in categories.items()]
            lines.append(
                f"one-hot encoded {len(categories)} text column{'s' if len(categories) > 1 else ''}"
                f" (categories): {_listed(encoded)}; {self.n_inputs} network inputs"
            )
        return lines

    def inputs(self, table: Table) -> np.ndarray:
        """The encoded, standardised features of ``table``: by name, or by position
        without a header; DataError where that is beyond float64."""
        values = self._raw(table)
        mean, scale = np.asarray(self.x_mean), np.asarray(self.x_scale)
        values = np.where(np.isnan(values), mean, values)
        return _standardised(table, self.input_names, values, mean, scale)

    def targets(self, table: Table) -> np.ndarray:
        """The encoded target column: one-hot rows or standardised values."""
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            mean, scale = np.array([self.y_mean]), np.array([self.y_scale])
            return _standardised(table, [self.target], table.matrix([self.target]), mean, scale)
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
        """The fields to store; ``categories`` and ``fill`` only for text features,
        so that a model of numeric features has the metadata of earlier versions."""
        metadata = dict(self.__dict__)
        if self.categories is None:
            del metadata["categories"], metadata["fill"]
        return metadata

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], n_inputs: int, n_outputs: int) -> Encoding:
        """The encoding ``to_metadata`` stored, checked field by field against the
        network it was stored with (``n_inputs`` inputs, ``n_outputs`` outputs).

        Raises :class:`MetadataError` naming the first field that is missing or wrong."""
        task = _field(metadata, "task", f"one of {TASKS}", lambda v: v in TASKS)
        target = _field(metadata, "target", "the target column's name (a string)", _is_name)
        if "categories" not in metadata:  # numeric features only, as before text features
            if "fill" in metadata:
                raise MetadataError(
                    "fill", "absent in a model without 'categories'", metadata["fill"]
                )
            features = _field(
                metadata,
                "features",
                f"a list of {n_inputs} distinct column names, one per input of the network",
                lambda v: _is_list(v, n_inputs, _is_name) and len(set(v)) == n_inputs,
            )
            categories, fill = None, None
        else:
            features, categories, fill = _text_features(metadata, n_inputs)
        per_feature = f"a list of {n_inputs} finite numbers, one per network input"
        x_mean = _field(metadata, "x_mean", per_feature, lambda v: _is_list(v, n_inputs, is_number))
        x_scale = _field(
            metadata,
            "x_scale",
            per_feature.replace("finite", "positive finite"),
            lambda v: _is_list(v, n_inputs, _is_positive),
        )
        encoding = cls(task, target, features, list(map(float, x_mean)), list(map(float, x_scale)))
        encoding.categories, encoding.fill = categories, fill
        if task == "classification":
            encoding.classes = _classes(metadata, n_outputs)
        else:
            encoding.y_mean, encoding.y_scale = _target_scaling(metadata, n_outputs)
        return encoding


def _check_target(table: Table, target: str) -> None:
    """DataError unless every row has a target value."""
    absent = np.flatnonzero(missing(table.columns[table.index(target)]))
    if absent.size:
        raise DataError(
            f"{table.path}: the target {target!r} is missing {table.where(int(absent[0]))} "
            f"({absent.size} rows in all); every row needs a target value (fill them in or "
            "remove those rows)"
        )


def _check_text(table: Table, name: str, column: np.ndarray) -> None:
    """DataError for a text column whose values are mostly numbers: a typo among
    numbers, more likely than categories."""
    given = column[column != ""]
    numbers = sum(map(_is_number, given))
    if numbers and 2 * numbers >= len(given):
        row = next(r for r, v in enumerate(column) if v != "" and not _is_number(v))
        raise DataError(
            f"{table.path}: column {name!r} must hold numbers; {table.where(row)} it has "
            f"{str(column[row])!r} (most of its values are numbers; a text column, which "
            "is one-hot encoded, has mostly text)"
        )


def _numbers(table: Table, name: str) -> np.ndarray:
    """A text column of ``table`` read as the numbers of a numeric feature (NaN where
    missing); DataError naming the first cell that is not a number."""
    column = table.columns[table.index(name)]
    try:
        return np.where(column == "", "nan", column).astype(np.float64)
    except ValueError:
        row = next(r for r, v in enumerate(column) if v != "" and not _is_number(v))
        raise DataError(
            f"{table.path}: column {name!r} must hold numbers; {table.where(row)} it has "
            f"{str(column[row])!r}"
        ) from None


def _one_hot(
    column: np.ndarray, categories: list[str], fill: dict[str, str], feature: str
) -> np.ndarray:
    """One column per category: 1 where the row has it, all 0 for a category the
    model does not know; a missing cell counts as ``fill[feature]``.  A column read
    as numbers matches the categories that are numbers."""
    absent = missing(column)
    if column.dtype.kind == "f":
        lookup: dict[Any, int] = {float(c): k for k, c in enumerate(categories) if _is_number(c)}
    else:
        lookup = {c: k for k, c in enumerate(categories)}
    index = np.array([lookup.get(v, -1) for v in column.tolist()], dtype=np.intp)
    index[absent] = categories.index(fill[feature])
    encoded = np.zeros((len(column), len(categories)))
    known = index >= 0
    encoded[np.flatnonzero(known), index[known]] = 1.0
    return encoded


def _observed_scale(
    table: Table, values: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_scale` of each column over its values that are not missing (NaN)."""
    absent = np.isnan(values)
    mean, scale = _scale(np.where(absent, 0.0, values))
    for k in np.flatnonzero(absent.any(axis=0)):
        given = values[~absent[:, k], k]
        if not given.size:
            raise DataError(f"{table.path}: column {names[k]!r} has no values in the training rows")
        column_mean, column_scale = _scale(given)
        mean[k], scale[k] = column_mean, column_scale
    return mean, scale


def _text_features(
    metadata: dict[str, Any], n_inputs: int
) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """The features, categories and fill of a model with text features, checked:
    the categories of a feature make as many inputs, all features ``n_inputs``."""
    features = _field(
        metadata,
        "features",
        "a list of distinct column names (strings)",
        lambda v: (
            _is_list(v, len(v) if isinstance(v, list) else -1, _is_name)
            and 0 < len(set(v)) == len(v)
        ),
    )

    def valid(v: Any) -> bool:
        return (
            isinstance(v, dict)
            and len(v) > 0
            and all(name in features for name in v)
            and all(
                isinstance(c, list)
                and len(c) > 0
                and len(set(c)) == len(c)
                and all(map(_is_name, c))
                for c in v.values()
            )
            and len(features) + sum(len(c) - 1 for c in v.values()) == n_inputs
        )

    categories = _field(
        metadata,
        "categories",
        "an object mapping each text feature to its list of distinct categories (strings), "
        f"making {n_inputs} network inputs with the numeric features",
        valid,
    )
    fill = _field(
        metadata,
        "fill",
        "an object mapping each text feature to one of its categories",
        lambda v: (
            isinstance(v, dict)
            and v.keys() == categories.keys()
            and all(isinstance(v[k], str) and v[k] in categories[k] for k in v)
        ),
    )
    return list(features), {k: list(c) for k, c in categories.items()}, dict(fill)


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
