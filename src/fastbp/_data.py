"""Data files for the command line: CSV with a header row, ``.npy`` and ``.npz``.

A file is read into a :class:`Table`: named columns, each a float array or,
for a CSV column that is not all numbers, a string array.  Every problem is
raised as :class:`DataError` naming the file, the line or column, and what
was expected.

- CSV: the first row names the columns; every other non-blank row has one
  field per column.
- ``.npy``: a 2-D array of numbers; its columns are named ``0, 1, ...``.
- ``.npz``: arrays ``X`` (2-D, columns ``0, 1, ...``) and ``y`` (one value per
  row, numbers or strings; the column ``y``), or a single 2-D array read as a
  ``.npy`` file.  Loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """A data file that cannot be used, with a message saying why."""


@dataclass
class Table:
    """Columns read from a data file."""

    path: str
    names: list[str]
    columns: list[np.ndarray]
    has_header: bool
    # Column positions by name, so that finding a column does not scan the header.
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._positions = {}
        for position, name in enumerate(self.names):
            self._positions.setdefault(name, position)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0])

    def add_column(self, name: str, column: np.ndarray) -> None:
        """Append the column ``name`` (a name not yet in the table)."""
        self._positions.setdefault(name, len(self.names))
        self.names.append(name)
        self.columns.append(column)

    def index(self, name: str) -> int:
        """Position of the column ``name``; for files without a header also ``-1`` etc."""
        if name in self._positions:
            return self._positions[name]
        if not self.has_header:
            try:
                position = int(name)
            except ValueError:
                pass
            else:
                if -len(self.names) <= position < len(self.names):
                    return position % len(self.names)
        shown = ", ".join(self.names[:20]) + (", ..." if len(self.names) > 20 else "")
        raise DataError(f"{self.path}: no column named {name!r}; the columns are {shown}")

    def matrix(self, names: list[str]) -> np.ndarray:
        """The named columns as a float matrix; every value must be a number."""
        picked = [self.columns[self.index(name)] for name in names]
        first_text = next(
            (k for k, column in enumerate(picked) if column.dtype.kind != "f"), len(picked)
        )
        # The columns before the first text column, checked all at once (one
        # NumPy call per column would dominate reading a file of 10**6 columns).
        numbers = picked[:first_text]
        matrix = np.column_stack(numbers) if numbers else np.empty((self.n_rows, 0))
        bad = np.argwhere(~np.isfinite(matrix.T))  # (column, row), the first column first
        if bad.size:
            k, row = (int(i) for i in bad[0])
            raise DataError(
                f"{self.path}: column {names[k]!r} {self.where(row)} is "
                f"{matrix[row, k]}; every value must be a finite number"
            )
        if first_text < len(picked):
            column = picked[first_text]
            row = _first_non_number(column)
            raise DataError(
                f"{self.path}: column {names[first_text]!r} must hold numbers; "
                f"{self.where(row)} it has {str(column[row])!r}"
            )
        return matrix

    def where(self, row: int) -> str:
        """Where the data row ``row`` (0-based) is in the file, for messages."""
        return f"on line {row + 2}" if self.has_header else f"in row {row}"


def _first_non_number(column: np.ndarray) -> int:
    for row, value in enumerate(column):
        try:
            float(value)
        except ValueError:
            return row
    return 0


def _column(values: list[str]) -> np.ndarray:
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)
    return numbers


def read_table(path: str) -> Table:
    """Read a CSV, ``.npy`` or ``.npz`` file; raise :class:`DataError` if it cannot be used."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        return _from_matrix(path, _load_npy(path))
    if suffix == ".npz":
        return _read_npz(path)
    return _read_csv(path)


def _read_csv(path: str) -> Table:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if any(row)]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    _, header = rows[0]
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise DataError(f"{path}: the header row has an empty column name: {header}")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DataError(f"{path}: the header names {', '.join(duplicates)} more than once")
    if len(rows) < 2:
        raise DataError(f"{path}: there are no data rows below the header")
    for line, row in rows[1:]:
        if len(row) != len(names):
            raise DataError(
                f"{path}, line {line}: {len(row)} fields; the header has {len(names)} "
                "(check for a missing or extra comma)"
            )
        for name, value in zip(names, row):
            if not value.strip():
                raise DataError(f"{path}, line {line}: column {name!r} is empty")
    columns = [_column([row[k].strip() for _, row in rows[1:]]) for k in range(len(names))]
    return Table(path, names, columns, has_header=True)


def _load_npy(path: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: not a readable .npy file of numbers ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    return array


def _from_matrix(path: str, array: np.ndarray, what: str = "the array") -> Table:
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: {what} must be a 2-D array of numbers (rows x columns); "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{path}: {what} is empty (shape {array.shape})")
    columns = [np.asarray(array[:, k], dtype=np.float64) for k in range(array.shape[1])]
    return Table(path, [str(k) for k in range(array.shape[1])], columns, has_header=False)


def _read_npz(path: str) -> Table:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if "X" in arrays:
        table = _from_matrix(path, arrays["X"], "X")
        if "y" in arrays:
            y = arrays["y"]
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1 or len(y) != table.n_rows:
                raise DataError(
                    f"{path}: y must hold one value per row of X ({table.n_rows}); "
                    f"got shape {y.shape}"
                )
            if y.dtype.kind not in "biufU":
                raise DataError(f"{path}: y must hold numbers or strings; got dtype {y.dtype}")
            table.add_column("y", y.astype(np.float64) if y.dtype.kind in "biuf" else y)
        return table
    if len(arrays) == 1:
        return _from_matrix(path, next(iter(arrays.values())))
    raise DataError(
        f"{path}: expected arrays X (and y) or a single 2-D array; found {', '.join(arrays)}"
    )
