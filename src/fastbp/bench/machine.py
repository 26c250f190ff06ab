"""The machine a run measures: CPU, cores, BLAS libraries, load and versions."""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from fastbp.bench.peers import PEERS
from fastbp.bench.peers.base import optional


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def blas_libraries() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process (threadpoolctl); which one the engine calls."""
    from fastbp.threads import engine_blas_info

    threadpoolctl = importlib.import_module("threadpoolctl")
    engine = engine_blas_info() or {}
    blas = []
    for info in threadpoolctl.threadpool_info():
        if info.get("user_api") != "blas":
            continue
        path = Path(str(info.get("filepath", "")))
        blas.append(
            {
                "library": f"{info.get('internal_api')} {info.get('version')}",
                "architecture": info.get("architecture"),
                "threading": info.get("threading_layer"),
                "file": f"{path.parent.name}/{path.name}",
                "engine": info.get("filepath") == engine.get("filepath"),
                "max_threads": info.get("num_threads"),
            }
        )
    return blas


def machine_info() -> dict[str, Any]:
    """CPU, cores, the BLAS libraries and the versions (SciPy's, the peers'), for the report."""
    from fastbp import _engine, _version

    cpu, blas = cpu_name(), blas_libraries()  # before importing more, which may load a BLAS
    versions = {
        "python": platform.python_version(),
        "fastbp": _version.__version__,
        "numpy": np.__version__,
    }
    for name in ("scipy", *(peer.version_module for peer in PEERS if peer.version_module)):
        module = optional(name)
        if module is not None:
            versions[name] = module.__version__
    env = {
        k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO"))
    }
    return {
        "kernels": getattr(_engine, "INSTRUCTION_SET", "scalar"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "blas": blas,
        "env": env,
        "versions": versions,
        "load_before": load_average(),
    }


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine skews timings."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def blas_line(blas: dict[str, Any]) -> str:
    owner = blas["file"].split("/")[0]
    if blas["engine"]:
        role = "fastbp's engine (via SciPy)"
    else:
        role = "NumPy" if owner.startswith("numpy") else owner
    return (
        f"BLAS for {role}: {blas['library']}, kernel {blas['architecture']}, "
        f"{blas['threading']}, {blas['file']} (max threads {blas['max_threads']})"
    )


def machine_lines(machine: dict[str, Any]) -> list[str]:
    """The machine as the report's first lines."""
    lines = [f"machine: {machine['cpu']}, {machine['cores']} logical cores, {machine['os']}"]
    lines.append(f"fastbp element-wise kernels: {machine.get('kernels', 'unknown')}")
    lines += [blas_line(blas) for blas in machine["blas"]]
    env = ", ".join(f"{k}={v}" for k, v in sorted(machine["env"].items())) or "none set"
    lines.append(f"BLAS environment variables: {env}")
    load = f"load average (1/5/15 min) before: {machine['load_before']}"
    if "load_after" in machine:
        load += f", after: {machine['load_after']}"
    lines.append(load + f" on {machine['cores']} cores")
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    return lines
