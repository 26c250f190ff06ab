"""The GEMM baselines: only the matrix products of an epoch, the floor of a BLAS engine.

"NumPy GEMMs only" runs them with NumPy's ``matmul``; "SciPy BLAS GEMMs only"
through the engine's own BLAS (SciPy's), as a diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GEMM_NOTE = "the 8 matmuls per batch of the epoch"
ENGINE_GEMM_NOTE = "the same matmuls through the engine's own BLAS (diagnostic)"

# For each product: transpose-a, A as stored, B, and C to write.
Operands = list[tuple[bool, np.ndarray, np.ndarray, np.ndarray]]


def gemm_shapes(
    sizes: Sequence[int], rows: int
) -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """The matrix products of one batch: ((m, k), (k, n), transpose-a) for each.

    Forward one per layer, backward-delta one per layer but the first,
    weight-gradient one per layer -- what the engine (and every peer) computes.
    """
    L = len(sizes) - 1
    shapes = []
    for l in range(L):  # z(l) = a(l-1) . W(l)
        shapes.append(((rows, sizes[l]), (sizes[l], sizes[l + 1]), False))
    for l in range(L - 1, 0, -1):  # delta(l-1) = delta(l) . W(l)^T
        shapes.append(((rows, sizes[l + 1]), (sizes[l + 1], sizes[l]), False))
    for l in range(L):  # dE/dW(l) = a(l-1)^T . delta(l)
        shapes.append(((sizes[l], rows), (rows, sizes[l + 1]), True))
    return shapes


def nominal_flops(sizes: Sequence[int], samples: int) -> float:
    """6 * samples * sum of n_in * n_out: issue 3's count for one training epoch."""
    return 6.0 * samples * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def epoch_operands(
    sizes: Sequence[int], n: int, batch: int, dtype: str, seed: int
) -> tuple[list[int], dict[int, Operands]]:
    """The rows of each batch of an epoch, and random operands for each batch height.

    A transposed A is stored as its transpose, (k, m): the engine passes a
    transpose flag, NumPy a transposed view; neither copies it.
    """
    rng = np.random.default_rng(seed)
    plan = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    operands: dict[int, Operands] = {}
    for rows in set(plan):
        products = []
        for (m, k), (k2, n_out), trans_a in gemm_shapes(sizes, rows):
            A = rng.random((k, m) if trans_a else (m, k)).astype(dtype)
            B = rng.random((k2, n_out)).astype(dtype)
            products.append((trans_a, A, B, np.empty((m, n_out), dtype=dtype)))
        operands[rows] = products
    return plan, operands


def numpy_gemms(
    sizes: Sequence[int], n: int, batch: int, dtype: str, seed: int
) -> Callable[[], None]:
    """A run of exactly the GEMMs of one epoch, on preallocated arrays (NumPy ``matmul``)."""
    plan, operands = epoch_operands(sizes, n, batch, dtype, seed)
    views = {
        rows: [(A.T if trans_a else A, B, C) for trans_a, A, B, C in products]
        for rows, products in operands.items()
    }

    def run() -> None:
        matmul = np.matmul
        for rows in plan:
            for A, B, C in views[rows]:
                matmul(A, B, out=C)

    return run


def engine_gemms(
    sizes: Sequence[int], n: int, batch: int, dtype: str, seed: int
) -> Callable[[], None]:
    """The same GEMMs as :func:`numpy_gemms`, through the engine's own BLAS (SciPy's).

    ``_engine.gemm_check`` is the engine's row-major GEMM behind a ``def``: a
    microsecond of call overhead per product, negligible at W3's sizes only.
    """
    from fastbp import _engine

    plan, operands = epoch_operands(sizes, n, batch, dtype, seed)

    def run() -> None:
        gemm = _engine.gemm_check
        for rows in plan:
            for trans_a, A, B, C in operands[rows]:
                gemm(trans_a, False, 1.0, A, B, 0.0, C)

    return run
