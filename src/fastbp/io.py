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
import stat
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
READABLE_VERSIONS = (1, 2)
# The field that holds the digest, by format version.
DIGEST_FIELDS = {1: "params_sha256", 2: "sha256"}
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
    ]


def _canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` that digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def seal(header: dict[str, Any], params: np.ndarray) -> str:
    """The digest ``header`` should hold for ``params``, as its format version defines it."""
    digest = hashlib.sha256()
    if header["format_version"] == 2:
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
    net: Network,
    path: PathArgument,
    history: Sequence[float] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write ``net`` to ``path`` atomically.

    Parameters
    ----------
    net : Network
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
        history or metadata that JSON cannot hold.  Nothing is written.
    OSError
        If the file cannot be written, or the path is a directory, FIFO,
        device or socket.  Any previous file is left as it was.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    name = _path(path)
    params = net.params.copy()  # one snapshot: what is checked, sealed and written
    text = _header_text(net.architecture, params, _history(history), _metadata(metadata))
    subject, decoded = f"the network to save to {name!r}", _decode_json(text)
    try:  # what load checks
        _check_params(subject, decoded, check_header(subject, decoded), params)
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


def _header_text(
    architecture: Architecture,
    params: np.ndarray,
    history: list[float] | None,
    metadata: dict[str, Any] | None,
) -> str:
    """The JSON text of the header of a file of ``params``, sealed."""
    fields = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastbp_version": __version__,
        **architecture.to_dict(),
        "n_params": int(params.size),
        DIGEST_FIELDS[FORMAT_VERSION]: "",
        "history": history,
        "metadata": metadata,
    }
    try:
        # To JSON and back, so that the seal is taken of what load will read.
        header = _decode_json(json.dumps(fields, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(
            f"history and metadata must be JSON-serialisable with finite numbers ({exc})"
        ) from None
    header[DIGEST_FIELDS[FORMAT_VERSION]] = seal(header, params)
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
        f = os.fdopen(os.open(temporary, _CREATE_FLAGS, 0o666 if mode is None else 0o600), "wb")
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
}


def _check_fields(subject: str, header: dict[str, Any], version: int) -> None:
    """Raise unless the header has exactly the fields of its version, each of its type."""
    expected = header_fields(version)
    missing = [field for field in expected if field not in header]
    unknown = [field for field in header if field not in expected]
    if missing or unknown:
        problem = f"missing {missing}, unknown {unknown}"
        raise ValueError(
            f"{subject} has a malformed header ({problem:.300}); "
            f"a version {version} header has exactly the fields {', '.join(expected)}"
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


def load(path: PathArgument) -> Network:
    """Read a network written by :func:`save` (or ``Network.save``).

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
    # Every count is checked before anything is built, so that a tampered
    # header cannot make load allocate more than the file holds.
    subject, header, architecture, params = _read(path)
    _check_params(subject, header, architecture, params)
    net = Network(**architecture.to_dict())
    net.params[...] = params
    return net
