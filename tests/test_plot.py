"""fastbp.plot: figures from every kind of history, PNG files, and life without matplotlib."""

import subprocess
import sys
import warnings
from types import SimpleNamespace

import pytest

import fastbp as fb

pytest.importorskip("matplotlib")
from fastbp import plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def curve_labels(fig):
    return [line.get_label() for ax in fig.axes for line in ax.get_lines()]


def test_learning_curve_of_a_train_history_saves_a_png(tmp_path):
    history = fb.Network([2, 3, 1], seed=0).train([[0, 1], [1, 0]], [[1], [0]], epochs=8)
    path = tmp_path / "curve.png"
    fig = plot.learning_curve(history, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_ydata()) == history
    assert list(line.get_xdata()) == list(range(1, 9))


def test_learning_curve_of_an_object_with_validation_curves():
    run = SimpleNamespace(losses=[0.5, 0.3], val_loss=[0.6, 0.4], val_score=[0.7, 0.9])
    fig = plot.learning_curve(run)
    assert curve_labels(fig) == ["training loss", "validation loss", "validation score"]
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [0.7, 0.9]


def test_learning_curve_of_a_list_subclass_with_attributes():
    class History(list):
        val_loss = [0.9, 0.8]

    fig = plot.learning_curve(History([0.5, 0.4]))
    assert curve_labels(fig) == ["training loss", "validation loss"]


def test_learning_curve_of_a_dict_as_fastbp_train_stores():
    fig = plot.learning_curve({"loss": [0.5, 0.4], "val_loss": None, "val_score": [0.8, 0.9]})
    assert curve_labels(fig) == ["training loss", "validation score"]


def test_learning_curve_of_a_scikit_learn_estimator():
    sklearn = pytest.importorskip("sklearn.neural_network")
    X = [[0, 0], [0, 1], [1, 0], [1, 1]] * 10
    y = [0, 1, 1, 0] * 10
    est = sklearn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with pytest.warns(Warning):  # ConvergenceWarning after 5 iterations
        est.fit(X, y)
    fig = plot.learning_curve(est)
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == est.loss_curve_
    assert curve_labels(fig) == ["training loss"]  # validation_scores_ is None


def test_learning_curve_of_an_estimator_with_validation_scores():
    est = SimpleNamespace(loss_curve_=[0.6, 0.4, 0.3], validation_scores_=[0.7, 0.8, 0.85])
    fig = plot.learning_curve(est)
    assert curve_labels(fig) == ["training loss", "validation score"]
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [0.7, 0.8, 0.85]


def test_learning_curve_rejects_what_is_no_history():
    with pytest.raises(TypeError, match="per-epoch losses"):
        plot.learning_curve(3.5)
    with pytest.raises(ValueError, match="no losses"):
        plot.learning_curve([])


def test_network_diagram_shades_weights_by_sign_and_size(tmp_path):
    net = fb.Network([2, 2, 2], weights=[[[1.0, -0.5], [0.0, 0.25]], [[-1.0, 1.0], [0.5, 0.5]]])
    fig = plot.network(net, tmp_path / "net.png")
    assert (tmp_path / "net.png").read_bytes()[:8] == PNG_MAGIC
    lines = fig.axes[0].collections[0]
    colours, widths = lines.get_colors(), lines.get_linewidths()
    assert len(colours) == 8
    # the first weight (+1.0, largest) is opaque red and thickest; -0.5 is blue and lighter
    assert tuple(colours[0]) == pytest.approx((0.8, 0.1, 0.1, 1.0))
    assert colours[1][2] > colours[1][0] and colours[1][3] < 1.0
    assert widths[0] == max(widths)


def test_network_diagram_elides_wide_layers():
    fig = plot.network(fb.Network([64, 8, 10], seed=0), max_neurons=6)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "+58 more" in texts and "+2 more" in texts and "+4 more" in texts


def test_fastbp_imports_without_matplotlib_and_plot_says_what_to_install():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import fastbp\n"
        "try:\n"
        "    fastbp.plot.learning_curve([1.0, 0.5])\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'pip install "fastbp[plot]"' in result.stdout


def test_network_diagram_labels_each_layer():
    fig = plot.network(fb.Network([2, 3, 3, 1], activation="tanh", seed=0))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["input\n2", "hidden 1\ntanh\n3", "hidden 2\ntanh\n3", "output\nsigmoid\n1"]
    assert len(fig.axes[0].collections) == 1 + 4


def test_network_diagram_without_hidden_layers():
    fig = plot.network(fb.Network([3, 2], seed=0))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["input\n3", "output\nsigmoid\n2"]
    assert len(fig.axes[0].collections[0].get_segments()) == 6


@pytest.fixture
def iris_pipeline():
    pytest.importorskip("sklearn")
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris(as_frame=True)
    X = pd.DataFrame(data.data.to_numpy(), columns=["sl", "sw", "pl", "pw"])
    y = data.target_names[data.target]
    pipe = make_pipeline(
        StandardScaler(),
        fb.BPClassifier(hidden_layer_sizes=(5,), max_iter=20, early_stopping=True, random_state=0),
    )
    search = GridSearchCV(pipe, {"bpclassifier__alpha": [1e-4]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 20 iterations may not converge
        pipe.fit(X, y)
        search.fit(X, y)
    return pipe, search


def test_learning_curve_finds_the_estimator_at_the_end_of_a_pipeline(iris_pipeline):
    pipe, search = iris_pipeline
    estimator = pipe[-1]
    for model in (pipe, search):
        fig = plot.learning_curve(model)
        final = estimator if model is pipe else search.best_estimator_[-1]
        assert list(fig.axes[0].get_lines()[0].get_ydata()) == final.loss_curve_
        assert "validation score" in curve_labels(fig)


def test_network_diagram_labels_inputs_and_outputs_with_what_the_model_knows(iris_pipeline):
    pipe, _ = iris_pipeline
    fig = plot.network(pipe)
    texts = [t.get_text() for t in fig.axes[0].texts]
    # StandardScaler hands the estimator the DataFrame's column names.
    assert texts[-7:] == ["sl", "sw", "pl", "pw", "setosa", "versicolor", "virginica"]
    assert plot.network(pipe[-1]).axes[0].texts[-1].get_text() == "virginica"


def test_network_diagram_of_a_binary_classifier_names_its_one_output():
    pytest.importorskip("sklearn")
    X, y = [[0, 0], [0, 1], [1, 0], [1, 1]] * 5, ["no", "yes", "yes", "no"] * 5
    with pytest.warns(Warning):
        clf = fb.BPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    texts = [t.get_text() for t in plot.network(clf).axes[0].texts]
    assert texts[-1] == "yes" and "no" not in texts


def test_network_diagram_takes_names_of_its_own_and_checks_their_number():
    net = fb.Network([2, 3, 1], seed=0)
    texts = [t.get_text() for t in plot.network(net, input_names=["a", "b"],
                                                output_names=["out"]).axes[0].texts]  # fmt: skip
    assert texts[-3:] == ["a", "b", "out"]
    with pytest.raises(ValueError, match="input_names must be 2 names, one per neuron; got 3"):
        plot.network(net, input_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="net must be a fastbp.Network or a fitted"):
        plot.network("net")
