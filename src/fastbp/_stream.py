"""Training on data larger than memory: a np.memmap, a Dask array or a Zarr array
read one chunk of rows at a time.

Shuffling is two-level: each epoch visits the chunks in a new random order
(from the run's shuffle seed) and the engine shuffles the rows within each
chunk; a batch never spans two chunks, so batches are at most a chunk
(``batch_size=None`` trains one batch per chunk).  Only one chunk of X and Y is in memory
at a time (for a memmap, read with ``readinto`` from its file, so that the
mapping's pages never enter the process's resident set), whatever the size of
the data.  Chunks are a Dask or Zarr array's own; a memmap's are about
CHUNK_BYTES of rows.
"""

from __future__ import annotations

import mmap
import sys
from typing import Any

import numpy as np

from fastbp._validation import as_matrix, check_targets

CHUNK_BYTES = 2**26


def is_stream(X: Any) -> bool:
    """Whether X is data to stream: a memmap, a Dask array or a Zarr array."""
    if isinstance(X, np.memmap):
        return True
    dask_array = sys.modules.get("dask.array")
    if dask_array is not None and isinstance(X, dask_array.Array):
        return True
    zarr = sys.modules.get("zarr")
    return zarr is not None and isinstance(X, getattr(zarr, "Array", ()))


def row_bounds(X: Any, n: int, row_bytes: int) -> list[tuple[int, int]]:
    """Where each chunk of rows starts and stops."""
    chunks = getattr(X, "chunks", None)
    if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], tuple):  # Dask
        sizes = list(chunks[0])
    elif isinstance(chunks, tuple) and chunks and isinstance(chunks[0], int):  # Zarr
        sizes = [chunks[0]] * -(-n // max(chunks[0], 1))
    else:  # a memmap
        rows = max(1, CHUNK_BYTES // max(row_bytes, 1))
        sizes = [rows] * -(-n // rows)
    bounds, start = [], 0
    for size in sizes:
        stop = min(start + int(size), n)
        if stop > start:
            bounds.append((start, stop))
        start = stop
    return bounds


def read_rows(X: Any, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of X as an in-memory array."""
    # A read-only memmap is read from its file, so that its pages never enter the
    # resident set; a writable or copy-on-write one may hold changes the file has not.
    direct = isinstance(X, np.memmap) and getattr(X, "mode", None) == "r"
    if direct and isinstance(X.base, mmap.mmap) and X.flags.c_contiguous:
        rows = np.empty((stop - start, *X.shape[1:]), dtype=X.dtype)
        row_bytes = X.dtype.itemsize * int(np.prod(X.shape[1:], dtype=np.int64))
        with open(X.filename, "rb", buffering=0) as f:
            f.seek(X.offset + start * row_bytes)
            view = rows.data.cast("B")
            done = 0
            while done < view.nbytes:
                read = f.readinto(view[done:])
                if not read:
                    raise ValueError(f"{X.filename} ends before row {stop} of the memmap")
                done += read
        return rows
    block = X[start:stop]
    compute = getattr(block, "compute", None)
    return np.asarray(compute() if compute is not None else block)


class Stream:
    """X and Y, read by chunks of rows, each checked as ``Network.train`` checks data."""

    def __init__(self, net: Any, X: Any, Y: Any) -> None:
        if getattr(X, "ndim", None) != 2:
            raise ValueError(
                f"X must be 2-D with shape (n_samples, n_features); got shape "
                f"{getattr(X, 'shape', None)}"
            )
        chunks = getattr(X, "chunks", None)
        if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], tuple):
            if any(size != size for size in chunks[0]):  # NaN: Dask does not know them
                raise ValueError("X has chunks of unknown size; call X.compute_chunk_sizes() first")
        n, n_in = (int(v) for v in X.shape)
        if n_in != net.n_inputs:
            raise ValueError(
                f"X has {n_in} columns; the network expects {net.n_inputs} "
                f"(shape (n_samples, {net.n_inputs}))"
            )
        if n == 0:
            raise ValueError(f"X has no samples (shape {X.shape}); at least one is needed")
        shape = getattr(Y, "shape", None)
        if shape is None:
            Y = np.asarray(Y)
            shape = Y.shape
        if len(shape) not in (1, 2) or shape[0] != n:
            raise ValueError(f"Y has shape {tuple(shape)}; expected ({n}, {net.n_outputs})")
        if (shape[1] if len(shape) == 2 else 1) != net.n_outputs:
            raise ValueError(
                f"Y has {shape[1] if len(shape) == 2 else 1} columns; the network has "
                f"{net.n_outputs} outputs"
            )
        self.net, self.X, self.Y = net, X, Y
        self.shape = (n, n_in)
        self.bounds = row_bounds(X, n, net.dtype.itemsize * n_in)
        self.largest_chunk = max(stop - start for start, stop in self.bounds)

    def load(self, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``chunk``'s X and Y, in the network's dtype, checked."""
        start, stop = self.bounds[chunk]
        net = self.net
        where = f"X (rows {start} to {stop - 1})"
        X = as_matrix(read_rows(self.X, start, stop), where, net.dtype, net.n_inputs)
        Y = read_rows(self.Y, start, stop).reshape(stop - start, -1)
        Y = as_matrix(Y, f"Y (rows {start} to {stop - 1})", net.dtype, net.n_outputs)
        check_targets(Y, net.output_activation, net.loss_name)
        return X, Y
