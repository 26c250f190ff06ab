from typing import Any

import numpy as np

ACTIVATION_CODES: dict[str, int]
LOSS_CODES: dict[str, int]
HUBER_DELTA: float
PREDICT_STATUS: dict[str, int]
INSTRUCTION_SETS: tuple[str, ...]
INSTRUCTION_SET: str

def use_instruction_set(name: str = ...) -> str: ...

OPTIMIZER_CODES: dict[str, int]
OPTIMIZER_STATE: dict[int, int]
RPROP_CONSTANTS: dict[str, float]

class Layout:
    n_params: int
    n_units: int
    n_in: int
    n_out: int
    def __init__(self, sizes: Any, activations: Any, loss: int) -> None: ...
    def predict(self, params: np.ndarray, X: Any, cap: int) -> tuple[int, Any]: ...
    def predict_csr(
        self,
        params: np.ndarray,
        values: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        cap: int,
    ) -> tuple[int, np.ndarray]: ...

def check_csr(indptr: np.ndarray, indices: np.ndarray, nnz: int, n_cols: int) -> None: ...
def loss_sum(
    layout: Layout,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    acts: np.ndarray,
    cap: int,
    *,
    indptr: np.ndarray | None = None,
    indices: np.ndarray | None = None,
) -> float: ...
def gradient_into(
    layout: Layout,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    grad: np.ndarray,
    acts: np.ndarray,
    deltas: np.ndarray,
    cap: int,
    sw: np.ndarray | None = None,
    l2: float = 0.0,
    weight_sum: float = 0.0,
    train_biases: bool = True,
    *,
    indptr: np.ndarray | None = None,
    indices: np.ndarray | None = None,
) -> float: ...
def train_epochs(
    layout: Layout,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    order: np.ndarray,
    shuffle: bool,
    state: int,
    batch: int,
    acts: np.ndarray,
    deltas: np.ndarray,
    xb: np.ndarray,
    yb: np.ndarray,
    backup: np.ndarray,
    losses: np.ndarray,
    learning_rate: float,
    train_biases: bool,
    optimizer: int = 0,
    l2: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    t: int = 0,
    grad: np.ndarray | None = None,
    opt_state: np.ndarray | None = None,
    sw: np.ndarray | None = None,
    swb: np.ndarray | None = None,
    epoch0: int = 0,
    check_inputs: bool = False,
    *,
    indptr: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    dropout: np.ndarray | None = None,
    dropout_state: int = 0,
    masks: np.ndarray | None = None,
) -> tuple[int, int, int, int]: ...
def checks_inputs(layout: Layout, itemsize: int, batch: int, n: int) -> bool: ...
def all_finite(X: np.ndarray) -> bool: ...
def gemm_check(
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    A: np.ndarray,
    B: np.ndarray,
    beta: float,
    C: np.ndarray,
) -> None: ...
def shuffle_order(order: np.ndarray, state: int) -> int: ...
def rprop_step(params: np.ndarray, grad: np.ndarray, opt_state: np.ndarray) -> None: ...
