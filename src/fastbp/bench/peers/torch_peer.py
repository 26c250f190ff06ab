"""The PyTorch peer: ``nn.Sequential`` and ``optim.SGD``, as a user writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from fastbp.bench.peers.base import Peer, Predictor, Trainer, batches, optional
from fastbp.bench.problems import LEARNING_RATE, PredictionRun, TrainingRun, initial_parameters
from fastbp.bench.timing import Setup

# Differences from fastbp that equal settings cannot remove.
TORCH_NOTE = "nn.Sequential + optim.SGD(momentum=0), loss 1/2 sum (o - t)^2 mean over batch"


def torch_model(
    torch: Any,
    sizes: Sequence[int],
    dtype: str,
    seed: int,
    biases: bool = True,
    parameters: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
) -> Any:
    """nn.Sequential of Linear + Sigmoid layers holding ``parameters``.

    By default fastbp's initial parameters for ``seed``; ``biases=False`` freezes
    the biases (requires_grad=False).
    """
    Ws, bs = parameters if parameters is not None else initial_parameters(sizes, seed)
    layers = []
    for W, b in zip(Ws, bs):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        linear.bias.requires_grad_(biases)
        layers += [linear, torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


def torch_train(
    torch: Any, model: Any, X: Any, Y: Any, epochs: int, batch: int, shuffle: bool, seed: int
) -> float:
    """Mini-batch SGD in PyTorch as a user writes it; returns the last epoch's mean loss."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE, momentum=0.0)
    generator = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    total = 0.0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator) if shuffle else None
        total = 0.0
        for x, y in batches(X, Y, batch, order):
            optimizer.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(x) - y) ** 2).sum(dim=1).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
    return total / n


def torch_trainer(torch: Any, run: TrainingRun) -> Setup:
    """Each setup builds a new model holding the run's initial parameters."""
    Xt, Yt = torch.from_numpy(run.X), torch.from_numpy(run.Y)

    def setup() -> Callable[[], object]:
        model = torch_model(
            torch,
            run.sizes,
            run.dtype,
            run.seed,
            biases=run.train_biases,
            parameters=(run.weights, run.biases),
        )
        return lambda: torch_train(
            torch, model, Xt, Yt, run.epochs, run.batch, run.shuffle, run.seed
        )

    return setup


def torch_predictor(torch: Any, run: PredictionRun) -> Callable[[], object]:
    """``model(x)`` under inference_mode, x a ready tensor."""
    fit = run.training
    parameters = (fit.weights, fit.biases)
    model = torch_model(torch, fit.sizes, fit.dtype, fit.seed, parameters=parameters).eval()
    xt = torch.from_numpy(run.x)

    def predict() -> object:
        with torch.inference_mode():
            return model(xt)

    return predict


@contextmanager
def limit_threads(torch: Any, threads: int) -> Iterator[None]:
    """PyTorch's intra-op threads limited to ``threads``, restored afterwards."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)


def _worked_example(torch: Any, run: TrainingRun) -> Trainer:
    return Trainer("PyTorch", torch_trainer(torch, run), "biases frozen (requires_grad=False)")


def _epoch(torch: Any, run: TrainingRun) -> Trainer:
    return Trainer("PyTorch", torch_trainer(torch, run), TORCH_NOTE)


def _predict_one(torch: Any, run: PredictionRun) -> Predictor:
    return Predictor(
        "PyTorch", torch_predictor(torch, run), "model(x) under inference_mode, x a ready tensor"
    )


PEER = Peer(
    "PyTorch",
    load=lambda: optional("torch"),
    version_module="torch",
    worked_example=_worked_example,
    epoch=_epoch,
    predict_one=_predict_one,
    thread_limit=limit_threads,
)
