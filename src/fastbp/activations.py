"""The names fastbp understands, and the codes the engine uses for them.

This table is the one place a name maps to a code; the codes are those of
``csrc/fastbp_kernels.h`` (a test checks the two agree).
"""

from __future__ import annotations

ACTIVATIONS: dict[str, int] = {
    "identity": 0,
    "sigmoid": 1,
    "tanh": 2,
    "relu": 3,
    "leaky_relu": 4,
    "softmax": 5,
    "exp": 6,
}
"""Activation name -> engine code.  ``softmax`` and ``exp`` are for the output layer only."""

LOSSES: dict[str, int] = {
    "squared_error": 0,
    "cross_entropy": 1,
    "poisson": 2,
    "huber": 3,
    "absolute_error": 4,
}
"""Loss name -> engine code.  Per sample, summed over the outputs, with e = o - t:
``squared_error`` e^2 / 2; ``cross_entropy`` binary (sigmoid output) or
categorical (softmax); ``poisson`` half the Poisson deviance t log(t / o) - t + o
(exp output); ``huber`` e^2 / 2 for |e| <= HUBER_DELTA, else HUBER_DELTA (|e| -
HUBER_DELTA / 2); ``absolute_error`` |e|."""

HUBER_DELTA = 1.0
"""Where the Huber loss turns from quadratic to linear (the engine's FBP_HUBER_DELTA)."""

HIDDEN_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUT_ACTIVATIONS = (*HIDDEN_ACTIVATIONS, "softmax", "exp")
RELU_FAMILY = ("relu", "leaky_relu")
LEAKY_SLOPE = 0.01
"""Slope of ``leaky_relu`` for negative inputs."""


def check_names(activation: str, output_activation: str, loss: str) -> None:
    """Raise ``ValueError`` unless the three names form a network fastbp can train."""
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {', '.join(HIDDEN_ACTIVATIONS)}"
            + (
                f" ({activation} is only for the output layer)"
                if activation in ("softmax", "exp")
                else ""
            )
        )
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"unknown output_activation {output_activation!r}; "
            f"expected one of {', '.join(OUTPUT_ACTIVATIONS)}"
        )
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if output_activation == "softmax" and loss != "cross_entropy":
        raise ValueError(
            "a softmax output needs loss='cross_entropy'; "
            f"use output_activation='sigmoid' or 'identity' with {loss}"
        )
    if (output_activation == "exp") != (loss == "poisson"):
        raise ValueError(
            "loss='poisson' and output_activation='exp' go together (the exp output is "
            f"the Poisson mean); got loss={loss!r} with output_activation={output_activation!r}"
        )
    if loss == "cross_entropy" and output_activation not in ("sigmoid", "softmax"):
        raise ValueError(
            "loss='cross_entropy' needs output_activation='sigmoid' (binary or multilabel) "
            f"or 'softmax' (categorical); got {output_activation!r}"
        )
