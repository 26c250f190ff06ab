"""Model files: round trips, atomic writes, and every kind of bad file."""

import json
import os
import pickle

import numpy as np
import pytest

import fastbp as fb
from fastbp import io


@pytest.fixture
def net():
    net = fb.Network(
        [4, 3, 2],
        activation="tanh",
        output_activation="softmax",
        loss="cross_entropy",
        dtype="float32",
        seed=0,
    )
    net.biases[0][...] = [0.1, -0.2, 0.3]
    return net


@pytest.fixture
def saved(net, tmp_path):
    path = tmp_path / "model.fbp"
    net.save(path, history=[0.9, 0.5], metadata={"classes": ["a", "b"]})
    return path


def test_round_trip_keeps_architecture_parameters_and_extras(net, saved):
    loaded = fb.load(saved)
    assert repr(loaded) == repr(net)
    np.testing.assert_array_equal(loaded.params, net.params)
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    header = io.load_metadata(saved)
    assert header["history"] == [0.9, 0.5]
    assert header["metadata"] == {"classes": ["a", "b"]}
    assert header["format_version"] == io.FORMAT_VERSION
    assert header["fastbp_version"] == fb.__version__


def test_save_writes_exactly_the_path_given(net, tmp_path):
    path = tmp_path / "no_suffix"
    fb.save(net, path)
    assert sorted(os.listdir(tmp_path)) == ["no_suffix"]


def test_failed_save_keeps_the_previous_file(net, saved, monkeypatch):
    before = saved.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space"):
        net.save(saved)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model.fbp"]  # no temporary left behind


def test_unserialisable_metadata_is_rejected_before_writing(net, tmp_path):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        net.save(tmp_path / "m.fbp", metadata={"f": object()})
    with pytest.raises(ValueError, match="finite"):
        net.save(tmp_path / "m.fbp", history=[float("nan")])
    assert not list(tmp_path.iterdir())


def rewrite(path, **arrays):
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents.update(arrays)
    with open(path, "wb") as f:
        np.savez(f, **contents)


def header_with(path, **changes):
    header = io.load_metadata(path)
    header.update(changes)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fb.load(tmp_path / "absent.fbp")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        fb.load(saved)


def test_corrupted_bytes(saved):
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = b"\xff" * 16
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        fb.load(saved)


def test_tampered_parameters_fail_the_checksum(saved):
    with np.load(saved) as archive:
        params = archive["params"].copy()
    params[0] += 1
    rewrite(saved, params=params)
    with pytest.raises(ValueError, match="checksum"):
        fb.load(saved)


def test_wrong_format_version(saved):
    rewrite(saved, header=header_with(saved, format_version=99))
    with pytest.raises(ValueError, match="format version 99"):
        fb.load(saved)


def test_not_a_fastbp_file(tmp_path):
    plain = tmp_path / "data.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastbp model file"):
        fb.load(plain)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a fastbp model file"):
        fb.load(text)


def test_foreign_header(saved):
    rewrite(saved, header=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="no fastbp header"):
        fb.load(saved)
    rewrite(saved, header=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ValueError, match="not valid JSON"):
        fb.load(saved)


def test_architecture_that_does_not_match_the_parameters(saved):
    rewrite(saved, header=header_with(saved, sizes=[4, 5, 2]))
    with pytest.raises(ValueError, match="parameters of dtype .* its architecture needs"):
        fb.load(saved)
    rewrite(saved, header=header_with(saved, sizes=[4, 3, 2], activation="evil"))
    with pytest.raises(ValueError, match="describes no valid network"):
        fb.load(saved)


def test_a_pickled_object_inside_is_refused(saved, tmp_path):
    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = np.empty(1, dtype=object)
    payload[0] = Exploit()
    with np.load(saved) as archive:
        header = archive["header"]
    with open(saved, "wb") as f:
        np.savez(f, header=header, params=payload)  # savez pickles object arrays
    with pytest.raises(ValueError, match="pickled object"):
        fb.load(saved)
    assert not marker.exists()


def test_network_pickle_holds_parameters_not_pointers(net):
    state = net.__getstate__()
    assert set(state) == {
        "sizes",
        "activation",
        "output_activation",
        "loss",
        "dtype",
        "seed",
        "params",
        "training_runs",  # an int: the seed of a seeded network's next shuffle
        "optimizer",  # None, or the optimiser's state arrays, code and counters
    }
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.params, net.params)


def test_header_holds_the_architecture_in_order(net, saved):
    header = io.load_metadata(saved)
    keys = list(header)
    start = keys.index("sizes")
    assert keys[start : start + 5] == ["sizes", "activation", "output_activation", "loss", "dtype"]
    assert {k: header[k] for k in keys[start : start + 5]} == net.architecture.to_dict()
    assert fb.load(saved).architecture == net.architecture


def test_header_missing_a_field_names_it(saved):
    header = io.load_metadata(saved)
    del header["loss"]
    rewrite(saved, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"describes no valid network \('loss'\)"):
        fb.load(saved)
