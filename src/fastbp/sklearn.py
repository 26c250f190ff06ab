"""scikit-learn estimators: ``BPClassifier`` and ``BPRegressor``.

Thin wrappers: they validate and encode the data the scikit-learn way, build a
:class:`fastbp.Network` and hand training to :meth:`fastbp.Network.train`,
which runs the epochs in the engine and applies scikit-learn's stopping rules
between them.  Parameters are named as in ``MLPClassifier``/``MLPRegressor``
where they mean the same; ``solver="rprop"`` (iRprop-, full batches), ``dtype``,
``loss`` and ``class_weight`` are fastbp's own.

>>> from fastbp import BPClassifier
>>> clf = BPClassifier(hidden_layer_sizes=(8,), max_iter=300, learning_rate_init=0.05,
...                    random_state=0)
>>> clf.fit([[0, 0], [0, 1], [1, 0], [1, 1]], ["no", "yes", "yes", "no"]).predict([[0, 1]])
array(['yes'], dtype='<U3')
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastbp._progress import Display, Stall
from fastbp._stream import is_stream, read_rows, row_bounds
from fastbp._training import DivergenceError, History, check_dropout
from fastbp._validation import (
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_nonnegative,
    check_real,
    refuse_masked,
    sample_weight_values,
)
from fastbp.network import Network
from fastbp.optimizers import LBFGS_MAX_FUN, OPTIMIZERS, SCHEDULES, SOLVERS

# scikit-learn's names of the activations, and fastbp's own.
_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}
_OUT_NAMES = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity", "exp": "exp"}
_SEED_LIMIT = 2**32 - 1
# The types to trust in skops.io.load(path, trusted=SKOPS_TRUSTED), beyond
# scikit-learn's and NumPy's own, for a pipeline holding fastbp's estimators.
SKOPS_TRUSTED = [
    "fastbp.network.Network",
    "fastbp.sklearn.BPClassifier",
    "fastbp.sklearn.BPRegressor",
]
# Sparse X the estimators take, converted to CSR (the first) once: the engine
# multiplies the first layer by the stored values, never densifying X.
_SPARSE_FORMATS = ["csr", "csc", "coo"]
# What scikit-learn's MLP says when training diverges; fastbp's details follow.
_NONFINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)
# Probabilities are clipped to this before a division or a log: a saturated
# output gives a finite log-probability (scikit-learn's log_loss clips too).
_MIN_PROBABILITY = np.finfo(np.float64).tiny


def _validate_data(estimator: BaseEstimator, *data: Any, **options: Any) -> Any:
    """scikit-learn's ``validate_data``, with a ValueError for numbers too large.

    Values too large for float32 become inf in the cast, which then fails
    scikit-learn's finiteness check (a sum: inf - inf is NaN) with a clear
    ValueError; numpy's warnings on the way add nothing.  Python ints too
    large for a float (in an object array) raise OverflowError in the cast.
    Masked arrays are refused, as by :class:`fastbp.Network`: scikit-learn
    would drop their masks.
    """
    for value, name in zip(data, ("X", "y")):
        refuse_masked(value, name)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return validate_data(estimator, *data, **options)
    except OverflowError:
        dtype = options["dtype"]
        name = np.dtype(dtype[0] if isinstance(dtype, list) else dtype).name
        raise ValueError(
            f"the input holds numbers too large for {name}; scale the data to smaller magnitudes"
        ) from None


class _MLPMessages(Display):
    """``verbose`` as in scikit-learn's MLP: its lines on stdout, one per epoch.

    ``Iteration N, loss = ...`` after each epoch (N counting as ``n_iter_``
    does, from ``first``), ``Validation score: ...`` after it under early
    stopping, and the stopping rule's message when its patience runs out:
    the rate the adaptive schedule sets, or ``Stopping.``.
    """

    def __init__(self, first: int) -> None:
        self.iteration = first

    def update(self, logs: dict[str, float]) -> None:
        self.iteration += 1
        print(f"Iteration {self.iteration}, loss = {logs['loss']:.8f}")
        if "val_score" in logs:
            print(f"Validation score: {logs['val_score']:f}")

    def stall(self, stall: Stall) -> None:
        if stall.value.startswith("validation"):
            what = "Validation score did not improve more than"
        else:
            what = "Training loss did not improve more than"
        message = f"{what} tol={stall.tol:f} for {stall.patience} consecutive epochs."
        if stall.rate is not None:
            print(f"{message} Setting learning rate to {stall.rate:f}")
        elif stall.at_floor:
            print(message + " Learning rate too small. Stopping.")
        else:
            print(message + " Stopping.")


class _BaseBP(BaseEstimator):
    """What the classifier and the regressor share: parameters, fit, partial_fit."""

    _losses: tuple[str, ...] = ()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = LBFGS_MAX_FUN,
        dropout: Any = None,
        dtype: Any = None,
        loss: str = "squared_error",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.loss = loss

    # -- what subclasses define ----------------------------------------------

    def _encode(self, y: np.ndarray, fitting: bool, classes: Any = None) -> np.ndarray:
        """Targets as the network's output matrix; ``fitting`` (re)learns the encoding."""
        raise NotImplementedError

    def _output(self) -> str:
        """The output activation that suits the encoded targets and the loss."""
        raise NotImplementedError

    def _validation_score(self, outputs: np.ndarray, y: np.ndarray, sw: Any) -> float:
        raise NotImplementedError

    # -- the fitted network's parameters, as in MLP ---------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices ``(n_in, n_out)`` of each layer: views into the network.

        Assigning a list of matrices of the same shapes (``est.coefs_ = [...]``)
        copies them into the fitted network, checked as the network checks them.
        """
        check_is_fitted(self)
        return self.network_.weights

    @coefs_.setter
    def coefs_(self, values: Any) -> None:
        self._fitted_network("coefs_").weights = values

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors of each layer: views into the network, assigned like ``coefs_``."""
        check_is_fitted(self)
        return self.network_.biases

    @intercepts_.setter
    def intercepts_(self, values: Any) -> None:
        self._fitted_network("intercepts_").biases = values

    def _fitted_network(self, name: str) -> Network:
        if not hasattr(self, "network_"):
            raise AttributeError(
                f"{name} can be assigned once the estimator is fitted (its shapes come "
                "from the data); call fit first"
            )
        return self.network_

    # -- fitting --------------------------------------------------------------

    def _check_params(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            hidden = tuple(check_int(s, f"hidden_layer_sizes[{i}]", 1) for i, s in enumerate(sizes))
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be a sequence of positive integers such as (100,); "
                f"got {self.hidden_layer_sizes!r}"
            ) from None
        check_choice(self.activation, "activation", tuple(_ACTIVATIONS))
        check_choice(self.solver, "solver", SOLVERS)
        check_choice(self.learning_rate, "learning_rate", SCHEDULES)
        check_choice(self.loss, "loss", self._losses)
        if self.dtype is not None:
            check_dtype(self.dtype)
        check_int(self.max_fun, "max_fun", 1)
        check_dropout(self.dropout, len(hidden), OPTIMIZERS[self.solver])
        if not _never(self.n_iter_no_change):
            check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            check_bool(getattr(self, flag), flag)
        check_int(self.max_iter, "max_iter", 1)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int(self.batch_size, "batch_size", 1)
        check_real(
            self.validation_fraction,
            "validation_fraction",
            0.0,
            1.0,
            open_low=True,
            open_high=True,
        )
        return hidden

    def _input_dtype(self, reset: bool) -> Any:
        """The dtype X is read in: the fitted network's; for a new network the
        ``dtype`` given, or (None) float32 for float32 X and float64 for the rest."""
        if not reset:
            return self.network_.dtype
        if self.dtype is None:
            return [np.float64, np.float32]
        return check_dtype(self.dtype)

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = _validate_data(
            self,
            X,
            y,
            multi_output=True,
            dtype=self._input_dtype(reset),
            reset=reset,
            y_numeric=isinstance(self, RegressorMixin),
            accept_sparse=_SPARSE_FORMATS,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _start(self, X: np.ndarray, Y: np.ndarray, hidden: tuple[int, ...]) -> None:
        """A new network for these data, and the fitted attributes of an untrained one."""
        self._rng = check_random_state(self.random_state)
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(hidden) + 2
        output = self._output()
        self.out_activation_ = _OUT_NAMES[output]
        self.network_ = Network(
            [X.shape[1], *hidden, self.n_outputs_],
            activation=_ACTIVATIONS[self.activation],
            output_activation=output,
            loss=self.loss,
            dtype=X.dtype,
            seed=int(self._rng.randint(_SEED_LIMIT)),
        )
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        stopping = self._early_stopping()
        self.best_loss_: float | None = None if stopping else np.inf
        self.validation_scores_: list[float] | None = [] if stopping else None
        self.validation_loss_curve_: list[float] | None = [] if stopping else None
        self.best_validation_score_: float | None = -np.inf if stopping else None

    def _early_stopping(self) -> bool:
        """Whether early stopping applies: it does not to L-BFGS, as in scikit-learn."""
        return bool(self.early_stopping) and self.solver != "lbfgs"

    def _check_unchanged(self, hidden: tuple[int, ...], continuing: str) -> None:
        """Refuse to continue the fitted network once a parameter that built it changed.

        scikit-learn's MLP silently keeps the old layers; fastbp says so instead.
        """
        net = self.network_
        built_with = {
            "hidden_layer_sizes": (net.sizes[1:-1], hidden),
            "activation": (net.activation, _ACTIVATIONS[self.activation]),
            "loss": (net.loss_name, self.loss),
        }
        if self.dtype is not None:
            built_with["dtype"] = (net.dtype.name, check_dtype(self.dtype).name)
        for name, (fitted, now) in built_with.items():
            if fitted != now:
                raise ValueError(
                    f"{continuing} continues the fitted network, but {name} changed: the "
                    f"network was built with {fitted!r}, {name} is now {getattr(self, name)!r}; "
                    f"set {name} back, or fit a new network with warm_start=False"
                )

    def _l2_alpha(self, sw: Any, n: int) -> float:
        """``alpha`` for Network.train, so that sample weights follow scikit-learn's
        convention: the L2 penalty is divided by the batch's weight sum (a weight
        of 2 counts as the sample twice).  Network.train divides the weights by
        the largest first, so alpha is divided by it too."""
        alpha = check_nonnegative(self.alpha, "alpha")
        largest = 0.0 if sw is None else float(sample_weight_values(sw, n).max())
        if alpha == 0.0 or largest == 0.0:  # no weights, or all zero: refused in train
            return alpha
        dtype = self.network_.dtype
        if alpha / largest > float(np.finfo(dtype).max):  # Python floats: inf, no warning
            raise ValueError(
                f"sample_weight is too small for alpha={alpha}: the L2 penalty is divided "
                f"by the weights' sum (scikit-learn's convention), and alpha divided by the "
                f"largest weight ({largest:.3g}) is beyond {dtype.name}; scale the weights up"
            )
        return alpha / largest

    def _batch_size(self, n: int) -> int | None:
        """``batch_size``, with "auto" as min(200, n); full batches for Rprop, and
        always for L-BFGS (which, as in scikit-learn, ignores batch_size)."""
        if self.solver == "lbfgs":
            return None
        if self.batch_size != "auto":
            return int(self.batch_size)
        return None if OPTIMIZERS[self.solver].full_batch else min(200, n)

    def _sample_weight(
        self, y: np.ndarray, sample_weight: Any, n: int, partial: bool = False
    ) -> Any:
        """The sample weights training uses (the classifier folds in class_weight)."""
        return sample_weight

    def _train(
        self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, sw: Any, epochs: int, stopping: bool
    ) -> History:
        """Run Network.train with the estimator's settings; record the fitted attributes."""
        score = validation = None
        early = stopping and self._early_stopping()
        if early:
            X, Y, sw, score, validation = self._hold_out(X, Y, y, sw)
        sgd = self.solver == "sgd"
        verbose = bool(self.verbose)
        patience = self.n_iter_no_change
        try:
            history = self.network_._train(
                X, Y, _MLPMessages(self.n_iter_) if verbose else None, epochs=epochs,
                batch_size=self._batch_size(X.shape[0]),
                learning_rate=self.learning_rate_init, shuffle=self.shuffle,
                seed=int(self._rng.randint(_SEED_LIMIT)), train_biases=True,
                optimizer=self.solver, momentum=self.momentum,
                nesterov=self.nesterovs_momentum, beta_1=self.beta_1, beta_2=self.beta_2,
                epsilon=self.epsilon, alpha=self._l2_alpha(sw, X.shape[0]),
                schedule=self.learning_rate if sgd else "constant", power_t=self.power_t,
                sample_weight=sw, validation_data=validation, score=score,
                early_stopping=early, tol=self.tol,
                n_iter_no_change=(
                    None if not stopping or self.solver == "lbfgs" else
                    float(patience) if _never(patience) else patience
                ),
                callback=None, verbose=verbose, max_fun=self.max_fun, dropout=self.dropout,
            )  # fmt: skip
        except DivergenceError as exc:
            return self._diverged(exc, X, Y)
        self._record(history, X, Y)
        return history

    def _diverged(self, exc: DivergenceError, X: np.ndarray, Y: np.ndarray) -> History:
        """Training diverged.  Under early stopping the network has the best
        parameters on the validation set: keep them, score the diverged epoch NaN
        and warn (scikit-learn's MLP goes on the same way); else raise, in
        scikit-learn's words and fastbp's."""
        history = exc.history
        if history is not None and len(history):
            self._record(history, X, Y)
        if (
            self.validation_scores_ is not None
            and history is not None
            and (history.best_epoch is not None)
        ):
            self.validation_scores_.append(float("nan"))
            warnings.warn(
                f"fastbp: {exc} Early stopping kept the parameters of epoch "
                f"{history.best_epoch + 1} of this fit, the best on the validation set.",
                ConvergenceWarning,
                stacklevel=4,
            )
            return history
        raise DivergenceError(f"{_NONFINITE} ({exc})") from exc

    def _hold_out(
        self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, sw: Any
    ) -> tuple[np.ndarray, np.ndarray, Any, Callable[[Network], float], Any]:
        """Split off the validation set of early stopping: the training part, its
        score and the validation inputs and targets (for the validation loss)."""
        stratify = y if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1 else None
        if stratify is not None:
            labels, counts = np.unique(stratify, return_counts=True)
            if counts.min() < 2:
                raise ValueError(
                    "early stopping holds out a validation set stratified by class, which "
                    f"needs at least 2 samples of each class; class {labels[counts.argmin()]!r} "
                    f"has {counts.min()}. Add samples of it, or set early_stopping=False"
                )
        parts = train_test_split(
            X,
            Y,
            y,
            *([] if sw is None else [sw]),
            test_size=self.validation_fraction,
            random_state=self._rng,
            stratify=stratify,
        )
        X, X_val, Y, Y_val, _, y_val = parts[:6]
        sw, sw_val = (None, None) if sw is None else parts[6:8]
        if X_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small: {X_val.shape[0]} sample(s) of the "
                f"{X.shape[0] + X_val.shape[0]} given; increase validation_fraction or "
                "the number of samples"
            )

        def score(net: Network) -> float:
            try:
                outputs = net.predict(X_val)
            except ValueError:  # outputs that overflow: the epoch scores NaN
                return float("nan")
            return self._validation_score(outputs, y_val, sw_val)

        return X, Y, sw, score, (X_val, Y_val)

    def _record(self, history: History, X: np.ndarray, Y: np.ndarray) -> None:
        """The fitted attributes that a training call (on X, Y) adds to."""
        self.n_iter_ += len(history)
        self.t_ += len(history) * X.shape[0]
        self.loss_curve_.extend(history)
        if history:
            self.loss_ = history[-1]
        elif not hasattr(self, "loss_"):  # L-BFGS converged where it started
            self.loss_ = float(self.network_.loss(X, Y))
        if self.validation_scores_ is not None:
            self.validation_scores_.extend(history.val_score)
            self.best_validation_score_ = max(self.validation_scores_, default=-np.inf)
        else:
            self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if self.validation_loss_curve_ is not None:
            self.validation_loss_curve_.extend(history.val_loss)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseBP:
        """Train on X, y for up to ``max_iter`` epochs; return the estimator.

        With ``warm_start`` a fitted estimator continues from its parameters
        (the optimiser starts afresh, as in scikit-learn); a
        ``hidden_layer_sizes``, ``activation``, ``loss`` or ``dtype`` changed
        since raises ``ValueError`` (scikit-learn's MLP would ignore it).
        """
        hidden = self._check_params()
        warm = self.warm_start and hasattr(self, "network_")
        if warm:
            self._check_unchanged(hidden, "warm_start=True")
        X, y = self._validate(X, y, reset=not warm)
        if warm:
            self._check_warm_targets(y)
        Y = self._encode(y, fitting=not warm)
        sw = self._sample_weight(y, sample_weight, X.shape[0])
        if warm:
            self.n_iter_ = 0
            self.network_.reset_optimizer()
        else:
            self._start(X, Y, hidden)
        history = self._train(X, Y, y, sw, self.max_iter, stopping=True)
        self._warn_unconverged(history)
        return self

    def _check_warm_targets(self, y: np.ndarray) -> None:
        """What a warm-started fit needs of y beyond a fresh fit (the classifier's classes)."""

    def _warn_unconverged(self, history: History) -> None:
        """scikit-learn's ConvergenceWarning when fit ran out of iterations (or, for
        L-BFGS, of evaluations, or its line search failed)."""
        if self.solver == "lbfgs":
            if history.converged:
                return
            message = (
                f"fastbp: lbfgs failed to converge after {len(history)} iteration(s) "
                f"({history.stop_reason or 'the maximum number of iterations was reached'}); "
                f"raise max_iter (now {self.max_iter}) or max_fun (now {self.max_fun}), "
                "or scale the data"
            )
        elif len(history) == self.max_iter:
            message = (
                f"fastbp: the maximum number of epochs ({self.max_iter}) was reached before "
                "training converged; consider raising max_iter"
            )
        else:
            return
        # stacklevel: the caller of BPClassifier.fit or BPRegressor.fit
        warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _partial_fit(self, X: Any, y: Any, sample_weight: Any, classes: Any) -> _BaseBP:
        if is_stream(X):
            return self._partial_fit_stream(X, y, sample_weight, classes)
        hidden = self._check_params()
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit")
        first = not hasattr(self, "network_")
        if not first:
            self._check_unchanged(hidden, "partial_fit")
        X, y = self._validate(X, y, reset=first)
        Y = self._encode(y, fitting=first, classes=classes)
        sw = self._sample_weight(y, sample_weight, X.shape[0], partial=True)
        if first:
            self._start(X, Y, hidden)
        self._train(X, Y, y, sw, 1, stopping=False)
        return self

    def _partial_fit_stream(self, X: Any, y: Any, sample_weight: Any, classes: Any) -> _BaseBP:
        """One epoch over a memmap, Dask or Zarr X too large for memory: its chunks of
        rows in order, each read, checked and trained on (shuffled within itself)
        in turn.  It counts as one iteration, whose loss is the chunks' mean."""
        if getattr(X, "ndim", None) != 2:
            raise ValueError(f"X must be 2-D; got shape {getattr(X, 'shape', None)}")
        n = int(X.shape[0])
        if getattr(y, "shape", (n,))[0] != n:
            raise ValueError(f"X has {n} samples but y has {y.shape[0]}")
        weights = None if sample_weight is None else sample_weight_values(sample_weight, n)
        if weights is not None and not weights.any():
            raise ValueError(
                "sample_weight sums to zero; at least one sample needs a positive weight"
            )
        iterations = getattr(self, "n_iter_", 0)
        before = copy.deepcopy(self.__dict__)  # a chunk refused later leaves it as it was
        losses = []
        try:
            for start, stop in row_bounds(X, n, X.dtype.itemsize * int(X.shape[1])):
                part = None if weights is None else weights[start:stop]
                if part is not None and not part.any():
                    continue  # a chunk of zero weight teaches nothing
                Xc, yc = read_rows(X, start, stop), read_rows(y, start, stop)
                self._partial_fit(Xc, yc, part, classes)
                losses.append((self.loss_, stop - start))
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        n = sum(rows for _, rows in losses)
        # one call, one epoch: the chunks' losses become one entry
        del self.loss_curve_[len(self.loss_curve_) - len(losses) :]
        self.loss_ = float(sum(loss * rows for loss, rows in losses) / n)
        self.loss_curve_.append(self.loss_)
        self.n_iter_ = iterations + 1
        self.best_loss_ = min(self.loss_curve_)
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        """The fitted network's outputs for X, read in the network's dtype.

        ``dtype`` is checked as ``fit`` checks it, so that a value set after
        ``fit`` is refused rather than ignored.
        """
        check_is_fitted(self)
        if self.dtype is not None:
            check_dtype(self.dtype)
        X = _validate_data(
            self, X, dtype=self.network_.dtype, reset=False, accept_sparse=_SPARSE_FORMATS
        )
        return self.network_.predict(X)


def _never(patience: Any) -> bool:
    """Whether ``n_iter_no_change`` is infinity: the stopping rule never fires."""
    return isinstance(patience, (float, np.floating)) and patience == np.inf


def _partial_fit_available(estimator: _BaseBP) -> bool:
    """partial_fit exists for the solvers that train epoch by epoch, not L-BFGS."""
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for the solvers that train epoch by epoch "
            "('sgd', 'adam', 'rprop'); solver='lbfgs' optimises over the whole data: use fit"
        )
    return True


class BPClassifier(ClassifierMixin, _BaseBP):
    """A back-propagation network classifier with scikit-learn's interface.

    Binary targets get one sigmoid output, multiclass targets a softmax
    output, multilabel (indicator matrix) targets one sigmoid output per
    label, all trained on cross-entropy (or, with ``loss="squared_error"``,
    sigmoid outputs on the half squared error).  Labels may be of any type.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, \
warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, \
beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As in :class:`sklearn.neural_network.MLPClassifier`: ``solver`` is
        ``"lbfgs"`` (SciPy's L-BFGS-B, each evaluation one GIL-free engine
        call), ``"sgd"``, ``"adam"`` or fastbp's ``"rprop"`` (iRprop-, full
        batches, FANN's default), and ``activation`` also takes fastbp's
        ``"sigmoid"`` (= ``"logistic"``) and ``"leaky_relu"``.  ``verbose``
        prints scikit-learn's MLP lines to stdout: ``Iteration N, loss = ...``
        per epoch, ``Validation score: ...`` under early stopping, and the
        message of the stopping rule.  ``n_iter_no_change=np.inf`` never stops.
        A fit that diverges raises ``DivergenceError`` (a ``ValueError``),
        except under early stopping, which keeps the best epoch and warns.
    class_weight : None, "balanced" or dict {class: weight}
        Weights of the classes, multiplying ``sample_weight`` (scikit-learn's
        MLP has none); "balanced" weighs each class by ``n_samples /
        (n_classes * its count)``.  Not for multilabel targets, and not
        "balanced" in ``partial_fit``, which never sees all the data.
    dropout : None, float or tuple of float
        Inverted dropout while fitting (scikit-learn's MLP has none): the
        probability of leaving out each unit of every hidden layer (a float),
        or of each hidden layer in turn (a tuple), each in [0, 1); never
        when predicting.  Not with ``solver="lbfgs"``.
    dtype : {None, "float64", "float32"}
        Precision of the network's parameters and arithmetic; None (the
        default) follows X as scikit-learn does: float32 for float32 X,
        float64 for anything else.
    loss : {"cross_entropy", "squared_error"}

    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, loss_curve_, best_loss_, \
validation_scores_, best_validation_score_, n_iter_, t_, n_layers_, \
n_outputs_, out_activation_, n_features_in_, feature_names_in_
        As in ``MLPClassifier`` (``coefs_`` and ``intercepts_`` are writable
        views into the network's parameters, and may be assigned; ``loss_``
        is fastbp's per-sample loss averaged over the samples, plus the L2
        penalty; ``loss_curve_`` is kept for lbfgs too, one entry an iteration).
    validation_loss_curve_ : list of float or None
        Under early stopping, the mean loss on the validation set after each
        epoch (unweighted); None otherwise.
    network_ : fastbp.Network
        The trained network.
    """

    _losses = ("cross_entropy", "squared_error")

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = LBFGS_MAX_FUN,
        class_weight: Any = None,
        dropout: Any = None,
        dtype: Any = None,
        loss: str = "cross_entropy",
    ) -> None:
        self.class_weight = class_weight
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, dropout=dropout,
            dtype=dtype, loss=loss,
        )  # fmt: skip

    def _encode(self, y: np.ndarray, fitting: bool, classes: Any = None) -> np.ndarray:
        if fitting:
            self._binarizer = LabelBinarizer()
            # Telling integral from other float labels casts them to int, which
            # warns for labels beyond the int range; the classes come out right.
            with np.errstate(invalid="ignore"):
                # partial_fit's classes list the labels, but for multilabel y (its columns)
                multilabel = type_of_target(y) == "multilabel-indicator"
                self._binarizer.fit(y if classes is None or multilabel else classes)
            self.classes_ = self._binarizer.classes_
        if not fitting or classes is not None:
            if not fitting and classes is not None:
                given = np.unique(np.asarray(classes))
                if not np.array_equal(given, np.unique(self.classes_)):
                    raise ValueError(
                        f"classes={given.tolist()} differs from the classes of the first call "
                        f"to partial_fit, {self.classes_.tolist()}; pass the same ones"
                    )
            unknown = np.setdiff1d(_labels_of(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y has classes {unknown.tolist()} not in classes_ {self.classes_.tolist()}"
                )
        # One class trains one output towards 0 and always predicts that class.
        return self._binarizer.transform(y)

    def _check_warm_targets(self, y: np.ndarray) -> None:
        if self._binarizer.y_type_ == "multilabel-indicator":
            return
        if not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {self.classes_}, `y` has {np.unique(y)}"
            )

    def _sample_weight(
        self, y: np.ndarray, sample_weight: Any, n: int, partial: bool = False
    ) -> Any:
        """``sample_weight`` times the weight ``class_weight`` gives each sample's class."""
        class_weight = self.class_weight
        if class_weight is None:
            return sample_weight
        if self._binarizer.y_type_ == "multilabel-indicator":
            raise ValueError(
                "class_weight weighs each sample by its class, and a multilabel sample has "
                "several; use sample_weight"
            )
        if isinstance(class_weight, str) and class_weight == "balanced" and partial:
            raise ValueError(
                "class_weight='balanced' weighs the classes by their frequencies in all the "
                "data, which partial_fit sees one part at a time; compute the weights once "
                "(sklearn.utils.class_weight.compute_class_weight) and pass them as a dict"
            )
        if not (isinstance(class_weight, dict) or class_weight == "balanced"):
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict {{class: weight}}; "
                f"got {class_weight!r:.80}"
            )
        if isinstance(class_weight, dict):
            unknown = [c for c in class_weight if c not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names classes {unknown!r:.80} that are not in "
                    f"classes_ {self.classes_.tolist()!r:.200}"
                )
        weights = compute_sample_weight(class_weight, y)
        if sample_weight is None:
            return weights
        return weights * sample_weight_values(sample_weight, n)

    def _output(self) -> str:
        multiclass = self._binarizer.y_type_ == "multiclass"
        return "softmax" if multiclass and self.loss == "cross_entropy" else "sigmoid"

    def _validation_score(self, outputs: np.ndarray, y: np.ndarray, sw: Any) -> float:
        return float(accuracy_score(y, self._decide(outputs), sample_weight=sw))

    def _decide(self, outputs: np.ndarray) -> np.ndarray:
        return self._binarizer.inverse_transform(outputs, threshold=0.5)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BPClassifier:
        super().fit(X, y, sample_weight)
        return self

    fit.__doc__ = _BaseBP.fit.__doc__

    @available_if(_partial_fit_available)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> BPClassifier:
        """Train one epoch on X, y; ``classes`` lists every class on the first call.

        Not available with ``solver="lbfgs"`` (``hasattr(est, "partial_fit")``
        is False), as in scikit-learn.
        """
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        self._partial_fit(X, y, sample_weight, classes)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class (or label indicators) of each sample."""
        return self._decide(self._outputs(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class, shape ``(n_samples, n_classes)``.

        For multilabel targets, the independent probability of each label.
        """
        p = self._outputs(X).astype(np.float64)
        if len(self.classes_) == 1 and self._binarizer.y_type_ != "multilabel-indicator":
            return np.ones((p.shape[0], 1))
        if self._binarizer.y_type_ == "binary":
            return np.column_stack([1.0 - p[:, 0], p[:, 0]])
        if self.out_activation_ == "logistic" and self._binarizer.y_type_ == "multiclass":
            # sigmoid outputs trained on squared error: normalise them into probabilities
            p = np.maximum(p, _MIN_PROBABILITY)
            p /= p.sum(axis=1, keepdims=True)
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, always finite.

        A saturated output (a probability that is 0 in float64) is clipped to
        the smallest normal float64 first, so its log is about -708, not -inf.
        """
        return np.log(np.maximum(self.predict_proba(X), _MIN_PROBABILITY))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _labels_of(y: np.ndarray) -> np.ndarray:
    if type_of_target(y) == "multilabel-indicator":
        return np.arange(y.shape[1])
    return np.unique(y)


class BPRegressor(RegressorMixin, _BaseBP):
    """A back-propagation network regressor with scikit-learn's interface.

    An identity output layer trained on the half squared error (or on the
    Huber or absolute error; an exp output on the Poisson deviance); ``y``
    may have several columns.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, \
warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, \
beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dropout, dtype
        As for :class:`BPClassifier`.
    loss : {"squared_error", "poisson", "huber", "absolute_error"}
        ``poisson`` is half the Poisson deviance with an exp output (targets
        >= 0, as scikit-learn's ``loss="poisson"``); ``huber`` is quadratic
        within 1 of the target and linear beyond; ``absolute_error`` is |e|.

    Attributes
    ----------
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, validation_loss_curve_, n_iter_, t_, n_layers_, n_outputs_, \
out_activation_, n_features_in_, feature_names_in_, network_
        As for :class:`BPClassifier`; the validation score is R².
    """

    _losses = ("squared_error", "poisson", "huber", "absolute_error")

    def _encode(self, y: np.ndarray, fitting: bool, classes: Any = None) -> np.ndarray:
        if fitting:
            self._y_ndim = y.ndim
        return y.reshape(y.shape[0], -1)

    def _output(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validation_score(self, outputs: np.ndarray, y: np.ndarray, sw: Any) -> float:
        return float(r2_score(y, outputs.reshape(y.shape), sample_weight=sw))

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BPRegressor:
        super().fit(X, y, sample_weight)
        return self

    fit.__doc__ = _BaseBP.fit.__doc__

    @available_if(_partial_fit_available)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> BPRegressor:
        """Train one epoch on X, y (not available with ``solver="lbfgs"``)."""
        self._partial_fit(X, y, sample_weight, None)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The network's outputs: shape ``(n_samples,)`` for a 1-D ``y``, else 2-D."""
        out = self._outputs(X)
        return out.ravel() if self._y_ndim == 1 else out
