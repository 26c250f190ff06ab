"""The command line: ``python -m fastbp bench`` and ``bench/compare.py``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from fastbp.bench.machine import machine_lines
from fastbp.bench.records import Config
from fastbp.bench.render import markdown_report, png_report, text_report, to_json
from fastbp.bench.runner import Bench
from fastbp.bench.workloads import WORKLOADS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m fastbp bench`` and ``bench/compare.py``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller runs and one timed repeat: a smoke test, not a measurement",
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads to run (default: {','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per measurement, median reported (default 5, quick 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/PyTorch threads (default 1; W3 also runs with 2)",
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown")
    parser.add_argument("--png", metavar="PATH", help="also write a bar chart (needs matplotlib)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is NOT MET"
    )


def command_line(args: argparse.Namespace, prefix: str) -> str:
    """The command that reproduces ``args``, for the Markdown output."""
    words = [prefix]
    if args.quick:
        words.append("--quick")
    if args.only != ",".join(WORKLOADS):
        words += ["--only", args.only]
    for option in ("repeats", "markdown", "png", "json"):
        if getattr(args, option) is not None:
            words += [f"--{option}", str(getattr(args, option))]
    if args.threads != 1:
        words += ["--threads", str(args.threads)]
    if args.strict:
        words.append("--strict")
    return " ".join(words)


def config_from_args(args: argparse.Namespace) -> Config:
    only = tuple(w.strip().upper() for w in args.only.split(",") if w.strip())
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        raise SystemExit(
            f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if repeats < 1 or args.threads < 1:
        raise SystemExit("--repeats and --threads must be at least 1")
    return Config(quick=args.quick, repeats=repeats, only=only, threads=args.threads)


def run_cli(args: argparse.Namespace, command: str = "python -m fastbp bench") -> int:
    """Run the benchmark for parsed options; print the table; write the files asked for.

    ``command`` is the command line shown in the Markdown output.
    """
    config = config_from_args(args)
    bench = Bench(config)
    bench.log("\n".join(machine_lines(bench.report.machine)))
    report = bench.run()
    print("\n" + text_report(report), flush=True)
    if args.markdown:
        Path(args.markdown).write_text(markdown_report(report, command))
        print(f"wrote {args.markdown}")
    if args.png:
        problem = png_report(report, args.png)
        print(problem or f"wrote {args.png}")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(report), indent=1))
        print(f"wrote {args.json}")
    if args.strict and any(t.met is False for t in report.targets):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bench/compare.py`` and ``python -m fastbp.bench``."""
    from fastbp import bench as package  # its docstring's first line describes the command

    description = (package.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="bench/compare.py", description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args, command_line(args, "python bench/compare.py"))
