"""The examples in the docstrings run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "fastbp",
    "fastbp.network",
    "fastbp.gradient_check",
    "fastbp.classic",
    "fastbp.architecture",
    "fastbp.optimizers",
    "fastbp.reference",
    "fastbp.tracing",
    "fastbp.plot",
    "fastbp.cli",
    "fastbp._tabular",
    "fastbp.sklearn",
    "fastbp.threads",
    "fastbp.export",
    "fastbp.onnx",
    "fastbp.dask",
]
NEEDS = {"fastbp.dask": "dask.array"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs {NEEDS[name]} (an extra)")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_math_md_names_only_code_that_exists():
    """Every function docs/math.md points at is defined in the file it names."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "math.md").read_text(encoding="utf-8")
    sources = {
        "engine": (root / "src/fastbp/_engine.pyx").read_text()
        + (root / "src/fastbp/_blas.pxd").read_text(),
        "kernels": "".join(p.read_text() for p in (root / "csrc").iterdir()),
        "python": (root / "src/fastbp/reference.py").read_text()
        + (root / "src/fastbp/network.py").read_text(),
    }
    names = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)(?:\(\.\.\.\))?`", text))
    kernels = {n for n in names if n.startswith("fbp_")}
    assert {"fbp_bias_act", "fbp_mul_deriv", "fbp_output_delta", "fbp_colsum_axpby"} <= kernels
    assert {"fbp_sgd", "fbp_momentum", "fbp_adam", "fbp_irprop_minus", "fbp_add_l2"} <= kernels
    for name in kernels | {"bias_act", "mul_deriv", "sigmoid", "softmax_row", "safe_log"}:
        assert name in names and re.search(rf"\b{name}\b", sources["kernels"]), name
    for name in ("forward", "step", "train_epochs", "gradient_into", "loss_sum", "gemm", "update"):
        assert name in names and re.search(rf"\b{name}\b", sources["engine"]), name
    for name in ("_forward", "_backprop", "_sample_loss", "_activate", "_derivative",
                 "shuffle_order", "layer_views", "_update", "_add_scaled"):  # fmt: skip
        assert name in text and re.search(rf"def {name}\b", sources["python"]), name


def test_readme_trace_excerpt_is_what_fastbp_trace_prints(capsys):
    from pathlib import Path

    from fastbp.cli import main

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("$ fastbp trace\n")[1].split("```")[0]
    assert main(["trace"]) == 0
    printed = capsys.readouterr().out.splitlines()
    shown = [line for line in excerpt.splitlines() if line.strip() not in ("", "...")]
    assert len(shown) >= 10
    for line in shown:
        assert line in printed
