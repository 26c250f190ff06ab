"""scikit-learn's own MLP test file, run against BPClassifier and BPRegressor.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is
copied into a temporary directory with one line changed -- its import of
``MLPClassifier``/``MLPRegressor`` becomes an import of fastbp's estimators
under those names -- and run by pytest in a subprocess.  Every one of its tests
must pass, except those in KNOWN_DIFFERENCES, each listed with its reason; a
listed test that starts passing fails here too, so that the list stays honest.

To run the copied file by hand (e.g. with -x or -k), see ``copy_suite``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")

ORIGINAL_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
FASTBP_IMPORT = (
    "from fastbp.sklearn import BPClassifier as MLPClassifier, BPRegressor as MLPRegressor\n"
)

# scikit-learn's conftest gives its tests a global_random_seed fixture; the copy
# gets one seed.
CONFTEST = """
import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""

_PRIVATE = "reads a private attribute of scikit-learn's implementation"

# Tests of scikit-learn's file that fail against fastbp, keyed by the name pytest
# reports (the function name, plus the parameters in brackets; a class given as
# a parameter shows as fastbp's class name).  Each with its reason.
KNOWN_DIFFERENCES: dict[str, str] = {
    # scikit-learn's private state, which fastbp's estimators do not have.
    "test_fit": _PRIVATE + " (sets _coef_grads, _no_improvement_count, velocities) "
    "and builds the network by assigning coefs_ to an unfitted estimator",
    "test_gradient": _PRIVATE + " (_loss_grad_lbfgs)",
    "test_learning_rate_warmstart": _PRIVATE + " (_optimizer.learning_rate)",
    "test_adaptive_learning_rate": _PRIVATE + " (_optimizer.learning_rate)",
    "test_n_iter_no_change": _PRIVATE + " (_no_improvement_count)",
    "test_n_iter_no_change_inf": _PRIVATE + " (_no_improvement_count)",
    # A clearer message than scikit-learn's, which names the class by its encoding.
    "test_early_stopping_stratified": "expects scikit-learn's message, which names the class "
    "too small to stratify by its one-hot encoding ('True'); fastbp names it by its label (1)",
}


def copy_suite(directory: Path) -> Path:
    """Copy scikit-learn's test_mlp.py into ``directory`` with fastbp's import.

    Writes a conftest.py with the ``global_random_seed`` fixture and a
    pytest.ini that makes ``directory`` pytest's root; returns the copy's path.
    """
    original = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not original.is_file():
        pytest.skip(f"this scikit-learn ({sklearn.__version__}) ships no {original}")
    text = original.read_text(encoding="utf-8")
    assert text.count(ORIGINAL_IMPORT) == 1, (
        f"scikit-learn {sklearn.__version__}'s test_mlp.py no longer has the line "
        f"{ORIGINAL_IMPORT.strip()!r} exactly once; update this test"
    )
    copy = directory / "test_mlp.py"
    copy.write_text(text.replace(ORIGINAL_IMPORT, FASTBP_IMPORT), encoding="utf-8")
    (directory / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return copy


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """{test name: (outcome, message)} from a JUnit XML report."""
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error"}.get(child.tag, child.tag)
                message = child.get("message") or (child.text or "")
                break
        # an error in a teardown adds a second entry for the same test
        if results.get(case.get("name", ""), ("passed",))[0] == "passed":
            results[case.get("name", "")] = (outcome, message)
    return results


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    directory = tmp_path_factory.mktemp("sklearn_mlp")
    copy_suite(directory)
    report = directory / "report.xml"
    env = {**os.environ, "PYTHONWARNINGS": ""}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", "test_mlp.py"],
        cwd=directory, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert report.is_file(), f"pytest wrote no report:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    results = outcomes(report)
    assert results, f"pytest ran no test:\n{run.stdout[-3000:]}"
    return results


def _listing(names: list[str], results: dict[str, tuple[str, str]]) -> str:
    return "\n".join(f"  {name}: {results[name][0]}: {results[name][1][:300]}" for name in names)


def test_scikit_learn_mlp_tests_pass(suite: dict[str, tuple[str, str]]) -> None:
    unexpected = sorted(
        name for name, (outcome, _) in suite.items()
        if outcome in ("failed", "error") and name not in KNOWN_DIFFERENCES
    )  # fmt: skip
    assert not unexpected, (
        f"{len(unexpected)} of scikit-learn's MLP tests fail against fastbp:\n"
        + _listing(unexpected, suite)
    )


def test_known_differences_still_fail(suite: dict[str, tuple[str, str]]) -> None:
    # A listed test that now passes (or no longer exists) is taken off the list.
    passing = sorted(name for name in KNOWN_DIFFERENCES if suite.get(name, ("",))[0] == "passed")
    assert not passing, f"listed as known differences but passing now: {passing}"
    missing = sorted(name for name in KNOWN_DIFFERENCES if name not in suite)
    assert not missing, f"listed as known differences but not in scikit-learn's file: {missing}"


def test_copy_swaps_the_import(tmp_path: Path) -> None:
    text = copy_suite(tmp_path).read_text(encoding="utf-8")
    assert FASTBP_IMPORT in text and ORIGINAL_IMPORT not in text
    assert "global_random_seed" in (tmp_path / "conftest.py").read_text(encoding="utf-8")
