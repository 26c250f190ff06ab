"""The same network in plain Python: the oracle and the speed baseline.

Lists of floats and the ``math`` module, no NumPy, one sample at a time, in
the spirit of the classic tutorial program.  It shares fastbp's constructor
and the semantics of ``predict``, ``loss``, ``gradients`` and ``train`` --
including the shuffle, which uses the same splitmix64 generator and
Fisher-Yates walk as the engine -- so that any result of the fast core can be
compared number for number.

The names follow the math: ``zs`` are net inputs, ``activations`` the layer
outputs, ``delta`` is dE/dz, ``nabla_w``/``nabla_b`` the gradients.

>>> from fastbp import reference
>>> net = reference.Network([2, 2, 2], weights=[[[0.15, 0.25], [0.2, 0.3]],
...                                              [[0.4, 0.5], [0.45, 0.55]]],
...                         biases=[[0.35, 0.35], [0.6, 0.6]])
>>> [round(o, 8) for o in net.predict([[0.05, 0.1]])[0]]
[0.75136507, 0.77292847]
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from fastbp.activations import HUBER_DELTA, LEAKY_SLOPE, RELU_FAMILY, check_names
from fastbp.optimizers import (
    DROPOUT_SALT,
    RPROP_DECREASE,
    RPROP_INCREASE,
    RPROP_STEP_MAX,
    RPROP_STEP_MIN,
    Optimizer,
    engine_optimizer,
    invscaling_rate,
)

Matrix = list[list[float]]

_MASK64 = (1 << 64) - 1
_DBL_MIN = 2.2250738585072014e-308


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _activate(name: str, zs: list[float]) -> list[float]:
    if name == "sigmoid":
        return [_sigmoid(z) for z in zs]
    if name == "tanh":
        return [math.tanh(z) for z in zs]
    if name == "relu":
        return [0.0 if z < 0 else z for z in zs]
    if name == "leaky_relu":
        return [LEAKY_SLOPE * z if z < 0 else z for z in zs]
    if name == "softmax":
        top = max(zs)
        exps = [math.exp(z - top) for z in zs]
        total = sum(exps)
        return [e / total for e in exps]
    if name == "exp":
        return [_exp(z) for z in zs]
    return list(zs)


def _exp(z: float) -> float:
    try:
        return math.exp(z)
    except OverflowError:  # as the engine, which gives inf
        return math.inf


def _derivative(name: str, a: float) -> float:
    """f'(z) written in terms of a = f(z)."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return 1.0 if a > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if a > 0 else LEAKY_SLOPE
    if name == "exp":
        return a
    return 1.0


def _huber(e: float) -> float:
    a = abs(e)
    return 0.5 * e * e if a <= HUBER_DELTA else HUBER_DELTA * (a - 0.5 * HUBER_DELTA)


def _loss_slope(loss: str, e: float) -> float:
    """dE/do of squared error, Huber or absolute error at the error e = o - t."""
    if loss == "absolute_error":
        return 1.0 if e > 0 else -1.0 if e < 0 else 0.0
    if loss == "huber":
        return max(-HUBER_DELTA, min(HUBER_DELTA, e))
    return e


def _safe_log(x: float) -> float:
    return math.log(_DBL_MIN if x < _DBL_MIN else x)


def _splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31), state


def shuffle_order(order: list[int], state: int) -> int:
    """Fisher-Yates shuffle of ``order`` in place, as the engine does; returns the new state."""
    for i in range(len(order) - 1, 0, -1):
        r, state = _splitmix64(state)
        j = r % (i + 1)
        order[i], order[j] = order[j], order[i]
    return state


def _rows(X: Any) -> Matrix:
    return [[float(v) for v in row] for row in X]


class Network:
    """A feed-forward network of plain Python lists (float64 arithmetic).

    Takes the same arguments as :class:`fastbp.Network`; ``dtype`` may only be
    ``float64``.  ``weights[l][i][j]`` is the weight from neuron i of layer l
    to neuron j of layer l + 1.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "squared_error",
        dtype: str = "float64",
        seed: int | None = None,
        weights: Any = None,
        biases: Any = None,
    ) -> None:
        check_names(activation, output_activation, loss)
        if str(dtype) != "float64":
            raise ValueError("the reference network computes in float64 only")
        self.sizes = [int(s) for s in sizes]
        self.activation = activation
        self.output_activation = output_activation
        self.loss_name = loss
        n_layers = len(self.sizes) - 1
        self.layer_activations = [activation] * (n_layers - 1) + [output_activation]
        rng = random.Random(seed)
        self.weights: list[Matrix] = []
        self.biases: list[list[float]] = []
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            if weights is not None:
                self.weights.append(_rows(weights[l]))
            else:
                fan = n_in if self.layer_activations[l] in RELU_FAMILY else n_in + n_out
                limit = math.sqrt(6.0 / fan)
                self.weights.append(
                    [[rng.uniform(-limit, limit) for _ in range(n_out)] for _ in range(n_in)]
                )
            self.biases.append(
                [float(b) for b in biases[l]] if biases is not None else [0.0] * n_out
            )

    # -- one sample -------------------------------------------------------

    def _forward(self, x: list[float], masks: list[Any] | None = None) -> list[list[float]]:
        """Activations of every layer, the input first; with dropout ``masks`` (a
        list of multipliers, or None, per hidden layer) those of the hidden layers
        times their mask."""
        activations = [x]
        for l, (W, b, name) in enumerate(zip(self.weights, self.biases, self.layer_activations)):
            a = activations[-1]
            # z_j = sum_i a_i W_ij + b_j
            zs = [sum(a[i] * W[i][j] for i in range(len(a))) + b[j] for j in range(len(b))]
            out = _activate(name, zs)
            if masks is not None and l < len(masks) and masks[l] is not None:
                out = [o * m for o, m in zip(out, masks[l])]
            activations.append(out)
        return activations

    def _sample_loss(self, o: list[float], t: list[float]) -> float:
        if self.loss_name == "squared_error":
            return sum(0.5 * (tj - oj) ** 2 for oj, tj in zip(o, t))
        if self.loss_name == "poisson":
            # half the Poisson deviance: t log(t / o) - t + o, with 0 log 0 = 0
            return sum(
                (tj * (math.log(tj) - _safe_log(oj)) if tj > 0 else 0.0) - tj + oj
                for oj, tj in zip(o, t)
            )
        if self.loss_name == "huber":
            return sum(_huber(oj - tj) for oj, tj in zip(o, t))
        if self.loss_name == "absolute_error":
            return sum(abs(oj - tj) for oj, tj in zip(o, t))
        if self.output_activation == "softmax":
            return -sum(tj * _safe_log(oj) for oj, tj in zip(o, t))
        return -sum(tj * _safe_log(oj) + (1.0 - tj) * _safe_log(1.0 - oj) for oj, tj in zip(o, t))

    def _backprop(
        self,
        x: list[float],
        t: list[float],
        nabla_w: list[Matrix],
        nabla_b: list[list[float]],
        masks: list[Any] | None = None,
    ) -> float:
        """Add this sample's dE/dW and dE/db to the nablas; return its loss."""
        activations = self._forward(x, masks)
        o = activations[-1]
        # delta(L) = o - t for cross-entropy and the Poisson deviance, else dE/do f'(z)
        if self.loss_name in ("cross_entropy", "poisson"):
            delta = [oj - tj for oj, tj in zip(o, t)]
        else:
            delta = [
                _loss_slope(self.loss_name, oj - tj) * _derivative(self.output_activation, oj)
                for oj, tj in zip(o, t)
            ]
        for l in range(len(self.weights) - 1, -1, -1):
            a_prev = activations[l]
            W = self.weights[l]
            # dE/dW_ij = a_prev_i delta_j,  dE/db_j = delta_j
            for i, ai in enumerate(a_prev):
                row = nabla_w[l][i]
                for j, dj in enumerate(delta):
                    row[j] += ai * dj
            for j, dj in enumerate(delta):
                nabla_b[l][j] += dj
            if l > 0:
                # delta_prev_i = (sum_j W_ij delta_j) f'(z_prev_i), times the unit's
                # dropout multiplier m_i (f' from a_prev_i / m_i, its activation
                # before the mask; 0 for a dropped unit)
                name = self.layer_activations[l - 1]
                mask = None if masks is None else masks[l - 1]
                delta = [
                    sum(W[i][j] * delta[j] for j in range(len(delta)))
                    * _derivative(name, a_prev[i])
                    if mask is None
                    else (
                        sum(W[i][j] * delta[j] for j in range(len(delta)))
                        * _derivative(name, a_prev[i] / mask[i] if mask[i] != 0 else a_prev[i])
                        * mask[i]
                    )
                    for i in range(len(a_prev))
                ]
        return self._sample_loss(o, t)

    def _zero_nablas(self) -> tuple[list[Matrix], list[list[float]]]:
        nabla_w = [[[0.0] * len(row) for row in W] for W in self.weights]
        nabla_b = [[0.0] * len(b) for b in self.biases]
        return nabla_w, nabla_b

    # -- the shared API ---------------------------------------------------

    def predict(self, X: Any) -> Matrix:
        """Outputs for each row of X, as a list of lists."""
        return [self._forward(x)[-1] for x in _rows(X)]

    def loss(self, X: Any, Y: Any) -> float:
        """Mean over the samples of the per-sample loss."""
        X, Y = _rows(X), _rows(Y)
        return sum(self._sample_loss(self._forward(x)[-1], t) for x, t in zip(X, Y)) / len(X)

    def gradients(self, X: Any, Y: Any) -> tuple[list[Matrix], list[list[float]]]:
        """Gradient of the mean loss: ``(dW, db)`` shaped like weights and biases."""
        X, Y = _rows(X), _rows(Y)
        nabla_w, nabla_b = self._zero_nablas()
        for x, t in zip(X, Y):
            self._backprop(x, t, nabla_w, nabla_b)
        n = len(X)
        return (
            [[[g / n for g in row] for row in W] for W in nabla_w],
            [[g / n for g in b] for b in nabla_b],
        )

    def objective_and_gradient(
        self, X: Any, Y: Any, sample_weight: Any = None, alpha: float = 0.0
    ) -> tuple[float, list[float]]:
        """What L-BFGS minimises and its gradient, flat in the engine's order.

        ``(sum_i w_i E_i + alpha / 2 * sum W^2) / sum_i w_i`` with ``w_i`` the
        sample weights (all 1 if None), as scikit-learn's lbfgs solver defines it.
        """
        X, Y = _rows(X), _rows(Y)
        sw = None if sample_weight is None else [float(w) for w in sample_weight]
        weight_sum = float(len(X)) if sw is None else sum(sw)
        total, grad = self._batch_gradient(X, Y, list(range(len(X))), sw, weight_sum, 0.0)
        params = self._flat(self.weights, self.biases)
        is_weight = self._is_weight()
        total += 0.5 * alpha * sum(p * p for p, w in zip(params, is_weight) if w)
        grad = _regularised(grad, params, is_weight, alpha / weight_sum, True)
        return total / weight_sum, grad

    def _flat(self, weights: list[Any], biases: list[Any]) -> list[Any]:
        """Weights and biases in the engine's flat order: W(l) row by row, then b(l)."""
        flat: list[Any] = []
        for W, b in zip(weights, biases):
            for row in W:
                flat.extend(row)
            flat.extend(b)
        return flat

    def _unflat(self, flat: list[float]) -> None:
        k = 0
        for W, b in zip(self.weights, self.biases):
            for row in W:
                row[:] = flat[k : k + len(row)]
                k += len(row)
            b[:] = flat[k : k + len(b)]
            k += len(b)

    def _is_weight(self) -> list[bool]:
        return self._flat(
            [[[True] * len(row) for row in W] for W in self.weights],
            [[False] * len(b) for b in self.biases],
        )

    def reset_optimizer(self) -> None:
        """Forget the optimiser's state, as :meth:`fastbp.Network.reset_optimizer`."""
        self._optimizer: dict[str, Any] = {}

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
        dropout: Any = None,
    ) -> list[float]:
        """Mini-batch gradient descent; the mean loss seen in each epoch.

        The optimisers, the L2 penalty ``alpha``, the ``invscaling`` schedule and
        sample weights mean what they mean in :meth:`fastbp.Network.train`
        (relative: each is divided by the largest), and the optimiser's state
        carries over to the next call in the same way; so does ``dropout``
        (one rate, or one per hidden layer), whose masks come from the same
        generator as the engine's.
        """
        if optimizer == "lbfgs":
            raise ValueError(
                "the reference trains by gradient steps, not L-BFGS; check an L-BFGS "
                "objective with objective_and_gradient"
            )
        X, Y = _rows(X), _rows(Y)
        n = len(X)
        sw = [1.0] * n if sample_weight is None else [float(w) for w in sample_weight]
        largest = max(sw)
        sw = [w / largest for w in sw]
        batch = n if batch_size is None else min(batch_size, n)
        shuffle_on = shuffle and batch < n
        state = (seed if seed is not None else random.getrandbits(64)) & _MASK64
        n_hidden = len(self.sizes) - 2
        rates = [dropout] * n_hidden if isinstance(dropout, (int, float)) else dropout
        self._dropout = None if rates is None or not any(rates) else [float(p) for p in rates]
        self._drop_state = state ^ DROPOUT_SALT
        order = list(range(n))
        opt = self._optimizer_for(engine_optimizer(optimizer, momentum))
        settings = {
            "is_weight": self._is_weight(),
            "weights": None if sample_weight is None else sw,
            "alpha": alpha,
            "train_biases": train_biases,
            "hyper": {"momentum": momentum, "nesterov": nesterov, "beta_1": beta_1,
                      "beta_2": beta_2, "epsilon": epsilon},
        }  # fmt: skip
        history = []
        try:
            for _ in range(epochs):
                rate = learning_rate
                if schedule == "invscaling":
                    rate = invscaling_rate(learning_rate, opt["samples"], power_t)
                if shuffle_on:
                    state = shuffle_order(order, state)
                total = 0.0
                for start in range(0, n, batch):
                    members = order[start : start + batch]
                    weight_sum = sum(sw[k] for k in members)
                    if weight_sum == 0.0:  # a batch of zero weight teaches nothing
                        continue
                    total = self._batch_update(
                        X, Y, members, weight_sum, opt, rate, settings, total
                    )
                opt["samples"] += n
                history.append(total / sum(sw))
        finally:
            self._dropout = None  # only training drops units
        return history

    def _batch_update(
        self,
        X: Matrix,
        Y: Matrix,
        members: list[int],
        weight_sum: float,
        opt: dict[str, Any],
        rate: float,
        settings: dict[str, Any],
        total: float,
    ) -> float:
        """One optimiser step on the batch ``members``; returns ``total`` plus its
        summed (weighted) loss, added sample by sample."""
        params = self._flat(self.weights, self.biases)
        is_weight, alpha = settings["is_weight"], settings["alpha"]
        total, grad = self._batch_gradient(X, Y, members, settings["weights"], weight_sum, total)
        if alpha > 0:
            total += 0.5 * alpha * sum(p * p for p, w in zip(params, is_weight) if w)
        grad = _regularised(grad, params, is_weight, alpha / weight_sum, settings["train_biases"])
        opt["t"] += 1
        self._unflat(_update(params, grad, opt, rate, **settings["hyper"]))
        return total

    def _draw_masks(self) -> list[Any] | None:
        """One sample's dropout multipliers per hidden layer (None where its rate
        is 0), drawn unit by unit as the engine draws them; None without dropout."""
        rates = getattr(self, "_dropout", None)
        if rates is None:
            return None
        masks: list[Any] = []
        for p, width in zip(rates, self.sizes[1:-1]):
            if p <= 0:
                masks.append(None)
                continue
            keep = 1.0 / (1.0 - p)
            layer = []
            for _ in range(width):
                r, self._drop_state = _splitmix64(self._drop_state)
                layer.append(keep if (r >> 11) * 2.0**-53 >= p else 0.0)
            masks.append(layer)
        return masks

    def _optimizer_for(self, optimizer: Optimizer) -> dict[str, Any]:
        """The state of ``optimizer``, kept from the last call while it stays the same."""
        opt = getattr(self, "_optimizer", {})
        if opt.get("name") != optimizer.name:
            size = len(self._flat(self.weights, self.biases))
            opt = {"name": optimizer.name, "t": 0, "samples": 0}
            for key, initial in optimizer.state:
                opt[key] = [initial] * size
            self._optimizer = opt
        return opt

    def _batch_gradient(
        self,
        X: Matrix,
        Y: Matrix,
        members: list[int],
        sw: list[float] | None,
        weight_sum: float,
        total: float,
    ) -> tuple[float, list[float]]:
        """``total`` plus the batch's summed (weighted) loss, and its mean gradient, flat."""
        nabla_w, nabla_b = self._zero_nablas()
        for k in members:
            masks = self._draw_masks()
            if sw is None:
                total += self._backprop(X[k], Y[k], nabla_w, nabla_b, masks)
                continue
            # a sample's weight scales its loss and its delta, hence its gradient
            one_w, one_b = self._zero_nablas()
            total += sw[k] * self._backprop(X[k], Y[k], one_w, one_b, masks)
            _add_scaled([*nabla_w, *nabla_b], [*one_w, *one_b], sw[k])
        return total, [g / weight_sum for g in self._flat(nabla_w, nabla_b)]


def _regularised(
    grad: list[float], params: list[float], is_weight: list[bool], l2: float, train_biases: bool
) -> list[float]:
    """grad + l2 * W for the weights; a zero gradient for biases that stay fixed."""
    if l2 > 0:
        grad = [g + l2 * p if w else g for g, p, w in zip(grad, params, is_weight)]
    if not train_biases:
        grad = [g if w else 0.0 for g, w in zip(grad, is_weight)]
    return grad


def _add_scaled(total: Any, part: Any, c: float) -> None:
    """total += c * part for equal-shaped lists (of lists) of floats."""
    for i, p in enumerate(part):
        if isinstance(p, list):
            _add_scaled(total[i], p, c)
        else:
            total[i] += c * p


def _update(
    p: list[float],
    g: list[float],
    opt: dict[str, Any],
    lr: float,
    momentum: float,
    nesterov: bool,
    beta_1: float,
    beta_2: float,
    epsilon: float,
) -> list[float]:
    """One step of optimiser ``opt["name"]`` over the flat parameters; its state is updated."""
    name = opt["name"]
    if name == "sgd":
        return [pi - lr * gi for pi, gi in zip(p, g)]
    if name == "momentum":
        v = opt["velocity"]
        out = []
        for i, (pi, gi) in enumerate(zip(p, g)):
            v[i] = momentum * v[i] - lr * gi
            out.append(pi + (momentum * v[i] - lr * gi if nesterov else v[i]))
        return out
    if name == "adam":
        m, v = opt["first_moment"], opt["second_moment"]
        t = opt["t"]
        lr_t = lr * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        out = []
        for i, (pi, gi) in enumerate(zip(p, g)):
            m[i] = beta_1 * m[i] + (1.0 - beta_1) * gi
            v[i] = beta_2 * v[i] + (1.0 - beta_2) * gi * gi
            out.append(pi - lr_t * m[i] / (math.sqrt(v[i]) + epsilon))
        return out
    # iRprop-: a step per parameter, grown while the gradient keeps its sign
    step, previous = opt["step"], opt["previous_gradient"]
    out = []
    for i, (pi, gi) in enumerate(zip(p, g)):
        if gi * previous[i] > 0:
            step[i] = min(step[i] * RPROP_INCREASE, RPROP_STEP_MAX)
        elif gi * previous[i] < 0:
            step[i] = max(step[i] * RPROP_DECREASE, RPROP_STEP_MIN)
            gi = 0.0
        out.append(pi - step[i] if gi > 0 else pi + step[i] if gi < 0 else pi)
        previous[i] = gi
    return out
