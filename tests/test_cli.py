"""The command line, run as a user runs it: in a subprocess."""

import shutil
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *args], capture_output=True, text=True, timeout=120
    )


def test_demo_reproduces_the_worked_example_and_learns():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0.75136507 0.77292847" in out
    assert "total error    0.298371109" in out
    assert "after 1 update 0.291027774" in out
    assert "4/4 correct" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 90
    assert out.count("x faster") == 2


def test_console_script_is_installed():
    exe = shutil.which("fastbp")
    if exe is None:
        pytest.skip("the fastbp console script is not on PATH in this environment")
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "demo" in result.stdout


def test_unknown_command_fails_with_usage():
    result = run("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
