"""Hostile FANN files: the ``.net`` and ``.data`` readers under fuzzing.

The promise: whatever a file holds, ``fann.read_net`` and ``fann.read_data``
either return a valid result or raise ``ValueError`` whose message starts with
the file's name — never another exception, a crash, a hang or an allocation
out of proportion to the file (huge counts are refused before anything is
allocated for them).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastbp as fb
from fastbp import fann

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIRECTORY = tempfile.mkdtemp(prefix="fastbp-fann-fuzz-")
NET, DATA = os.path.join(DIRECTORY, "fuzzed.net"), os.path.join(DIRECTORY, "fuzzed.data")
# Far more than parsing a few-KB file takes, far less than a hang or a huge allocation.
SECONDS, PEAK_BYTES = 2.0, 50 * 2**20

NASTY = st.sampled_from(
    ["10" + "0" * 11, str(2**64), str(2**31), "-1", "-7", "nan", "inf", "-inf", "1e400",
     "", "x", "1_0", "0x10", "3.5", "+", "(", ")", "=", "1e", "--1"]
)  # fmt: skip


def valid_net_text(sizes, hidden, output, seed) -> str:
    net = fb.Network(sizes, activation=hidden, output_activation=output, seed=seed)
    fann.save(net, NET)
    with open(NET) as f:
        return f.read()


NETS = st.builds(
    valid_net_text,
    st.lists(st.integers(1, 5), min_size=2, max_size=4),
    st.sampled_from(["sigmoid", "tanh", "identity"]),
    st.sampled_from(["sigmoid", "tanh", "identity"]),
    st.integers(0, 100),
)


def data_text(n, n_in, n_out, seed) -> str:
    rng = np.random.default_rng(seed)
    fann.write_data(DATA, rng.normal(size=(n, n_in)), rng.normal(size=(n, n_out)))
    with open(DATA) as f:
        return f.read()


DATAS = st.builds(
    data_text, st.integers(0, 6), st.integers(1, 4), st.integers(0, 3), st.integers(0)
)


def read(reader, path, content: bytes | str):
    """Run ``reader`` on ``content`` written to ``path``; the result, or the ValueError."""
    with open(path, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return reader(path, stepwise="exact") if reader is fann.read_net else reader(path)
    except ValueError as exc:
        assert str(exc).startswith(path + ": "), str(exc)
        assert len(str(exc)) > len(path) + 10
        return exc
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < SECONDS, f"took {elapsed:.2f} s"
        assert peak < PEAK_BYTES, f"peaked at {peak:,} bytes"


@pytest.mark.parametrize("reader, path", [(fann.read_net, NET), (fann.read_data, DATA)])
@SETTINGS
@given(junk=st.binary(max_size=2000))
def test_binary_junk_is_a_value_error(reader, path, junk):
    result = read(reader, path, junk)
    assert isinstance(result, ValueError)  # no junk is a valid file


@pytest.mark.parametrize("reader, path", [(fann.read_net, NET), (fann.read_data, DATA)])
@SETTINGS
@given(text=st.text(max_size=500))
def test_arbitrary_text_is_a_value_error_or_a_valid_result(reader, path, text):
    result = read(reader, path, text)
    assert isinstance(result, (ValueError, fb.Network, tuple))


def check_net(result):
    if isinstance(result, ValueError):
        return
    net, info = result
    assert isinstance(net, fb.Network) and np.all(np.isfinite(net.params))
    assert info.missing_connections >= 0


def check_data(result):
    if isinstance(result, ValueError):
        return
    X, Y = result
    assert len(X) == len(Y) and np.all(np.isfinite(X)) and np.all(np.isfinite(Y))


@SETTINGS
@given(text=NETS, data=st.data())
def test_a_truncated_net_file_is_refused(text, data):
    cut = data.draw(st.integers(0, len(text) - 1))
    result = read(fann.read_net, NET, text[:cut])
    check_net(result)
    # Only a cut inside the final line's trailing blank can leave a complete network.
    if text[:cut].strip() != text.strip():
        assert isinstance(result, ValueError)


@SETTINGS
@given(text=DATAS, data=st.data())
def test_a_truncated_data_file_is_refused_or_complete(text, data):
    cut = data.draw(st.integers(0, max(0, len(text) - 1)))
    check_data(read(fann.read_data, DATA, text[:cut]))


@SETTINGS
@given(text=NETS, data=st.data())
def test_a_deleted_or_repeated_line_is_refused(text, data):
    lines = text.splitlines(keepends=True)
    k = data.draw(st.integers(1, len(lines) - 1))
    deleted = "".join(lines[:k] + lines[k + 1 :])
    repeated = "".join(lines[: k + 1] + lines[k:])
    assert isinstance(read(fann.read_net, NET, repeated), ValueError)
    result = read(fann.read_net, NET, deleted)
    check_net(result)  # a training parameter's line may go: FANN 2.1 files lack some


NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?")


@SETTINGS
@given(text=NETS, token=NASTY, data=st.data())
def test_a_number_replaced_by_a_nasty_token(text, token, data):
    spans = [m.span() for m in NUMBER.finditer(text)][1:]  # not the header's 2.1
    start, end = data.draw(st.sampled_from(spans))
    check_net(read(fann.read_net, NET, text[:start] + token + text[end:]))


@SETTINGS
@given(text=DATAS, token=NASTY, data=st.data())
def test_a_data_value_replaced_by_a_nasty_token(text, token, data):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    start, end = data.draw(st.sampled_from(spans))
    check_data(read(fann.read_data, DATA, text[:start] + token + text[end:]))


@SETTINGS
@given(text=NETS, huge=st.sampled_from([10**6, 10**9, 10**12, 2**64]), data=st.data())
def test_huge_counts_are_refused_before_allocating(text, huge, data):
    key = data.draw(st.sampled_from(["num_layers", "layer_sizes"]))
    line = re.search(rf"^{key}=(.*)$", text, re.M)
    assert line is not None
    values = line.group(1).split()
    k = data.draw(st.integers(0, len(values) - 1))
    values[k] = str(huge)
    changed = text[: line.start(1)] + " ".join(values) + text[line.end(1) :]
    assert isinstance(read(fann.read_net, NET, changed), ValueError)


@SETTINGS
@given(text=DATAS, huge=st.sampled_from([10**6, 10**9, 10**12, 2**64]), field=st.integers(0, 2))
def test_huge_data_counts_are_refused_before_allocating(text, huge, field):
    head, _, body = text.partition("\n")
    counts = head.split()
    counts[field] = str(huge)
    result = read(fann.read_data, DATA, " ".join(counts) + "\n" + body)
    # Only a file of no samples is still valid: then the widths cost nothing.
    assert isinstance(result, ValueError) or (counts[0] == "0" and result[0].size == 0)


@SETTINGS
@given(text=NETS, source=st.sampled_from([-1, 10**6, 2**40]), data=st.data())
def test_wrong_neuron_indices_are_refused(text, source, data):
    connections = [m.span(1) for m in re.finditer(r"\((\d+), ", text.split("connections")[-1])]
    offset = text.rindex("connections") + len("connections")
    start, end = data.draw(st.sampled_from(connections))
    changed = text[: offset + start] + str(source) + text[offset + end :]
    result = read(fann.read_net, NET, changed)
    assert isinstance(result, ValueError)


@SETTINGS
@given(text=NETS, value=st.sampled_from(["nan", "inf", "-inf", "NaN", "1e400"]), data=st.data())
def test_nan_and_inf_weights_are_refused_by_name(text, value, data):
    weights = [m.span(1) for m in re.finditer(r"\(\d+, (\S+?)\)", text)]
    start, end = data.draw(st.sampled_from(weights))
    result = read(fann.read_net, NET, text[:start] + value + text[end:])
    assert isinstance(result, ValueError) and "finite" in str(result)


@SETTINGS
@given(text=DATAS, value=st.sampled_from(["nan", "inf", "-inf", "1e400"]), data=st.data())
def test_nan_and_inf_data_are_refused(text, value, data):
    spans = [m.span() for m in re.finditer(r"\S+", text)][3:]
    if not spans:
        return
    start, end = data.draw(st.sampled_from(spans))
    result = read(fann.read_data, DATA, text[:start] + value + text[end:])
    assert isinstance(result, ValueError)
    assert "finite" in str(result) or "not a number" in str(result)


@SETTINGS
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    hidden=st.sampled_from(["sigmoid", "tanh", "identity"]),
    output=st.sampled_from(["sigmoid", "tanh", "identity"]),
    seed=st.integers(0, 2**32),
)
def test_valid_files_round_trip(sizes, hidden, output, seed):
    net = fb.Network(sizes, activation=hidden, output_activation=output, seed=seed)
    fann.save(net, NET)
    again = fann.load(NET)
    X = np.random.default_rng(seed).normal(size=(5, sizes[0]))
    np.testing.assert_allclose(again.predict(X), net.predict(X), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(again.params, net.params)


@SETTINGS
@given(
    X=st.integers(0, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2,
                              max_size=2), min_size=n, max_size=n),
            st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1,
                              max_size=1), min_size=n, max_size=n),
        )
    )
)  # fmt: skip
def test_valid_data_round_trip_exactly(X):
    inputs = np.array(X[0], dtype=np.float64).reshape(-1, 2)
    outputs = np.array(X[1], dtype=np.float64).reshape(-1, 1)
    fann.write_data(DATA, inputs, outputs)
    got_in, got_out = fann.read_data(DATA)
    np.testing.assert_array_equal(got_in, inputs)
    np.testing.assert_array_equal(got_out, outputs)


LONG = st.sampled_from(
    ["9" * 5000, "+" + "0" * 5000 + "1", "1" * 100_000 + "x", "1" * 50_000 + "."]
)


@SETTINGS
@given(text=NETS, token=LONG, data=st.data())
def test_a_very_long_token_is_refused_quickly_with_the_path(text, token, data):
    # Python's int() refuses more than 4,300 digits without naming the file,
    # and a backtracking number pattern would take quadratic time on these;
    # read() checks the time, the memory and that a refusal names the file.
    spans = [m.span() for m in NUMBER.finditer(text)][1:]
    start, end = data.draw(st.sampled_from(spans))
    check_net(read(fann.read_net, NET, text[:start] + token + text[end:]))


@SETTINGS
@given(text=DATAS, token=LONG, data=st.data())
def test_a_very_long_data_token_is_refused_quickly_with_the_path(text, token, data):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    start, end = data.draw(st.sampled_from(spans))
    check_data(read(fann.read_data, DATA, text[:start] + token + text[end:]))


@SETTINGS
@given(text=NETS, data=st.data())
def test_a_weight_that_overflows_with_its_steepness_is_refused_by_name(text, data):
    # 1e308 is finite; folded with a steepness of 4 it is not.
    head, _, tail = text.partition("connections")
    head = re.sub(r"\((\d+), (\d+), [^()]+\)", r"(\1, \2, 4)", head)
    text = head + "connections" + tail
    weights = [m.span(1) for m in re.finditer(r"\(\d+, (\S+?)\)", text)]
    start, end = data.draw(st.sampled_from(weights))
    result = read(fann.read_net, NET, text[:start] + "1e308" + text[end:])
    assert isinstance(result, ValueError) and "overflows" in str(result), result


def test_the_stepwise_bound_of_huge_weights_is_the_output_range(tmp_path):
    net = fb.Network([2, 3, 1], activation="sigmoid", output_activation="tanh", seed=0)
    params = net.params.copy()
    params[:] = 1e300
    net.params = params
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bound = fann.stepwise_bound(net, {1: 1, 2: 1})
    assert bound == 2.0
