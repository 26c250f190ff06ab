"""fastbp.export.to_c: the C file compiles without a warning and computes Network.predict.

Each test writes a small driver next to the exported file: it reads ``n`` and
``n`` rows of inputs from stdin for each model, and prints the outputs of
``PREFIX_predict`` (row by row) and then of ``PREFIX_predict_batch`` with %.17g.
"""

import doctest
import os
import shutil
import stat
import subprocess
import warnings

import numpy as np
import pytest

import fastbp as fb
from fastbp import export
from fastbp.export import to_c

CC = shutil.which("cc")
CXX = shutil.which("c++")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler: shutil.which('cc') is None")
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
CXX_FLAGS = ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUTS = (*HIDDEN, "softmax", "exp")
C_TYPES = {"float64": "double", "float32": "float"}

_DRIVER = """\
#include <stdio.h>
#include <stdlib.h>
{includes}
int main(void)
{{
{blocks}    return 0;
}}
"""

_MODEL_BLOCK = """\
    {{
        size_t n;
        if (scanf("%zu", &n) != 1) return 1;
        {T} *x = ({T} *)malloc((n * {U}_N_INPUTS + 1) * sizeof *x);
        {T} *y = ({T} *)malloc((n * {U}_N_OUTPUTS + 1) * sizeof *y);
        if (x == NULL || y == NULL) return 2;
        for (size_t i = 0; i < n * {U}_N_INPUTS; i++) {{
            double v;
            if (scanf("%lf", &v) != 1) return 3;
            x[i] = ({T})v;
        }}
        for (size_t r = 0; r < n; r++) {p}_predict(x + r * {U}_N_INPUTS, y + r * {U}_N_OUTPUTS);
        for (size_t i = 0; i < n * {U}_N_OUTPUTS; i++) printf("%.17g\\n", (double)y[i]);
        for (size_t i = 0; i < n * {U}_N_OUTPUTS; i++) y[i] = -12345;
        {p}_predict_batch(x, y, n);
        for (size_t i = 0; i < n * {U}_N_OUTPUTS; i++) printf("%.17g\\n", (double)y[i]);
        free(x);
        free(y);
    }}
"""


def make_net(sizes, hidden="tanh", output="sigmoid", dtype="float64", seed=0):
    """A network with random weights and biases (biases start at zero otherwise)."""
    loss = {"softmax": "cross_entropy", "exp": "poisson"}.get(output, "squared_error")
    net = fb.Network(
        sizes, activation=hidden, output_activation=output, loss=loss, dtype=dtype, seed=seed
    )
    rng = np.random.default_rng(seed + 1)
    for b in net.biases:
        b[...] = rng.uniform(-0.5, 0.5, size=b.shape)
    return net


def make_inputs(net, n=7, seed=0):
    """Rows of ordinary inputs and two large ones (which saturate every squashing unit)."""
    X = np.random.default_rng(seed).normal(size=(n, net.sizes[0]))
    X[-2:] *= 40.0
    return X.astype(net.dtype)


def build(tmp_path, sources, models, *, compiler=None, flags=C_FLAGS, libs=("-lm",)):
    """Compile and link the sources with a driver for ``models`` ((prefix, dtype) pairs)."""
    includes = "".join(
        f'#define {p.upper()}_DECLARATIONS_ONLY\n#include "{p}.c"\n' for p, _ in models
    )
    blocks = "".join(_MODEL_BLOCK.format(p=p, U=p.upper(), T=C_TYPES[d]) for p, d in models)
    driver = tmp_path / "driver.c"
    driver.write_text(_DRIVER.format(includes=includes, blocks=blocks))
    exe = tmp_path / "driver"
    compile_c([compiler or CC, *flags, "-o", str(exe), str(driver), *map(str, sources), *libs])
    return exe


def compile_c(command):
    """Run a compiler command; a warning or error fails the test, showing what it said."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"


def run(exe, nets, inputs):
    """The driver's (single, batch) outputs for each network, as float64 arrays."""
    text = "".join(
        f"{len(X)}\n" + " ".join(map(repr, X.astype(np.float64).ravel().tolist())) + "\n"
        for X in inputs
    )
    done = subprocess.run(
        [str(exe)], input=text, capture_output=True, text=True, timeout=300, check=True
    )
    values = np.array(done.stdout.split(), dtype=np.float64)
    results, start = [], 0
    for net, X in zip(nets, inputs):
        size = len(X) * net.sizes[-1]
        pair = values[start : start + 2 * size].reshape(2, len(X), net.sizes[-1])
        results.append((pair[0], pair[1]))
        start += 2 * size
    assert start == values.size
    return results


def predict_in_c(tmp_path, net, X, **build_options):
    """Export ``net`` (a network or estimator) as ``model.c``, build the driver, run it on X."""
    to_c(net, tmp_path / "model.c")
    network = getattr(net, "network_", net)  # an estimator's
    dtype = network.dtype.name
    exe = build(tmp_path, [tmp_path / "model.c"], [("model", dtype)], **build_options)
    return run(exe, [network], [X])[0]


def assert_matches(outputs, expected, dtype):
    """float64: to 1e-12; float32: to a few float32 roundings of the largest output
    (relatively, times the log of its size: an exp output's rounding grows with z)."""
    expected = np.asarray(expected, dtype=np.float64)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(outputs, expected, rtol=1e-12, atol=1e-14)
    else:
        scale = max(1.0, float(np.max(np.abs(expected))))
        rtol = 1e-6 * max(1.0, np.log(scale))
        np.testing.assert_allclose(outputs, expected, rtol=rtol, atol=1e-6 * scale)


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_activation_matches_predict(tmp_path, hidden, output, dtype):
    net = make_net([4, 6, 3], hidden, output, dtype, seed=3)
    X = make_inputs(net)
    single, batch = predict_in_c(tmp_path, net, X)
    assert_matches(single, net.predict(X), dtype)
    np.testing.assert_array_equal(batch, single)


SHAPES = [
    ([5, 1], "identity", "sigmoid"),  # no hidden layer, one output
    ([3, 6, 1], "sigmoid", "identity"),  # one hidden layer
    ([5, 7, 6, 5, 3], "relu", "softmax"),  # three hidden layers
    ([6, 8, 12], "leaky_relu", "sigmoid"),  # many outputs
    ([784, 16, 16, 10], "sigmoid", "softmax"),  # wide
]


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("sizes", "hidden", "output"), SHAPES, ids=lambda v: str(v))
def test_every_shape_matches_predict(tmp_path, sizes, hidden, output, dtype):
    net = make_net(sizes, hidden, output, dtype, seed=len(sizes))
    X = make_inputs(net, n=9, seed=1)
    single, batch = predict_in_c(tmp_path, net, X)
    assert single.shape == (9, sizes[-1])
    assert_matches(single, net.predict(X), dtype)
    np.testing.assert_array_equal(batch, single)


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_of_huge_logits_stays_finite(tmp_path, dtype):
    """Logits of about 1e4: exp of them overflows unless the maximum is subtracted."""
    net = make_net([3, 4, 5], "identity", "softmax", dtype, seed=5)
    X = (np.random.default_rng(2).normal(size=(6, 3)) * 1e3).astype(dtype)
    expected = net.predict(X)
    assert np.max(np.abs(X.astype(np.float64) @ net.weights[0] @ net.weights[1])) > 1000
    single, _ = predict_in_c(tmp_path, net, X)
    assert np.isfinite(single).all()
    assert_matches(single, expected, dtype)


_DUMP = """\
#include <stdio.h>
#include "model.c"

#define DUMP(a) for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) printf("%a\\n", (double)a[i]);

int main(void)
{{
    {dumps}
    return 0;
}}
"""


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_constants_read_back_bit_for_bit(tmp_path, dtype):
    """The compiler reads every parameter back as the very bits fastbp holds."""
    info = np.finfo(dtype)
    special = [-0.0, 0.0, 1.0, -1.0, 0.1, 1 / 3, 2 / 3, info.max, -info.max, info.tiny, info.eps,
               info.smallest_subnormal, -info.smallest_subnormal, 1e-30, 123456789.0]  # fmt: skip
    net = make_net([3, 7, 4], "tanh", "sigmoid", dtype, seed=6)
    scales = 10.0 ** (np.arange(net.params.size) % 11 - 5)  # 1e-5 .. 1e5 in turn
    values = np.random.default_rng(3).normal(size=net.params.size) * scales
    values[: len(special)] = special
    net.params[...] = values.astype(dtype)
    to_c(net, tmp_path / "model.c")
    dumps = " ".join(f"DUMP(model_w{k}) DUMP(model_b{k})" for k in range(2))
    (tmp_path / "dump.c").write_text(_DUMP.format(dumps=dumps))
    exe = tmp_path / "dump"
    compile_c([CC, *C_FLAGS, "-o", str(exe), str(tmp_path / "dump.c"), "-lm"])
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60)
    read = np.array([float.fromhex(line) for line in out.stdout.split()], dtype=dtype)
    bits = {"float64": np.uint64, "float32": np.uint32}[dtype]
    np.testing.assert_array_equal(read.view(bits), net.params.view(bits))


@needs_cc
def test_two_prefixes_link_into_one_program(tmp_path):
    """Two exports compiled apart link together: only the prefixed functions are external."""
    nets = {
        "alpha": make_net([4, 5, 2], "relu", "softmax", seed=7),
        "beta": make_net([3, 6, 6, 1], "sigmoid", "identity", seed=8),
    }
    objects = []
    for prefix, net in nets.items():
        to_c(net, tmp_path / f"{prefix}.c", prefix=prefix)
        obj = tmp_path / f"{prefix}.o"
        compile_c([CC, *C_FLAGS, "-c", "-o", str(obj), str(tmp_path / f"{prefix}.c")])
        objects.append(obj)
    exe = build(tmp_path, objects, [(p, "float64") for p in nets])
    networks = list(nets.values())
    inputs = [make_inputs(net, seed=k) for k, net in enumerate(networks)]
    for (single, batch), net, X in zip(run(exe, networks, inputs), networks, inputs):
        assert_matches(single, net.predict(X), "float64")
        np.testing.assert_array_equal(batch, single)


@pytest.mark.skipif(CXX is None, reason="no C++ compiler: shutil.which('c++') is None")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_file_is_also_valid_cplusplus(tmp_path, dtype):
    net = make_net([5, 6, 4, 3], "leaky_relu", "softmax", dtype, seed=9)
    X = make_inputs(net)
    single, batch = predict_in_c(tmp_path, net, X, compiler=CXX, flags=CXX_FLAGS)
    assert_matches(single, net.predict(X), dtype)
    np.testing.assert_array_equal(batch, single)


def includes_of(path):
    return [line for line in path.read_text().splitlines() if line.startswith("#include")]


@needs_cc
def test_a_relu_network_needs_no_math_library(tmp_path):
    """Without sigmoid, tanh or softmax the file includes only <stddef.h> and links without -lm;
    it also compiles freestanding."""
    net = make_net([4, 5, 3], "relu", "leaky_relu", seed=10)
    X = make_inputs(net)
    single, _ = predict_in_c(tmp_path, net, X, libs=())
    assert_matches(single, net.predict(X), "float64")
    assert includes_of(tmp_path / "model.c") == ["#include <stddef.h>"]
    compile_c([CC, *C_FLAGS, "-ffreestanding", "-c", "-o", str(tmp_path / "free.o"),
               str(tmp_path / "model.c")])  # fmt: skip


def test_the_header_says_what_network_it_is(tmp_path):
    net = make_net([784, 16, 16, 10], "sigmoid", "softmax", "float32")
    to_c(net, tmp_path / "digits.c", prefix="digits")
    text = (tmp_path / "digits.c").read_text()
    head = text[: text.index("*/")]
    assert f"fastbp {fb.__version__}" in head
    assert "sizes 784-16-16-10, hidden activation sigmoid, output activation softmax" in head
    assert "float32 (float), 13,002 parameters" in head
    assert "cc -std=c99 -O2 -c digits.c" in head
    assert "#define DIGITS_N_INPUTS 784\n#define DIGITS_N_OUTPUTS 10\n" in text
    assert "void digits_predict_batch(const float *x, float *y, size_t n);" in text
    assert includes_of(tmp_path / "digits.c") == ["#include <stddef.h>", "#include <math.h>"]
    assert "malloc" not in text.replace("no malloc", "")
    assert "float h0[16], h1[16];" in text  # the scratch: locals as wide as the widest layer


@pytest.mark.parametrize(
    "prefix", ["", "1model", "my-model", "my model", "_model", "m\u00f6del", "model;", "a\nb"]
)
def test_a_prefix_that_is_not_a_c_identifier_is_refused(tmp_path, prefix):
    with pytest.raises(ValueError, match="prefix must be a C identifier"):
        to_c(make_net([2, 1]), tmp_path / "model.c", prefix=prefix)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("prefix", [None, 3, b"model"])
def test_a_prefix_that_is_not_a_str_is_a_type_error(tmp_path, prefix):
    with pytest.raises(TypeError, match="prefix must be a str"):
        to_c(make_net([2, 1]), tmp_path / "model.c", prefix=prefix)


@pytest.mark.parametrize("net", ["model", np.zeros((2, 1)), None])
def test_anything_but_a_network_is_a_type_error(tmp_path, net):
    with pytest.raises(TypeError, match="net must be a fastbp.Network"):
        to_c(net, tmp_path / "model.c")
    assert os.listdir(tmp_path) == []


def test_non_finite_parameters_are_refused_and_the_old_file_kept(tmp_path):
    path = tmp_path / "model.c"
    path.write_text("old")
    net = make_net([3, 2, 1])
    net.params[4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite parameters"):
        to_c(net, path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.c"]


def test_an_existing_file_is_replaced_whole_and_keeps_its_mode(tmp_path):
    path = tmp_path / "model.c"
    path.write_text("old")
    os.chmod(path, 0o640)
    to_c(make_net([3, 2, 1]), path, prefix="fresh")
    assert "void fresh_predict(const double *x, double *y)" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["model.c"]  # no temporary left behind


def _fitted(kind):
    sklearn = pytest.importorskip("fastbp.sklearn", reason="the estimators need scikit-learn")
    rng = np.random.default_rng(11)
    X = rng.normal(size=(60, 4))
    targets = {
        "binary": (X[:, 0] > 0).astype(int),
        "multiclass": np.digitize(X[:, 1], [-0.5, 0.5]),
        "regression": X @ [1.0, -2.0, 0.5, 0.0],
    }
    y = targets[kind]
    estimator = sklearn.BPRegressor if kind == "regression" else sklearn.BPClassifier
    model = estimator(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    with warnings.catch_warnings():  # 20 epochs are enough for a network to export
        warnings.filterwarnings("ignore", message="fastbp: the maximum number of epochs")
        return model.fit(X, y), X


@needs_cc
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_a_fitted_estimator_exports_its_network(tmp_path, kind):
    """The C function returns the network's outputs: for a classifier, probabilities."""
    model, X = _fitted(kind)
    single, _ = predict_in_c(tmp_path, model, X)
    assert_matches(single, model.network_.predict(X), "float64")
    if kind == "binary":
        assert_matches(single[:, 0], model.predict_proba(X)[:, 1], "float64")
    elif kind == "multiclass":
        assert_matches(single, model.predict_proba(X), "float64")
    else:
        assert_matches(single[:, 0], model.predict(X), "float64")


def test_an_unfitted_estimator_is_refused(tmp_path):
    sklearn = pytest.importorskip("fastbp.sklearn", reason="the estimators need scikit-learn")
    with pytest.raises(ValueError, match="not fitted yet"):
        to_c(sklearn.BPClassifier(), tmp_path / "model.c")
    assert os.listdir(tmp_path) == []


def test_the_docstring_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(export, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
