"""libfann 2.2 through ctypes: the independent side of the FANN tests.

``LIB`` is ``libdoublefann`` (or None when it is not installed, with the
reason in ``MISSING``); ``skip_without_fann`` skips a test module then,
unless ``FASTBP_REQUIRE_FANN`` is set (as CI sets it), which makes a missing
libfann an error.  The
helpers own the C objects they create and free them before returning.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Sequence

import numpy as np
import pytest

_c_double_p = ctypes.POINTER(ctypes.c_double)


class TrainData(ctypes.Structure):
    """``struct fann_train_data`` of the double library."""

    _fields_ = [
        ("errno_f", ctypes.c_int),
        ("error_log", ctypes.c_void_p),
        ("errstr", ctypes.c_char_p),
        ("num_data", ctypes.c_uint),
        ("num_input", ctypes.c_uint),
        ("num_output", ctypes.c_uint),
        ("input", ctypes.POINTER(_c_double_p)),
        ("output", ctypes.POINTER(_c_double_p)),
    ]


def _open() -> tuple[ctypes.CDLL | None, str]:
    name = ctypes.util.find_library("doublefann")
    if name is None:
        return None, "libdoublefann is not installed (Debian: apt-get install libfann-dev)"
    lib = ctypes.CDLL(name)
    ann, data = ctypes.c_void_p, ctypes.POINTER(TrainData)
    signatures = {
        "fann_create_from_file": (ann, [ctypes.c_char_p]),
        "fann_create_standard_array": (ann, [ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)]),
        "fann_create_sparse_array": (
            ann,
            [ctypes.c_float, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)],
        ),
        "fann_run": (_c_double_p, [ann, _c_double_p]),
        "fann_train": (None, [ann, _c_double_p, _c_double_p]),
        "fann_train_epoch": (ctypes.c_float, [ann, data]),
        "fann_save": (ctypes.c_int, [ann, ctypes.c_char_p]),
        "fann_destroy": (None, [ann]),
        "fann_get_num_input": (ctypes.c_uint, [ann]),
        "fann_get_num_output": (ctypes.c_uint, [ann]),
        "fann_set_activation_function_hidden": (None, [ann, ctypes.c_int]),
        "fann_set_activation_function_output": (None, [ann, ctypes.c_int]),
        "fann_set_activation_steepness_hidden": (None, [ann, ctypes.c_double]),
        "fann_set_activation_steepness_output": (None, [ann, ctypes.c_double]),
        "fann_set_training_algorithm": (None, [ann, ctypes.c_int]),
        "fann_set_learning_rate": (None, [ann, ctypes.c_float]),
        "fann_set_train_error_function": (None, [ann, ctypes.c_int]),
        "fann_randomize_weights": (None, [ann, ctypes.c_double, ctypes.c_double]),
        "fann_set_scaling_params": (
            ctypes.c_int,
            [ann, data, ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_float],
        ),
        "fann_scale_input": (None, [ann, _c_double_p]),
        "fann_descale_output": (None, [ann, _c_double_p]),
        "fann_read_train_from_file": (data, [ctypes.c_char_p]),
        "fann_save_train": (ctypes.c_int, [data, ctypes.c_char_p]),
        "fann_destroy_train": (None, [data]),
        "fann_set_error_log": (None, [ctypes.c_void_p, ctypes.c_void_p]),
    }
    for function, (result, arguments) in signatures.items():
        getattr(lib, function).restype = result
        getattr(lib, function).argtypes = arguments
    return lib, ""


def _shared_data() -> str | None:
    """FANN's benchmark data sets: beside the checkout (../shared/data/fann) or in /work/shared."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (
        os.environ.get("FASTBP_FANN_DATA", ""),
        os.path.join(here, "..", "..", "shared", "data", "fann"),
        "/work/shared/data/fann",
    ):
        if candidate and os.path.isdir(candidate):
            return os.path.normpath(candidate)
    return None


DATA = _shared_data()
skip_without_data = pytest.mark.skipif(
    DATA is None, reason="FANN's data sets (../shared/data/fann) are not beside this checkout"
)

LIB, MISSING = _open()
if LIB is None and os.environ.get("FASTBP_REQUIRE_FANN"):
    # CI sets this: there the FANN tests must run, not skip.
    raise RuntimeError(f"FASTBP_REQUIRE_FANN is set but {MISSING}")
skip_without_fann = pytest.mark.skipif(LIB is None, reason=MISSING)

LINEAR, SIGMOID, SIGMOID_STEPWISE, SIGMOID_SYMMETRIC, SIGMOID_SYMMETRIC_STEPWISE = 0, 3, 4, 5, 6
TRAIN_INCREMENTAL = 0
ERRORFUNC_LINEAR = 0


def _lib() -> ctypes.CDLL:
    assert LIB is not None, MISSING
    return LIB


def _path(path: str | os.PathLike[str]) -> bytes:
    return os.fsencode(path)


class Ann:
    """A ``struct fann *``, destroyed on leaving a ``with`` block."""

    def __init__(self, handle: int | None, what: str):
        if not handle:
            raise RuntimeError(f"libfann could not {what}")
        self.handle = ctypes.c_void_p(handle)
        _lib().fann_set_error_log(self.handle, None)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Ann:
        return cls(_lib().fann_create_from_file(_path(path)), f"load {path}")

    @classmethod
    def standard(cls, sizes: Sequence[int], connection_rate: float = 1.0) -> Ann:
        layers = (ctypes.c_uint * len(sizes))(*sizes)
        if connection_rate >= 1:
            return cls(_lib().fann_create_standard_array(len(sizes), layers), "create a network")
        handle = _lib().fann_create_sparse_array(connection_rate, len(sizes), layers)
        return cls(handle, "create a sparse network")

    def __enter__(self) -> Ann:
        return self

    def __exit__(self, *exc: object) -> None:
        _lib().fann_destroy(self.handle)

    def __getattr__(self, name: str):  # fann_NAME(ann, ...) as ann.NAME(...)
        function = getattr(_lib(), f"fann_{name}")
        return lambda *args: function(self.handle, *args)

    def run(self, X: np.ndarray, scaled: bool = False) -> np.ndarray:
        """``fann_run`` on each row (with fann_scale_input/fann_descale_output if ``scaled``)."""
        n_in, n_out = self.get_num_input(), self.get_num_output()
        X = np.ascontiguousarray(X, dtype=np.float64)
        assert X.shape[1] == n_in
        out = np.empty((len(X), n_out))
        for k, row in enumerate(X):
            x = (ctypes.c_double * n_in)(*row)
            if scaled:
                self.scale_input(x)
            y = self.fann_run(x)
            values = (ctypes.c_double * n_out)(*y[:n_out])
            if scaled:
                self.descale_output(values)
            out[k] = values[:]
        return out

    def fann_run(self, x: ctypes.Array) -> ctypes._Pointer:  # type: ignore[type-arg]
        return _lib().fann_run(self.handle, x)

    def train_rows(self, X: np.ndarray, Y: np.ndarray) -> None:
        """``fann_train`` (one online update) on each row in order."""
        for x, y in zip(X, Y):
            xs = (ctypes.c_double * len(x))(*x)
            ys = (ctypes.c_double * len(y))(*y)
            _lib().fann_train(self.handle, xs, ys)


def read_train(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``fann_read_train_from_file``: the inputs and outputs libfann reads."""
    data = _lib().fann_read_train_from_file(_path(path))
    if not data:
        raise RuntimeError(f"libfann could not read {path}")
    try:
        d = data.contents
        X = np.array([d.input[i][: d.num_input] for i in range(d.num_data)])
        Y = np.array([d.output[i][: d.num_output] for i in range(d.num_data)])
        return X.reshape(d.num_data, d.num_input), Y.reshape(d.num_data, d.num_output)
    finally:
        _lib().fann_destroy_train(data)


def save_train(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Read ``src`` with libfann and write it back with ``fann_save_train`` to ``dst``."""
    data = _lib().fann_read_train_from_file(_path(src))
    assert data, f"libfann could not read {src}"
    try:
        assert _lib().fann_save_train(data, _path(dst)) == 0
    finally:
        _lib().fann_destroy_train(data)


def set_scaling(ann: Ann, path: str | os.PathLike[str], low: float, high: float) -> None:
    """``fann_set_scaling_params`` fitted to the data file ``path``."""
    data = _lib().fann_read_train_from_file(_path(path))
    assert data, f"libfann could not read {path}"
    try:
        assert _lib().fann_set_scaling_params(ann.handle, data, low, high, low, high) == 0
    finally:
        _lib().fann_destroy_train(data)
