"""Model files: a documented, versioned format that never executes code on load.

A fastbp model file (``.fbp`` by convention) is a NumPy ``.npz`` archive with
two arrays, read back with ``allow_pickle=False``:

``header``
    UTF-8 JSON as ``uint8`` bytes: ``format`` (``"fastbp-model"``),
    ``format_version`` (1), ``fastbp_version``, the architecture (``sizes``,
    ``activation``, ``output_activation``, ``loss``, ``dtype``), ``n_params``,
    ``params_sha256`` (SHA-256 of the parameter bytes, little-endian),
    ``history`` (per-epoch losses or null) and ``metadata`` (any JSON object the
    caller stored, or null).
``params``
    The flat parameter buffer, layer by layer: W(l) row-major, then b(l).

Writes are atomic: the file is written to a temporary file in the same
directory, flushed and fsynced, then renamed over the target, so a crash or a
full disk mid-save leaves any previous file intact.  ``load`` checks
everything it reads and raises ``ValueError`` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastbp._validation import check_sizes
from fastbp._version import __version__
from fastbp.architecture import FIELDS
from fastbp.network import Network

FORMAT = "fastbp-model"
FORMAT_VERSION = 1
# The members np.savez writes: stored, neither compressed nor encrypted.
MEMBERS = ["header.npy", "params.npy"]


def _digest(params: np.ndarray) -> str:
    return hashlib.sha256(
        np.ascontiguousarray(params, dtype=params.dtype.newbyteorder("<")).tobytes()
    ).hexdigest()


def save(
    net: Network,
    path: str | os.PathLike[str],
    history: Sequence[float] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write ``net`` to ``path`` atomically.

    Parameters
    ----------
    net : Network
    path : str or path-like
        The file to write; an existing file is replaced only once the new one
        is complete on disk.
    history : sequence of float, optional
        Per-epoch training losses to keep with the model.
    metadata : dict, optional
        Any JSON-serialisable information to keep with the model (class
        labels, feature names, scaling, ...).
    """
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastbp_version": __version__,
        **net.architecture.to_dict(),
        "n_params": int(net.params.size),
        "params_sha256": _digest(net.params),
        "history": None if history is None else [float(h) for h in history],
        "metadata": metadata,
    }
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"history and metadata must be JSON-serialisable with finite numbers ({exc})"
        ) from None
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".fastbp-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f, header=np.frombuffer(text.encode("utf-8"), dtype=np.uint8), params=net.params
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_directory(directory)


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


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], np.ndarray]:
    """The checked header and the (not yet checked) parameters of a model file."""
    name = os.fspath(path)
    raw_header, params = _read_arrays(name)
    header = _decode_header(name, raw_header)
    _check_format(name, header)
    return header, params


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
    if not os.path.isfile(name):
        raise FileNotFoundError(f"no model file at {name!r}")
    if not zipfile.is_zipfile(name):
        raise ValueError(
            f"{name!r} is not a fastbp model file, or it is truncated or corrupted "
            "(no complete .npz archive)"
        )
    try:
        return _load_members(name)
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


def _load_members(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The two members of the archive ``name``, once they are found to be what fastbp writes."""
    # np.load is handed an open file so that the file is closed even when
    # the archive is too damaged for np.load to finish opening it.
    with open(name, "rb") as f:
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
        return json.loads(raw_header.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{name!r} has a header that is not valid JSON ({exc})") from None


def _check_format(name: str, header: Any) -> None:
    """Raise unless ``header`` is a fastbp header of the format version this fastbp reads."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{name!r} is not a fastbp model file (no fastbp header)")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{name!r} uses model format version {version!r}; this fastbp ({__version__}) "
            f"reads version {FORMAT_VERSION}"
        )


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked header of a model file: architecture, history, metadata."""
    header, _ = _read(path)
    return header


def load(path: str | os.PathLike[str]) -> Network:
    """Read a network written by :func:`save` (or ``Network.save``).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a fastbp model, is truncated or corrupted, was
        altered after it was written, holds a pickled object, or has a format
        version this fastbp does not read.  No half-built network is returned.
    """
    header, params = _read(path)
    name = os.fspath(path)
    # Check the parameter count before building anything, so that a tampered
    # header cannot make load allocate more than the file holds.
    _check_count(name, header, params)
    net = _network(name, header)
    _check_params(name, net, header, params)
    net.params[...] = params
    return net


def _check_count(name: str, header: dict[str, Any], params: np.ndarray) -> None:
    """Raise unless ``params`` has as many values as the header's sizes need."""
    try:
        sizes = check_sizes(header.get("sizes"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name!r} describes no valid network ({exc})") from None
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if params.shape != (n_params,):
        raise ValueError(
            f"{name!r} holds parameters of dtype {params.dtype} and shape {params.shape}; "
            f"its architecture needs ({n_params},)"
        )


def _network(name: str, header: dict[str, Any]) -> Network:
    """A network of the architecture the header describes, its parameters not yet set."""
    try:
        # Field by field rather than Architecture.from_dict, which words a
        # missing field differently from the KeyError reported here.
        return Network(**{field: header[field] for field in FIELDS})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name!r} describes no valid network ({exc})") from None


def _check_params(name: str, net: Network, header: dict[str, Any], params: np.ndarray) -> None:
    """Raise unless ``params`` fit ``net``, match the header's checksum and are finite."""
    if params.dtype != net.dtype or params.shape != net.params.shape:
        raise ValueError(
            f"{name!r} holds parameters of dtype {params.dtype} and shape {params.shape}; "
            f"its architecture needs {net.dtype} and {net.params.shape}"
        )
    if header.get("params_sha256") != _digest(params):
        raise ValueError(
            f"{name!r} failed its checksum: the parameters were altered or corrupted "
            "after the file was written"
        )
    if not np.isfinite(params).all():
        raise ValueError(f"{name!r} holds parameters that are NaN or infinite")
