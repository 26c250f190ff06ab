"""The optimisers and learning-rate schedules fastbp trains with: the one table.

Validation, the estimators, training and :mod:`fastbp.reference` all read
their names, state and constants here.  Each optimiser's code is that of
``_engine.pyx``, and the Rprop constants those of ``csrc/fastbp_kernels.h``
(a test checks they agree).  Adding an optimiser is one row here plus its
kernel in csrc/ and its branch in the engine's ``update``.

The names users pass are :data:`SOLVERS`; ``sgd`` with ``momentum > 0``
runs the engine's ``momentum`` optimiser (see :func:`engine_optimizer`).

>>> from fastbp.optimizers import engine_optimizer
>>> engine_optimizer("sgd", momentum=0.9).name
'momentum'
>>> [name for name, _ in engine_optimizer("adam", momentum=0.9).state]
['first_moment', 'second_moment']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Optimizer:
    """One optimiser of the engine.

    ``state`` names the parameter-sized buffers it keeps from one update to
    the next, in the order the engine lays them out, each with its initial
    value.  ``full_batch`` optimisers need the gradient of all the samples.
    An optimiser ``in_engine`` runs whole epochs inside the engine's
    ``train_epochs`` under its ``code``; the others (L-BFGS, code -1) drive
    the engine's loss-and-gradient call from Python, one call per evaluation.
    """

    name: str
    code: int
    state: tuple[tuple[str, float], ...] = ()
    full_batch: bool = False
    in_engine: bool = True


# iRprop- (FANN's default): the first step of every parameter (FANN's
# rprop_delta_zero), the factors a step grows and shrinks by, and its bounds.
RPROP_STEP_INIT = 0.1
RPROP_INCREASE = 1.2
RPROP_DECREASE = 0.5
RPROP_STEP_MIN = 1e-6
RPROP_STEP_MAX = 50.0

OPTIMIZERS: dict[str, Optimizer] = {
    row.name: row
    for row in (
        Optimizer("sgd", 0),
        Optimizer("momentum", 1, state=(("velocity", 0.0),)),
        Optimizer("adam", 2, state=(("first_moment", 0.0), ("second_moment", 0.0))),
        Optimizer(
            "rprop",
            3,
            state=(("step", RPROP_STEP_INIT), ("previous_gradient", 0.0)),
            full_batch=True,
        ),
        Optimizer("lbfgs", -1, full_batch=True, in_engine=False),
    )
}
"""Optimiser name -> its row."""

SOLVERS = ("sgd", "adam", "rprop", "lbfgs")
"""The names ``Network.train(optimizer=)`` and the estimators' ``solver`` take."""


def engine_optimizer(solver: str, momentum: float) -> Optimizer:
    """The engine's optimiser for ``solver``: plain ``sgd`` becomes ``momentum``
    when ``momentum > 0``."""
    if solver == "sgd" and momentum > 0:
        return OPTIMIZERS["momentum"]
    return OPTIMIZERS[solver]


SCHEDULES = ("constant", "invscaling", "adaptive")
"""Learning-rate schedules, as scikit-learn's MLP names them."""

# ``adaptive`` divides the rate by this whenever the monitored value stalls,
# and stops training instead once the rate is no larger than ADAPTIVE_MIN_RATE.
ADAPTIVE_DIVISOR = 5.0
ADAPTIVE_MIN_RATE = 1e-6

# Dropout's masks come from a splitmix64 stream of their own, started at the
# shuffle's seed XOR this constant (fastbp.reference starts at the same place).
DROPOUT_SALT = 0xD6E8FEB86659FD93

# L-BFGS: the correction pairs it keeps (SciPy's L-BFGS-B default, as in
# scikit-learn), and the loss evaluations it may make unless told (max_fun).
LBFGS_MEMORY = 10
LBFGS_MAX_FUN = 15000


def invscaling_rate(learning_rate: float, samples_seen: int, power_t: float) -> float:
    """The ``invscaling`` rate after ``samples_seen`` samples of training."""
    return learning_rate / (samples_seen + 1) ** power_t
