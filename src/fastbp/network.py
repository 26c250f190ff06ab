"""``Network``: the Python face of the engine.

It validates and converts every input once, owns the flat parameter buffer
(``weights`` and ``biases`` are views into it) and the reusable work buffers,
and hands whole epochs to :mod:`fastbp._engine`.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from fastbp import _engine
from fastbp._validation import (
    as_matrix,
    check_dtype,
    check_int,
    check_learning_rate,
    check_seed,
    check_sizes,
    check_targets,
    raise_not_finite,
)
from fastbp.activations import ACTIVATIONS, LOSSES, RELU_FAMILY, check_names

# Rows that predict, loss and gradients push through the engine at a time, so
# their work buffers stay small whatever the number of samples.
CHUNK_ROWS = 1024


class DivergenceError(FloatingPointError):
    """Training stopped because the loss stopped being a finite number."""


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

    # -- parameters ---------------------------------------------------------

    def _set_params(self, params: np.ndarray) -> None:
        self.params = params
        self.weights, self.biases = layer_views(self.sizes, params)

    def _init_params(self, weights: Any, biases: Any) -> None:
        rng = np.random.default_rng(self.seed)
        n_layers = len(self.sizes) - 1
        for name, given in (("weights", weights), ("biases", biases)):
            if given is not None and (
                isinstance(given, (str, bytes, np.ndarray)) or len(given) != n_layers
            ):
                raise ValueError(
                    f"{name} must be a list of {n_layers} arrays, one per layer; got {given!r:.80}"
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
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of numbers of shape {shape}") from None
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}; expected {shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity; every value must be finite")
        return array

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

    def _data(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = as_matrix(X, "X", self.dtype, self.sizes[0])
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
        """
        X = as_matrix(X, "X", self.dtype, self.sizes[0], check_finite=False)
        out = self._layout.predict(self.params, X, CHUNK_ROWS)
        if out is None:
            raise_not_finite("X")
        return out

    def loss(self, X: Any, Y: Any) -> float:
        """Mean over the samples of the per-sample loss."""
        X, Y = self._data(X, Y)
        rows = min(X.shape[0], CHUNK_ROWS)
        total = _engine.loss_sum(self._layout, self.params, X, Y, self._buffer(rows), rows)
        return float(total) / X.shape[0]

    def gradients(self, X: Any, Y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradient of :meth:`loss` with respect to the weights and the biases.

        Returns ``(dW, db)``: lists shaped like ``weights`` and ``biases``.
        The parameters are not changed.
        """
        return layer_views(self.sizes, self.flat_gradient(X, Y))

    def flat_gradient(self, X: Any, Y: Any) -> np.ndarray:
        """Gradient of :meth:`loss` as one array laid out like ``params``."""
        X, Y = self._data(X, Y)
        rows = min(X.shape[0], CHUNK_ROWS)
        grad = np.empty_like(self.params)
        _engine.gradient_into(
            self._layout, self.params, X, Y, grad, self._buffer(rows), self._buffer(rows), rows
        )
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
                "backup": np.empty(2 * self.params.size, dtype=self.dtype),
            }
            self._workspace_rows = rows
        return self._workspace

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
    ) -> list[float]:
        """Train by mini-batch gradient descent; return the mean loss of each epoch.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, n_inputs) and (n_samples, n_outputs)
        epochs : int
            Passes over the data.
        batch_size : int or None
            Samples per update: 1 is online learning, None (or at least the
            number of samples) full-batch gradient descent.  A batch's gradient
            is the mean over its samples.
        learning_rate : float
            Step size, > 0.
        shuffle : bool
            Reshuffle the samples before each epoch (ignored for full batches).
        seed : int or None
            Seed of the shuffle; the same seed gives the same order as
            :mod:`fastbp.reference`.
        train_biases : bool
            False keeps the biases fixed, as in the classic worked example.

        Returns
        -------
        list of float
            For each epoch, the mean per-sample loss seen during it (each batch
            measured just before its update).

        Raises
        ------
        DivergenceError
            If the loss stops being finite; the network then holds the last
            parameters that gave a finite loss on a whole batch.
        """
        X, Y = self._data(X, Y)
        epochs = check_int(epochs, "epochs", 1)
        n = X.shape[0]
        batch = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
        learning_rate = check_learning_rate(learning_rate)
        seed = check_seed(seed)
        shuffle = bool(shuffle) and batch < n
        state = (
            np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] if seed is None else seed
        )
        order = np.arange(n, dtype=np.int64) if shuffle else np.empty(0, dtype=np.int64)
        losses = np.zeros(epochs)
        with self._lock:
            buf = self._training_buffers(batch, X.shape[1], Y.shape[1])
            done, _ = _engine.train_epochs(
                self._layout,
                self.params,
                X,
                Y,
                order,
                shuffle,
                int(state),
                batch,
                buf["acts"],
                buf["deltas"],
                buf["xb"],
                buf["yb"],
                buf["backup"],
                losses,
                learning_rate,
                bool(train_biases),
            )
        if done < epochs:
            raise DivergenceError(
                f"training diverged in epoch {done + 1}: the loss became infinite or NaN; "
                "the network keeps the last parameters that gave a finite loss. "
                f"Try a smaller learning_rate (got {learning_rate})."
            )
        history = (losses / n).tolist()
        return history


def train(net: Network, X: Any, Y: Any, **kwargs: Any) -> list[float]:
    """Functional form of :meth:`Network.train`."""
    return net.train(X, Y, **kwargs)


def predict(net: Network, X: Any) -> np.ndarray:
    """Functional form of :meth:`Network.predict`."""
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
    X, Y = net._data(X, Y)
    double = net.dtype == np.float64
    h = (1e-3 if double else 1e-2) if eps is None else float(eps)
    floor = (1e-6 if double else 1e-3) if floor is None else float(floor)
    grad = net.flat_gradient(X, Y).astype(np.float64)
    params = net.params
    numeric = np.empty_like(grad)
    with net._lock:
        for i in range(params.size):
            saved = params[i]
            losses = []
            for k in (-2, -1, 1, 2):
                params[i] = saved + k * h
                losses.append(net.loss(X, Y))
            params[i] = saved
            numeric[i] = (losses[0] - 8 * losses[1] + 8 * losses[2] - losses[3]) / (12 * h)
    scale = np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), floor)
    return float(np.max(np.abs(grad - numeric) / scale))
