"""``Network``: the Python face of the engine.

It validates and converts every input once, owns the flat parameter buffer
(``weights`` and ``biases`` are views into it), the reusable work buffers and
the optimiser's state, and hands predictions, losses and gradients to
:mod:`fastbp._engine` and training runs to :mod:`fastbp._training`.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastbp import _engine
from fastbp._progress import Display
from fastbp._sparse import Inputs, SparseRows, as_sparse_rows, engine_x, is_sparse
from fastbp._stream import Stream, is_stream
from fastbp._training import History, StreamRun, check_settings, run_class
from fastbp._validation import (
    as_matrix,
    check_bytes,
    check_seed,
    check_targets,
    objects_as_float,
    raise_not_finite,
    refuse_masked,
)
from fastbp.activations import ACTIVATIONS, LOSSES, RELU_FAMILY
from fastbp.architecture import FIELDS, Architecture
from fastbp.optimizers import LBFGS_MAX_FUN, Optimizer

_PREDICT_OK = _engine.PREDICT_STATUS["ok"]
_PREDICT_BAD_INPUT = _engine.PREDICT_STATUS["bad_input"]
_PREDICT_NOT_READY = _engine.PREDICT_STATUS["not_ready"]

# Rows that predict, loss and gradients push through the engine at a time, so
# their work buffers stay small whatever the number of samples: CHUNK_ROWS, or
# as many as take CHUNK_BYTES in a network wider than that allows (at least one).
CHUNK_ROWS = 1024
CHUNK_BYTES = 2**26


def _overflow(what: str, *arrays: Any) -> ValueError:
    """The error of finite inputs (arrays, or the values of sparse ones) that overflow."""
    values = [a.values if isinstance(a, SparseRows) else np.asarray(a) for a in arrays]
    largest = max((float(np.max(np.abs(v))) for v in values if v.size), default=0.0)
    return ValueError(
        f"{what} overflowed to infinity or NaN although every input is finite: values of "
        f"magnitude up to {largest:.3g} are too large for this network's parameters in its "
        "dtype; scale the data down (e.g. to unit variance)"
    )


def _check_parameter_bytes(architecture: Architecture) -> None:
    """Refuse a network whose parameters cannot be allocated, with the float64
    draw of a layer's initial weights that building it takes (counted exactly)."""
    sizes, n_params = architecture.sizes, architecture.n_params
    draw = max(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    check_bytes(
        n_params * np.dtype(architecture.dtype).itemsize + draw * 8,
        f"a network of sizes {str(list(sizes)):.80} ({n_params:,} parameters in "
        f"{architecture.dtype}, and the float64 draw of its largest layer's initial weights)",
    )


def layer_views(
    sizes: tuple[int, ...], flat: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-layer ``(n_in, n_out)`` weight and ``(n_out,)`` bias views into a flat buffer."""
    weights, biases = [], []
    offset = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(flat[offset : offset + n_in * n_out].reshape(n_in, n_out))
        offset += n_in * n_out
        biases.append(flat[offset : offset + n_out])
        offset += n_out
    return weights, biases


class LayerViews(list):  # type: ignore[type-arg]
    """A list of a network's per-layer views whose items are written, never rebound.

    ``views[l] = value`` copies ``value``, checked by ``check(value, name,
    shape)``, into the view ``l``; so does ``views[l] += ...``.  The network
    hands out a new list each time, so changing the list itself (``append``,
    ``del``) changes nothing in the network.  A copy or pickle is a plain list.
    """

    def __init__(
        self, views: list[np.ndarray], name: str, check: Callable[[Any, str, tuple[int, ...]], Any]
    ) -> None:
        super().__init__(views)
        self._name = name
        self._check = check

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice) or not isinstance(index, numbers.Integral):
            raise TypeError(
                f"{self._name} are assigned one layer at a time: "
                f"{self._name}[l] = array; got the index {index!r}"
            )
        layer = range(len(self))[index]  # IndexError out of range
        view = self[layer]
        view[...] = self._check(value, f"{self._name}[{layer}]", view.shape)

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


class Network:
    """A multilayer feed-forward network trained by back-propagation.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``[784, 16, 16, 10]`` has two hidden layers.
    activation : str
        Activation of the hidden layers: ``sigmoid``, ``tanh``, ``relu``,
        ``leaky_relu`` (slope 0.01) or ``identity``.
    output_activation : str
        Activation of the output layer: any of the above, ``softmax`` or
        ``exp`` (the mean of a Poisson model, with ``loss="poisson"``).
    loss : str
        Per sample, summed over the outputs, with e = o - t:
        ``squared_error`` (e^2 / 2), ``cross_entropy`` (binary with a
        sigmoid output, categorical with softmax), ``poisson`` (half the
        Poisson deviance t log(t / o) - t + o, with an ``exp`` output and
        targets >= 0), ``huber`` (e^2 / 2 for |e| <= 1, |e| - 1/2 beyond) or
        ``absolute_error`` (|e|).
    dtype : str
        ``float64`` or ``float32``: parameters, buffers and arithmetic.
    seed : int or None
        Seed of the initial weights (Glorot-uniform, He-uniform for ReLU-family
        layers; biases start at zero), and of the shuffles of :meth:`train`
        calls that give no ``seed`` of their own: a seeded network builds and
        trains the same way every time it is run.  None draws the initial
        weights, and those shuffles, from fresh entropy: different every run.
    weights, biases : list of array-like, optional
        Exact initial values, of shapes ``(n_in, n_out)`` and ``(n_out,)``.

    Notes
    -----
    Threads: ``train`` holds a per-network lock, so two trainings of one
    network take turns.  ``predict``, ``loss`` and ``gradients`` take no lock:
    during a training run in another thread they never crash, and compute
    from the parameters of some recent update.

    Examples
    --------
    >>> import fastbp as fb
    >>> net = fb.Network([2, 3, 1], seed=0)
    >>> net.predict([[0.0, 1.0]]).shape
    (1, 1)
    >>> net.params.size
    13
    """

    def __init__(
        self,
        sizes: Any,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "squared_error",
        dtype: Any = "float64",
        seed: int | None = None,
        weights: Any = None,
        biases: Any = None,
    ) -> None:
        self.architecture = Architecture(sizes, activation, output_activation, loss, dtype)
        # predict reads these on every call: keep them ready (the architecture is frozen).
        self._sizes = self.architecture.sizes
        self._dtype = np.dtype(self.architecture.dtype)
        self.seed = check_seed(seed)
        _check_parameter_bytes(self.architecture)
        row_bytes = self.architecture.n_units * self._dtype.itemsize
        self._chunk_rows = max(1, min(CHUNK_ROWS, CHUNK_BYTES // row_bytes))
        codes = [ACTIVATIONS[name] for name in self.architecture.layer_activations]
        self._layout = _engine.Layout(self.sizes, codes, LOSSES[loss])
        self._params = np.zeros(self._layout.n_params, dtype=self.dtype)
        self._weights, self._biases = layer_views(self.sizes, self._params)
        self._init_params(weights, biases)
        self._lock = threading.Lock()
        self._workspace: dict[str, np.ndarray] = {}
        self._workspace_shape = (0, 0)
        self._optimizer: dict[str, Any] = {}
        # Training runs begun, for the shuffle seed of a seeded network's next
        # run (see train's seed); kept by pickles and copies.
        self._training_runs = 0

    # -- parameters ---------------------------------------------------------

    @property
    def params(self) -> np.ndarray:
        """All weights and biases in one flat array, layer by layer: W(l) row-major, then b(l).

        Writable in place.  ``net.params = values`` copies the values in,
        checked like the constructor's ``weights``: shape ``(n_params,)``, real
        numbers, finite and representable in the network's dtype.
        """
        return self._params

    @params.setter
    def params(self, values: Any) -> None:
        self._params[...] = self._given(values, "params", self._params.shape)

    @property
    def weights(self) -> list[np.ndarray]:
        """Per-layer ``(n_in, n_out)`` weight matrices: views into ``params``.

        Assigning the list (``net.weights = [...]``) or one item
        (``net.weights[0] = W``) copies the values into the views, checked like
        the constructor's ``weights``.
        """
        return LayerViews(self._weights, "weights", self._given)

    @weights.setter
    def weights(self, values: Any) -> None:
        self._store_layers("weights", values, self._weights)

    @property
    def biases(self) -> list[np.ndarray]:
        """Per-layer ``(n_out,)`` bias vectors: views into ``params``, assigned like ``weights``."""
        return LayerViews(self._biases, "biases", self._given)

    @biases.setter
    def biases(self, values: Any) -> None:
        self._store_layers("biases", values, self._biases)

    def _store_layers(self, name: str, given: Any, views: list[np.ndarray]) -> None:
        """Copy one array per layer into ``views``, once every one of them is checked."""
        n_layers = len(views)
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
            raise TypeError(
                f"{name} must be a list of {n_layers} arrays, one per layer; got {given!r:.80}"
            )
        if len(given) != n_layers:
            raise ValueError(
                f"{name} must be a list of {n_layers} arrays, one per layer; "
                f"got {len(given)} entries"
            )
        arrays = [
            self._given(value, f"{name}[{l}]", view.shape)
            for l, (value, view) in enumerate(zip(given, views))
        ]
        for view, array in zip(views, arrays):
            view[...] = array

    def _init_params(self, weights: Any, biases: Any) -> None:
        """Glorot- or He-uniform weights (or the given ones), zero (or the given) biases."""
        if weights is None:
            rng = np.random.default_rng(self.seed)
            for W, activation in zip(self._weights, self.architecture.layer_activations):
                n_in, n_out = W.shape
                fan = n_in if activation in RELU_FAMILY else n_in + n_out
                W[...] = rng.uniform(-np.sqrt(6.0 / fan), np.sqrt(6.0 / fan), size=W.shape)
        else:
            self.weights = weights
        if biases is not None:
            self.biases = biases

    def _given(self, value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
        not_numbers = TypeError(f"{name} must be an array of (real) numbers of shape {shape}")
        refuse_masked(value, name)
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            raise not_numbers from None
        if array.dtype.kind == "O":
            array = objects_as_float(array, name)
        elif array.dtype.kind not in "biuf":
            raise not_numbers
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}; expected {shape}")
        if not np.isfinite(array).all():
            raise_not_finite(name)
        with np.errstate(over="ignore"):
            converted = array.astype(self.dtype)
        if not np.isfinite(converted).all():
            raise ValueError(f"{name} has values too large for {self.dtype.name}")
        return converted

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first."""
        return self._sizes

    @property
    def activation(self) -> str:
        """Activation of the hidden layers."""
        return self.architecture.activation

    @property
    def output_activation(self) -> str:
        """Activation of the output layer."""
        return self.architecture.output_activation

    @property
    def loss_name(self) -> str:
        """The loss trained on (``loss`` is the method that computes it)."""
        return self.architecture.loss

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters, buffers and arithmetic."""
        return self._dtype

    @property
    def n_inputs(self) -> int:
        """Width of the input layer."""
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        """Width of the output layer."""
        return self.sizes[-1]

    def __repr__(self) -> str:
        fields = self.architecture.to_dict()
        sizes = fields.pop("sizes")
        return f"Network({sizes}, {', '.join(f'{k}={v!r}' for k, v in fields.items())})"

    # -- pickling: the configuration, the parameters and the optimiser's state,
    # never C state -------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        optimizer = self._optimizer
        return {
            **self.architecture.to_dict(),
            "sizes": self.sizes,
            "seed": self.seed,
            "params": self.params.copy(),
            "training_runs": self._training_runs,
            # the optimiser's state, so that training goes on where it stopped
            # after a pickle or a copy (dask-ml's Incremental ships the estimator
            # to a worker for each block); the gradient buffer is scratch
            "optimizer": None
            if not optimizer
            else {
                "code": optimizer["code"],
                "state": optimizer["state"].copy(),
                "t": optimizer["t"],
                "samples": optimizer["samples"],
            },
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        architecture = {name: state[name] for name in FIELDS}
        self.__init__(**architecture, seed=state["seed"])  # type: ignore[misc]
        params = np.asarray(state["params"], dtype=self.dtype)
        if params.shape != self.params.shape:
            raise ValueError("the pickled parameters do not match the pickled architecture")
        self.params[...] = params
        # Pickles from before the count was kept: as a network never trained.
        self._training_runs = int(state.get("training_runs", 0))
        optimizer = state.get("optimizer")
        if optimizer is not None:
            saved = np.asarray(optimizer["state"], dtype=self.dtype)
            if saved.size % max(params.size, 1):
                raise ValueError("the pickled optimiser state does not match the parameters")
            self._optimizer = {
                "code": int(optimizer["code"]),
                "grad": np.zeros_like(self.params),
                "state": saved.copy(),
                "t": int(optimizer["t"]),
                "samples": int(optimizer["samples"]),
            }

    def save(self, path: Any, history: Any = None, metadata: dict[str, Any] | None = None) -> None:
        """Write the network to ``path`` in fastbp's safe model format (see :mod:`fastbp.io`)."""
        from fastbp.io import save

        save(self, path, history=history, metadata=metadata)

    # -- inputs -------------------------------------------------------------

    def _inputs(self, X: Any, check_finite: bool = True) -> Inputs:
        """X as the engine takes it: a dense matrix, or a SciPy sparse one as CSR."""
        if is_sparse(X):
            rows = as_sparse_rows(X, "X", self.dtype, self.sizes[0])
            if check_finite and not rows.all_finite():
                raise_not_finite("X")
            return rows
        return as_matrix(X, "X", self.dtype, self.sizes[0], check_finite=check_finite)

    def _data(self, X: Any, Y: Any, check_x: bool = True) -> tuple[Inputs, np.ndarray]:
        """X and Y as arrays the engine takes; with ``check_x=False`` the caller
        checks X for NaN and infinity."""
        X = self._inputs(X, check_finite=check_x)
        if is_sparse(Y):
            raise TypeError("Y must be a dense array; only the inputs X may be sparse")
        Y = as_matrix(Y, "Y", self.dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} samples but Y has {Y.shape[0]}; they must have the same number"
            )
        if Y.shape[1] != self.sizes[-1]:
            raise ValueError(
                f"Y has {Y.shape[1]} columns; the network has {self.sizes[-1]} outputs "
                f"(expected shape ({Y.shape[0]}, {self.sizes[-1]}))"
            )
        check_targets(Y, self.output_activation, self.loss_name)
        return X, Y

    def _buffer(self, rows: int) -> np.ndarray:
        return np.empty(rows * self._layout.n_units, dtype=self.dtype)

    # -- inference ----------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Outputs of the network for each row of X, shape ``(n_samples, n_outputs)``.

        Examples
        --------
        >>> import fastbp as fb
        >>> net = fb.Network([2, 2], output_activation="identity",
        ...                  weights=[[[1, 0], [0, 1]]], biases=[[0.5, -0.5]])
        >>> net.predict([[1.0, 2.0]])
        array([[1.5, 1.5]])

        Raises ``ValueError`` for inputs that are not finite numbers of the right
        shape, and for finite inputs so large that the outputs overflow to
        infinity or NaN: predict never returns either.
        """
        # An array ready as it is goes straight to the engine (a single sample's
        # latency is mostly this call); anything else is converted or refused first.
        status, out = self._layout.predict(self._params, X, self._chunk_rows)
        if status == _PREDICT_NOT_READY:
            if is_sparse(X):
                rows = as_sparse_rows(X, "X", self._dtype, self._sizes[0])
                status, out = self._layout.predict_csr(
                    self._params, rows.values.ravel(), rows.indptr, rows.indices, self._chunk_rows
                )
                X = rows.values
            else:
                X = as_matrix(X, "X", self._dtype, self._sizes[0], check_finite=False)
                status, out = self._layout.predict(self._params, X, self._chunk_rows)
        if status == _PREDICT_OK:
            return out
        if status == _PREDICT_BAD_INPUT:
            raise_not_finite("X")
        raise _overflow("the output", X)

    def loss(self, X: Any, Y: Any) -> float:
        """Mean over the samples of the per-sample loss (finite, or ``ValueError``)."""
        X, Y = self._data(X, Y)
        total = self._loss_total(X, Y)
        if not math.isfinite(total):
            raise _overflow("the loss", X, Y)
        return total / X.shape[0]

    def _loss_total(self, X: Inputs, Y: np.ndarray) -> float:
        """The summed per-sample loss over arrays already checked by ``_data``."""
        rows = min(X.shape[0], self._chunk_rows)
        x, options = engine_x(X)
        return float(
            _engine.loss_sum(self._layout, self.params, x, Y, self._buffer(rows), rows, **options)
        )

    def gradients(self, X: Any, Y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradient of :meth:`loss` with respect to the weights and the biases.

        Returns ``(dW, db)``: lists shaped like ``weights`` and ``biases``.
        The parameters are not changed.  Like :meth:`loss`, finite or ``ValueError``.
        """
        return layer_views(self.sizes, self.flat_gradient(X, Y))

    def flat_gradient(self, X: Any, Y: Any) -> np.ndarray:
        """Gradient of :meth:`loss` as one array laid out like ``params``."""
        X, Y = self._data(X, Y)
        rows = min(X.shape[0], self._chunk_rows)
        grad = np.empty_like(self.params)
        x, options = engine_x(X)
        total = _engine.gradient_into(
            self._layout,
            self.params,
            x,
            Y,
            grad,
            self._buffer(rows),
            self._buffer(rows),
            rows,
            **options,
        )
        if not (math.isfinite(total) and np.isfinite(grad).all()):
            raise _overflow("the gradient", x, Y)
        return grad

    # -- training -----------------------------------------------------------

    def _workspace_lengths(self, rows: int, n_in: int, n_out: int) -> dict[str, int]:
        """The length of each work buffer of training in batches of ``rows``."""
        n_units = self._layout.n_units
        return {
            "acts": rows * n_units,
            "deltas": rows * n_units,
            "xb": rows * n_in,
            "yb": rows * n_out,
            "swb": rows,
            "backup": 2 * self.params.size,
        }

    def _check_training_bytes(self, rows: int, n_in: int, optimizer: Optimizer) -> None:
        """Refuse, before anything is allocated, a training call whose buffers and
        the parameters cannot all be allocated: the work buffers, the parameters
        and their copy at the start, and the optimiser's gradient and state with
        the copy of that state kept for a rollback (counted in Python ints)."""
        workspace = sum(self._workspace_lengths(rows, n_in, self.n_outputs).values())
        copies = (3 + 2 * len(optimizer.state)) * self.params.size
        check_bytes(
            (workspace + copies) * self.dtype.itemsize,
            f"training in batches of {rows:,} rows with the {optimizer.name!r} optimiser",
        )

    def _training_buffers(self, rows: int, n_in: int, n_out: int) -> dict[str, np.ndarray]:
        """Work buffers for batches of ``rows``, kept and reused across calls."""
        if self._workspace_shape != (rows, n_in):
            lengths = self._workspace_lengths(rows, n_in, n_out)
            self._workspace, self._workspace_shape = {}, (0, 0)  # the old ones go first
            self._workspace = {
                name: np.empty(length, dtype=self.dtype) for name, length in lengths.items()
            }
            self._workspace_shape = (rows, n_in)
        return self._workspace

    def _optimizer_state(self, optimizer: Optimizer) -> dict[str, Any]:
        """The gradient buffer and state of ``optimizer``, allocated once and kept."""
        if self._optimizer.get("code") != optimizer.code:
            n = self.params.size
            state = np.empty(len(optimizer.state) * n, dtype=self.dtype)
            for k, (_, initial) in enumerate(optimizer.state):
                state[k * n : (k + 1) * n] = initial
            self._optimizer = {
                "code": optimizer.code,
                "grad": np.zeros(n, dtype=self.dtype),
                "state": state,
                "t": 0,
                "samples": 0,
            }
        return self._optimizer

    def reset_optimizer(self) -> None:
        """Forget the optimiser's state (velocity, moments, step sizes, time step).

        :meth:`train` keeps that state from one call to the next while the
        optimiser stays the same, so that training in several calls continues
        where it stopped.
        """
        self._optimizer = {}

    def train(
        self,
        X: Any,
        Y: Any,
        epochs: int = 10,
        batch_size: int | None = 32,
        learning_rate: float = 0.5,
        shuffle: bool = True,
        seed: int | None = None,
        train_biases: bool = True,
        *,
        optimizer: str = "sgd",
        momentum: float = 0.0,
        nesterov: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0,
        schedule: str = "constant",
        power_t: float = 0.5,
        sample_weight: Any = None,
        validation_data: tuple[Any, Any] | None = None,
        score: Callable[[Network], float] | None = None,
        early_stopping: bool = False,
        tol: float = 1e-4,
        n_iter_no_change: float | None = None,
        callback: Callable[[int, dict[str, float]], Any] | None = None,
        verbose: bool = False,
        max_fun: int = LBFGS_MAX_FUN,
        dropout: Any = None,
    ) -> History:
        """Train by mini-batch gradient descent; return the mean loss of each epoch.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, n_inputs) and (n_samples, n_outputs)
        epochs : int
            Passes over the data (at most, when training may stop early).
            Unless it may stop early (a stopping rule or a callback), a number
            whose history (56 bytes an epoch) would not fit in memory is refused.
        batch_size : int or None
            Samples per update: 1 is online learning, None (or at least the
            number of samples) full-batch gradient descent.  A batch's gradient
            is the mean over its samples.
        learning_rate : float
            Step size, > 0 (the initial one under a schedule; unused by Rprop
            and L-BFGS).
        shuffle : bool
            Reshuffle the samples before each epoch (ignored for full batches).
        seed : int or None
            Seed of the shuffle; the same seed gives the same order as
            :mod:`fastbp.reference`.  None: if the network was built with a
            ``seed``, a shuffle seed derived from that seed and the number of
            training runs this network began before (so a script run twice
            trains the same way, and each call of ``train`` continues with a
            different order); if it was built with ``seed=None``, fresh
            entropy.  Pickles and copies keep that count; a network read by
            :func:`fastbp.io.load` has no seed.
        train_biases : bool
            False keeps the biases fixed, as in the classic worked example.
        optimizer : {"sgd", "adam", "rprop", "lbfgs"}
            ``sgd`` is gradient descent, with ``momentum`` (and ``nesterov``)
            if momentum > 0; ``adam`` uses ``beta_1``, ``beta_2``, ``epsilon``
            (scikit-learn's defaults); ``rprop`` is iRprop-, FANN's default,
            for full batches only (``batch_size=None``).  The optimiser's state
            carries over to the next call while the optimiser stays the same
            (see :meth:`reset_optimizer`).  ``lbfgs`` is SciPy's L-BFGS-B
            over all the parameters, for full batches only: it minimises the
            mean loss plus ``alpha / 2 * sum W^2`` divided by the number of
            samples (by the weight sum with sample weights), as
            scikit-learn's lbfgs solver; ``epochs`` bounds its iterations (each
            an "epoch" of the history), ``max_fun`` its loss evaluations, and
            it stops once no projected gradient entry exceeds ``tol``.  Each
            evaluation is one call of the engine without the GIL; the network
            takes each accepted iterate, so an interrupted run keeps the last.
            It keeps no state from one call to the next.
        momentum, nesterov, beta_1, beta_2, epsilon : float, bool
            Hyperparameters of the optimisers, as in scikit-learn's MLP.
        alpha : float
            L2 penalty ``alpha / 2 * sum W^2`` on the weights (not the biases),
            divided by the batch size as in scikit-learn: each batch's gradient
            gains ``alpha / batch * W``.
        schedule : {"constant", "invscaling", "adaptive"}
            ``invscaling`` uses ``learning_rate / (samples_seen + 1) ** power_t``
            in each epoch, counting the samples this optimiser state has
            trained on; ``adaptive`` divides the rate by 5 whenever more than
            ``n_iter_no_change`` (10 if None) consecutive epochs fail to
            improve the monitored value by ``tol``, and stops instead once the
            rate is at most 1e-6.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each sample in the loss and gradient; a
            batch's gradient is divided by its weight sum.  Weights are
            relative: they are divided by the largest first (so ``c * w``
            trains exactly like ``w``, and the largest weight counts as one
            sample in the L2 penalty's ``alpha / batch``); weights whose
            smallest positive one is less than the dtype's smallest normal
            number times the largest are refused.
        validation_data : (X_val, Y_val), optional
            Evaluated after each epoch into ``history.val_loss``.
        score : callable, optional
            ``score(net) -> float`` (higher is better), evaluated after each
            epoch into ``history.val_score``.
        early_stopping : bool
            Monitor ``score`` (or else the validation loss), keep the best
            parameters seen and restore them at the end; stop after
            ``n_iter_no_change`` (10 if None) epochs without an improvement of
            ``tol``.
        tol : float
            The improvement that counts.
        n_iter_no_change : int, inf or None
            Without early stopping: stop once the training loss has failed to
            improve by ``tol`` for more than this many consecutive epochs (as
            scikit-learn counts).  None never stops early; nor does
            ``math.inf``, which also makes early stopping keep the best
            epoch without ever stopping.
        callback : callable, optional
            ``callback(epoch, logs)`` after each epoch (``epoch`` from 0), with
            a new dict ``logs`` each time.  It always holds ``loss`` (the
            epoch's mean training loss), ``seconds`` (its training time) and
            ``learning_rate`` (the rate it used); ``val_loss`` only with
            ``validation_data``, ``val_score`` only with ``score``.  Returning
            None (or nothing) or a true value goes on; a false value
            (``False``, ``np.False_``, ``0``, ...) stops training after this
            epoch; a value with no truth value (an array of several values)
            raises ``TypeError``.
        verbose : bool
            Show a progress bar on stderr (tqdm, if installed, redrawn at most
            twice a second; else lines: the first and last epoch, and about one
            a second in between), with a line saying why training stopped if
            a stopping rule or the callback ended it.

        dropout : float, sequence of float or None
            Inverted dropout while training: each unit of a hidden layer is
            left out of each sample's forward and backward pass with this
            probability (one rate for every hidden layer, or one per hidden
            layer, each in [0, 1)), and the units kept are scaled by 1 / (1 -
            rate), so that predict, loss and the validation loss (which never
            drop) see the same expected activations.  The masks come from the
            engine's own generator, seeded like the shuffle: the same seed
            drops the same units as :mod:`fastbp.reference`.  Not with L-BFGS.
        max_fun : int
            L-BFGS only: the most loss evaluations it may make (scikit-learn's
            ``max_fun``); reaching it ends training with ``history.converged``
            False.

        Returns
        -------
        History
            A list of the mean per-sample loss of each epoch (each batch
            measured just before its update; with ``alpha`` the penalty is
            included), with attributes ``val_loss``, ``val_score``,
            ``seconds``, ``learning_rate`` (per epoch), ``best_epoch`` and
            ``stop_reason`` (why training ended early, or None).

        Raises
        ------
        DivergenceError
            If the loss or the parameters stop being finite; the network then
            holds the last parameters that gave a finite loss on a whole batch
            (under early stopping, the best parameters seen) and the
            exception's ``history`` the epochs trained.

        Examples
        --------
        >>> import fastbp as fb
        >>> net = fb.Network([2, 4, 1], seed=0)
        >>> X, Y = [[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]]
        >>> h = net.train(X, Y, epochs=3, batch_size=2, learning_rate=0.01, optimizer="adam",
        ...               validation_data=(X, Y), seed=0)
        >>> len(h), len(h.val_loss), len(h.seconds)
        (3, 3, 3)
        """
        return self._train(
            X, Y, None, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            shuffle=shuffle, seed=seed, train_biases=train_biases, optimizer=optimizer,
            momentum=momentum, nesterov=nesterov, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            alpha=alpha, schedule=schedule, power_t=power_t, sample_weight=sample_weight,
            validation_data=validation_data, score=score, early_stopping=early_stopping, tol=tol,
            n_iter_no_change=n_iter_no_change, callback=callback, verbose=verbose,
            max_fun=max_fun, dropout=dropout,
        )  # fmt: skip

    def _train(self, X: Any, Y: Any, display: Display | None, **options: Any) -> History:
        """:meth:`train` with every keyword argument after Y given in ``options``
        (no defaults), showing its epochs on ``display`` (with ``verbose=True``)
        instead of the display ``verbose`` picks."""
        if is_stream(X):
            stream = Stream(self, X, Y)
            settings = check_settings(self, stream, **options)
            return StreamRun(self, stream, Y, settings, display).run()
        X, Y = self._data(X, Y, check_x=False)
        settings = check_settings(self, X, **options)
        return run_class(settings)(self, X, Y, settings, display).run()


def check_network(net: Any) -> None:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")


def train(net: Network, X: Any, Y: Any, **kwargs: Any) -> list[float]:
    """Functional form of :meth:`Network.train`."""
    check_network(net)
    return net.train(X, Y, **kwargs)


def predict(net: Network, X: Any) -> np.ndarray:
    """Functional form of :meth:`Network.predict`."""
    check_network(net)
    return net.predict(X)
