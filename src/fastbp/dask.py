"""Full-batch training over a Dask cluster: each optimiser step is one map-reduce.

The loss and gradient of the whole data set are sums over its row chunks, as
Spark MLlib trains its multilayer perceptron: every evaluation sends the flat
parameters (a few hundred kilobytes at most) to the workers, each runs the
engine's GIL-free loss-and-gradient call over the chunks it holds, and the
client adds the partial sums in chunk order and takes the step -- L-BFGS
(SciPy's L-BFGS-B) or iRprop- -- itself.  The result is that of
``Network.train`` on the concatenated data (``batch_size=None``), up to the
rounding of the sums' order.

fastbp grows no scheduler of its own: whatever Dask scheduler is active runs
the chunks (a ``distributed.Client``, or Dask's local threads).  A worker that
dies mid-run has its chunks recomputed by Dask from their source; the network
holds the last completed step whenever training stops, Ctrl-C included.

>>> import dask.array as da, numpy as np, fastbp as fb
>>> from fastbp import dask as fbd
>>> rng = np.random.default_rng(0)
>>> X = da.from_array(rng.normal(size=(200, 3)), chunks=50)
>>> Y = da.from_array((rng.normal(size=(200, 1)) > 0).astype(float), chunks=50)
>>> net = fb.Network([3, 4, 1], seed=0)
>>> history = fbd.train(net, X, Y, optimizer="lbfgs", max_iter=5)
>>> len(history) <= 5
True
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

from fastbp import _engine
from fastbp._sparse import engine_x
from fastbp._training import (
    DivergenceError,
    EpochRules,
    History,
    LbfgsRun,
    Settings,
)
from fastbp._validation import (
    check_bool,
    check_choice,
    check_int,
    check_nonnegative,
    check_targets,
    raise_not_finite,
    relative_weights,
)
from fastbp.network import Network, check_network, layer_views
from fastbp.optimizers import LBFGS_MAX_FUN, OPTIMIZERS

SOLVERS = ("lbfgs", "rprop")


def _architecture_spec(net: Network) -> tuple[tuple[str, Any], ...]:
    """The network's architecture as a hashable value, sent to the workers."""
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in net.architecture.to_dict().items()
    )


@functools.lru_cache(maxsize=8)
def _worker_network(spec: tuple[tuple[str, Any], ...]) -> Network:
    """A network of the architecture ``spec`` on a worker, built once per process
    (its parameters are never used: each evaluation brings its own)."""
    return Network(**dict(spec))


def _chunk_sums(
    spec: tuple[tuple[str, Any], ...],
    params: np.ndarray,
    scale: float,
    x: np.ndarray,
    y: np.ndarray,
    w: Any,
) -> tuple[float, np.ndarray]:
    """On a worker: the summed (weighted) loss of one chunk and its summed gradient,
    the weights made relative (times ``scale``, 1 / the largest) in float64 first,
    as ``Network.train`` makes them."""
    net = _worker_network(spec)
    inputs = net._inputs(x, check_finite=False)
    n = inputs.shape[0]
    targets = np.ascontiguousarray(y, dtype=net.dtype).reshape(n, -1)
    rows = min(n, net._chunk_rows)
    grad = np.empty_like(params)
    sw = None
    if w is not None:
        sw = np.ascontiguousarray(np.asarray(w, dtype=np.float64) * scale, dtype=net.dtype)
    data, options = engine_x(inputs)
    total = _engine.gradient_into(
        net._layout, params, data, targets, grad, net._buffer(rows), net._buffer(rows), rows,
        sw=sw, weight_sum=1.0 if sw is not None else 0.0, **options,
    )  # fmt: skip
    if sw is None:  # the engine's gradient is of the mean: the sum is n times it
        grad *= n
    return float(total), grad


def _chunk_check(
    spec: tuple[tuple[str, Any], ...], x: np.ndarray, y: np.ndarray, w: Any
) -> tuple[bool, str | None, float, float]:
    """On a worker: whether a chunk's inputs are finite, what is wrong with its
    targets (or None), and its largest and smallest positive sample weights
    (0 and inf without weights)."""
    net = _worker_network(spec)
    raw = np.asarray(x)
    finite = bool(np.isfinite(raw).all()) if raw.dtype.kind == "f" else True
    problem = None
    with np.errstate(over="ignore"):
        cast = np.ascontiguousarray(raw, dtype=net.dtype)
    if finite and not _engine.all_finite(cast.reshape(1, -1)):
        problem = f"X has values too large for {net.dtype.name}"
    try:
        Y = np.ascontiguousarray(y, dtype=net.dtype).reshape(len(x), -1)
        if not _engine.all_finite(Y.reshape(1, -1)):
            raise_not_finite("Y")
        check_targets(Y, net.output_activation, net.loss_name)
    except ValueError as exc:
        problem = problem or str(exc)
    largest, smallest = 0.0, np.inf
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any():
            problem = "sample_weight must hold finite numbers >= 0"
        largest = float(w.max()) if w.size else 0.0
        positive = w[w > 0]
        smallest = float(positive.min()) if positive.size else np.inf
    return finite, problem, largest, smallest


class _Chunks:
    """X, Y and the sample weights as aligned row chunks (Dask delayed objects)."""

    def __init__(self, net: Network, X: Any, Y: Any, sample_weight: Any) -> None:
        import dask
        import dask.array as da

        if not isinstance(X, da.Array):
            raise TypeError(f"X must be a dask.array.Array; got {type(X).__name__}")
        if X.ndim != 2 or X.shape[1] != net.n_inputs:
            raise ValueError(
                f"X has shape {X.shape}; the network expects (n_samples, {net.n_inputs})"
            )
        if any(math.isnan(c) for c in X.chunks[0]):
            raise ValueError("X has chunks of unknown size; call X.compute_chunk_sizes() first")
        if not isinstance(Y, da.Array):
            Y = np.asarray(Y)
            if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Y has shape {Y.shape}; expected ({X.shape[0]}, {net.n_outputs}) to match X"
                )
            Y = da.from_array(Y, chunks=(X.chunks[0],) + ((Y.shape[1],) if Y.ndim == 2 else ()))
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape != (X.shape[0], net.n_outputs):
            raise ValueError(
                f"Y has shape {Y.shape}; expected ({X.shape[0]}, {net.n_outputs}) to match X"
            )
        if X.shape[0] == 0:
            raise ValueError(f"X has no samples (shape {X.shape}); at least one is needed")
        # one chunk across the columns, the rows chunked as X's
        X = X.rechunk({1: -1})
        Y = Y.rechunk((X.chunks[0], -1))
        W = None
        if sample_weight is not None:
            W = (
                sample_weight
                if isinstance(sample_weight, da.Array)
                else da.from_array(np.asarray(sample_weight), chunks=X.chunks[0])
            )
            if W.shape != (X.shape[0],):
                raise ValueError(f"sample_weight has shape {W.shape}; expected ({X.shape[0]},)")
            W = W.rechunk((X.chunks[0],))
        arrays = dask.persist(X, Y) if W is None else dask.persist(X, Y, W)
        self.X, self.Y = arrays[0], arrays[1]
        self.W = None if W is None else arrays[2]
        # without graph optimisation: the chunks stay the persisted keys themselves
        xs = self.X.to_delayed(optimize_graph=False).ravel().tolist()
        ys = self.Y.to_delayed(optimize_graph=False).ravel().tolist()
        ws = (
            [None] * len(xs)
            if self.W is None
            else self.W.to_delayed(optimize_graph=False).ravel().tolist()
        )
        # empty chunks hold nothing to sum
        self.parts = [part for part, rows in zip(zip(xs, ys, ws), X.chunks[0]) if rows]
        self.n = int(X.shape[0])

    def compute(self, function: Any, *args: Any) -> list[Any]:
        """``function(*args, x, y, w)`` for every chunk, in chunk order."""
        import dask

        call = dask.delayed(function, pure=True)
        return list(dask.compute(*(call(*args, x, y, w) for x, y, w in self.parts)))


class _Objective:
    """The full-batch objective of ``Network.train``'s full-batch solvers, summed
    over the chunks: ``(sum_i w_i E_i + alpha / 2 * sum W^2) / sum_i w_i``, the
    weights relative (divided by the largest) as ``Network.train`` makes them."""

    def __init__(
        self, net: Network, chunks: _Chunks, alpha: float, train_biases: bool, scale: float
    ) -> None:
        import dask

        self.net, self.chunks, self.alpha, self.train_biases = net, chunks, alpha, train_biases
        self.scale = scale  # 1 / the largest sample weight (1 without weights)
        self.spec = _architecture_spec(net)
        self.is_weight = np.zeros(net.params.size, dtype=bool)
        for view in layer_views(net.sizes, self.is_weight)[0]:
            view[...] = True
        if chunks.W is None:
            self.weight_sum = float(chunks.n)
        else:
            (total,) = dask.compute((chunks.W.astype(np.float64) * scale).sum())
            self.weight_sum = float(total)
        if not self.weight_sum > 0:
            raise ValueError(
                "sample_weight sums to zero; at least one sample needs a positive weight"
            )

    def __call__(self, params: np.ndarray, grad: np.ndarray) -> float:
        """The summed objective at ``params``; its gradient (divided by the weight
        sum) into ``grad``, as ``_engine.gradient_into`` gives them."""
        import dask

        shared = dask.delayed(params, pure=True)  # one copy per evaluation, sent once
        parts = self.chunks.compute(_chunk_sums, self.spec, shared, self.scale)
        total = 0.0
        grad[...] = 0.0
        for loss, part in parts:  # in chunk order: the same sums every time
            total += loss
            grad += part
        if self.alpha > 0:
            weights = params[self.is_weight].astype(np.float64)
            total += 0.5 * self.alpha * float(weights @ weights)
            grad[self.is_weight] += self.alpha * params[self.is_weight]
        grad /= self.weight_sum
        if not self.train_biases:
            grad[~self.is_weight] = 0.0
        return total


class _DaskLbfgs(LbfgsRun):
    """L-BFGS whose evaluations are map-reduces over the chunks."""

    def __init__(self, net: Network, objective: _Objective, settings: Settings, n: int) -> None:
        self.objective = objective
        self.n = n
        self.net, self.settings = net, settings
        self.weight_sum = objective.weight_sum
        self.history = History()
        self.rules = EpochRules(net, settings, self.history, n, None)
        self.evaluations = 0
        self.last = time.perf_counter()

    def _prepare(self) -> None:
        return None

    def _evaluate(self, params: np.ndarray, grad: np.ndarray) -> float:
        return self.objective(params, grad)


def _rprop(net: Network, objective: _Objective, settings: Settings, n: int) -> History:
    """Full-batch iRprop- with map-reduce gradients, as ``Network.train`` runs it."""
    history = History()
    rules = EpochRules(net, settings, history, n, None)
    state = net._optimizer_state(OPTIMIZERS["rprop"])
    grad = np.empty_like(net.params)
    try:
        with net._lock:
            net._training_runs += 1
            previous = net.params.copy()  # the parameters of the last finite loss
            for epoch in range(settings.epochs):
                start = time.perf_counter()
                total = objective(net.params, grad)
                if not (math.isfinite(total) and np.isfinite(grad).all()):
                    net.params[...] = previous
                    raise DivergenceError(
                        f"training diverged in epoch {epoch + 1}: the loss or its gradient "
                        "became infinite or NaN; the network keeps the last parameters that "
                        "gave a finite loss"
                    )
                previous[...] = net.params
                _engine.rprop_step(net.params, grad, state["state"])
                state["t"] += 1
                state["samples"] += n
                history.append(total / objective.weight_sum)
                history.seconds.append(time.perf_counter() - start)
                history.learning_rate.append(math.nan)
                if rules.end_epoch(epoch):
                    break
            rules.keep_best()
    except DivergenceError as exc:
        exc.history = history
        raise
    finally:
        rules.close()
    return history


def train(
    net: Network,
    X: Any,
    Y: Any,
    *,
    optimizer: str = "lbfgs",
    max_iter: int = 200,
    tol: float = 1e-4,
    alpha: float = 0.0,
    sample_weight: Any = None,
    max_fun: int = LBFGS_MAX_FUN,
    train_biases: bool = True,
    callback: Any = None,
) -> History:
    """Train ``net`` on Dask arrays by full-batch L-BFGS or iRprop-; return its history.

    Parameters
    ----------
    net : Network
    X : dask.array.Array of shape (n_samples, n_inputs)
        Chunked by rows (columns are brought into one chunk); persisted on the
        workers for the run.
    Y : dask.array.Array or array-like of shape (n_samples, n_outputs) or (n_samples,)
        Chunked like X (re-chunked to X's rows if not).
    optimizer : {"lbfgs", "rprop"}
    max_iter : int
        L-BFGS iterations, or Rprop epochs (one step each).
    tol, max_fun : float, int
        As in ``Network.train`` (L-BFGS's projected-gradient tolerance and its
        evaluation budget).
    alpha : float
        L2 penalty ``alpha / 2 * sum W^2``, divided by the weight sum as in
        ``Network.train``.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), optional
        Relative weights, as in ``Network.train``.
    train_biases : bool
    callback : callable, optional
        ``callback(iteration, logs)`` as in ``Network.train``; a false value stops.

    Returns
    -------
    History
        As ``Network.train`` returns it (one entry per iteration or epoch).
    """
    check_network(net)
    check_choice(optimizer, "optimizer", SOLVERS)
    max_iter = check_int(max_iter, "max_iter", 1)
    max_fun = check_int(max_fun, "max_fun", 1)
    tol = check_nonnegative(tol, "tol")
    alpha = check_nonnegative(alpha, "alpha")
    train_biases = check_bool(train_biases, "train_biases")
    chunks = _Chunks(net, X, Y, sample_weight)
    checks = chunks.compute(_chunk_check, _architecture_spec(net))
    if not all(finite for finite, _, _, _ in checks):
        raise_not_finite("X")
    problems = [problem for _, problem, _, _ in checks if problem is not None]
    if problems:
        raise ValueError(problems[0])
    scale = 1.0
    if chunks.W is not None:
        largest = max(largest for _, _, largest, _ in checks)
        if largest == 0.0:
            raise ValueError(
                "sample_weight sums to zero; at least one sample needs a positive weight"
            )
        smallest = min(smallest for _, _, _, smallest in checks)
        relative_weights(np.array([largest, smallest]), net.dtype)  # representable, or refused
        scale = 1.0 / largest
    objective = _Objective(net, chunks, alpha, train_biases, scale)
    settings = Settings(
        epochs=max_iter, batch=chunks.n, learning_rate=1.0, shuffle=False, seed=None,
        train_biases=train_biases, optimizer=OPTIMIZERS[optimizer], momentum=0.0,
        nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, alpha=alpha,
        schedule="constant", power_t=0.5, sample_weight=None, engine_checks_inputs=False,
        validation=None, score=None, early_stopping=False, tol=tol, n_iter_no_change=None,
        callback=callback, verbose=False, max_fun=max_fun, dropout=None,
    )  # fmt: skip
    if optimizer == "rprop":
        return _rprop(net, objective, settings, chunks.n)
    return _DaskLbfgs(net, objective, settings, chunks.n).run()
