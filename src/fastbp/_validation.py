"""Checks and conversions done in Python before anything enters the engine.

Every function here either returns a value the engine can use as it is or
raises ``TypeError``/``ValueError`` with a message that says what was given
and what was expected.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from fastbp import _engine
from fastbp.optimizers import SOLVERS, Optimizer, engine_optimizer

DTYPES = ("float64", "float32")

# Widths and counts reach BLAS as 32-bit ints, seeds the engine as a 64-bit word.
MAX_WIDTH = 2**31 - 1
MAX_SEED = 2**64 - 1


def check_dtype(dtype: Any) -> np.dtype:
    """The network dtype named by ``dtype``: float64 or float32."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}")
    return resolved


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int of at least ``minimum`` (bools are not ints here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r:.80}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {number}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {number}")
    return number


def check_sizes(sizes: Any) -> tuple[int, ...]:
    """Layer widths, input first: at least two positive integers."""
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        sizes = sizes.tolist()
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(
            f"sizes must be a sequence of layer widths such as [784, 16, 10]; got {sizes!r:.80}"
        )
    if len(sizes) < 2:
        raise ValueError(
            f"sizes needs at least an input and an output width, e.g. [2, 1]; got {list(sizes)}"
        )
    return tuple(check_int(s, f"sizes[{i}]", 1, MAX_WIDTH) for i, s in enumerate(sizes))


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """None, or an integer seed in [0, 2**64)."""
    if seed is None:
        return None
    return check_int(seed, name, 0, MAX_SEED)


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r:.80}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return value


def check_learning_rate(value: Any) -> float:
    """A finite, positive learning rate."""
    return check_positive(value, "learning_rate")


def raise_not_finite(name: str) -> NoReturn:
    raise ValueError(f"{name} contains NaN or infinity; every value must be finite")


def as_matrix(
    X: Any, name: str, dtype: np.dtype, n_cols: int | None = None, check_finite: bool = True
) -> np.ndarray:
    """X as a finite, C-contiguous 2-D array of ``dtype`` with at least one row.

    An array that already is one is returned as it is, never copied.  With
    ``check_finite=False`` the caller takes over the check for NaN and infinity.
    """
    if not (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.flags.c_contiguous):
        X = _convert(X, name, dtype)
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {X.shape}); at least one is needed")
    if n_cols is not None and X.shape[1] != n_cols:
        raise ValueError(
            f"{name} has {X.shape[1]} columns; the network expects {n_cols} "
            f"(shape (n_samples, {n_cols}))"
        )
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {X.shape})")
    if check_finite and not _engine.all_finite(X):
        raise_not_finite(name)
    return X


def _convert(X: Any, name: str, dtype: np.dtype) -> np.ndarray:
    if isinstance(X, np.ndarray):
        array = X
    else:
        try:
            array = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{name} could not be read as a 2-D array of numbers ({exc}); "
                "pass a list of equal-length rows or an array of shape (n_samples, n_features)"
            ) from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} holds complex numbers; fastbp needs real numbers")
    if kind == "O":
        try:
            array = array.astype(np.float64)
        except OverflowError:
            raise ValueError(f"{name} holds numbers too large for float64") from None
        except (ValueError, TypeError):
            raise TypeError(f"{name} holds objects that are not numbers") from None
    elif kind not in "biuf":
        raise TypeError(f"{name} has dtype {array.dtype}; expected numbers (bool, int or float)")
    if array.ndim != 2:
        hint = ""
        if array.ndim == 1:
            hint = "; for a single sample use x.reshape(1, -1), for one feature x.reshape(-1, 1)"
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, n_features); got {array.ndim}-D "
            f"shape {array.shape}{hint}"
        )
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=dtype)
    if (
        array.dtype.kind == "f"
        and array.dtype.itemsize > dtype.itemsize
        and not _engine.all_finite(converted)
        and np.isfinite(array).all()
    ):
        raise ValueError(f"{name} has values too large for {dtype.name}")
    return converted


def check_targets(Y: np.ndarray, output_activation: str, loss: str) -> None:
    """Targets the loss can use: in [0, 1] for cross-entropy, rows summing to 1 with softmax."""
    if loss != "cross_entropy":
        return
    if Y.min() < 0 or Y.max() > 1:
        raise ValueError(
            "with loss='cross_entropy' every target must lie in [0, 1]; "
            f"got values from {Y.min()} to {Y.max()}"
        )
    if output_activation == "softmax":
        sums = Y.sum(axis=1, dtype=np.float64)
        tol = 1e-6 if Y.dtype == np.float64 else 1e-4
        bad = np.flatnonzero(np.abs(sums - 1.0) > tol)
        if bad.size:
            raise ValueError(
                "with a softmax output every target row must sum to 1 (a one-hot or "
                f"probability vector); row {bad[0]} sums to {sums[bad[0]]}"
            )


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_real(
    value: Any,
    name: str,
    low: float,
    high: float = np.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """A real number within [low, high] (either end open when asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r}")
    value = float(value)
    bad_low = value <= low if open_low else value < low
    bad_high = value >= high if open_high else value > high
    if not np.isfinite(value) or bad_low or bad_high:
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}; got {value}")
    return value


def check_nonnegative(value: Any, name: str) -> float:
    """A finite number >= 0."""
    return check_real(value, name, 0.0)


def check_optimizer(
    optimizer: Any, momentum: Any, nesterov: Any, beta_1: Any, beta_2: Any, epsilon: Any
) -> Optimizer:
    """The engine's optimiser for these settings (see ``optimizers.engine_optimizer``)."""
    check_choice(optimizer, "optimizer", SOLVERS)
    momentum = check_real(momentum, "momentum", 0.0, 1.0)
    check_real(beta_1, "beta_1", 0.0, 1.0, open_high=True)
    check_real(beta_2, "beta_2", 0.0, 1.0, open_high=True)
    check_real(epsilon, "epsilon", 0.0, open_low=True)
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
    return engine_optimizer(optimizer, momentum)


def check_sample_weight(sample_weight: Any, n: int, dtype: np.dtype) -> np.ndarray:
    """Sample weights as a C-contiguous 1-D array of ``dtype``: n finite values >= 0."""
    try:
        sw = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("sample_weight must be an array of numbers") from None
    if sw.shape != (n,):
        raise ValueError(f"sample_weight has shape {sw.shape}; expected ({n},), one per sample")
    if not np.isfinite(sw).all() or (sw < 0).any():
        raise ValueError("sample_weight must hold finite values >= 0")
    if sw.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return np.ascontiguousarray(sw, dtype=dtype)
