"""``Network``: the Python face of the engine.

It validates and converts every input once, owns the flat parameter buffer
(``weights`` and ``biases`` are views into it) and the reusable work buffers,
and hands whole epochs to :mod:`fastbp._engine`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastbp import _engine
from fastbp._progress import progress_bar
from fastbp._validation import (
    SCHEDULES,
    as_matrix,
    check_choice,
    check_dtype,
    check_int,
    check_learning_rate,
    check_nonnegative,
    check_optimizer,
    check_positive,
    check_sample_weight,
    check_seed,
    check_sizes,
    check_targets,
    raise_not_finite,
)
from fastbp.activations import ACTIVATIONS, LOSSES, RELU_FAMILY, check_names

_PREDICT_OK = _engine.PREDICT_STATUS["ok"]
_PREDICT_BAD_INPUT = _engine.PREDICT_STATUS["bad_input"]

# Rows that predict, loss and gradients push through the engine at a time, so
# their work buffers stay small whatever the number of samples.
CHUNK_ROWS = 1024

# Rprop's initial step size (FANN's rprop_delta_zero).
RPROP_STEP_INIT = 0.1
# The adaptive schedule stops instead of dividing a learning rate this small.
ADAPTIVE_MIN_RATE = 1e-6


class DivergenceError(FloatingPointError):
    """Training stopped because the loss or the parameters stopped being finite."""


def _overflow(what: str, *arrays: np.ndarray) -> ValueError:
    largest = max(float(np.max(np.abs(a))) for a in arrays)
    return ValueError(
        f"{what} overflowed to infinity or NaN although every input is finite: values of "
        f"magnitude up to {largest:.3g} are too large for this network's parameters in its "
        "dtype; scale the data down (e.g. to unit variance)"
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
        Activation of the output layer: any of the above or ``softmax``.
    loss : str
        ``squared_error`` (1/2 sum (t - o)^2 per sample) or ``cross_entropy``
        (binary with a sigmoid output, categorical with softmax).
    dtype : str
        ``float64`` or ``float32``: parameters, buffers and arithmetic.
    seed : int or None
        Seed of the initial weights (Glorot-uniform, He-uniform for ReLU-family
        layers; biases start at zero).
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
        self.sizes = check_sizes(sizes)
        check_names(activation, output_activation, loss)
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        n_layers = len(self.sizes) - 1
        codes = [ACTIVATIONS[activation]] * (n_layers - 1) + [ACTIVATIONS[output_activation]]
        self._layout = _engine.Layout(self.sizes, codes, LOSSES[loss])
        self._set_params(np.zeros(self._layout.n_params, dtype=self.dtype))
        self._init_params(weights, biases)
        self._lock = threading.Lock()
        self._workspace: dict[str, np.ndarray] = {}
        self._workspace_rows = 0
        self._optimizer: dict[str, Any] = {}

    # -- parameters ---------------------------------------------------------

    def _set_params(self, params: np.ndarray) -> None:
        self.params = params
        self.weights, self.biases = layer_views(self.sizes, params)

    def _init_params(self, weights: Any, biases: Any) -> None:
        rng = np.random.default_rng(self.seed)
        n_layers = len(self.sizes) - 1
        for name, given in (("weights", weights), ("biases", biases)):
            if given is None:
                continue
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise TypeError(
                    f"{name} must be a list of {n_layers} arrays, one per layer; got {given!r:.80}"
                )
            if len(given) != n_layers:
                raise ValueError(
                    f"{name} must be a list of {n_layers} arrays, one per layer; "
                    f"got {len(given)} entries"
                )
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            n_in, n_out = W.shape
            layer_activation = self.activation if l < n_layers - 1 else self.output_activation
            if weights is None:
                if layer_activation in RELU_FAMILY:
                    limit = np.sqrt(6.0 / n_in)
                else:
                    limit = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-limit, limit, size=W.shape)
            else:
                W[...] = self._given(weights[l], f"weights[{l}]", (n_in, n_out))
            if biases is not None:
                b[...] = self._given(biases[l], f"biases[{l}]", (n_out,))

    def _given(self, value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
        not_numbers = TypeError(f"{name} must be an array of (real) numbers of shape {shape}")
        try:
            array = np.asarray(value)
            real = array.dtype.kind in "biufO"
            if real:
                array = array.astype(np.float64)
        except OverflowError:
            raise ValueError(f"{name} has values too large for float64") from None
        except (TypeError, ValueError):
            raise not_numbers from None
        if not real:
            raise not_numbers
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}; expected {shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity; every value must be finite")
        with np.errstate(over="ignore"):
            converted = array.astype(self.dtype)
        if not np.isfinite(converted).all():
            raise ValueError(f"{name} has values too large for {self.dtype.name}")
        return converted

    @property
    def n_inputs(self) -> int:
        """Width of the input layer."""
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        """Width of the output layer."""
        return self.sizes[-1]

    def __repr__(self) -> str:
        return (
            f"Network({list(self.sizes)}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, loss={self.loss_name!r}, "
            f"dtype={self.dtype.name!r})"
        )

    # -- pickling: the configuration and the parameters, never C state -------

    def __getstate__(self) -> dict[str, Any]:
        return {
            "sizes": self.sizes,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss_name,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "params": self.params.copy(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["sizes"],
            activation=state["activation"],
            output_activation=state["output_activation"],
            loss=state["loss"],
            dtype=state["dtype"],
            seed=state["seed"],
        )
        params = np.asarray(state["params"], dtype=self.dtype)
        if params.shape != self.params.shape:
            raise ValueError("the pickled parameters do not match the pickled architecture")
        self.params[...] = params

    def save(self, path: Any, history: Any = None, metadata: dict[str, Any] | None = None) -> None:
        """Write the network to ``path`` in fastbp's safe model format (see :mod:`fastbp.io`)."""
        from fastbp.io import save

        save(self, path, history=history, metadata=metadata)

    # -- inputs -------------------------------------------------------------

    def _data(self, X: Any, Y: Any, check_x: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """X and Y as arrays the engine takes; with ``check_x=False`` the caller
        checks X for NaN and infinity."""
        X = as_matrix(X, "X", self.dtype, self.sizes[0], check_finite=check_x)
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
        X = as_matrix(X, "X", self.dtype, self.sizes[0], check_finite=False)
        status, out = self._layout.predict(self.params, X, CHUNK_ROWS)
        if status == _PREDICT_OK:
            return out
        if status == _PREDICT_BAD_INPUT:
            raise_not_finite("X")
        raise _overflow("the output", X)

    def loss(self, X: Any, Y: Any) -> float:
        """Mean over the samples of the per-sample loss (finite, or ``ValueError``)."""
        X, Y = self._data(X, Y)
        rows = min(X.shape[0], CHUNK_ROWS)
        total = _engine.loss_sum(self._layout, self.params, X, Y, self._buffer(rows), rows)
        if not math.isfinite(total):
            raise _overflow("the loss", X, Y)
        return float(total) / X.shape[0]

    def gradients(self, X: Any, Y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradient of :meth:`loss` with respect to the weights and the biases.

        Returns ``(dW, db)``: lists shaped like ``weights`` and ``biases``.
        The parameters are not changed.  Like :meth:`loss`, finite or ``ValueError``.
        """
        return layer_views(self.sizes, self.flat_gradient(X, Y))

    def flat_gradient(self, X: Any, Y: Any) -> np.ndarray:
        """Gradient of :meth:`loss` as one array laid out like ``params``."""
        X, Y = self._data(X, Y)
        rows = min(X.shape[0], CHUNK_ROWS)
        grad = np.empty_like(self.params)
        total = _engine.gradient_into(
            self._layout, self.params, X, Y, grad, self._buffer(rows), self._buffer(rows), rows
        )
        if not (math.isfinite(total) and np.isfinite(grad).all()):
            raise _overflow("the gradient", X, Y)
        return grad

    # -- training -----------------------------------------------------------

    def _training_buffers(self, rows: int, n_in: int, n_out: int) -> dict[str, np.ndarray]:
        """Work buffers for batches of ``rows``, kept and reused across calls."""
        if self._workspace_rows != rows:
            self._workspace = {
                "acts": self._buffer(rows),
                "deltas": self._buffer(rows),
                "xb": np.empty(rows * n_in, dtype=self.dtype),
                "yb": np.empty(rows * n_out, dtype=self.dtype),
                "wb": np.empty(rows, dtype=self.dtype),
                "backup": np.empty(2 * self.params.size, dtype=self.dtype),
            }
            self._workspace_rows = rows
        return self._workspace

    def _optimizer_state(self, code: int) -> dict[str, Any]:
        """The gradient buffer and state of optimiser ``code``, allocated once and kept."""
        if self._optimizer.get("code") != code:
            n = self.params.size
            k = _engine.OPTIMIZER_STATE[code]
            # Rprop's step sizes start at 0.1 (FANN's delta_zero), its previous gradient at 0.
            state = np.zeros(k * n, dtype=self.dtype)
            if code == _engine.OPTIMIZER_CODES["rprop"]:
                state[:n] = RPROP_STEP_INIT
            self._optimizer = {
                "code": code,
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
        n_iter_no_change: int | None = None,
        callback: Callable[[int, dict[str, float]], Any] | None = None,
        verbose: bool = False,
    ) -> History:
        """Train by mini-batch gradient descent; return the mean loss of each epoch.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, n_inputs) and (n_samples, n_outputs)
        epochs : int
            Passes over the data (at most, when training may stop early).
        batch_size : int or None
            Samples per update: 1 is online learning, None (or at least the
            number of samples) full-batch gradient descent.  A batch's gradient
            is the mean over its samples.
        learning_rate : float
            Step size, > 0 (the initial one under a schedule; unused by Rprop).
        shuffle : bool
            Reshuffle the samples before each epoch (ignored for full batches).
        seed : int or None
            Seed of the shuffle; the same seed gives the same order as
            :mod:`fastbp.reference`.
        train_biases : bool
            False keeps the biases fixed, as in the classic worked example.
        optimizer : {"sgd", "adam", "rprop"}
            ``sgd`` is gradient descent, with ``momentum`` (and ``nesterov``)
            if momentum > 0; ``adam`` uses ``beta_1``, ``beta_2``, ``epsilon``
            (scikit-learn's defaults); ``rprop`` is iRprop-, FANN's default,
            for full batches only (``batch_size=None``).  The optimiser's state
            carries over to the next call while the optimiser stays the same
            (see :meth:`reset_optimizer`).
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
            batch's gradient is divided by its weight sum.
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
        n_iter_no_change : int or None
            Without early stopping: stop once the training loss has failed to
            improve by ``tol`` for more than this many consecutive epochs (as
            scikit-learn counts).  None never stops early.
        callback : callable, optional
            ``callback(epoch, logs)`` after each epoch, ``logs`` holding
            ``loss``, ``val_loss``, ``val_score``, ``seconds`` and
            ``learning_rate``; returning ``False`` stops training.
        verbose : bool
            Show a progress bar (tqdm, if installed; else a line per epoch).

        Returns
        -------
        History
            A list of the mean per-sample loss of each epoch (each batch
            measured just before its update; with ``alpha`` the penalty is
            included), with attributes ``val_loss``, ``val_score``,
            ``seconds``, ``learning_rate`` (per epoch) and ``best_epoch``.

        Raises
        ------
        DivergenceError
            If the loss or the parameters stop being finite; the network then
            holds the last parameters that gave a finite loss on a whole batch.

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
        X, Y = self._data(X, Y, check_x=False)
        epochs = check_int(epochs, "epochs", 1)
        n = X.shape[0]
        batch = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
        learning_rate = check_learning_rate(learning_rate)
        if learning_rate > float(np.finfo(self.dtype).max):
            raise ValueError(f"learning_rate {learning_rate} is too large for {self.dtype.name}")
        seed = check_seed(seed)
        shuffle = bool(shuffle) and batch < n
        opt = check_optimizer(optimizer, momentum, nesterov, beta_1, beta_2, epsilon)
        alpha = check_nonnegative(alpha, "alpha")
        check_choice(schedule, "schedule", SCHEDULES)
        power_t = check_nonnegative(power_t, "power_t")
        tol = check_nonnegative(tol, "tol")
        if n_iter_no_change is not None:
            n_iter_no_change = check_int(n_iter_no_change, "n_iter_no_change", 1)
        if opt == "rprop" and batch < n:
            raise ValueError(
                f"optimizer='rprop' needs full batches (batch_size=None); got batch_size={batch}"
            )
        sw = None if sample_weight is None else check_sample_weight(sample_weight, n, self.dtype)
        # Reading all of X once more only to look for NaN costs as much as an
        # epoch's shuffled reads of it; where the engine's own first-layer
        # products see every NaN and infinity, it checks X while training
        # (every row passes through them, unless a batch of zero weight is
        # skipped).
        engine_checks_x = _engine.checks_inputs(self._layout, self.dtype.itemsize, batch, n) and (
            sw is None or bool(sw.all())
        )
        if not engine_checks_x and not _engine.all_finite(X):
            raise_not_finite("X")
        val = None if validation_data is None else self._validation(validation_data)
        if early_stopping and val is None and score is None:
            raise ValueError("early_stopping=True needs validation_data or a score function")
        per_epoch = bool(
            schedule != "constant"
            or val is not None
            or score is not None
            or early_stopping
            or n_iter_no_change is not None
            or callback is not None
            or verbose
        )
        code = _engine.OPTIMIZER_CODES[opt]
        state = (
            np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] if seed is None else seed
        )
        order = np.arange(n, dtype=np.int64) if shuffle else np.empty(0, dtype=np.int64)
        history = History()
        monitored = early_stopping or n_iter_no_change is not None or schedule == "adaptive"
        monitor = _Monitor(tol, 10 if n_iter_no_change is None else n_iter_no_change)
        best: np.ndarray | None = None
        rate = learning_rate
        settings: dict[str, Any] = {
            "optimizer": code,
            "l2": alpha,
            "mu": momentum,
            "nesterov": bool(nesterov),
            "beta_1": beta_1,
            "beta_2": beta_2,
            "epsilon": epsilon,
            "sw": sw,
        }
        total_weight = n if sw is None else float(sw.sum())
        progress = progress_bar(epochs, n, verbose)
        try:
            with self._lock:
                buf = self._training_buffers(batch, X.shape[1], Y.shape[1])
                initial = self.params.copy()
                # What must be as it was if the engine finds NaN in X (the
                # gradient buffer is scratch; a switch of optimiser replaces the dict).
                saved_optimizer = (
                    {k: (np.copy(v) if k == "state" else v) for k, v in self._optimizer.items()}
                    if engine_checks_x
                    else None
                )
                ost = self._optimizer_state(code)
                epoch = 0
                while epoch < epochs:
                    if schedule == "invscaling":
                        rate = learning_rate / (ost["samples"] + 1) ** power_t
                    chunk = 1 if per_epoch else epochs
                    losses = np.zeros(chunk)
                    start = time.perf_counter()
                    done, state, ost["t"] = _engine.train_epochs(
                        self._layout, self.params, X, Y, order, shuffle, int(state), batch,
                        buf["acts"], buf["deltas"], buf["xb"], buf["yb"], buf["backup"], losses,
                        rate, bool(train_biases), t=ost["t"], grad=ost["grad"],
                        opt_state=ost["state"], wb=buf["wb"], epoch0=epoch,
                        check_inputs=engine_checks_x, **settings,
                    )  # fmt: skip
                    seconds = time.perf_counter() - start
                    if done < chunk and saved_optimizer is not None and not _engine.all_finite(X):
                        # Bad data, found while training: leave the network as it was.
                        self.params[...] = initial
                        self._optimizer = saved_optimizer
                        raise_not_finite("X")
                    if not _engine.all_finite(self.params.reshape(1, -1)):
                        # The parameters overflowed although every loss the engine saw
                        # was finite (as after the very last update, measured before
                        # it): go back to the start of the last epoch, kept in the
                        # engine's backup, or failing that to where this call began.
                        if done == chunk:
                            done -= 1
                            slot = (epoch + done) % 2 * initial.size
                            self.params[...] = buf["backup"][slot : slot + initial.size]
                        if not _engine.all_finite(self.params.reshape(1, -1)):
                            self.params[...] = initial
                    ost["samples"] += done * n
                    history.extend((losses[:done] / total_weight).tolist())
                    history.seconds.extend([seconds / max(done, 1)] * done)
                    history.learning_rate.extend([rate] * done)
                    if done < chunk:
                        raise DivergenceError(
                            f"training diverged in epoch {epoch + done + 1}: the loss or the "
                            "parameters became infinite or NaN; the network keeps the last "
                            "parameters that gave a finite loss. Try a smaller learning_rate "
                            f"(got {rate}) or data scaled to smaller magnitudes."
                        )
                    epoch += done
                    if not per_epoch:
                        break
                    logs = self._epoch_logs(history, val, score)
                    progress.update(logs)
                    stop = False
                    if monitored:
                        if early_stopping:
                            value = logs["val_score"] if score is not None else -logs["val_loss"]
                        else:
                            value = -logs["loss"]
                        if monitor.improved(value) and early_stopping:
                            history.best_epoch = epoch - 1
                            best = self.params.copy()
                        if monitor.exhausted():
                            if schedule == "adaptive" and rate > ADAPTIVE_MIN_RATE:
                                rate /= 5.0
                            else:
                                stop = True
                    if callback is not None and callback(epoch - 1, logs) is False:
                        stop = True
                    if stop:
                        break
                if best is not None:
                    self.params[...] = best
        finally:
            progress.close()
        return history

    def _validation(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise TypeError("validation_data must be a pair (X_val, Y_val)")
        return self._data(data[0], data[1])

    def _epoch_logs(
        self,
        history: History,
        val: tuple[np.ndarray, np.ndarray] | None,
        score: Callable[[Network], float] | None,
    ) -> dict[str, float]:
        """Measure the epoch just finished and record it in ``history``."""
        logs = {
            "loss": history[-1],
            "seconds": history.seconds[-1],
            "learning_rate": history.learning_rate[-1],
        }
        if val is not None:
            rows = min(val[0].shape[0], CHUNK_ROWS)
            total = _engine.loss_sum(self._layout, self.params, *val, self._buffer(rows), rows)
            logs["val_loss"] = float(total) / val[0].shape[0]
            history.val_loss.append(logs["val_loss"])
        if score is not None:
            logs["val_score"] = float(score(self))
            history.val_score.append(logs["val_score"])
        return logs


class History(list):  # type: ignore[type-arg]
    """The mean training loss of each epoch, with what else was measured.

    A ``list`` of floats, so that ``history[-1]`` is the last epoch's loss;
    ``val_loss`` and ``val_score`` hold the validation loss and score of
    each epoch (empty when not measured), ``seconds`` the training time of
    each epoch, ``learning_rate`` the rate it used and ``best_epoch`` the
    (0-based) epoch whose parameters early stopping kept, or None.
    """

    def __init__(self) -> None:
        super().__init__()
        self.val_loss: list[float] = []
        self.val_score: list[float] = []
        self.seconds: list[float] = []
        self.learning_rate: list[float] = []
        self.best_epoch: int | None = None


class _Monitor:
    """scikit-learn's stopping rule for a value where higher is better."""

    def __init__(self, tol: float, patience: int) -> None:
        self.tol = tol
        self.patience = patience
        self.best = -np.inf
        self.stalled = 0

    def improved(self, value: float) -> bool:
        """Count an epoch that fails to beat the best by ``tol``; True for a new best."""
        self.stalled = self.stalled + 1 if value < self.best + self.tol else 0
        if value > self.best:
            self.best = value
            return True
        return False

    def exhausted(self) -> bool:
        """True (once, then the count restarts) after more than ``patience`` stalled epochs."""
        if self.stalled <= self.patience:
            return False
        self.stalled = 0
        return True


def _check_network(net: Any) -> None:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")


def train(net: Network, X: Any, Y: Any, **kwargs: Any) -> list[float]:
    """Functional form of :meth:`Network.train`."""
    _check_network(net)
    return net.train(X, Y, **kwargs)


def predict(net: Network, X: Any) -> np.ndarray:
    """Functional form of :meth:`Network.predict`."""
    _check_network(net)
    return net.predict(X)


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
    _check_network(net)
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
