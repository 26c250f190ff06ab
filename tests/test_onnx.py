"""fastbp.onnx: exported graphs, run by ONNX Runtime, give what fastbp predicts."""

import doctest
import subprocess
import sys

import numpy as np
import pytest
from helpers import PAIRS

onnx = pytest.importorskip("onnx", reason="fastbp.onnx writes onnx models: pip install onnx")
ort = pytest.importorskip("onnxruntime", reason="the graphs are run by onnxruntime")
pytest.importorskip("sklearn", reason="the estimators need scikit-learn")

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastbp as fb  # noqa: E402
import fastbp.onnx as fbo  # noqa: E402
from fastbp.onnx import to_onnx  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
OUTPUTS = sorted({(output, loss) for _, output, loss in PAIRS})


def run(model, X, outputs=None):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(outputs, {"X": X})


def assert_close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def standardised(X):
    return StandardScaler().fit_transform(X)


def network(hidden, output, loss, dtype, sizes=(5, 7, 6, 4), seed=0):
    net = fb.Network(
        sizes, activation=hidden, output_activation=output, loss=loss, dtype=dtype, seed=seed
    )
    rng = np.random.default_rng(seed)
    for b in net.biases:  # biases start at zero: give them values
        b[...] = rng.uniform(-0.5, 0.5, size=b.shape)
    return net


# -- networks -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output, loss", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_network_graph_gives_predict(hidden, output, loss, dtype):
    net = network(hidden, output, loss, dtype)
    X = np.random.default_rng(1).normal(scale=2.0, size=(300, 5)).astype(dtype)
    (out,) = run(to_onnx(net), X)
    assert out.dtype == np.dtype(dtype) and out.shape == (300, 4)
    assert_close(out, net.predict(X), dtype)


@pytest.mark.parametrize("opset", [13, 16, 17, 18, 19, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_opset_runs_leaky_relu_and_softmax(opset, dtype):
    # ONNX Runtime 1.32 has a float64 LeakyRelu only for opsets 16 to 18: the
    # float64 graph must not depend on it.
    net = network("leaky_relu", "softmax", "cross_entropy", dtype)
    model = to_onnx(net, opset=opset)
    assert [o.version for o in model.opset_import if o.domain == ""] == [opset]
    ops = {node.op_type for node in model.graph.node}
    assert ("LeakyRelu" in ops) == (dtype == "float32")
    X = np.random.default_rng(2).normal(size=(50, 5)).astype(dtype)
    assert_close(run(model, X)[0], net.predict(X), dtype)


def test_default_opset_and_description():
    net = network("tanh", "identity", "squared_error", "float64")
    model = to_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import] == [fbo.DEFAULT_OPSET] == [17]
    assert model.producer_name == "fastbp" and model.producer_version == fb.__version__
    assert [i.name for i in model.graph.input] == ["X"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 5]
    assert [o.name for o in model.graph.output] == ["output"]
    assert [n.op_type for n in model.graph.node].count("MatMul") == 3


@pytest.mark.parametrize("source, target", [("float64", "float32"), ("float32", "float64")])
def test_dtype_chooses_the_graphs_arithmetic(source, target):
    net = network("sigmoid", "sigmoid", "squared_error", source)
    model = to_onnx(net, dtype=target)
    element = model.graph.input[0].type.tensor_type.elem_type
    assert element == onnx.helper.np_dtype_to_tensor_dtype(np.dtype(target))
    X = np.random.default_rng(3).normal(size=(40, 5))
    (out,) = run(model, X.astype(target))
    assert out.dtype == np.dtype(target)
    assert_close(out, net.predict(X), "float32")  # one of the two is float32


# -- classifiers ----------------------------------------------------------------


def classifier(X, y, dtype="float64", **params):
    params = {"hidden_layer_sizes": (12,), "max_iter": 60, "random_state": 0, **params}
    clf = fb.BPClassifier(dtype=dtype, learning_rate_init=0.01, **params).fit(X, y)
    return clf


def check_classifier(clf, X, dtype):
    label, probabilities = run(to_onnx(clf), X.astype(dtype), ["label", "probabilities"])
    expected = clf.predict(X)
    assert len(np.unique(expected)) > 1  # the labels are a test only if they differ
    np.testing.assert_array_equal(label.astype(expected.dtype), expected)
    assert probabilities.dtype == np.dtype(dtype)
    assert_close(probabilities, clf.predict_proba(X), dtype)
    return label


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_multiclass_iris_with_string_labels(hidden, dtype):
    X, y = load_iris(return_X_y=True)
    X = standardised(X)
    clf = classifier(
        X, np.array(["setosa", "versicolor", "virginica"])[y], dtype, activation=hidden
    )
    label = check_classifier(clf, X, dtype)
    assert label.dtype.kind in "OU" and label.shape == (150,)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multiclass_with_integer_labels_and_sigmoid_outputs(dtype):
    # squared_error: one sigmoid per class, normalised into probabilities
    X, y = load_iris(return_X_y=True)
    X = standardised(X)
    clf = classifier(X, np.array([10, -3, 7])[y], dtype, loss="squared_error", max_iter=200)
    assert clf.out_activation_ == "logistic"
    label = check_classifier(clf, X, dtype)
    assert label.dtype == np.int64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("labels", [(0, 1), ("malignant", "benign")])
def test_binary_breast_cancer_gives_two_probability_columns(labels, dtype):
    X, y = load_breast_cancer(return_X_y=True)
    X = standardised(X)
    clf = classifier(X, np.array(labels)[y], dtype, activation="relu")
    assert clf.n_outputs_ == 1
    check_classifier(clf, X, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_on_random_data_with_integral_float_labels(dtype):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, 2.0, -1.0)
    clf = classifier(X, y, dtype, activation="tanh")
    assert check_classifier(clf, X, dtype).dtype == np.int64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multilabel_gives_zero_one_labels_per_output(dtype):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.5]).astype(int)
    clf = classifier(X, Y, dtype, activation="leaky_relu", max_iter=100)
    label, probabilities = run(to_onnx(clf), X.astype(dtype))
    assert label.dtype == np.int64 and label.shape == (300, 3)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert 0 < label.mean() < 1
    assert_close(probabilities, clf.predict_proba(X), dtype)


# -- regressors -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_single_target_regression_diabetes_is_one_column(hidden, dtype):
    X, y = load_diabetes(return_X_y=True)
    X = standardised(X)
    reg = fb.BPRegressor((10,), activation=hidden, max_iter=40, random_state=0, dtype=dtype)
    reg.fit(X, y)
    (variable,) = run(to_onnx(reg), X.astype(dtype), ["variable"])
    expected = reg.predict(X)
    assert expected.shape == (442,) and variable.shape == (442, 1)
    tolerance = TOLERANCE[dtype]  # relative to the largest prediction, and to each
    atol = tolerance * np.abs(expected).max()
    np.testing.assert_allclose(variable[:, 0], expected, rtol=tolerance, atol=atol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_output_regression(dtype):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(120, 4))
    Y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1], np.sin(X[:, 2])])
    reg = fb.BPRegressor((9, 5), activation="tanh", max_iter=50, random_state=0, dtype=dtype)
    reg.fit(X, Y)
    (variable,) = run(to_onnx(reg), X.astype(dtype))
    assert variable.shape == (120, 3)
    assert_close(variable, reg.predict(X), dtype)


# -- the skl2onnx route --------------------------------------------------------------


@pytest.fixture
def skl2onnx():
    return pytest.importorskip("skl2onnx", reason="the pipeline route converts with skl2onnx")


def iris_pipeline(labels, dtype="float64"):
    X, y = load_iris(return_X_y=True)
    clf = fb.BPClassifier((8,), activation="tanh", max_iter=60, random_state=0, dtype=dtype)
    pipe = Pipeline([("scale", StandardScaler()), ("net", clf)])
    return pipe.fit(X, np.asarray(labels)[y]), X


@pytest.mark.parametrize("labels", [(4, 5, 6), ("a", "b", "c")])
def test_pipeline_without_zipmap_in_float64(skl2onnx, labels):
    pipe, X = iris_pipeline(labels)
    model = skl2onnx.to_onnx(pipe, X[:1], options={fb.BPClassifier: {"zipmap": False}})
    label, probabilities = run(model, X, ["label", "probabilities"])
    np.testing.assert_array_equal(label.astype(pipe.classes_.dtype), pipe.predict(X))
    assert probabilities.dtype == np.float64
    assert_close(probabilities, pipe.predict_proba(X), "float64")


@pytest.mark.parametrize("labels", [(4, 5, 6), ("a", "b", "c")])
def test_pipeline_default_zipmap_in_float32(skl2onnx, labels):
    pipe, X = iris_pipeline(labels, dtype="float32")
    X32 = X.astype(np.float32)
    label, maps = run(skl2onnx.to_onnx(pipe, X32[:1]), X32, ["output_label", "output_probability"])
    np.testing.assert_array_equal(label.astype(pipe.classes_.dtype), pipe.predict(X))
    assert [sorted(m) for m in maps[:1]] == [sorted(pipe.classes_.tolist())]
    zipped = np.array([[m[c] for c in pipe.classes_.tolist()] for m in maps])
    assert_close(zipped, pipe.predict_proba(X), "float32")


def test_pipeline_zipmap_columns(skl2onnx):
    pipe, X = iris_pipeline(("a", "b", "c"))
    model = skl2onnx.to_onnx(pipe, X[:1], options={fb.BPClassifier: {"zipmap": "columns"}})
    label, *columns = run(model, X, ["output_label", "sa", "sb", "sc"])
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert_close(np.column_stack(columns), pipe.predict_proba(X), "float64")


def test_pipeline_default_zipmap_refuses_float64_with_the_fix(skl2onnx):
    pipe, X = iris_pipeline((0, 1, 2))
    with pytest.raises(ValueError, match=r"float32 input.*'zipmap': False"):
        skl2onnx.to_onnx(pipe, X[:1])


def test_pipeline_of_a_regressor(skl2onnx):
    X, y = load_diabetes(return_X_y=True)
    reg = fb.BPRegressor((10,), max_iter=40, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("net", reg)]).fit(X, y)
    (variable,) = run(skl2onnx.to_onnx(pipe, X[:1]), X, ["variable"])
    assert variable.shape == (442, 1)
    np.testing.assert_allclose(variable[:, 0], pipe.predict(X), rtol=1e-12, atol=0)


def test_pipeline_of_a_multilabel_classifier(skl2onnx):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("net", classifier(X, Y, "float32"))])
    pipe.fit(X, Y)
    options = {fb.BPClassifier: {"zipmap": False}}
    label, probabilities = run(skl2onnx.to_onnx(pipe, X[:1], options=options), X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert_close(probabilities, pipe.predict_proba(X), "float32")


# -- errors ---------------------------------------------------------------------------


def test_unfitted_estimator_is_refused():
    with pytest.raises(NotFittedError):
        to_onnx(fb.BPClassifier())
    with pytest.raises(NotFittedError):
        to_onnx(fb.BPRegressor())


@pytest.mark.parametrize("model", [object(), "net", MLPClassifier()])
def test_other_objects_are_refused(model):
    with pytest.raises(TypeError, match="exports a fastbp.Network or a fitted"):
        to_onnx(model)


@pytest.mark.parametrize("dtype", ["float16", "int32", "double precision", 3])
def test_bad_dtype_is_refused(dtype):
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
        to_onnx(fb.Network([2, 1]), dtype=dtype)


@pytest.mark.parametrize("opset, error", [(12, ValueError), (10**4, ValueError), ("17", TypeError)])
def test_bad_opset_is_refused(opset, error):
    with pytest.raises(error, match="opset"):
        to_onnx(fb.Network([2, 1]), opset=opset)


@pytest.mark.parametrize(
    "classes", [np.array([0.5, 1.5]), np.array([1, "a"], dtype=object), np.array([b"x"] * 2)]
)
def test_labels_without_an_onnx_type_are_refused(classes):
    # scikit-learn itself refuses fractional labels: a fitted classifier is given them
    X = np.random.default_rng(8).normal(size=(40, 2))
    clf = classifier(X, (X[:, 0] > 0).astype(int), max_iter=2)
    clf.classes_ = classes
    with pytest.raises(TypeError, match="int64 or strings"):
        to_onnx(clf)


def test_object_labels_of_strings_are_labels():
    # as a pandas column of strings gives them
    X = np.random.default_rng(9).normal(size=(200, 2))
    y = np.array(["no", "yes"], dtype=object)[(X[:, 0] > 0).astype(int)]
    clf = classifier(X, y)
    check_classifier(clf, X, "float64")


def test_without_onnx_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fastbp\[onnx\]'"):
        to_onnx(fb.Network([2, 1]))


def test_networks_export_without_skl2onnx():
    code = (
        "import sys; sys.modules['skl2onnx'] = None\n"
        "import fastbp as fb, fastbp.onnx\n"
        "print(fastbp.onnx.to_onnx(fb.Network([2, 1])).graph.output[0].name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "output"


def test_docstring_examples():
    result = doctest.testmod(fbo, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
