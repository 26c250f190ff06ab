"""Hostile model files, parameters and saves: every file loads as it says or is refused.

Issue 14, items 4 to 7: a save never writes what ``load`` refuses, and
``params``/``weights``/``biases`` cannot be rebound to something else; the
digest of a (version 2) model file covers its whole header, and every header
field is type-checked; Ctrl-C at any point of a save is a ``KeyboardInterrupt``
that leaves the old file or the new one, complete, and no temporary; a save
keeps a file's mode, honours the umask, writes through a symlink and refuses
what is not a regular file.  The file format is the one documented in
``fastbp.io``: this file rebuilds digests from that description, not from
fastbp's code.
"""

import contextlib
import functools
import hashlib
import json
import math
import os
import pathlib
import signal
import stat
import sys
import tempfile
import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fastbp as fb
from fastbp import io


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


FILE_TESTS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# The network of the mutated files: 2*3 + 3 + 3*1 + 1 = 13 parameters, as
# many as [1, 4, 1] and [3, 2, 1, 1] have.
SIZES = [2, 3, 1]
N_PARAMS = 13
HISTORY = [0.5, 0.25]
METADATA = {"classes": ["a", "b"]}


def network(seed=0, **options):
    return fb.Network(SIZES, seed=seed, **options)


# -- the documented format, rebuilt here -------------------------------------------


def little_endian(params):
    return np.ascontiguousarray(params, dtype=params.dtype.newbyteorder("<")).tobytes()


def sealed(header, params):
    """``header`` with the digest its fields call for (see the fastbp.io docstring)."""
    header = dict(header)
    if "sha256" in header:
        others = {key: value for key, value in header.items() if key != "sha256"}
        text = json.dumps(others, sort_keys=True, separators=(",", ":"))
        header["sha256"] = hashlib.sha256(text.encode() + b"\0" + little_endian(params)).hexdigest()
    if "params_sha256" in header:
        header["params_sha256"] = hashlib.sha256(little_endian(params)).hexdigest()
    return header


def read_file(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["header"].tobytes()), archive["params"].copy()


def write_file(path, header, params):
    text = json.dumps(header)  # NaN and Infinity written as JavaScript does, to be refused
    with open(path, "wb") as f:
        np.savez(f, header=np.frombuffer(text.encode(), dtype=np.uint8), params=params)


def write_version_1(path, net):
    """A model file as fastbp wrote it before format version 2."""
    header = {
        "format": "fastbp-model",
        "format_version": 1,
        "fastbp_version": "0.1.0",
        **net.architecture.to_dict(),
        "n_params": int(net.params.size),
        "params_sha256": None,
        "history": HISTORY,
        "metadata": METADATA,
    }
    write_file(path, sealed(header, net.params), net.params)


def base_file(path, version):
    net = network()
    if version == 2:
        net.save(path, history=HISTORY, metadata=METADATA)
    else:
        write_version_1(path, net)
    return net


def assert_is_described(loaded, path, header, params):
    """``loaded`` is the network ``header`` describes, with ``params``."""
    architecture = {field: header[field] for field in ("activation", "output_activation", "loss")}
    expected = fb.Network(header["sizes"], dtype=header["dtype"], **architecture)
    assert repr(loaded) == repr(expected)
    np.testing.assert_array_equal(loaded.params, params)
    assert io.load_metadata(path) == header


# -- item 4: save refuses what load would refuse; parameters are never rebound --------


def test_save_refuses_parameters_that_load_would_refuse(tmp_path):
    path = tmp_path / "good.fbp"
    net = network()
    net.save(path)
    before = path.read_bytes()
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite; nothing was written"):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.fbp"]
    fb.load(path)


def test_params_cannot_be_rebound_to_another_dtype_or_size(tmp_path):
    net = network()
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"params has shape \(3,\); expected \(13,\)"):
        net.params = np.zeros(3)
    np.testing.assert_array_equal(net.params, before)
    net.params = net.params.astype(np.float32)  # copied in, as float64
    assert net.params.dtype == np.float64 and net.params.shape == (N_PARAMS,)
    np.testing.assert_array_equal(net.params, before.astype(np.float32))
    assert all(np.shares_memory(view, net.params) for view in net.weights + net.biases)
    net.save(tmp_path / "m.fbp")
    np.testing.assert_array_equal(fb.load(tmp_path / "m.fbp").params, net.params)


def test_assigning_weights_and_biases_changes_what_predict_uses():
    net = network()
    weights = [np.full((2, 3), 0.5), np.full((3, 1), -1.0)]
    biases = [np.array([0.1, 0.2, 0.3]), np.array([0.4])]
    net.weights = weights
    net.biases[0] = biases[0]
    net.biases[1] += 0.4
    same = fb.Network(SIZES, weights=weights, biases=biases)
    np.testing.assert_array_equal(net.params, same.params)
    X = np.array([[1.0, -2.0], [0.5, 0.25]])
    np.testing.assert_array_equal(net.predict(X), same.predict(X))
    with pytest.raises(TypeError, match="one layer at a time"):
        net.weights[0:1] = weights[:1]
    with pytest.raises(ValueError, match="weights must be a list of 2 arrays"):
        net.weights = weights[:1]
    np.testing.assert_array_equal(net.params, same.params)


# Values an assignment may be given: arrays of the right shape or not, of any
# dtype, with values at the edges of float32 and float64, and non-arrays.
EDGE_VALUES = st.sampled_from([0.0, -1.5, 1e-300, 3e38, 3.5e38, 1e300, math.nan, math.inf])
ASSIGNMENT_DTYPES = st.sampled_from(
    ["float64", "float32", "float16", "int64", "bool", "complex128"]
)


@st.composite
def assigned_values(draw, shape):
    """(value, meaning): something to assign, and the float64 array it means (None: refuse)."""
    form = draw(st.sampled_from(["array"] * 6 + ["wrong shape", "text", "none", "list"]))
    if form in ("text", "none"):
        return {"text": "0.5", "none": None}[form], None
    if form == "wrong shape":
        shape = draw(st.sampled_from([(), (1,), (N_PARAMS + 1,), (*shape, 1), (3, 3)]))
    n = int(np.prod(shape))
    values = np.array(draw(st.lists(EDGE_VALUES, min_size=n, max_size=n)), dtype=float)
    dtype = draw(ASSIGNMENT_DTYPES)
    with np.errstate(over="ignore", invalid="ignore"):
        value = values.reshape(shape).astype(dtype)
    if form == "list":
        value = value.tolist()
    return value, (None if dtype == "complex128" else np.asarray(value, dtype=float))


@FILE_TESTS
@given(
    dtype=st.sampled_from(["float64", "float32"]),
    target=st.sampled_from(
        ["params", "weights", "weights[0]", "weights[1]", "biases", "biases[1]"]
    ),
    data=st.data(),
)
def test_parameter_assignments_copy_in_or_are_refused(tmp_path, dtype, target, data):
    net = network(dtype=dtype)
    before = net.params.copy()
    name, _, index = target.partition("[")
    views = [net.params] if name == "params" else getattr(net, name)
    if index:
        views = [views[int(index[0])]]
    drawn = [data.draw(assigned_values(view.shape)) for view in views]
    with np.errstate(over="ignore"):
        fits = [
            meaning is not None
            and meaning.shape == view.shape
            and np.isfinite(meaning).all()
            and np.isfinite(meaning.astype(dtype)).all()
            for (_, meaning), view in zip(drawn, views)
        ]
    values = [value for value, _ in drawn]
    try:
        if index:
            getattr(net, name)[int(index[0])] = values[0]
        else:
            setattr(net, name, values[0] if name == "params" else values)
    except (TypeError, ValueError):
        assert not all(fits)
        np.testing.assert_array_equal(net.params, before)
    else:
        assert all(fits), f"{target} = {values!r} was accepted"
        for view, (_, meaning) in zip(views, drawn):
            np.testing.assert_array_equal(view, meaning.astype(dtype))
    assert net.params.dtype == dtype and net.params.shape == (N_PARAMS,)
    assert all(np.shares_memory(view, net.params) for view in net.weights + net.biases)
    net.save(tmp_path / "m.fbp")
    np.testing.assert_array_equal(fb.load(tmp_path / "m.fbp").params, net.params)


# -- item 5: the digest covers the whole header; every field is type-checked -----------


@pytest.mark.parametrize(
    "change",
    [
        {"sizes": [1, 4, 1]},
        {"sizes": [3, 2, 1, 1]},
        {"activation": "tanh"},
        {"output_activation": "identity"},
        {"loss": "cross_entropy"},
        {"metadata": {"classes": ["b", "a"]}},
        {"history": [0.5]},
        {"fastbp_version": "9.9"},
    ],
)
def test_a_changed_header_of_the_same_parameter_count_is_refused(tmp_path, change):
    path = tmp_path / "m.fbp"
    network().save(path, history=HISTORY, metadata=METADATA)
    header, params = read_file(path)
    write_file(path, {**header, **change}, params)
    with pytest.raises(ValueError, match="failed its checksum"):
        fb.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_params": 2**62}, r"n_params \(4611686018427387904\) is not the 13"),
        ({"n_params": -5}, "n_params must be a non-negative integer"),
        ({"n_params": 13.0}, "n_params must be a non-negative integer"),
        ({"n_params": True}, "n_params must be a non-negative integer"),
        ({"format_version": 2.0}, "format version 2.0"),
        ({"format_version": True}, "format version True"),
        ({"format_version": "2"}, "format version '2'"),
        ({"sizes": [2.0, 3, 1]}, r"sizes\[0\] must be an integer"),
        ({"sizes": [True, 3, 1]}, r"sizes\[0\] must be an integer"),
        ({"sizes": "2,3,1"}, "sizes must be a sequence"),
        ({"activation": 1}, "activation must be a name"),
        ({"dtype": "f8"}, "dtype must be 'float64' or 'float32'"),
        ({"fastbp_version": 1}, "fastbp_version must be a string"),
        ({"history": ["0.5"]}, "history must be null or a list of numbers"),
        ({"history": [True]}, "history must be null or a list of numbers"),
        ({"metadata": [1, 2]}, "metadata must be null or an object"),
        ({"sha256": "ABC"}, "sha256 must be a SHA-256 digest"),
        ({"extra": 1}, r"unknown \['extra'\]"),
        ({"history": math.inf}, "not valid JSON"),
    ],
)
def test_every_header_field_is_type_checked(tmp_path, change, message):
    # Sealed again, so that the type check, not the digest, is what refuses it.
    path = tmp_path / "m.fbp"
    network().save(path, history=HISTORY, metadata=METADATA)
    header, params = read_file(path)
    write_file(path, {**sealed({**header, **change}, params), **change}, params)
    with pytest.raises(ValueError, match=message):
        fb.load(path)


def test_a_version_1_file_still_loads_and_its_parameters_are_checked(tmp_path):
    path = tmp_path / "old.fbp"
    net = base_file(path, version=1)
    loaded = fb.load(path)
    assert repr(loaded) == repr(net)
    np.testing.assert_array_equal(loaded.params, net.params)
    assert io.load_metadata(path)["metadata"] == METADATA
    header, params = read_file(path)
    params[0] += 1
    write_file(path, header, params)
    with pytest.raises(ValueError, match="failed its checksum: its parameters were altered"):
        fb.load(path)
    loaded.save(path)  # saved again: version 2
    assert io.load_metadata(path)["format_version"] == 2


def test_json_that_fastbp_never_writes_is_refused(tmp_path):
    path = tmp_path / "m.fbp"
    network().save(path)
    header, params = read_file(path)
    text = json.dumps(header)
    for bad in (
        text.replace('"history": null', '"history": [NaN]'),
        text.replace('"history": null', '"history": [1e999]'),
        text.replace('"metadata": null', '"metadata": {"a": 1, "a": 2}'),
    ):
        with open(path, "wb") as f:
            np.savez(f, header=np.frombuffer(bad.encode(), dtype=np.uint8), params=params)
        with pytest.raises(ValueError, match="not valid JSON"):
            fb.load(path)


# The generator: any field replaced by a value of another type or range, or by
# another valid value, or deleted, or a field added; sealed again or not.
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, -5, 13, 2**31 - 1, 2**31, 2**62, 2**64]),
    st.floats(),  # NaN and infinities too: JSON cannot hold them
    st.sampled_from([1.0, 2.0, 13.0, -0.0, 0.5]),
    st.text(max_size=6),
    st.sampled_from(["sigmoid", "softmax", "float32", "float64", "fastbp-model"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
# Values each field may validly take in a file of the network SIZES.
OTHER_VALID = {
    "fastbp_version": ["0.0.1", "", "9.9.9"],
    "sizes": [[1, 4, 1], [3, 2, 1, 1], SIZES],
    "activation": ["tanh", "relu", "leaky_relu", "identity", "sigmoid"],
    "output_activation": ["identity", "tanh", "relu", "leaky_relu", "softmax"],
    "loss": ["cross_entropy", "squared_error"],
    "dtype": ["float32", "float64"],
    "n_params": [N_PARAMS, 12],
    "history": [None, [], [1, 2.5], [0.1]],
    "metadata": [None, {}, {"k": [1, "x", None, {"n": 2.5}]}],
    "format_version": [1, 2],
}
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]


def names_fit(header):
    """Whether the activations and the loss make a network (the rules in the README)."""
    hidden, output, loss = header["activation"], header["output_activation"], header["loss"]
    if hidden not in HIDDEN or output not in [*HIDDEN, "softmax"]:
        return False
    if loss == "cross_entropy":
        return output in ("sigmoid", "softmax")
    return loss == "squared_error" and output != "softmax"


def finite_json(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite_json(v) for v in value)
    if isinstance(value, dict):
        return all(finite_json(v) for v in value.values())
    return True


def is_int(value):
    return type(value) is int


def fields_fit(header, version):
    """Whether every field of ``header`` is what the format says (independently of fastbp)."""
    digest = "sha256" if version == 2 else "params_sha256"
    expected = {"format", "format_version", "fastbp_version", "sizes", "activation"}
    expected |= {"output_activation", "loss", "dtype", "n_params", digest, "history", "metadata"}
    if set(header) != expected or not finite_json(header):
        return False
    sizes, history = header["sizes"], header["history"]
    return (
        header["format"] == "fastbp-model"
        and is_int(header["format_version"])
        and header["format_version"] == version
        and isinstance(header["fastbp_version"], str)
        and isinstance(sizes, list)
        and len(sizes) >= 2
        and all(is_int(s) and 1 <= s <= 2**31 - 1 for s in sizes)
        and sum(a * b + b for a, b in zip(sizes, sizes[1:])) == N_PARAMS
        and all(isinstance(header[f], str) for f in ("activation", "output_activation", "loss"))
        and header["dtype"] == "float64"  # the parameters stored are float64
        and is_int(header["n_params"])
        and header["n_params"] == N_PARAMS
        and (
            history is None
            or (isinstance(history, list) and all(type(h) in (int, float) for h in history))
        )
        and (header["metadata"] is None or isinstance(header["metadata"], dict))
        and names_fit(header)
    )


DELETE = object()


@st.composite
def header_mutations(draw, version):
    """(field, value): a field of a header of ``version`` and its new value (or DELETE)."""
    fields = [*OTHER_VALID, "format", "sha256" if version == 2 else "params_sha256"]
    field = draw(st.sampled_from(sorted(fields)))
    kind = draw(st.sampled_from(["other type", "other type", "other valid", "delete", "add"]))
    if kind == "delete":
        return field, DELETE
    if kind == "add":
        return draw(st.text(min_size=1, max_size=6)), draw(JSON_VALUES)
    if kind == "other valid" and field in OTHER_VALID:
        return field, draw(st.sampled_from(OTHER_VALID[field]))
    return field, draw(JSON_VALUES)


@settings(
    FILE_TESTS,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(version=st.sampled_from([1, 2]), reseal=st.booleans(), data=st.data())
def test_header_mutations_load_as_described_or_are_refused(tmp_path, version, reseal, data):
    path = tmp_path / "m.fbp"
    net = base_file(path, version)
    original, params = read_file(path)
    field, value = data.draw(header_mutations(version))
    header = dict(original)
    if value is DELETE:
        del header[field]
    else:
        header[field] = value
    if reseal:
        header = sealed(header, params)
    write_file(path, header, params)
    # Version 2's digest covers the header, version 1's only the parameters:
    # a changed version 2 header loads only when sealed again.
    loads = fields_fit(header, version) and sealed(header, params) == header
    try:
        loaded = fb.load(path)
    except ValueError as exc:
        assert not loads, f"{field} = {value!r} was refused: {exc}"
        event("refused")
        return
    assert loads, f"{field} = {value!r} (sealed again: {reseal}) loaded"
    event("loaded")
    assert_is_described(loaded, path, header, params)
    if header == original:
        assert repr(loaded) == repr(net)


# -- item 6: Ctrl-C at any point of a save ---------------------------------------------


def test_ctrl_c_just_after_the_rename_is_a_keyboard_interrupt(tmp_path, monkeypatch):
    path = tmp_path / "m.fbp"
    network(seed=1).save(path)
    replace = os.replace

    def replace_then_interrupt(*args, **kwargs):
        replace(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    net = network(seed=2)
    with pytest.raises(KeyboardInterrupt):
        net.save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["m.fbp"]
    np.testing.assert_array_equal(fb.load(path).params, net.params)


def _in_a_save(frame, event, arg):
    """The points where a signal lands in a save: a call, return or C call of
    fastbp.io (os.open, os.fsync, os.replace, ...), or a write of the file."""
    if frame.f_code.co_filename == io.__file__:
        return True
    return event in ("c_call", "c_return") and getattr(arg, "__name__", "") == "write"


def _points_of(save):
    count = 0

    def counter(frame, event, arg):
        nonlocal count
        count += _in_a_save(frame, event, arg)

    sys.setprofile(counter)
    try:
        save()
    finally:
        sys.setprofile(None)
    return count


def _save_interrupted_at(save, point):
    """Run ``save`` with a KeyboardInterrupt raised at its ``point``-th point."""
    seen = 0

    def interrupt(frame, event, arg):
        nonlocal seen
        seen += _in_a_save(frame, event, arg)
        if seen == point:
            raise KeyboardInterrupt  # this also ends the profiling

    sys.setprofile(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            save()
    finally:
        sys.setprofile(None)
    # a save holds Ctrl-C off while it opens its file: never beyond, wherever it stopped
    if hasattr(signal, "pthread_sigmask"):
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())


def _prepare(target, file, link):
    """A directory with a file to replace (or none), maybe behind a link; the bytes
    of that file (None when there is none)."""
    if os.path.lexists(target):
        target.unlink()
    if link is not None and not os.path.lexists(link):
        link.symlink_to(target.name)
    if not file:
        return None
    target.write_bytes(_old_model())
    return _old_model()


@functools.cache
def _old_model():
    """The bytes of the model file an interrupted save replaces."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "old.fbp")
        network(seed=4).save(path, metadata={"tag": "old"})
        with open(path, "rb") as f:
            return f.read()


def _outcome(target, before, net, names):
    """What an interrupted save left: no temporary, and the old file byte for byte,
    the new one complete, or (when there was none) no file."""
    assert set(os.listdir(target.parent)) <= names
    if not target.exists():
        assert before is None
        return "none"
    if before is not None and target.read_bytes() == before:
        return "old"
    np.testing.assert_array_equal(fb.load(target).params, net.params)
    assert io.load_metadata(target)["metadata"] == {"tag": "new"}
    return "new"


@pytest.mark.parametrize("file", [True, False])
def test_ctrl_c_at_every_point_of_a_save(tmp_path, file):
    target = tmp_path / "m.fbp"
    net = network(seed=3)

    def save():
        net.save(target, metadata={"tag": "new"})

    _prepare(target, file, None)
    outcomes = set()
    for point in range(1, _points_of(save) + 1):
        before = _prepare(target, file, None)
        _save_interrupted_at(save, point)
        outcomes.add(_outcome(target, before, net, {"m.fbp"}))
    assert outcomes == ({"old", "new"} if file else {"none", "new"})


@FILE_TESTS
@given(
    where=st.floats(0, 1, exclude_max=True),
    file=st.booleans(),
    through_a_link=st.booleans(),
    dtype=st.sampled_from(["float64", "float32"]),
    history=st.sampled_from([None, [0.5] * 50]),
)
def test_ctrl_c_at_a_random_point_of_a_save(tmp_path, where, file, through_a_link, dtype, history):
    directory = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))  # one per example
    target = directory / "m.fbp"
    link = directory / "link.fbp" if through_a_link else None
    net = network(seed=5, dtype=dtype)

    def save():
        net.save(link or target, history=history, metadata={"tag": "new"})

    _prepare(target, file, link)
    points = _points_of(save)
    before = _prepare(target, file, link)
    _save_interrupted_at(save, 1 + int(where * points))
    _outcome(target, before, net, {"m.fbp", "link.fbp"})
    assert link is None or link.is_symlink()


@pytest.fixture
def sigint_raises_keyboard_interrupt():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@settings(FILE_TESTS, max_examples=10)
@given(delay=st.floats(0, 0.004))
def test_sigint_at_a_random_moment_of_a_run_of_saves(
    tmp_path, sigint_raises_keyboard_interrupt, delay
):
    directory = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))  # one per example
    path = directory / "m.fbp"
    net = network(seed=6)
    net.save(path, metadata={"i": -1})
    started = finished = -1
    timer = threading.Timer(
        delay, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    with pytest.raises(KeyboardInterrupt):
        timer.start()  # inside: the interrupt can only land in the loop below
        while True:
            started += 1
            net.save(path, metadata={"i": started})
            finished = started
    timer.join()
    assert os.listdir(directory) == ["m.fbp"]
    assert io.load_metadata(path)["metadata"]["i"] in (finished, started)
    np.testing.assert_array_equal(fb.load(path).params, net.params)


# -- item 7: what a save keeps, follows and refuses; what load says ----------------------


@contextlib.contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, mask, mode):
    with umask(mask):
        network().save(tmp_path / "m.fbp")
    assert mode_of(tmp_path / "m.fbp") == mode


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o444])
def test_a_replaced_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "m.fbp"
    network(seed=1).save(path)
    os.chmod(path, mode)
    with umask(0o077):
        network(seed=2).save(path)
    assert mode_of(path) == mode
    np.testing.assert_array_equal(fb.load(path).params, network(seed=2).params)


def test_a_save_through_a_symlink_writes_the_linked_file(tmp_path):
    (tmp_path / "models").mkdir()
    linked = tmp_path / "models" / "v1.fbp"
    network(seed=1).save(linked)
    link = tmp_path / "current.fbp"
    link.symlink_to(os.path.join("models", "v1.fbp"))
    net = network(seed=2)
    net.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(fb.load(linked).params, net.params)
    assert sorted(os.listdir(tmp_path / "models")) == ["v1.fbp"]


def test_a_save_refuses_what_is_not_a_regular_file(tmp_path):
    net = network()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="is a FIFO"):
        net.save(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match="'.*dir' is a directory; a model is saved only"):
        net.save(tmp_path / "dir")
    device = tmp_path / "null"  # a device reached through a link: the link is left alone too
    device.symlink_to(os.devnull)
    with pytest.raises(OSError, match="is a character device"):
        net.save(device)
    assert device.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["dir", "fifo", "null"]


def test_load_says_what_is_not_a_model_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="is a FIFO"):  # and does not wait for a writer
        fb.load(tmp_path / "fifo")
    with pytest.raises(ValueError, match="is a directory, not a fastbp model file"):
        fb.load(tmp_path)
    with pytest.raises(ValueError, match="is a character device"):
        fb.load(os.devnull)
    with pytest.raises(FileNotFoundError, match="no model file"):
        fb.load(tmp_path / "absent.fbp")


# -- paths: str, bytes or os.PathLike; anything else is a TypeError -----------------------


class BytesPath:
    def __init__(self, path):
        self.path = os.fsencode(path)

    def __fspath__(self):
        return self.path


@pytest.mark.parametrize("kind", [str, os.fsencode, BytesPath, lambda path: path])
def test_a_path_may_be_str_bytes_or_path_like(tmp_path, kind):
    net = network()
    path = kind(tmp_path / "m.fbp")
    net.save(path, metadata=METADATA)
    np.testing.assert_array_equal(fb.load(path).params, net.params)
    assert io.load_metadata(path)["metadata"] == METADATA


@pytest.mark.parametrize("path", [3, None, 1.5, ["m.fbp"]])
def test_other_paths_are_refused_with_a_type_error(tmp_path, path):
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike"):
        network().save(path)
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike"):
        fb.load(path)


def test_save_refuses_arguments_of_the_wrong_type(tmp_path):
    with pytest.raises(TypeError, match="net must be a fastbp.Network"):
        fb.save("not a network", tmp_path / "m.fbp")
    with pytest.raises(TypeError, match="metadata must be a dict"):
        network().save(tmp_path / "m.fbp", metadata=["a"])
    with pytest.raises(TypeError, match="history must be a sequence of numbers"):
        network().save(tmp_path / "m.fbp", history="0.5")
    assert not os.listdir(tmp_path)
