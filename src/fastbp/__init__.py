"""fastbp: back-propagation networks with a typed Cython + BLAS engine.

>>> import fastbp as fb
>>> net = fb.Network([2, 4, 1], seed=0)
>>> history = net.train([[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]],
...                     epochs=5, batch_size=1, learning_rate=0.5, seed=0)
>>> len(history)
5
"""

from typing import Any

from fastbp import plot
from fastbp._training import DivergenceError, History
from fastbp._version import __version__
from fastbp.gradient_check import check_gradients
from fastbp.io import load, save
from fastbp.network import Network, predict, train
from fastbp.threads import blas_threads, get_blas_threads, set_blas_threads
from fastbp.tracing import Trace, trace

_ESTIMATORS = ("BPClassifier", "BPRegressor")


def __getattr__(name: str) -> Any:
    # The scikit-learn estimators load on first use: scikit-learn is optional.
    if name in _ESTIMATORS:
        try:
            from fastbp import sklearn as estimators
        except ImportError as exc:
            raise ImportError(
                f"fastbp.{name} needs scikit-learn: pip install 'fastbp[sklearn]' ({exc})"
            ) from None
        return getattr(estimators, name)
    raise AttributeError(f"module 'fastbp' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy estimators too, for tab completion.
    return sorted({*globals(), *_ESTIMATORS})


__all__ = [
    "BPClassifier",
    "BPRegressor",
    "DivergenceError",
    "History",
    "Network",
    "Trace",
    "__version__",
    "blas_threads",
    "check_gradients",
    "get_blas_threads",
    "load",
    "plot",
    "predict",
    "save",
    "set_blas_threads",
    "trace",
    "train",
]
