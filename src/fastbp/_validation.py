"""Checks and conversions done in Python before anything enters the engine.

Every function here either returns a value the engine can use as it is or
raises ``TypeError``/``ValueError`` with a message that says what was given
and what was expected.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from fastbp import _engine
from fastbp.optimizers import SOLVERS, Optimizer, engine_optimizer

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

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


def memory_limit() -> int:
    """The most bytes that one network's parameters, one training call's work
    buffers, optimiser state or history may take: the machine's physical memory,
    or the process's address-space limit when that is lower."""
    limits = [sys.maxsize]
    if hasattr(os, "sysconf"):
        try:
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError):  # a name this system does not know
            pass
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limit for limit in limits if limit > 0)


def check_bytes(n_bytes: int, what: str) -> None:
    """Refuse to allocate ``what``, ``n_bytes`` bytes (counted in Python ints, so
    that no product wraps), when that is more than :func:`memory_limit`."""
    limit = memory_limit()
    if n_bytes > limit:
        raise ValueError(
            f"{what} would take {n_bytes:,} bytes ({n_bytes / 2**30:,.3g} GiB), more than "
            f"the {limit:,} bytes ({limit / 2**30:,.3g} GiB) of memory this process can have"
        )


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """None, or an integer seed in [0, 2**64)."""
    if seed is None:
        return None
    return check_int(seed, name, 0, MAX_SEED)


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is True or False (a Python or NumPy bool; no other truthiness)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r:.80}")
    return bool(value)


def refuse_masked(value: Any, name: str) -> None:
    """Refuse a NumPy masked array: reading it as an array would drop its mask."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, and fastbp would ignore its mask; "
            f"pass a plain array with the masked values filled in: {name}.filled(value)"
        )


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
    refuse_masked(X, name)
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
        array = objects_as_float(array, name)
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


def objects_as_float(array: np.ndarray, name: str) -> np.ndarray:
    """An object array as float64.  A finite number beyond float64 is refused as
    too large: a Python int raises OverflowError, a ``Decimal('1e500')`` becomes inf."""
    too_large = ValueError(f"{name} holds numbers too large for float64")
    try:
        with np.errstate(over="ignore"):
            converted = array.astype(np.float64)
    except OverflowError:
        raise too_large from None
    except (ValueError, TypeError):
        raise TypeError(f"{name} holds objects that are not numbers") from None
    if any(map(_finite, array[~np.isfinite(converted)])):
        raise too_large
    return converted


def _finite(number: Any) -> bool:
    """Whether a number that is not a float is neither NaN nor infinite."""
    try:
        return bool(number == number and abs(number) != np.inf)
    except ArithmeticError:  # Decimal's signalling NaN refuses comparisons
        return False


def check_targets(Y: np.ndarray, output_activation: str, loss: str) -> None:
    """Targets the loss can use: in [0, 1] for cross-entropy, rows summing to 1 with
    softmax, non-negative counts or rates for the Poisson deviance."""
    if loss == "poisson" and Y.size and Y.min() < 0:
        raise ValueError(
            "with loss='poisson' every target must be >= 0 (a count or a rate); "
            f"got a smallest value of {Y.min()}"
        )
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
    check_bool(nesterov, "nesterov")
    return engine_optimizer(optimizer, momentum)


def check_sample_weight(sample_weight: Any, n: int, dtype: np.dtype) -> np.ndarray:
    """Sample weights as a C-contiguous 1-D array of ``dtype``: n finite values >= 0,
    divided by the largest (see :func:`relative_weights`)."""
    sw = sample_weight_values(sample_weight, n)
    return np.ascontiguousarray(relative_weights(sw, dtype), dtype=dtype)


def sample_weight_values(sample_weight: Any, n: int) -> np.ndarray:
    """Sample weights as given, as a 1-D float64 array: n finite values >= 0."""
    refuse_masked(sample_weight, "sample_weight")
    try:
        sw = np.asarray(sample_weight, dtype=np.float64)
    except OverflowError:
        raise ValueError("sample_weight holds numbers too large for float64") from None
    except (TypeError, ValueError):
        raise TypeError("sample_weight must be an array of numbers") from None
    if sw.shape != (n,):
        raise ValueError(f"sample_weight has shape {sw.shape}; expected ({n},), one per sample")
    if not np.isfinite(sw).all() or (sw < 0).any():
        raise ValueError("sample_weight must hold finite values >= 0")
    return sw


def relative_weights(sw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Finite weights >= 0 (float64) divided by the largest, so that ``c * sw``
    gives the same weights as ``sw``: weights are relative.

    Refused when every weight is zero, or when a positive weight divided by
    the largest falls below the smallest normal number of ``dtype`` (it would
    round to zero, or lose its digits, in the network's arithmetic).
    """
    largest = float(sw.max())
    if largest == 0.0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    smallest = float(sw[sw > 0].min())
    tiny = float(np.finfo(dtype).tiny)
    with np.errstate(under="ignore"):
        if smallest / largest >= tiny:
            return sw / largest
    orders = np.log10(largest) - np.log10(smallest)
    raise ValueError(
        f"sample_weight spans too wide a range for {dtype.name}: its largest weight "
        f"({largest:.3g}) is about 10^{orders:.0f} times its smallest positive one "
        f"({smallest:.3g}). Weights are relative (each is divided by the largest), and in "
        f"{dtype.name} a positive weight must be at least {tiny:.3g} times the largest; "
        "set negligible weights to 0" + (", or use float64" if dtype != np.float64 else "")
    )
