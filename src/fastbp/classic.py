"""The two classic problems that fastbp's demo, trace, tests and benchmarks share.

The 2-2-2 worked example (see ../docs/math.md and the README): one sample,
sigmoid layers, learning rate 0.5, biases kept fixed, with the figures
published for it.  And XOR, the smallest problem a network without a hidden
layer cannot learn.

>>> from fastbp.classic import WORKED_X, worked_network
>>> worked_network().predict(WORKED_X).round(8).tolist()
[[0.75136507, 0.77292847]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastbp.network import Network

# The worked example: inputs, targets, initial parameters.
WORKED_X = [[0.05, 0.10]]
WORKED_T = [[0.01, 0.99]]
WORKED_WEIGHTS = [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]]
WORKED_BIASES = [[0.35, 0.35], [0.60, 0.60]]
# Published figures: forward outputs, total error, error after one update.
PUBLISHED_OUTPUTS = (0.75136507, 0.77292847)
PUBLISHED_ERROR = 0.298371109
PUBLISHED_ERROR_AFTER_ONE = 0.291027774

XOR_X = [[0, 0], [0, 1], [1, 0], [1, 1]]
XOR_T = [[0], [1], [1], [0]]


def worked_network(cls: Callable[..., Any] = Network) -> Any:
    """The 2-2-2 network of the worked example: a ``fastbp.Network``, or ``cls``
    (such as ``fastbp.reference.Network``) built with the same arguments."""
    return cls([2, 2, 2], weights=WORKED_WEIGHTS, biases=WORKED_BIASES)
