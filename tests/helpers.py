"""Shared builders for the tests: random problems and twin networks."""

import numpy as np

import fastbp as fb
from fastbp import reference

# (hidden activation, output activation, loss) combinations fastbp trains.
PAIRS = [
    (hidden, output, loss)
    for hidden in ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
    for output, loss in (
        ("sigmoid", "squared_error"),
        ("identity", "squared_error"),
        ("tanh", "squared_error"),
        ("relu", "squared_error"),
        ("leaky_relu", "squared_error"),
        ("sigmoid", "cross_entropy"),
        ("softmax", "cross_entropy"),
        ("exp", "poisson"),
        ("identity", "huber"),
        ("sigmoid", "huber"),
        ("identity", "absolute_error"),
        ("tanh", "absolute_error"),
    )
]


def problem(sizes, output, loss, n, seed):
    """Inputs and targets that suit the output activation and loss."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    if output == "softmax":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=(n, sizes[-1])).astype(float)
    elif loss in ("huber", "absolute_error") and output == "identity":
        Y = rng.normal(scale=2.0, size=(n, sizes[-1]))  # errors on both sides of the Huber bend
    elif loss == "cross_entropy" or output == "sigmoid":
        Y = rng.uniform(0, 1, size=(n, sizes[-1]))
    else:
        Y = rng.normal(size=(n, sizes[-1]))
    return X, Y


def assert_same_params(net, ref, tol):
    """Every weight and bias of a fastbp network within ``tol`` of a reference network's."""
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def twins(sizes, hidden, output, loss, seed, dtype="float64"):
    """A fastbp network and a reference network with the same initial parameters."""
    net = fb.Network(
        sizes, activation=hidden, output_activation=output, loss=loss, dtype=dtype, seed=seed
    )
    # Biases start at zero; give them values so their part of the math is exercised.
    rng = np.random.default_rng(seed + 1)
    for b in net.biases:
        b[...] = rng.uniform(-0.5, 0.5, size=b.shape)
    ref = reference.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        loss=loss,
        weights=net.weights,
        biases=net.biases,
    )
    return net, ref


def float32_twin(net):
    """A float32 copy of a float64 network, same architecture and parameters."""
    return fb.Network(
        net.sizes,
        activation=net.activation,
        output_activation=net.output_activation,
        loss=net.loss_name,
        dtype="float32",
        weights=net.weights,
        biases=net.biases,
    )
