"""Training: what one call of ``Network.train`` does, step by step.

``Network.train`` checks its arguments once into an immutable
:class:`Settings` record (:func:`check_settings`) and hands it to an
:class:`EpochRun`, whose methods are the steps:

- ``_run_chunk`` trains in the engine: one epoch per call of
  ``_engine.train_epochs``, or up to ``EPOCH_CHUNK`` in one call when nothing
  is to happen between epochs (:attr:`Settings.per_epoch`);
- ``_restore_on_bad_input`` and ``_roll_back_overflow`` are the two rollbacks;
- :class:`EpochRules` is everything between two epochs: the learning-rate
  schedule, the measurements that go into the :class:`History`, the progress
  display, stopping (``_Monitor``, scikit-learn's rule), keeping the best
  parameters and the callback.

A solver that is not driven by epochs of the engine has its place beside
:class:`EpochRun`: :class:`LbfgsRun` drives the engine's full-batch loss and
gradient (one GIL-free call per evaluation) from SciPy's L-BFGS-B, takes the
same :class:`Settings`, runs under the network's lock and reports each
iteration to the same :class:`EpochRules`.  :func:`run_class` chooses.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fastbp import _engine
from fastbp._progress import Display, Stall, progress_bar
from fastbp._sparse import Inputs, SparseRows, engine_x, input_columns, inputs_finite
from fastbp._stream import Stream
from fastbp._validation import (
    check_bool,
    check_bytes,
    check_choice,
    check_int,
    check_learning_rate,
    check_nonnegative,
    check_optimizer,
    check_real,
    check_sample_weight,
    check_seed,
    raise_not_finite,
)
from fastbp.optimizers import (
    ADAPTIVE_DIVISOR,
    ADAPTIVE_MIN_RATE,
    DROPOUT_SALT,
    LBFGS_MEMORY,
    SCHEDULES,
    Optimizer,
    invscaling_rate,
)

if TYPE_CHECKING:
    from fastbp.network import Network

Score = Callable[["Network"], float]
Callback = Callable[[int, dict[str, float]], Any]

# Epochs trained in one call of the engine when nothing happens between them,
# so that its array of epoch losses stays small (W1's 10,000 take one call).
EPOCH_CHUNK = 2**16
# What a History holds for each epoch: a float object and three list entries
# (49 bytes measured), with room for the lists' growth.
HISTORY_BYTES = 56
_WEIGHTED_L2_HINT = (
    " With sample weights, a batch's L2 penalty is alpha divided by the batch's weight sum"
    " (of the weights divided by the largest): batches of little weight may need a smaller alpha."
)


class DivergenceError(FloatingPointError, ValueError):
    """Training stopped because the loss or the parameters stopped being finite.

    ``history`` holds the epochs trained before (a :class:`History`, or None
    when training had not begun).  A ``ValueError`` too, as scikit-learn's MLP
    raises one.
    """

    history: History | None = None


class History(list):  # type: ignore[type-arg]
    """The mean training loss of each epoch, with what else was measured.

    A ``list`` of floats, so that ``history[-1]`` is the last epoch's loss;
    ``val_loss`` and ``val_score`` hold the validation loss and score of
    each epoch (empty when not measured), ``seconds`` the training time of
    each epoch, ``learning_rate`` the rate it used and ``best_epoch`` the
    (0-based) epoch whose parameters early stopping kept, or None.
    ``stop_reason`` says why a stopping rule or the callback ended training
    (e.g. ``"validation score did not improve by 0.0001 for 11 epochs"`` or
    ``"the callback returned False"``), or is None when none did: every
    epoch ran.  For L-BFGS an "epoch" is one iteration, and ``converged``
    says whether it met its tolerance (False: it ran out of iterations or
    evaluations, or its line search failed; None for the other solvers).
    """

    # Class defaults, so that a History pickled before they existed loads with None.
    stop_reason: str | None = None
    converged: bool | None = None

    def __init__(self) -> None:
        super().__init__()
        self.val_loss: list[float] = []
        self.val_score: list[float] = []
        self.seconds: list[float] = []
        self.learning_rate: list[float] = []
        self.best_epoch: int | None = None
        self.stop_reason = None
        self.converged = None


def stop_message(history: History) -> str | None:
    """The line a display shows when training ended early, or None.

    E.g. ``stopped after epoch 38: validation score did not improve by 0.0001
    for 11 epochs; restored the parameters of epoch 27`` (epochs counted from 1).
    """
    if history.stop_reason is None:
        return None
    line = f"stopped after epoch {len(history)}: {history.stop_reason}"
    if history.best_epoch is not None:
        line += f"; restored the parameters of epoch {history.best_epoch + 1}"
    return line


@dataclass(frozen=True)
class Settings:
    """The checked settings of one training call; see ``Network.train``.

    ``batch`` is the batch size in samples (all of them for full batches),
    ``optimizer`` the engine's optimiser, ``sample_weight`` and
    ``validation`` arrays the engine takes, and ``engine_checks_inputs``
    whether the engine, rather than a pass before training, looks for NaN
    and infinity in X.
    """

    epochs: int
    batch: int
    learning_rate: float
    shuffle: bool
    seed: int | None
    train_biases: bool
    optimizer: Optimizer
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    epsilon: float
    alpha: float
    schedule: str
    power_t: float
    sample_weight: np.ndarray | None
    engine_checks_inputs: bool
    validation: tuple[Inputs, np.ndarray] | None
    score: Score | None
    early_stopping: bool
    tol: float
    n_iter_no_change: float | None
    callback: Callback | None
    verbose: bool
    max_fun: int
    dropout: np.ndarray | None

    @property
    def per_epoch(self) -> bool:
        """Whether anything happens between two epochs."""
        return bool(
            self.schedule != "constant"
            or self.validation is not None
            or self.score is not None
            or self.early_stopping
            or self.n_iter_no_change is not None
            or self.callback is not None
            or self.verbose
        )

    @property
    def monitored(self) -> bool:
        """Whether a value is monitored for stopping or for the adaptive schedule."""
        return (
            self.early_stopping
            or self.n_iter_no_change is not None
            or (self.schedule == "adaptive")
        )

    @property
    def may_stop_early(self) -> bool:
        """Whether training may end before ``epochs`` (a stopping rule or a callback)."""
        return self.monitored or self.callback is not None


def check_settings(
    net: Network, X: Inputs | Stream, *, epochs: Any, batch_size: Any, learning_rate: Any,
    shuffle: Any, seed: Any, train_biases: Any, optimizer: Any, momentum: Any, nesterov: Any,
    beta_1: Any, beta_2: Any, epsilon: Any, alpha: Any, schedule: Any, power_t: Any,
    sample_weight: Any, validation_data: Any, score: Score | None, early_stopping: Any, tol: Any,
    n_iter_no_change: Any, callback: Callback | None, verbose: Any, max_fun: Any, dropout: Any,
) -> Settings:  # fmt: skip
    """``Network.train``'s arguments, checked, for training ``net`` on X
    (already checked but for NaN).

    The checks run in a fixed order, so that of several mistakes the same one
    is always reported: the steps (epochs, batch size, learning rate, seed,
    flags), the optimiser, the schedule and stopping, then what needs the
    data (sample weights, X itself, the validation data).
    """
    n = X.shape[0]
    epochs = check_int(epochs, "epochs", 1)
    batch = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
    if isinstance(X, Stream):  # a batch never spans two chunks
        batch = min(batch, X.largest_chunk)
    learning_rate = check_learning_rate(learning_rate)
    if learning_rate > float(np.finfo(net.dtype).max):
        raise ValueError(f"learning_rate {learning_rate} is too large for {net.dtype.name}")
    seed = check_seed(seed)
    shuffle = check_bool(shuffle, "shuffle")
    train_biases = check_bool(train_biases, "train_biases")
    engine_optimizer = check_optimizer(optimizer, momentum, nesterov, beta_1, beta_2, epsilon)
    alpha = check_nonnegative(alpha, "alpha")
    check_choice(schedule, "schedule", SCHEDULES)
    power_t = check_nonnegative(power_t, "power_t")
    tol = check_nonnegative(tol, "tol")
    if n_iter_no_change is not None and not _is_inf(n_iter_no_change):
        n_iter_no_change = check_int(n_iter_no_change, "n_iter_no_change", 1)
    max_fun = check_int(max_fun, "max_fun", 1)
    rates = check_dropout(dropout, len(net.sizes) - 2, engine_optimizer)
    if isinstance(X, Stream) and (engine_optimizer.full_batch or not engine_optimizer.in_engine):
        raise ValueError(
            f"optimizer={engine_optimizer.name!r} needs the gradient of all the data at once, "
            "which a memmap, Dask or Zarr array streamed by chunks does not give; train it "
            "with 'sgd' or 'adam', or over a Dask cluster with fastbp.dask.train"
        )
    if engine_optimizer.full_batch and batch < n:
        raise ValueError(
            f"optimizer={engine_optimizer.name!r} needs full batches (batch_size=None); "
            f"got batch_size={batch}"
        )
    sw = None if sample_weight is None else check_sample_weight(sample_weight, n, net.dtype)
    if engine_optimizer.in_engine:
        engine_checks_inputs = _check_inputs(net, X, batch, sw)
    else:  # the loss-and-gradient call does not look for NaN: check X now
        engine_checks_inputs = False
        if not isinstance(X, Stream) and not inputs_finite(X):
            raise_not_finite("X")
    validation = None if validation_data is None else _validation(net, validation_data)
    early_stopping = check_bool(early_stopping, "early_stopping")
    verbose = check_bool(verbose, "verbose")
    if early_stopping and validation is None and score is None:
        raise ValueError("early_stopping=True needs validation_data or a score function")
    settings = Settings(
        epochs=epochs, batch=batch, learning_rate=learning_rate,
        shuffle=shuffle and batch < n, seed=seed, train_biases=train_biases,
        optimizer=engine_optimizer, momentum=float(momentum), nesterov=bool(nesterov),
        beta_1=float(beta_1), beta_2=float(beta_2), epsilon=float(epsilon), alpha=alpha,
        schedule=schedule, power_t=power_t, sample_weight=sw,
        engine_checks_inputs=engine_checks_inputs, validation=validation, score=score,
        early_stopping=early_stopping, tol=tol, n_iter_no_change=n_iter_no_change,
        callback=callback, verbose=verbose, max_fun=max_fun, dropout=rates,
    )  # fmt: skip
    if engine_optimizer.in_engine:
        net._check_training_bytes(batch, input_columns(X), engine_optimizer)
    else:
        # the chunk's work buffers, the trial point and its gradient, and SciPy's
        # float64 state (2 LBFGS_MEMORY correction vectors and a few more)
        rows = min(n, net._chunk_rows)
        check_bytes(
            2 * rows * net._layout.n_units * net.dtype.itemsize
            + (2 * LBFGS_MEMORY + 8) * net.params.size * 8,
            "training with the 'lbfgs' optimiser",
        )
    if not settings.may_stop_early:
        check_bytes(epochs * HISTORY_BYTES, f"the history of {epochs:,} epochs")
    return settings


def check_dropout(dropout: Any, n_hidden: int, optimizer: Optimizer) -> np.ndarray | None:
    """Dropout rates as the engine takes them: one per weight layer, the output's 0;
    None when no unit is ever dropped.  ``dropout`` is None, one rate for every
    hidden layer, or a sequence of one rate per hidden layer, each in [0, 1); an
    optimiser outside the engine (L-BFGS) refuses any that drops a unit."""
    if dropout is None:
        return None
    if isinstance(dropout, np.ndarray) and dropout.ndim == 0:
        dropout = dropout.item()
    single = isinstance(dropout, (numbers.Real, np.floating)) and not isinstance(dropout, bool)
    if single and n_hidden == 0 and dropout != 0:
        raise ValueError(f"dropout={dropout}: a network without hidden layers has no unit to drop")
    given = [dropout] * n_hidden if single else dropout
    if isinstance(given, (str, bytes)) or not hasattr(given, "__len__"):
        raise TypeError(f"dropout must be a rate or one rate per hidden layer; got {dropout!r:.80}")
    if len(given) != n_hidden:
        raise ValueError(
            f"dropout needs one rate per hidden layer ({n_hidden}); got {len(given)}"
            + (" (a network without hidden layers has no unit to drop)" if n_hidden == 0 else "")
        )
    rates = [check_real(rate, f"dropout[{i}]", 0.0, 1.0, open_high=True)
             for i, rate in enumerate(given)]  # fmt: skip
    if not any(rates):
        return None
    if not optimizer.in_engine:
        raise ValueError(
            "dropout makes each evaluation of the loss random, and L-BFGS needs the same "
            "loss every time; train with dropout using 'sgd', 'adam' or 'rprop'"
        )
    return np.array([*rates, 0.0], dtype=np.float64)


def _is_inf(value: Any) -> bool:
    """Whether ``value`` is positive infinity (a patience that never runs out)."""
    return isinstance(value, (float, np.floating)) and value == math.inf


def _check_inputs(net: Network, X: Inputs | Stream, batch: int, sw: np.ndarray | None) -> bool:
    """Check X for NaN and infinity now, unless the engine will while training;
    return whether it will.

    Reading all of X once more only to look for NaN costs as much as an
    epoch's shuffled reads of it.  Where the engine's own first-layer
    products see every NaN and infinity, it checks X while training: every
    row passes through them, unless a batch of zero weight is skipped.
    """
    if isinstance(X, Stream):
        return False  # each chunk is checked as it is loaded
    engine_checks = (
        not isinstance(X, SparseRows)  # a sparse X is checked here: a pass over its values
        and _engine.checks_inputs(net._layout, net.dtype.itemsize, batch, X.shape[0])
        and (sw is None or bool(sw.all()))
    )
    if not engine_checks and not inputs_finite(X):
        raise_not_finite("X")
    return engine_checks


def _validation(net: Network, data: Any) -> tuple[Inputs, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("validation_data must be a pair (X_val, Y_val)")
    return net._data(data[0], data[1])


class _Monitor:
    """scikit-learn's stopping rule for a value where higher is better."""

    def __init__(self, tol: float, patience: float) -> None:
        self.tol = tol
        self.patience = patience
        self.best = -np.inf
        self.stalled = 0

    def improved(self, value: float) -> bool:
        """Count an epoch that fails to beat the best by ``tol`` (NaN never does);
        True for a new best."""
        self.stalled = 0 if value >= self.best + self.tol else self.stalled + 1
        if value > self.best:
            self.best = value
            return True
        return False

    def exhausted(self) -> int:
        """After more than ``patience`` stalled epochs, their number (once, then the
        count restarts); else 0."""
        stalled = self.stalled
        if stalled <= self.patience:
            return 0
        self.stalled = 0
        return stalled


class EpochRules:
    """Everything that happens between two epochs, for any solver.

    ``rate`` is the learning rate of the next epoch.  The run calls
    :meth:`start_epoch` before and :meth:`end_epoch` after each epoch it
    trains, :meth:`keep_best` once training is over and :meth:`close` in
    any case.
    """

    def __init__(
        self,
        net: Network,
        settings: Settings,
        history: History,
        n: int,
        display: Display | None = None,
    ) -> None:
        self.net = net
        self.settings = settings
        self.history = history
        self.rate = settings.learning_rate
        patience = 10 if settings.n_iter_no_change is None else settings.n_iter_no_change
        self.monitor = _Monitor(settings.tol, patience)
        self.best: np.ndarray | None = None
        self.progress = (
            progress_bar(settings.epochs, n, settings.verbose) if display is None else display
        )

    def start_epoch(self, samples_seen: int) -> float:
        """The learning rate for the next epoch, after ``samples_seen`` samples of training."""
        if self.settings.schedule == "invscaling":
            self.rate = invscaling_rate(
                self.settings.learning_rate, samples_seen, self.settings.power_t
            )
        return self.rate

    def end_epoch(self, epoch: int) -> bool:
        """Measure and report epoch ``epoch`` (0-based); True to stop training."""
        logs = self._measure()
        self.progress.update(logs)
        stop = self.settings.monitored and self._stalled(epoch, logs)
        callback = self.settings.callback
        if callback is not None:
            result = callback(epoch, logs)
            if result is not None and not _truth(result) and not stop:
                self.history.stop_reason = f"the callback returned {result!r:.60}"
                stop = True
        return stop

    def _measure(self) -> dict[str, float]:
        """The logs of the epoch just finished, recorded in the history."""
        history, settings = self.history, self.settings
        logs = {
            "loss": history[-1],
            "seconds": history.seconds[-1],
            "learning_rate": history.learning_rate[-1],
        }
        if settings.validation is not None:
            X_val, Y_val = settings.validation
            logs["val_loss"] = self.net._loss_total(X_val, Y_val) / X_val.shape[0]
            history.val_loss.append(logs["val_loss"])
        if settings.score is not None:
            logs["val_score"] = float(settings.score(self.net))
            history.val_score.append(logs["val_score"])
        return logs

    def _stalled(self, epoch: int, logs: dict[str, float]) -> bool:
        """Apply the stopping rule, keep a new best and adapt the rate; True to stop."""
        settings = self.settings
        if settings.early_stopping:
            if settings.score is not None:
                value, name = logs["val_score"], "validation score"
            else:
                value, name = -logs["val_loss"], "validation loss"
        else:
            value, name = -logs["loss"], "training loss"
        if self.monitor.improved(value) and settings.early_stopping:
            self.history.best_epoch = epoch
            self.best = self.net.params.copy()
        stalled = self.monitor.exhausted()
        if not stalled:
            return False
        stall = Stall(epoch, name, settings.tol, self.monitor.patience, stalled)
        adaptive = settings.schedule == "adaptive"
        if adaptive and self.rate > ADAPTIVE_MIN_RATE:
            self.rate /= ADAPTIVE_DIVISOR
            self.progress.stall(dataclasses.replace(stall, rate=self.rate))
            return False
        stall = dataclasses.replace(stall, at_floor=adaptive)
        self.progress.stall(stall)
        self.history.stop_reason = stall.describe()
        return True

    def keep_best(self) -> None:
        """Give the network the best parameters early stopping saw."""
        if self.best is not None:
            self.net.params[...] = self.best

    def close(self) -> None:
        """Close the display, after telling it why training stopped early (if it did)."""
        line = stop_message(self.history)
        if line is not None:
            self.progress.stopped(line)
        self.progress.close()


def _truth(result: Any) -> bool:
    """A callback's result as a truth value, or the TypeError that says what it must be."""
    try:
        return bool(result)
    except Exception as exc:
        raise TypeError(
            "the callback must return None or a truth value (False stops training); "
            f"got {type(result).__name__} {result!r:.60}, whose truth value is undefined"
        ) from exc


class EpochRun:
    """One training call of an optimiser that the engine runs epoch by epoch."""

    X: Any  # the checked inputs (Inputs), or a Stream of them for StreamRun

    def __init__(
        self,
        net: Network,
        X: Inputs | Stream,
        Y: Any,
        settings: Settings,
        display: Display | None = None,
    ) -> None:
        self.net, self.X, self.Y, self.settings = net, X, Y, settings
        n = X.shape[0]
        self.shuffle_state = 0  # set under the network's lock (see _shuffle_seed)
        # the sample order to shuffle; a stream shuffles each chunk's on its own
        whole = settings.shuffle and not isinstance(X, Stream)
        self.order = np.arange(n, dtype=np.int64) if whole else np.empty(0, np.int64)
        sw = settings.sample_weight
        self.total_weight = n if sw is None else float(sw.sum(dtype=np.float64))
        self.history = History()
        self.rules = EpochRules(net, settings, self.history, n, display)
        self.epoch = 0

    def run(self) -> History:
        """Train; return the history (see ``Network.train``)."""
        try:
            with self.net._lock:
                self._begin()
                while self.epoch < self.settings.epochs:
                    self._run_chunk()
                    if self.settings.per_epoch and self.rules.end_epoch(self.epoch - 1):
                        break
                self.rules.keep_best()
        except DivergenceError as exc:
            # Early stopping's best parameters beat the last finite ones.
            self.rules.keep_best()
            exc.history = self.history
            raise
        finally:
            self.rules.close()
        return self.history

    def _begin(self) -> None:
        """Work buffers, the state to restore on bad input, the optimiser's state."""
        net, settings = self.net, self.settings
        self.shuffle_state = self._shuffle_seed()
        self.dropout_state = self.shuffle_state ^ DROPOUT_SALT
        self.buffers = net._training_buffers(settings.batch, input_columns(self.X), net.n_outputs)
        self.masks = None if settings.dropout is None else np.empty_like(self.buffers["acts"])
        self.initial = net.params.copy()
        # What must be as it was if the engine finds NaN in X (the gradient
        # buffer is scratch; a switch of optimiser replaces the dict).
        self.saved_optimizer = (
            {key: (np.copy(v) if key == "state" else v) for key, v in net._optimizer.items()}
            if settings.engine_checks_inputs
            else None
        )
        self.optimizer_state = net._optimizer_state(settings.optimizer)

    def _shuffle_seed(self) -> int:
        """The shuffle's seed: the given one; else, for a network built with a seed,
        one derived from that seed and the number of training runs this network
        began before this one; else fresh entropy.  Counts this run (under the lock)."""
        net, seed = self.net, self.settings.seed
        runs = net._training_runs
        net._training_runs = runs + 1
        if seed is not None:
            return seed
        entropy = None if net.seed is None else [net.seed, runs]
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])

    def _run_chunk(self) -> None:
        """Train the next epoch in the engine (up to EPOCH_CHUNK of them when nothing
        happens between)."""
        settings, state = self.settings, self.optimizer_state
        rate = self.rules.start_epoch(state["samples"])
        chunk = self._epochs_per_call()
        losses = np.zeros(chunk)
        start = time.perf_counter()
        done = self._train_epochs(losses, rate)
        seconds = time.perf_counter() - start
        if done < chunk:
            self._restore_on_bad_input()
        done = self._roll_back_overflow(done, chunk)
        state["samples"] += done * self.X.shape[0]
        self.history.extend((losses[:done] / self.total_weight).tolist())
        self.history.seconds.extend([seconds / max(done, 1)] * done)
        self.history.learning_rate.extend([rate] * done)
        if done < chunk:
            weighted_l2 = settings.alpha > 0 and settings.sample_weight is not None
            raise DivergenceError(
                f"training diverged in epoch {self.epoch + done + 1}: the loss or the "
                "parameters became infinite or NaN; the network keeps the last "
                "parameters that gave a finite loss. Try a smaller learning_rate "
                f"(got {rate}) or data scaled to smaller magnitudes."
                + (_WEIGHTED_L2_HINT if weighted_l2 else "")
            )
        self.epoch += done

    def _epochs_per_call(self) -> int:
        """Epochs the next engine call trains: 1 when anything happens between them."""
        if self.settings.per_epoch:
            return 1
        return min(self.settings.epochs - self.epoch, EPOCH_CHUNK)

    def _train_epochs(self, losses: np.ndarray, rate: float) -> int:
        """The engine's ``train_epochs`` for ``len(losses)`` epochs; the number it finished."""
        return self._engine_epochs(
            self.X, self.Y, self.order, self.settings.sample_weight, losses, rate, self.epoch
        )

    def _engine_epochs(
        self,
        X: Inputs,
        Y: np.ndarray,
        order: np.ndarray,
        sw: np.ndarray | None,
        losses: np.ndarray,
        rate: float,
        epoch0: int,
    ) -> int:
        """``len(losses)`` epochs over X, Y in the engine; the number it finished."""
        net, settings, buffers, state = self.net, self.settings, self.buffers, self.optimizer_state
        x, options = engine_x(X)
        if settings.dropout is not None:
            options.update(dropout=settings.dropout, dropout_state=self.dropout_state,
                           masks=self.masks)  # fmt: skip
        done, self.shuffle_state, state["t"], self.dropout_state = _engine.train_epochs(
            net._layout, net.params, x, Y, order, settings.shuffle,
            self.shuffle_state, settings.batch, buffers["acts"], buffers["deltas"],
            buffers["xb"], buffers["yb"], buffers["backup"], losses, rate, settings.train_biases,
            optimizer=settings.optimizer.code, l2=settings.alpha, momentum=settings.momentum,
            nesterov=settings.nesterov, beta_1=settings.beta_1, beta_2=settings.beta_2,
            epsilon=settings.epsilon, t=state["t"], grad=state["grad"], opt_state=state["state"],
            sw=sw, swb=buffers["swb"], epoch0=epoch0,
            check_inputs=settings.engine_checks_inputs, **options,
        )  # fmt: skip
        return int(done)

    def _restore_on_bad_input(self) -> None:
        """If the engine stopped on NaN or infinity in X: leave the network as it was, raise."""
        if self.saved_optimizer is not None and not inputs_finite(self.X):
            self.net.params[...] = self.initial
            self.net._optimizer = self.saved_optimizer
            raise_not_finite("X")

    def _roll_back_overflow(self, done: int, chunk: int) -> int:
        """Parameters that overflowed although every loss the engine saw was finite
        (as after the very last update, measured before it) go back to the start
        of the last epoch, kept in the engine's backup, or failing that to where
        this call began.  Returns the epochs that still count as done."""
        params = self.net.params
        if _engine.all_finite(params.reshape(1, -1)):
            return done
        if done == chunk:
            done -= 1
            slot = (self.epoch + done) % 2 * params.size
            params[...] = self.buffers["backup"][slot : slot + params.size]
        if not _engine.all_finite(params.reshape(1, -1)):
            params[...] = self.initial
        return done


def run_class(settings: Settings) -> type[EpochRun] | type[LbfgsRun]:
    """The run that trains with ``settings``' optimiser (on data in memory)."""
    return EpochRun if settings.optimizer.in_engine else LbfgsRun


class StreamRun(EpochRun):
    """An :class:`EpochRun` over a :class:`~fastbp._stream.Stream`: each epoch loads
    the chunks one at a time, in an order reshuffled every epoch, and trains one
    engine pass over each, its rows shuffled within it."""

    def _begin(self) -> None:
        # bad data in a later chunk leaves the network as this call found it,
        # the optimiser's state included (kept before this call replaces it)
        saved = {
            key: (np.copy(v) if key == "state" else v) for key, v in self.net._optimizer.items()
        }
        super()._begin()
        self.saved_optimizer = saved
        self.passes = 0  # engine calls, for the slots of its backup buffer

    def _epochs_per_call(self) -> int:
        return 1  # an epoch is a pass over every chunk

    def _train_epochs(self, losses: np.ndarray, rate: float) -> int:
        stream, sw = self.X, self.settings.sample_weight
        visits = np.arange(len(stream.bounds), dtype=np.int64)
        if self.settings.shuffle:
            self.shuffle_state = _engine.shuffle_order(visits, self.shuffle_state)
        self.epoch_start = self.net.params.copy()
        total = 0.0
        one = np.zeros(1)
        for chunk in visits.tolist():
            try:
                X, Y = stream.load(chunk)
            except (ValueError, TypeError, OSError):
                self.net.params[...] = self.initial
                self.net._optimizer = self.saved_optimizer or {}
                raise
            start, stop = stream.bounds[chunk]
            order = np.arange(stop - start, dtype=np.int64)
            part = None if sw is None else sw[start:stop]
            if part is not None and not part.any():
                continue  # a chunk of zero weight teaches nothing
            done = self._engine_epochs(X, Y, order, part, one, rate, self.passes)
            X = Y = None  # one chunk in memory at a time
            self.passes += 1
            if done < 1:
                return 0
            total += float(one[0])
        losses[0] = total
        return 1

    def _restore_on_bad_input(self) -> None:
        return None  # every chunk is checked as it is loaded

    def _roll_back_overflow(self, done: int, chunk: int) -> int:
        params = self.net.params
        if _engine.all_finite(params.reshape(1, -1)):
            return done
        params[...] = self.epoch_start
        return 0


class LbfgsRun:
    """One training call of L-BFGS: SciPy's L-BFGS-B over the flat parameters.

    The objective is the full batch's mean (weighted) loss plus ``alpha / 2 *
    sum W^2`` divided by the number of samples (or the sum of the relative
    sample weights), as scikit-learn's lbfgs solver minimises it; each
    evaluation is one GIL-free call of the engine's ``gradient_into`` at a
    trial point kept apart from the network's parameters.  Those take each
    accepted iterate, so that an interrupted run (Ctrl-C, an exception in the
    callback) leaves the last one.  An iteration counts as an epoch for the
    history, the rules between epochs and the display.  ``epochs`` bounds
    the iterations, ``max_fun`` the evaluations and ``tol`` is the tolerance
    on the largest projected gradient entry (SciPy's ``gtol``).  The
    optimiser's state does not carry over to the next call.
    """

    def __init__(
        self,
        net: Network,
        X: Inputs,
        Y: np.ndarray,
        settings: Settings,
        display: Display | None = None,
    ) -> None:
        self.net, self.X, self.Y, self.settings = net, X, Y, settings
        self.weight_sum = self._weight_sum()
        self.history = History()
        self.rules = EpochRules(net, settings, self.history, X.shape[0], display)
        self.evaluations = 0
        self.last = time.perf_counter()

    def _weight_sum(self) -> float:
        """What the objective divides by: the number of samples, or the weights' sum."""
        sw = self.settings.sample_weight
        return float(self.X.shape[0]) if sw is None else float(sw.sum(dtype=np.float64))

    def _prepare(self) -> None:
        """The engine's work buffers for the loss-and-gradient calls."""
        net = self.net
        self.rows = min(self.X.shape[0], net._chunk_rows)
        self.acts, self.deltas = net._buffer(self.rows), net._buffer(self.rows)

    def _evaluate(self, params: np.ndarray, grad: np.ndarray) -> float:
        """The summed objective at ``params`` (the weighted loss plus ``alpha / 2 *
        sum W^2``), its gradient divided by the weight sum written into ``grad``."""
        net, settings = self.net, self.settings
        x, options = engine_x(self.X)
        return _engine.gradient_into(
            net._layout, params, x, self.Y, grad, self.acts, self.deltas,
            self.rows, sw=settings.sample_weight, l2=settings.alpha,
            weight_sum=self.weight_sum, train_biases=settings.train_biases, **options,
        )  # fmt: skip

    def run(self) -> History:
        """Train; return the history (see ``Network.train``)."""
        from scipy.optimize import minimize

        net, settings = self.net, self.settings
        try:
            with net._lock:
                net._training_runs += 1
                self._prepare()
                self.trial = np.empty_like(net.params)
                self.trial_kept = net.params.copy()
                self.grad = np.empty_like(net.params)
                self.last = time.perf_counter()
                result = minimize(
                    self._objective, net.params.astype(np.float64), jac=True,
                    method="L-BFGS-B", callback=self._iteration,
                    options={"maxiter": settings.epochs, "maxfun": settings.max_fun,
                             "gtol": settings.tol, "maxcor": LBFGS_MEMORY},
                )  # fmt: skip
                self._finish(result)
                self.rules.keep_best()
        finally:
            self.rules.close()
        return self.history

    def _objective(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The objective and its gradient (float64, for SciPy) at the trial point x."""
        with np.errstate(over="ignore"):  # beyond float32: inf, a non-finite loss
            self.trial[...] = x
        total = self._evaluate(self.trial, self.grad)
        self.evaluations += 1
        value = total / self.weight_sum
        if math.isfinite(value) and _engine.all_finite(self.grad.reshape(1, -1)):
            self.finite_grad = self.grad.astype(np.float64)
            return value, self.finite_grad
        if self.evaluations == 1:
            raise DivergenceError(
                "the loss or its gradient is infinite or NaN at the initial parameters; "
                "the network keeps them. Scale the data to smaller magnitudes "
                "(e.g. to unit variance)."
            )
        # Tells the line search this point is too far, so that it steps back (a
        # zero gradient would read as convergence); should it accept the point
        # all the same, _iteration stops there.
        return math.inf, self.finite_grad

    def _iteration(self, intermediate_result: Any) -> None:
        """After each iteration: the network takes the iterate; the rules may stop."""
        net = self.net
        fun, x = float(intermediate_result.fun), intermediate_result.x
        if not (math.isfinite(fun) and np.isfinite(x).all()):
            self.history.stop_reason = (
                "L-BFGS stepped to parameters where the loss is not finite; the network "
                "keeps the last iterate where it was"
            )
            raise StopIteration
        with np.errstate(over="ignore"):
            net.params[...] = x
        if not _engine.all_finite(net.params.reshape(1, -1)):  # beyond float32
            net.params[...] = self.trial_kept
            self.history.stop_reason = (
                f"L-BFGS stepped beyond {net.dtype.name}; the network keeps the last iterate"
            )
            raise StopIteration
        self.trial_kept = net.params.copy()
        now = time.perf_counter()
        self.history.append(fun)
        self.history.seconds.append(now - self.last)
        self.history.learning_rate.append(math.nan)  # L-BFGS has none: its line search steps
        stop = self.rules.end_epoch(len(self.history) - 1)
        self.last = time.perf_counter()
        if stop:
            raise StopIteration

    def _finish(self, result: Any) -> None:
        """The final iterate, whether L-BFGS converged and why it stopped."""
        history = self.history
        if history.stop_reason is not None:  # a rule, the callback or an overflow stopped it
            history.converged = False
            return
        if np.all(np.isfinite(result.x)) and math.isfinite(float(result.fun)):
            with np.errstate(over="ignore"):
                self.net.params[...] = result.x
            if not _engine.all_finite(self.net.params.reshape(1, -1)):
                self.net.params[...] = self.trial_kept
        history.converged = bool(result.status == 0)
        if result.status == 0:
            history.stop_reason = (
                f"L-BFGS converged after {result.nit} iterations "
                f"({self.evaluations} loss evaluations): {_lbfgs_message(result)}"
            )
        elif self.evaluations >= self.settings.max_fun and result.nit < self.settings.epochs:
            history.stop_reason = (
                f"L-BFGS reached max_fun={self.settings.max_fun} loss evaluations "
                f"after {result.nit} iterations"
            )
        elif result.status != 1:
            history.stop_reason = f"L-BFGS stopped: {_lbfgs_message(result)}"


def _lbfgs_message(result: Any) -> str:
    message = result.message
    return (message.decode() if isinstance(message, bytes) else str(message)).lower()
