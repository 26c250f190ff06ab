"""Data files for the command line: CSV with a header row, ``.npy`` and ``.npz``.

A file is read into a :class:`Table`: named columns, each a float array or,
for a CSV column that is not all numbers (or missing), a string array.  Every problem is
raised as :class:`DataError` naming the file, the line or column, and what
was expected.

- CSV: the first row names the columns; every other non-blank row has one
  field per column.  A first row of numbers only (no header), or one name
  holding semicolons or tabs (another separator), is refused saying so.
  Read by pandas where it is installed, else by the csv
  module, with the same result.  A cell that is empty or one of
  :data:`NA_MARKERS` (``NA``, ``?``, ``null``, ...) is missing: NaN in a
  column of numbers, ``""`` in a column of text.
- ``.npy``: a 2-D array of numbers; its columns are named ``0, 1, ...``.
- ``.npz``: arrays ``X`` (2-D, columns ``0, 1, ...``) and ``y`` (one value per
  row, numbers or strings; the column ``y``), or a single 2-D array read as a
  ``.npy`` file.  Loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import difflib
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class DataError(ValueError):
    """A data file that cannot be used, with a message saying why."""


def _suggestion(name: str, names: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the column ``name`` most likely meant, if any."""
    folded = [other for other in names if other.casefold() == name.casefold()]
    close = folded or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
        hint = _suggestion(name, self.names)
        raise DataError(f"{self.path}: no column named {name!r}{hint}; the columns are {shown}")

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
                + (" (the cell is empty or an NA marker)" if np.isnan(matrix[row, k]) else "")
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


# The cells that mean "no value": pandas' default NA markers, and the "?" of
# many public data sets.  Both CSV readers use this one list.
NA_MARKERS = frozenset(
    ["", "?", "NA", "N/A", "n/a", "#N/A", "#NA", "<NA>", "NaN", "nan", "-NaN", "-nan"]
    + ["NULL", "null", "None"]
)
_NA = np.array(sorted(NA_MARKERS))

# Whether to read CSV files with pandas when it is installed (tests turn it off
# to check that the csv module's reader behaves the same).
USE_PANDAS = True


def _columns(cells: np.ndarray) -> list[np.ndarray]:
    """The columns of a grid of stripped CSV cells (rows x columns, strings).

    A column whose every cell is a number or missing is a float column (NaN
    where missing); any other is a string column ("" where missing)."""
    missing = np.isin(cells, _NA)
    try:  # the common case first: every column numeric, in one call
        numbers = np.where(missing, "nan", cells).astype(np.float64)
    except ValueError:
        pass
    else:
        return list(numbers.T)
    columns = []
    for k in range(cells.shape[1]):
        column, absent = cells[:, k], missing[:, k]
        try:
            columns.append(np.where(absent, "nan", column).astype(np.float64))
        except ValueError:
            columns.append(np.where(absent, "", column))
    return columns


def missing(column: np.ndarray) -> np.ndarray:
    """Which cells of a column read by :func:`read_table` are missing."""
    return np.isnan(column) if column.dtype.kind == "f" else column == ""


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
    """A CSV file with a header row: read by pandas where it is installed (its C
    parser is fast), else by the csv module, into the same table."""
    table = _pandas_table(path) if USE_PANDAS else None
    if table is not None:
        return table
    grid = _csv_cells(path)
    header, cells = grid[0], np.char.strip(grid[1:].astype(str))
    names = _names(path, [str(name) for name in header])
    if not len(cells):
        raise DataError(f"{path}: there are no data rows below the header")
    return Table(path, names, _columns(cells), has_header=True)


def _pandas_table(path: str) -> Table | None:
    """The table of a CSV file read by pandas: its parser reads the columns of
    numbers (and NA markers), text columns are read again as text and go through
    the csv reader's steps.  None where pandas is not installed or where its
    reading could differ from the csv module's: a parse error (the csv module's
    reading says which line is wrong), or a missing cell in the last column or a
    row of missing cells (pandas pads a row short of fields, and drops no row of
    empty fields)."""
    try:
        import pandas as pd
    except ImportError:
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next((row for row in reader if any(row)), None)
            header_lines = reader.line_num
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error:
        return None
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    names = _names(path, header)
    options: dict[str, Any] = dict(header=None, encoding="utf-8-sig", skip_blank_lines=True)
    try:
        frame = pd.read_csv(
            path,
            skiprows=header_lines,
            keep_default_na=False,
            na_values=sorted(NA_MARKERS),
            **options,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: there are no data rows below the header") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError):
        return None
    if frame.shape[1] != len(names) or not len(frame):
        return None
    absent = frame.isna().to_numpy()
    if absent[:, -1].any() or absent.all(axis=1).any():
        return None
    text = [k for k in range(len(names)) if frame[k].dtype.kind not in "fiu"]
    columns: dict[int, np.ndarray] = {}
    if text:  # the text columns (and pandas' booleans) again, as the csv reader reads them
        cells = pd.read_csv(
            path, skiprows=header_lines, usecols=text, dtype=str, na_filter=False, **options
        )
        grid = np.char.strip(cells.to_numpy(dtype=object).astype(str))
        columns.update(zip(text, _columns(grid)))
    return Table(
        path,
        names,
        [columns[k] if k in columns else frame[k].to_numpy(np.float64) for k in range(len(names))],
        has_header=True,
    )


def _csv_cells(path: str) -> np.ndarray:
    """The non-blank rows of a CSV file as a grid of strings, read by the csv module,
    every row checked to have as many fields as the header."""
    limit = csv.field_size_limit()
    try:
        # Python's default limit (131,072 characters) refuses fields that pandas reads.
        csv.field_size_limit(2**31 - 1)
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if any(row)]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None
    finally:
        csv.field_size_limit(limit)
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    _, header = rows[0]
    _names(path, header)
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} fields; the header has {len(header)} "
                "(check for a missing or extra comma)"
            )
    grid = np.empty((len(rows), len(header)), dtype=object)
    for k, (_, row) in enumerate(rows):
        grid[k] = row
    return grid


def _names(path: str, header: list[str]) -> list[str]:
    """The column names of a CSV header row, checked; DataError for a header that
    is not one: empty or repeated names, numbers only (a file without a header
    row), or one name holding semicolons or tabs (another separator than commas)."""
    names = [name.strip() for name in header]
    for separator, what in ((";", "semicolon"), ("\t", "tab")):
        if len(names) < len(names[0].split(separator)):
            raise DataError(
                f"{path}: the header row {names[0][:80]!r} looks {what}-separated; fastbp "
                "reads comma-separated CSV files (save the file with commas between fields)"
            )
    if any(not name for name in names):
        raise DataError(f"{path}: the header row has an empty column name: {header}")
    if all(_is_number(name) for name in names):
        shown = ",".join(names[:8]) + (",..." if len(names) > 8 else "")
        raise DataError(
            f"{path}: the first row ({shown}) holds numbers, not column names; fastbp reads "
            "CSV files whose first row names the columns (add a header row such as x1,x2,y)"
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DataError(f"{path}: the header names {', '.join(duplicates)} more than once")
    return names


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
