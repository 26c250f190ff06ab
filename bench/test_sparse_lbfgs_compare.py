"""Smoke test of bench/sparse_lbfgs_compare.py: ``--quick`` prints the whole table.

Run:  python -m pytest bench/test_sparse_lbfgs_compare.py

Only the table's shape and that its figures are finite numbers: no timing is asserted.
"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("threadpoolctl")
pytest.importorskip("sklearn")
pytest.importorskip("scipy")

SCRIPT = Path(__file__).with_name("sparse_lbfgs_compare.py")


def load_script(monkeypatch):
    """The script as a module, imported by path (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("sparse_lbfgs_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # its dataclass looks its module up in sys.modules
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def number(cell: str) -> float:
    """A table cell as a float: ``2.58x``, ``71.0%`` and ``R² 0.9447`` alike."""
    return float(cell.removeprefix("R² ").rstrip("x%"))


def test_quick_run_prints_the_table(capsys, monkeypatch):
    load_script(monkeypatch).main(["--quick"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("machine: ") for line in lines)
    assert "command: python bench/sparse_lbfgs_compare.py --quick" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("| workload |"))
    columns = [c.strip() for c in lines[header].strip("|").split("|")]
    assert set(lines[header + 1].strip("|").split("|")) == {"---"}
    rows = [
        dict(zip(columns, (c.strip() for c in line.strip("|").split("|"))))
        for line in lines[header + 2 :]
        if line.startswith("|")
    ]
    assert [(r["workload"].split()[:2], r["solver"]) for r in rows] == [
        (["sparse", "random"], "adam"),
        (["sparse", "one-hot"], "adam"),
        (["load_digits", "1,797"], "lbfgs"),
        (["make_regression", "1,000"], "lbfgs"),
    ]
    for r in rows:
        assert len(r) == len(columns) == 12
        mlp_iter, bp_iter = (int(n) for n in r["iters MLP / fastbp"].split(" / "))
        if r["solver"] == "adam":
            assert mlp_iter == bp_iter == 2  # --quick's epochs, run exactly
        else:
            assert 1 <= mlp_iter <= 10 and 1 <= bp_iter <= 10
        for key in (
            "MLP fit s",
            "fastbp fit s",
            "MLP s/iter",
            "fastbp s/iter",
            "MLP loss_",
            "fastbp loss_",
        ):
            assert math.isfinite(number(r[key])) and number(r[key]) >= 0, (key, r)
        ratio = number(r["MLP / fastbp"])
        assert math.isfinite(ratio) and ratio > 0, r
        for key in ("MLP score", "fastbp score"):
            assert math.isfinite(number(r[key])), (key, r)
        if r["workload"].startswith("make_regression"):
            assert r["fastbp score"].startswith("R² ")
        else:
            assert 0 <= number(r["fastbp score"]) <= 100
