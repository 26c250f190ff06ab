"""Sparse inputs: a SciPy CSR matrix (or CSC/COO, converted once) as the engine reads it.

The engine multiplies the first layer by the stored values only (``x . W`` and
``x^T . delta`` over each row's entries), so a sparse X is never densified:
its values in the network's dtype, ``indptr`` as int64 and the column
``indices`` as int32, checked here so that the engine's own guard
(``_engine.check_csr``) never has to refuse them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp import _engine

_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class SparseRows:
    """A checked CSR matrix: ``values`` as one row (the engine's X), ``indptr``, ``indices``."""

    values: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    shape: tuple[int, int]

    @property
    def engine_x(self) -> np.ndarray:
        """What the engine's ``X`` argument takes: the stored values as one row."""
        return self.values

    @property
    def engine_options(self) -> dict[str, Any]:
        """The engine's keyword arguments for this matrix."""
        return {"indptr": self.indptr, "indices": self.indices}

    def all_finite(self) -> bool:
        return bool(_engine.all_finite(self.values))


def is_sparse(X: Any) -> bool:
    """Whether X is a SciPy sparse matrix or array (without importing SciPy for it)."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(X))


def as_sparse_rows(X: Any, name: str, dtype: np.dtype, n_cols: int | None) -> SparseRows:
    """The sparse matrix X as :class:`SparseRows`, or ValueError/TypeError saying what is wrong."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix; got {X.ndim}-D shape {X.shape}")
    n_rows, n_x = X.shape
    if n_rows == 0:
        raise ValueError(f"{name} has no samples (shape {X.shape}); at least one is needed")
    if n_cols is not None and n_x != n_cols:
        raise ValueError(
            f"{name} has {n_x} columns; the network expects {n_cols} (shape (n_samples, {n_cols}))"
        )
    if n_x > _INT32_MAX:
        raise ValueError(f"{name} has {n_x:,} columns; fastbp reads at most {_INT32_MAX:,}")
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} holds complex numbers; fastbp needs real numbers")
    if kind not in "biuf":
        raise TypeError(f"{name} has dtype {X.dtype}; expected numbers (bool, int or float)")
    if X.format != "csr":
        X = X.tocsr()  # CSC, COO, ...: converted once
    indptr = np.asarray(X.indptr)
    indices = np.asarray(X.indices)
    data = np.asarray(X.data)
    nnz = data.shape[0]
    if (
        indptr.ndim != 1
        or indptr.shape[0] != n_rows + 1
        or indices.shape != (nnz,)
        or int(indptr[0]) != 0
        or int(indptr[-1]) != nnz
        or (n_rows and bool((np.diff(indptr) < 0).any()))
    ):
        raise ValueError(
            f"{name} is a malformed CSR matrix: its indptr must rise from 0 to its number of "
            f"stored values ({nnz}) in {n_rows + 1} steps"
        )
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= n_x):
        raise ValueError(
            f"{name} is a malformed CSR matrix: its column indices must lie in [0, {n_x}); "
            f"they range from {int(indices.min())} to {int(indices.max())}"
        )
    with np.errstate(over="ignore"):
        values = np.ascontiguousarray(data, dtype=dtype)
    if kind == "f" and data.dtype.itemsize > dtype.itemsize and nnz:
        if not _engine.all_finite(values.reshape(1, -1)) and np.isfinite(data).all():
            raise ValueError(f"{name} has values too large for {dtype.name}")
    return SparseRows(
        values=values.reshape(1, nnz),
        indptr=np.ascontiguousarray(indptr, dtype=np.int64),
        indices=np.ascontiguousarray(indices, dtype=np.int32),
        shape=(n_rows, n_x),
    )


Inputs = np.ndarray | SparseRows
"""Inputs the engine takes: a C-contiguous matrix, or a checked CSR matrix."""


def engine_x(X: Inputs) -> tuple[np.ndarray, dict[str, Any]]:
    """The engine's ``X`` argument for these inputs, and its keyword arguments (for CSR)."""
    if isinstance(X, SparseRows):
        return X.engine_x, X.engine_options
    return X, {}


def input_columns(X: Any) -> int:
    """What a training batch buffer needs per row: X's width, or 0 for a sparse X
    (the engine reads sparse batches in place)."""
    return 0 if isinstance(X, SparseRows) else X.shape[1]


def inputs_finite(X: Inputs) -> bool:
    return X.all_finite() if isinstance(X, SparseRows) else bool(_engine.all_finite(X))
