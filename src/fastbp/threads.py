"""How many threads BLAS may use: ``blas_threads(n)`` and ``set_blas_threads(n)``.

fastbp's engine calls BLAS through ``scipy.linalg.cython_blas``, so the BLAS
that does its matrix products is SciPy's (with the wheels from PyPI, the
OpenBLAS bundled in ``scipy.libs``); NumPy may load another copy of its own.
Both functions here go through threadpoolctl and limit every BLAS library
loaded in the process, SciPy's and NumPy's alike.  The engine itself starts no
threads.

>>> import fastbp as fb
>>> with fb.blas_threads(1):
...     pass  # BLAS runs on one thread in here; the previous limits come back after
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_limits


def _loaded_blas() -> None:
    # Load SciPy's BLAS (the engine's) before threadpoolctl looks for libraries.
    import scipy.linalg.cython_blas  # noqa: F401


def _check(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"the number of BLAS threads must be an integer; got {n!r}")
    if n < 1:
        raise ValueError(f"the number of BLAS threads must be at least 1; got {n}")
    return n


def blas_threads(n: int) -> threadpool_limits:
    """Limit BLAS to ``n`` threads; as a context manager, only inside the block.

    Parameters
    ----------
    n : int
        Threads, at least 1.

    Returns
    -------
    threadpoolctl.threadpool_limits
        Used with ``with``, the previous limits are restored on leaving the
        block; otherwise call its ``restore_original_limits()`` method.

    Examples
    --------
    >>> import fastbp as fb
    >>> with fb.blas_threads(1):
    ...     fb.get_blas_threads()
    1
    """
    _loaded_blas()
    return threadpool_limits(limits=_check(n), user_api="blas")


def set_blas_threads(n: int) -> None:
    """Limit BLAS to ``n`` threads from now on (until changed again).

    Examples
    --------
    >>> import fastbp as fb
    >>> before = fb.get_blas_threads()
    >>> fb.set_blas_threads(1)
    >>> fb.get_blas_threads()
    1
    >>> fb.set_blas_threads(before)
    """
    blas_threads(n)


def get_blas_threads() -> int:
    """Threads the BLAS of fastbp's engine (SciPy's) may use now.

    Examples
    --------
    >>> import fastbp as fb
    >>> fb.get_blas_threads() >= 1
    True
    """
    info = engine_blas_info()
    return int(info["num_threads"]) if info else 1


def engine_blas_info() -> dict[str, Any] | None:
    """threadpoolctl's description of the BLAS that SciPy's cython_blas uses.

    That is the library loaded from SciPy's own directory when there is one
    (SciPy wheels bundle OpenBLAS), else the first BLAS threadpoolctl finds.
    None when threadpoolctl finds no BLAS at all.
    """
    _loaded_blas()
    libraries = [
        lib.info() for lib in ThreadpoolController().select(user_api="blas").lib_controllers
    ]
    for info in libraries:
        if Path(str(info.get("filepath", ""))).parent.name.startswith("scipy"):
            return info
    return libraries[0] if libraries else None
