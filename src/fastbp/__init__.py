"""fastbp: back-propagation networks with a typed Cython + BLAS engine.

>>> import fastbp as fb
>>> net = fb.Network([2, 4, 1], seed=0)
>>> history = net.train([[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]],
...                     epochs=5, batch_size=1, learning_rate=0.5, seed=0)
>>> len(history)
5
"""

from fastbp import plot
from fastbp._version import __version__
from fastbp.io import load, save
from fastbp.network import DivergenceError, Network, check_gradients, predict, train
from fastbp.tracing import Trace, trace

__all__ = [
    "DivergenceError",
    "Network",
    "Trace",
    "__version__",
    "check_gradients",
    "load",
    "plot",
    "predict",
    "save",
    "trace",
    "train",
]
