"""Model files: a documented, versioned format that never executes code on load.

A fastbp model file (``.fbp`` by convention) is a NumPy ``.npz`` archive with
two arrays, read back with ``allow_pickle=False``:

``header``
    UTF-8 JSON as ``uint8`` bytes: an object with exactly these fields
    (written in this order, read in any):

    - ``format``: ``"fastbp-model"``;
    - ``format_version``: the integer 2;
    - ``fastbp_version``: the version of fastbp that wrote the file, a string;
    - the architecture: ``sizes`` (a list of at least two integers from 1 to
      2**31 - 1), ``activation``, ``output_activation``, ``loss`` and
      ``dtype`` (``"float64"`` or ``"float32"``), names as ``Network`` takes
      them;
    - ``n_params``: the number of parameters the sizes need, an integer;
    - ``sha256``: the SHA-256, in lowercase hexadecimal, of every other field
      of the header in canonical JSON (``json.dumps(fields, sort_keys=True,
      separators=(",", ":"))``: ASCII, keys sorted, no spaces), then one NUL
      byte, then the parameter bytes (little-endian).  It covers everything
      the file holds: architecture, format fields, history and metadata;
    - ``history``: null or a list of numbers (the per-epoch losses);
    - ``metadata``: null or any JSON object the caller stored.

    NaN, Infinity, numbers beyond the range of a float and repeated keys are
    not JSON fastbp writes, and are refused.
``params``
    The flat parameter buffer, layer by layer: W(l) row-major, then b(l), of
    the header's dtype and length ``n_params``, every value finite.

Format version 1, written by fastbp before version 2 existed, has the same
fields but ``params_sha256`` (the SHA-256 of the parameter bytes alone) in
place of ``sha256``.  Such files still load: every field is checked as in
version 2 and the parameters against their digest, but nothing covers their
header, so an altered architecture of the same parameter count or altered
metadata goes unnoticed.  Saving the network again writes version 2.

Format version 3 is written for a fitted ``BPClassifier`` or ``BPRegressor``
only: version 2 plus one last field, ``estimator``, an object with the
estimator's class, parameters, classes and label encoding, feature names,
random state and training record (its fields are listed where
``ESTIMATOR_FIELDS`` is defined), covered by ``sha256`` like the rest.
``load`` gives back the estimator, checked field by field against its
network; ``load_network`` gives any file's network.  Reading one needs
scikit-learn.  A whole scikit-learn pipeline is saved with skops instead:
``skops.io.load(path, trusted=fastbp.sklearn.SKOPS_TRUSTED)``.

Saving checks what ``load`` will check (finite parameters of the right dtype
and size, history and metadata as above) before it writes anything, and
raises ``ValueError`` (or ``TypeError`` for an argument of the wrong type)
leaving any previous file as it was.  Writes are atomic: the file is written
to a temporary file in the target's directory, flushed and fsynced, then
renamed over the target, so a crash, a full disk or Ctrl-C mid-save leaves
either the previous file or the new one, complete, and no temporary behind
(Ctrl-C raises ``KeyboardInterrupt``).  A new file gets the mode the umask
gives (0o666 less the umask); a file that is replaced keeps its mode.  A
symbolic link at the path is followed: the file it names is replaced (or
created) and the link stays.  A directory, FIFO, device or socket at the path
is refused with ``OSError`` (``IsADirectoryError`` for a directory) and left
alone.

``load`` checks everything it reads and raises ``ValueError`` naming what is
wrong (a directory, FIFO or device at the path is named, and never opened or
waited on), ``FileNotFoundError`` when there is nothing at the path.  Paths
may be ``str``, ``bytes`` (decoded as ``os.fsdecode`` does) or
``os.PathLike``; anything else is a ``TypeError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import signal
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np

from fastbp._validation import DTYPES
from fastbp._version import __version__
from fastbp.architecture import FIELDS, Architecture
from fastbp.network import Network

FORMAT = "fastbp-model"
FORMAT_VERSION = 2
# Version 3 is version 2 plus the field ``estimator``: written for fitted estimators only.
ESTIMATOR_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# The field that holds the digest, by format version.
DIGEST_FIELDS = {1: "params_sha256", 2: "sha256", 3: "sha256"}
# The members np.savez writes: stored, neither compressed nor encrypted.
MEMBERS = ["header.npy", "params.npy"]

PathArgument = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def _path(path: Any) -> str:
    """``path`` as a str: a str, bytes (decoded as ``os.fsdecode`` does) or path-like."""
    try:
        return os.fsdecode(path)
    except TypeError:
        raise TypeError(
            f"path must be a str, bytes or os.PathLike; got {type(path).__name__}"
        ) from None


def header_fields(version: int) -> list[str]:
    """The fields of a header of format ``version``, in the order ``save`` writes them."""
    return [
        "format",
        "format_version",
        "fastbp_version",
        *FIELDS,
        "n_params",
        DIGEST_FIELDS[version],
        "history",
        "metadata",
        *(["estimator"] if version == ESTIMATOR_VERSION else []),
    ]


def _canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` that digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def seal(header: dict[str, Any], params: np.ndarray) -> str:
    """The digest ``header`` should hold for ``params``, as its format version defines it."""
    digest = hashlib.sha256()
    if header["format_version"] >= 2:
        others = {key: value for key, value in header.items() if key != DIGEST_FIELDS[2]}
        digest.update(_canonical_json(others).encode("ascii"))
        digest.update(b"\0")  # never in canonical JSON, which escapes control characters
    digest.update(np.ascontiguousarray(params, dtype=params.dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise ValueError(f"the key {key!r:.80} appears more than once in an object")
        fields[key] = value
    return fields


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text:.40} is beyond the range of a float")
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _decode_json(text: str) -> Any:
    """The value of the JSON ``text``, refusing what fastbp never writes (see the module)."""
    return json.loads(
        text, object_pairs_hook=_unique_keys, parse_float=_finite_float, parse_constant=_not_json
    )


def save(
    net: Any,
    path: PathArgument,
    history: Sequence[float] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write ``net`` to ``path`` atomically.

    Parameters
    ----------
    net : Network, or a fitted BPClassifier or BPRegressor
        An estimator is written with everything it predicts and continues
        training from (format version 3): its parameters, classes and label
        encoding, feature names, training record and the network; its
        ``loss_curve_`` is the history, unless ``history`` is given.
    path : str, bytes or path-like
        The file to write; an existing file is replaced only once the new one
        is complete on disk, and keeps its mode.  A symbolic link is followed.
    history : sequence of float, optional
        Per-epoch training losses to keep with the model.
    metadata : dict, optional
        Any JSON-serialisable information to keep with the model (class
        labels, feature names, scaling, ...).

    Raises
    ------
    ValueError
        If ``load`` would refuse the file: parameters that are NaN or infinite,
        history or metadata that JSON cannot hold, an estimator parameter
        that is not a JSON value (a callable, a ``RandomState``).  Nothing is
        written.
    TypeError
        If ``net`` is none of the things above.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    OSError
        If the file cannot be written, or the path is a directory, FIFO,
        device or socket.  Any previous file is left as it was.
    """
    estimator = None
    if not isinstance(net, Network):
        estimator = _estimator_state(net)
        net = net.network_
        history = estimator["loss_curve"] if history is None else history
    name = _path(path)
    params = net.params.copy()  # one snapshot: what is checked, sealed and written
    text = _header_text(net.architecture, params, _history(history), _metadata(metadata), estimator)
    subject, decoded = f"the network to save to {name!r}", _decode_json(text)
    try:  # what load checks
        architecture = check_header(subject, decoded)
        _check_params(subject, decoded, architecture, params)
        if estimator is not None:
            _estimator_from(subject, decoded["estimator"], Network(**architecture.to_dict()))
    except ValueError as exc:
        raise ValueError(f"{exc}; nothing was written") from None
    header = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _replace(name, lambda f: np.savez(f, header=header, params=params))


def _history(history: Any) -> list[float] | None:
    if history is None:
        return None
    try:
        if isinstance(history, (str, bytes)):
            raise TypeError
        return [float(h) for h in history]
    except (TypeError, ValueError):
        raise TypeError(
            f"history must be a sequence of numbers (a loss per epoch) or None; got {history!r:.80}"
        ) from None


def _metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(
            f"metadata must be a dict (a JSON object) or None; got {type(metadata).__name__}"
        )
    return metadata


# -- fitted estimators (format version 3) -----------------------------------
#
# A fitted BPClassifier or BPRegressor is its network plus an ``estimator``
# header field: an object holding ``class`` (the estimator's class name),
# ``params`` (its get_params(), JSON values only), ``n_features_in``,
# ``feature_names_in`` (null or a list of strings), ``classes`` (null for a
# regressor, else {"dtype": a NumPy dtype name, "values": [...]}), ``target``
# (a classifier's "binary", "multiclass" or "multilabel-indicator"; a
# regressor's 1 or 2, the number of dimensions of its y), ``rng`` (the state
# of its random generator: a warm start after loading continues as it would
# have before saving) and the training record ``n_iter``, ``t``,
# ``loss_curve``, ``loss``, ``best_loss``, ``validation_scores`` and
# ``best_validation_score``.  Nothing in it names code to run: the class is
# looked up in a fixed table, never imported by name.

ESTIMATOR_CLASSES = ("BPClassifier", "BPRegressor")
ESTIMATOR_FIELDS = (
    "class", "params", "n_features_in", "feature_names_in", "classes", "target", "rng",
    "n_iter", "t", "loss_curve", "loss", "best_loss", "validation_scores",
    "best_validation_score", "validation_loss_curve",
)  # fmt: skip
# What a file written before a field or parameter existed stands for: the
# field's value, the parameter's default then.
_ADDED_FIELDS: dict[str, Any] = {"validation_loss_curve": None}
_ADDED_PARAMS: dict[str, Any] = {"max_fun": 15000, "class_weight": None, "dropout": None}
# The dtypes of classes_ a file may hold (and an "object" array of strings).
_CLASS_DTYPE_KINDS = "biufU"
_TARGETS = ("binary", "multiclass", "multilabel-indicator")
_MT_WORDS = 624  # the length of a MT19937 state
# The estimator parameters that are numbers (the others are checked by _check_params).
_NUMBER_PARAMS = (
    "alpha", "learning_rate_init", "power_t", "tol", "momentum", "beta_1", "beta_2", "epsilon",
    "n_iter_no_change",
)  # fmt: skip


def _estimator_types() -> dict[str, type]:
    """The estimator classes a file may name; they need scikit-learn."""
    try:
        from fastbp.sklearn import BPClassifier, BPRegressor
    except ImportError as exc:
        raise ImportError(
            f"a fitted estimator's file needs scikit-learn: pip install 'fastbp[sklearn]' ({exc})"
        ) from None
    return {"BPClassifier": BPClassifier, "BPRegressor": BPRegressor}


def _is_estimator(obj: Any) -> bool:
    """Whether ``obj`` is a fastbp estimator, without importing scikit-learn for it."""
    module = sys.modules.get("fastbp.sklearn")
    return module is not None and isinstance(obj, module._BaseBP)


def _json_param(name: str, value: Any) -> Any:
    """The estimator parameter ``value`` as JSON, or ``ValueError`` for one JSON cannot hold.

    Two parameters take a form of their own: ``n_iter_no_change=inf`` is the
    string "inf", and a ``class_weight`` dict a list of [label, weight] pairs
    (JSON's keys are strings only).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if name == "n_iter_no_change" and isinstance(value, (float, np.floating)) and value == np.inf:
        return "inf"
    if name == "class_weight" and isinstance(value, (dict, list)):
        return _class_weight_pairs(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return float(value)
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        return [int(v) for v in value]
    if name == "dropout" and isinstance(value, (tuple, list)):
        if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value):
            return [float(v) for v in value]
    raise ValueError(
        f"the estimator's parameter {name}={value!r:.80} is not one a model file holds: "
        "None, a bool, a finite number, a string or a sequence of integers"
        + (" (pass random_state as an integer)" if name == "random_state" else "")
    )


def _class_weight_pairs(value: Any) -> list[list[Any]]:
    """A class_weight dict (or its saved pairs) as [label, weight] pairs."""
    pairs = list(value.items()) if isinstance(value, dict) else value
    out = []
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise ValueError(f"class_weight pairs must be [label, weight]; got {pair!r:.80}")
        label, weight = pair
        if isinstance(label, np.generic):
            label = label.item()
        if (
            not isinstance(label, (bool, int, float, str))
            or isinstance(weight, (bool, np.bool_))
            or not isinstance(weight, (int, float, np.number))
        ):
            raise ValueError(
                f"the estimator's class_weight {value!r:.80} is not one a model file holds: "
                "labels that are strings, numbers or bools, and numbers as weights"
            )
        out.append([label, float(weight)])
    return out


def _number_or_null(value: Any) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _classes_state(classes: np.ndarray) -> dict[str, Any]:
    """classes_ as JSON, keeping the type of the labels."""
    strings = classes.dtype == object and all(isinstance(c, str) for c in classes)
    if classes.dtype.kind not in _CLASS_DTYPE_KINDS and not strings:
        raise ValueError(
            f"the classifier's classes_ of dtype {classes.dtype} cannot be saved: a model file "
            "holds labels that are strings, integers, finite floats or bools"
        )
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("the classifier's classes_ hold NaN or infinity, which JSON cannot hold")
    return {"dtype": classes.dtype.str if classes.dtype.kind == "U" else classes.dtype.name,
            "values": classes.tolist()}  # fmt: skip


def _estimator_state(estimator: Any) -> dict[str, Any]:
    """The ``estimator`` header field of a fitted estimator (``TypeError`` for anything else)."""
    if not _is_estimator(estimator) or type(estimator).__name__ not in ESTIMATOR_CLASSES:
        raise TypeError(
            "net must be a fastbp.Network or a fitted fastbp.BPClassifier or "
            f"fastbp.BPRegressor; got {type(estimator).__name__} (save a scikit-learn "
            "pipeline with skops.io, see fastbp.sklearn.SKOPS_TRUSTED)"
        )
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    classifier = type(estimator).__name__ == "BPClassifier"
    params = {k: _json_param(k, v) for k, v in estimator.get_params(deep=False).items()}
    names = getattr(estimator, "feature_names_in_", None)
    rng = estimator._rng.get_state()
    scores = estimator.validation_scores_
    val_losses = getattr(estimator, "validation_loss_curve_", None)
    return {
        "class": type(estimator).__name__,
        "params": params,
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "classes": _classes_state(estimator.classes_) if classifier else None,
        "target": estimator._binarizer.y_type_ if classifier else int(estimator._y_ndim),
        "rng": {
            "key": rng[1].tolist(),
            "pos": int(rng[2]),
            "has_gauss": int(rng[3]),
            "cached_gaussian": float(rng[4]),
        },
        "n_iter": int(estimator.n_iter_),
        "t": int(estimator.t_),
        "loss_curve": [float(v) for v in estimator.loss_curve_],
        "loss": float(estimator.loss_),
        "best_loss": _number_or_null(estimator.best_loss_),
        "validation_scores": None if scores is None else [_number_or_null(v) for v in scores],
        "best_validation_score": _number_or_null(estimator.best_validation_score_),
        "validation_loss_curve": (
            None if val_losses is None else [_number_or_null(v) for v in val_losses]
        ),
    }


def _bad(subject: str, field: str, expectation: str, value: Any) -> ValueError:
    return ValueError(
        f"{subject} has a malformed estimator header: {field} must be {expectation}; "
        f"got {value!r:.80}"
    )


def _is_int(value: Any, low: int = 0) -> bool:
    return type(value) is int and value >= low


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(_is_number(v) for v in value)


def _numbers_or_nulls(value: Any) -> bool:
    return isinstance(value, list) and all(v is None or _is_number(v) for v in value)


def _nan_for_null(values: list[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _check_estimator_fields(subject: str, state: dict[str, Any]) -> None:
    """Raise unless ``state`` has exactly the estimator fields, each of its JSON type
    (those of _ADDED_FIELDS may be missing: they take their old value)."""
    for field, value in _ADDED_FIELDS.items():
        state.setdefault(field, value)
    _exact_fields(
        subject,
        "estimator header",
        state,
        ESTIMATOR_FIELDS,
        f"it has exactly the fields {', '.join(ESTIMATOR_FIELDS)}",
    )
    rules: dict[str, tuple[Callable[[Any], bool], str]] = {
        "class": (lambda v: v in ESTIMATOR_CLASSES, f"one of {list(ESTIMATOR_CLASSES)}"),
        "params": (lambda v: isinstance(v, dict), "an object"),
        "n_features_in": (lambda v: _is_int(v, 1), "a positive integer"),
        "feature_names_in": (
            lambda v: v is None or (isinstance(v, list) and all(isinstance(n, str) for n in v)),
            "null or a list of strings",
        ),
        "rng": (lambda v: isinstance(v, dict), "an object"),
        "n_iter": (_is_int, "a non-negative integer"),
        "t": (_is_int, "a non-negative integer"),
        "loss_curve": (_numbers, "a list of numbers"),
        "loss": (_is_number, "a number"),
        "best_loss": (lambda v: v is None or _is_number(v), "null or a number"),
        "validation_scores": (
            lambda v: v is None or _numbers_or_nulls(v),
            "null or a list of numbers (null for an epoch that diverged)",
        ),
        "best_validation_score": (lambda v: v is None or _is_number(v), "null or a number"),
        "validation_loss_curve": (
            lambda v: v is None or _numbers_or_nulls(v),
            "null or a list of numbers (null for an epoch that overflowed)",
        ),
    }
    for field, (valid, expectation) in rules.items():
        if not valid(state[field]):
            raise _bad(subject, field, expectation, state[field])


def _rng_from(subject: str, state: Any) -> np.random.RandomState:
    fields = {"key", "pos", "has_gauss", "cached_gaussian"}
    if not (
        isinstance(state, dict)
        and set(state) == fields
        and isinstance(state["key"], list)
        and len(state["key"]) == _MT_WORDS
        and all(_is_int(k) and k < 2**32 for k in state["key"])
        and _is_int(state["pos"])
        and state["pos"] <= _MT_WORDS
        and state["has_gauss"] in (0, 1)
        and _is_number(state["cached_gaussian"])
    ):
        raise _bad(subject, "rng", "a MT19937 state (key, pos, has_gauss, cached_gaussian)", state)
    rng = np.random.RandomState()
    key = np.array(state["key"], dtype=np.uint32)
    rng.set_state(("MT19937", key, state["pos"], state["has_gauss"], state["cached_gaussian"]))
    return rng


def _classes_from(subject: str, state: Any) -> np.ndarray:
    """classes_ of the type they were saved with."""
    if not (isinstance(state, dict) and set(state) == {"dtype", "values"}):
        raise _bad(subject, "classes", "an object with the fields dtype and values", state)
    values = state["values"]
    if not (isinstance(values, list) and len(values) >= 1):
        raise _bad(subject, "classes.values", "a non-empty list of labels", values)
    try:
        dtype = np.dtype(state["dtype"]) if isinstance(state["dtype"], str) else None
    except TypeError:
        dtype = None
    strings = dtype is not None and dtype.kind == "O" and all(isinstance(v, str) for v in values)
    if dtype is None or (dtype.kind not in _CLASS_DTYPE_KINDS and not strings):
        raise _bad(subject, "classes.dtype", "the dtype of strings, integers, floats or bools",
                   state["dtype"])  # fmt: skip
    scalar = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}
    kinds = scalar.get(dtype.kind, (str,))
    if not all(type(v) in kinds for v in values):
        raise _bad(subject, "classes.values", f"labels of dtype {dtype}", values)
    try:
        with np.errstate(over="raise"):
            classes = np.array(values, dtype=dtype)
    except (OverflowError, FloatingPointError, ValueError) as exc:
        raise _bad(subject, "classes.values", f"labels that fit {dtype} ({exc})", values) from None
    if classes.tolist() != values or len(np.unique(classes)) != len(values):
        raise _bad(subject, "classes.values", f"distinct labels that fit {dtype}", values)
    return classes


def _estimator_from(subject: str, state: dict[str, Any], net: Network) -> Any:
    """The fitted estimator the ``estimator`` header field describes, checked against ``net``."""
    _check_estimator_fields(subject, state)
    cls = _estimator_types()[state["class"]]
    expected = set(cls().get_params(deep=False))
    added = {name: value for name, value in _ADDED_PARAMS.items() if name in expected}
    params = {**added, **state["params"]}
    if params.get("n_iter_no_change") == "inf":
        params["n_iter_no_change"] = math.inf
    if isinstance(params.get("class_weight"), list):
        try:
            params["class_weight"] = dict(_class_weight_pairs(params["class_weight"]))
        except (TypeError, ValueError) as exc:
            raise _bad(subject, "params.class_weight", "[label, weight] pairs",
                       params["class_weight"]) from exc  # fmt: skip
    if set(params) != expected:
        raise ValueError(
            f"{subject} has a malformed estimator header: its params are "
            f"{sorted(params)!r:.300}, a {state['class']} has {sorted(expected)}"
        )
    for name in ("hidden_layer_sizes", "dropout"):  # tuples, saved as JSON lists
        if isinstance(params[name], list):
            params = {**params, name: tuple(params[name])}
    estimator = cls(**params)
    try:
        for name, value in params.items():  # what save writes, and nothing else
            _json_param(name, value)
        if not (params["random_state"] is None or _is_int(params["random_state"])):
            raise ValueError(
                f"random_state must be null or an integer; got {params['random_state']!r:.80}"
            )
        hidden = estimator._check_params()
        for name in _NUMBER_PARAMS:
            if not _is_number(params[name]):
                raise ValueError(f"{name} must be a number; got {params[name]!r:.80}")
        estimator.network_ = net
        estimator._check_unchanged(hidden, "the file")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{subject} has estimator params that do not fit ({exc})") from None
    if state["n_features_in"] != net.n_inputs:
        raise ValueError(
            f"{subject} has an estimator of {state['n_features_in']} features and a network "
            f"of {net.n_inputs} inputs"
        )
    names = state["feature_names_in"]
    if names is not None and len(names) != net.n_inputs:
        raise _bad(subject, "feature_names_in", f"{net.n_inputs} names, one per input", names)
    if state["class"] == "BPClassifier":
        _restore_encoding(subject, estimator, state, net)
    else:
        if state["classes"] is not None or state["target"] not in (1, 2):
            raise _bad(subject, "classes and target", "null and 1 or 2 for a regressor",
                       [state["classes"], state["target"]])  # fmt: skip
        if state["target"] == 1 and net.n_outputs != 1:
            raise _bad(subject, "target", "2 for a network of several outputs", state["target"])
        estimator._y_ndim = state["target"]
    if net.output_activation != estimator._output():
        raise ValueError(
            f"{subject} has a network whose output activation {net.output_activation!r} is "
            f"not the {estimator._output()!r} its estimator trains"
        )
    estimator.n_features_in_ = net.n_inputs
    if names is not None:
        estimator.feature_names_in_ = np.array(names, dtype=object)
    estimator._rng = _rng_from(subject, state["rng"])
    estimator.n_outputs_ = net.n_outputs
    estimator.n_layers_ = len(net.sizes)
    estimator.out_activation_ = {"sigmoid": "logistic"}.get(
        net.output_activation, net.output_activation
    )
    estimator.n_iter_, estimator.t_ = state["n_iter"], state["t"]
    estimator.loss_curve_ = [float(v) for v in state["loss_curve"]]
    estimator.loss_ = float(state["loss"])
    scores = state["validation_scores"]
    if (scores is None) != (not estimator._early_stopping()):
        expectation = "a list exactly when early_stopping (and the solver is not lbfgs)"
        raise _bad(subject, "validation_scores", expectation, scores)
    estimator.validation_scores_ = None if scores is None else _nan_for_null(scores)
    val_losses = state["validation_loss_curve"]
    if scores is None and val_losses is not None:
        raise _bad(subject, "validation_loss_curve", "null without early stopping", val_losses)
    estimator.validation_loss_curve_ = None if scores is None else _nan_for_null(val_losses or [])
    best, best_score = state["best_loss"], state["best_validation_score"]
    estimator.best_loss_ = None if scores is not None else (np.inf if best is None else best)
    estimator.best_validation_score_ = (
        None if scores is None else (-np.inf if best_score is None else best_score)
    )
    return estimator


def _restore_encoding(subject: str, estimator: Any, state: dict[str, Any], net: Network) -> None:
    """The classifier's classes_ and label encoding, checked against the network's outputs."""
    from sklearn.preprocessing import LabelBinarizer

    if state["classes"] is None:
        raise _bad(subject, "classes", "the classes of a classifier", None)
    classes, target = _classes_from(subject, state["classes"]), state["target"]
    if target not in _TARGETS:
        raise _bad(subject, "target", f"one of {list(_TARGETS)}", target)
    outputs = {"binary": 1}.get(target, len(classes))
    if (target == "binary") != (len(classes) == 2) or net.n_outputs != outputs:
        raise ValueError(
            f"{subject} has a {target} classifier of {len(classes)} classes and a network of "
            f"{net.n_outputs} outputs, which do not fit"
        )
    if target == "multilabel-indicator" and classes.tolist() != list(range(len(classes))):
        raise _bad(subject, "classes", "0, 1, ... for multilabel targets", classes.tolist())
    binarizer = LabelBinarizer()
    binarizer.classes_, binarizer.y_type_, binarizer.sparse_input_ = classes, target, False
    estimator._binarizer, estimator.classes_ = binarizer, classes


def _header_text(
    architecture: Architecture,
    params: np.ndarray,
    history: list[float] | None,
    metadata: dict[str, Any] | None,
    estimator: dict[str, Any] | None = None,
) -> str:
    """The JSON text of the header of a file of ``params`` (and ``estimator``), sealed."""
    version = FORMAT_VERSION if estimator is None else ESTIMATOR_VERSION
    fields = {
        "format": FORMAT,
        "format_version": version,
        "fastbp_version": __version__,
        **architecture.to_dict(),
        "n_params": int(params.size),
        DIGEST_FIELDS[FORMAT_VERSION]: "",
        "history": history,
        "metadata": metadata,
        **({} if estimator is None else {"estimator": estimator}),
    }
    try:
        # To JSON and back, so that the seal is taken of what load will read.
        header = _decode_json(json.dumps(fields, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(
            f"history and metadata must be JSON-serialisable with finite numbers ({exc})"
        ) from None
    header[DIGEST_FIELDS[version]] = seal(header, params)
    return json.dumps(header)


def _kind(mode: int) -> str | None:
    """What a file of ``st_mode`` is, when it is not a regular file (else None)."""
    kinds = (
        (stat.S_ISREG, None),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, kind in kinds:
        if test(mode):
            return kind
    return "not a regular file"


def _replaced_mode(name: str, target: str) -> int | None:
    """The mode of the regular file at ``target`` (None if there is none yet)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return None
    kind = _kind(mode)
    if kind is None:
        return stat.S_IMODE(mode)
    error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
    raise error(
        f"{name!r} is {kind}; a model is saved only to a regular file, which it replaces, "
        "or to a new path"
    )


def _open_flags(*names: str) -> int:
    """The ``os.O_*`` flags of these names that this platform has, together."""
    flags = 0
    for name in names:
        flags |= getattr(os, name, 0)
    return flags


# A temporary is new (never a link), a model file read never blocks (a FIFO
# swapped in after the check) nor becomes a controlling terminal.
_CREATE_FLAGS = _open_flags("O_WRONLY", "O_CREAT", "O_EXCL", "O_NOFOLLOW", "O_CLOEXEC", "O_BINARY")
_READ_FLAGS = _open_flags("O_RDONLY", "O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC", "O_BINARY")


def _replace(name: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file with ``write`` and rename it over ``name``, or over the file it links to."""
    target = os.path.realpath(name)
    mode = _replaced_mode(name, target)
    directory = os.path.dirname(target)
    temporary = os.path.join(directory, f".fastbp-{secrets.token_hex(8)}.tmp")
    f = None
    try:
        # Created as the umask says for a new file; given the old file's mode otherwise.
        # Ctrl-C is held off until the file object is f: landing between the open
        # and the assignment it would leave an open file that nothing closes.
        mask = _signal_mask()
        try:
            _block_sigint()
            f = os.fdopen(os.open(temporary, _CREATE_FLAGS, 0o666 if mode is None else 0o600), "wb")
        finally:
            # The mask comes back whatever lands on the way (a SIGINT held off
            # meanwhile is delivered now), and that exception goes on.
            landed = None
            while True:
                try:
                    _set_signal_mask(mask)
                except BaseException as exc:
                    landed = exc
                    continue
                break
            if landed is not None:
                raise landed
        if mode is not None:
            os.chmod(temporary, mode)
        write(f)
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(temporary, target)
    except BaseException:
        _discard(f, temporary)
        raise
    _fsync_directory(directory)


def _signal_mask() -> Any:
    """This thread's signal mask (None where the platform has none), unchanged."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, ())


def _block_sigint() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _set_signal_mask(mask: Any) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _discard(f: IO[bytes] | None, temporary: str) -> None:
    """Close and remove the temporary file, as far as it exists: it may not be
    created yet, or be renamed already, and the exception to report (a
    KeyboardInterrupt, say) is the one that came, never one of these."""
    with contextlib.suppress(OSError):
        if f is not None:
            f.close()
    with contextlib.suppress(OSError):
        os.unlink(temporary)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_members(name: str, infos: list[zipfile.ZipInfo]) -> None:
    found = sorted(info.filename for info in infos)
    if found != MEMBERS:
        raise ValueError(
            f"{name!r} is not a fastbp model file: it holds {found}, expected {MEMBERS}"
        )
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise ValueError(
                f"{name!r} is not a fastbp model file: {info.filename} is compressed or "
                "encrypted, and fastbp writes neither"
            )


def _read(path: PathArgument) -> tuple[str, dict[str, Any], Architecture, np.ndarray]:
    """What the messages call a model file, its checked header and architecture, its
    parameters (not yet checked)."""
    name = _path(path)
    raw_header, params = _read_arrays(name)
    header = _decode_header(name, raw_header)
    return repr(name), header, check_header(repr(name), header), params


def _open_regular_file(name: str) -> IO[bytes]:
    """The regular file ``name`` opened for reading (``ValueError`` for anything else)."""
    try:
        _refuse_unless_regular(name, os.stat(name).st_mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {name!r}") from None
    f = os.fdopen(os.open(name, _READ_FLAGS), "rb")
    try:  # checked again on what was opened
        _refuse_unless_regular(name, os.fstat(f.fileno()).st_mode)
    except BaseException:
        f.close()
        raise
    return f


def _refuse_unless_regular(name: str, mode: int) -> None:
    kind = _kind(mode)
    if kind is not None:
        raise ValueError(f"{name!r} is {kind}, not a fastbp model file")


# What reading a damaged archive raises, besides ValueError.
_DAMAGED_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    RuntimeError,
    NotImplementedError,
    MemoryError,  # an array header that declares more elements than memory holds
)


def _read_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The header and params arrays of the archive ``name``, read without unpickling."""
    with _open_regular_file(name) as f:
        if not zipfile.is_zipfile(f):
            raise ValueError(
                f"{name!r} is not a fastbp model file, or it is truncated or corrupted "
                "(no complete .npz archive)"
            )
        return _read_members(name, f)


def _read_members(name: str, f: IO[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The two arrays of the open archive ``f``, or ``ValueError`` saying what is wrong."""
    try:
        f.seek(0)
        return _load_members(name, f)
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise ValueError(
                f"{name!r} holds a pickled object; fastbp model files never do, and it will "
                "not be loaded"
            ) from None
        if "not a fastbp model file" in str(exc):
            raise
        raise ValueError(f"{name!r} is not a readable fastbp model file ({exc})") from None
    except _DAMAGED_ARCHIVE_ERRORS as exc:
        raise ValueError(
            f"{name!r} is not a fastbp model file, or it is truncated or corrupted ({exc})"
        ) from None


def _load_members(name: str, f: IO[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The two members of the archive ``f``, once they are found to be what fastbp writes."""
    # np.load is handed the open file, which the caller closes even when the
    # archive is too damaged for np.load to finish opening it.
    archive = np.load(f, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy with a zip appended
        raise ValueError(f"{name!r} is not a fastbp model file (not an .npz archive)")
    with archive:
        _check_members(name, archive.zip.infolist() if archive.zip else [])
        return archive["header"], archive["params"]


def _decode_header(name: str, raw_header: np.ndarray) -> Any:
    """The JSON value the header array holds."""
    if raw_header.dtype != np.uint8 or raw_header.ndim != 1:
        raise ValueError(f"{name!r} has a malformed header")
    try:
        return _decode_json(raw_header.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError, ...
        raise ValueError(f"{name!r} has a header that is not valid JSON ({exc})") from None


def check_header(subject: str, header: Any) -> Architecture:
    """The architecture a decoded model-file header describes, once every field is checked.

    Raises ``ValueError``, its message beginning with ``subject``, for a header
    ``load`` refuses; ``save`` runs the same checks before writing.
    """
    version = _check_format(subject, header)
    architecture = _check_architecture(subject, header)
    _check_fields(subject, header, version)
    return architecture


def _check_format(subject: str, header: Any) -> int:
    """The format version of ``header``, if it is a fastbp header this fastbp reads."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{subject} is not a fastbp model file (no fastbp header)")
    version = header.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ValueError(
            f"{subject} uses model format version {version!r:.40}; this fastbp ({__version__}) "
            f"reads versions {' and '.join(map(str, READABLE_VERSIONS))}, written as integers"
        )
    return version


def _check_architecture(subject: str, header: dict[str, Any]) -> Architecture:
    """The architecture the header describes: every field present, of its type, valid."""
    for field in FIELDS:
        if field not in header:
            raise ValueError(
                f"{subject} describes no valid network ({field!r}): its header lacks the field"
            )
        if field != "sizes" and not isinstance(header[field], str):
            raise ValueError(
                f"{subject} describes no valid network ({field} must be a name; "
                f"got {header[field]!r:.80})"
            )
    if header["dtype"] not in DTYPES:
        raise ValueError(
            f"{subject} describes no valid network (dtype must be 'float64' or 'float32'; "
            f"got {header['dtype']!r:.80})"
        )
    try:
        return Architecture(**{field: header[field] for field in FIELDS})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{subject} describes no valid network ({exc})") from None


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value) is not None


def _is_history(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and all(type(h) in (int, float) for h in value)
    )


# What each header field beside the format and the architecture must be.
_FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "fastbp_version": (lambda value: isinstance(value, str), "a string"),
    "n_params": (lambda value: type(value) is int and value >= 0, "a non-negative integer"),
    "params_sha256": (_is_sha256, "a SHA-256 digest: 64 lowercase hexadecimal digits"),
    "sha256": (_is_sha256, "a SHA-256 digest: 64 lowercase hexadecimal digits"),
    "history": (_is_history, "null or a list of numbers"),
    "metadata": (lambda value: value is None or isinstance(value, dict), "null or an object"),
    "estimator": (lambda value: isinstance(value, dict), "an object"),
}


def _exact_fields(
    subject: str, what: str, found: dict[str, Any], expected: Any, expectation: str
) -> None:
    """Raise unless ``found`` has exactly the ``expected`` keys."""
    missing = [field for field in expected if field not in found]
    unknown = [field for field in found if field not in expected]
    if missing or unknown:
        problem = f"missing {missing}, unknown {unknown}"
        raise ValueError(f"{subject} has a malformed {what} ({problem:.300}); {expectation}")


def _check_fields(subject: str, header: dict[str, Any], version: int) -> None:
    """Raise unless the header has exactly the fields of its version, each of its type."""
    expected = header_fields(version)
    _exact_fields(
        subject,
        "header",
        header,
        expected,
        f"a version {version} header has exactly the fields {', '.join(expected)}",
    )
    for field, (valid, expectation) in _FIELD_RULES.items():
        if field in header and not valid(header[field]):
            raise ValueError(
                f"{subject} has a malformed header: {field} must be {expectation}; "
                f"got {header[field]!r:.80}"
            )


def _check_params(
    subject: str, header: dict[str, Any], architecture: Architecture, params: np.ndarray
) -> None:
    """Raise unless ``params`` fit the architecture and the header, and are finite."""
    count = architecture.n_params
    if params.dtype != np.dtype(architecture.dtype) or params.shape != (count,):
        raise ValueError(
            f"{subject} holds parameters of dtype {params.dtype} and shape {params.shape}; "
            f"its architecture needs {architecture.dtype} and ({count},)"
        )
    if header["n_params"] != count:
        raise ValueError(
            f"{subject} has a header whose n_params ({header['n_params']}) is not the {count} "
            "parameters its sizes need"
        )
    if header[DIGEST_FIELDS[header["format_version"]]] != seal(header, params):
        covered = "header or parameters" if header["format_version"] >= 2 else "parameters"
        raise ValueError(
            f"{subject} failed its checksum: its {covered} were altered or corrupted "
            "after the file was written"
        )
    if not np.isfinite(params).all():
        raise ValueError(f"{subject} holds parameters that are NaN or infinite")


def load_metadata(path: PathArgument) -> dict[str, Any]:
    """The header of a model file (architecture, history, metadata), every field checked.

    The parameters, and the digest that covers the header, are checked by
    :func:`load`: call it first to know that the file is intact.
    """
    return _read(path)[1]


def load(path: PathArgument) -> Any:
    """Read a network written by :func:`save` (or ``Network.save``), or a fitted estimator.

    A file of a ``BPClassifier`` or ``BPRegressor`` gives the estimator back,
    predicting exactly as it did; :func:`load_network` gives any file's network.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a fastbp model (a directory or a FIFO, say), is
        truncated or corrupted, was altered after it was written, holds a
        pickled object or a malformed header, or has a format version this
        fastbp does not read.  No half-built network is returned.
    OSError
        If the file cannot be read (permission denied, ...).
    """
    subject, header, net = _read_network(path)
    if header["format_version"] == ESTIMATOR_VERSION:
        return _estimator_from(subject, header["estimator"], net)
    return net


def load_network(path: PathArgument) -> Network:
    """The network of a model file: the file's own, or the fitted estimator's ``network_``.

    Raises as :func:`load` does; the estimator's fields are not checked.
    """
    return _read_network(path)[2]


def _read_network(path: PathArgument) -> tuple[str, dict[str, Any], Network]:
    """What messages call the file, its checked header and its network."""
    # Every count is checked before anything is built, so that a tampered
    # header cannot make load allocate more than the file holds.
    subject, header, architecture, params = _read(path)
    _check_params(subject, header, architecture, params)
    net = Network(**architecture.to_dict())
    net.params[...] = params
    return subject, header, net
