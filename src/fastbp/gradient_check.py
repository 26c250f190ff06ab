"""``check_gradients``: back-propagation against finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastbp._validation import check_positive
from fastbp.network import Network, check_network


def check_gradients(
    net: Network, X: Any, Y: Any, eps: float | None = None, floor: float | None = None
) -> float:
    """Largest relative error between back-propagation and central differences.

    Each parameter p in turn is moved to p - 2h, p - h, p + h and p + 2h, and
    the fourth-order central difference
    ``(L(p-2h) - 8 L(p-h) + 8 L(p+h) - L(p+2h)) / 12h`` of the loss is compared
    with the back-propagated gradient g as ``|g - fd| / max(|g|, |fd|, floor)``.
    The floor keeps a parameter whose gradient is all but zero from turning
    rounding noise into a large relative error.  The cost is four evaluations
    of the loss over X per parameter: meant for small networks and data.

    Parameters
    ----------
    net : Network
    X, Y : array-like
        Inputs and targets, as for :meth:`Network.loss`.
    eps : float, optional
        The step h; 1e-3 for float64 networks, 1e-2 for float32.
    floor : float, optional
        Smallest denominator; 1e-6 for float64, 1e-3 for float32.  Gradient
        entries smaller than the floor are in effect compared absolutely:
        with the defaults, to within 1e-12 in float64.

    Examples
    --------
    >>> import fastbp as fb
    >>> net = fb.Network([3, 4, 2], seed=0)
    >>> fb.check_gradients(net, [[0.1, 0.2, 0.3]], [[0.0, 1.0]]) < 1e-6
    True
    """
    check_network(net)
    X, Y = net._data(X, Y)
    double = net.dtype == np.float64
    h = (1e-3 if double else 1e-2) if eps is None else check_positive(eps, "eps")
    floor = (1e-6 if double else 1e-3) if floor is None else check_positive(floor, "floor")
    grad = net.flat_gradient(X, Y).astype(np.float64)
    params = net.params
    numeric = np.empty_like(grad)
    with net._lock:
        for i in range(params.size):
            saved = params[i]
            losses = []
            try:
                for k in (-2, -1, 1, 2):
                    with np.errstate(over="ignore"):
                        params[i] = saved + k * h
                    losses.append(net.loss(X, Y))
            except ValueError:
                raise ValueError(
                    f"the loss is not finite once parameter {i} is moved by up to 2 * eps "
                    f"(eps={h}); use a smaller eps"
                ) from None
            finally:
                params[i] = saved
            numeric[i] = (losses[0] - 8 * losses[1] + 8 * losses[2] - losses[3]) / (12 * h)
    scale = np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), floor)
    return float(np.max(np.abs(grad - numeric) / scale))
