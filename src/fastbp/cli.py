"""The ``fastbp`` command line (also ``python -m fastbp``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from fastbp import demo

    demo.run(sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastbp",
        description="Back-propagation neural networks with a typed Cython + BLAS engine.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo = commands.add_parser(
        "demo",
        help="train the worked example, XOR and a digit classifier; show the speed-up",
        description="Train the classic worked example, XOR and a digit classifier, and "
        "measure the speed-up over the pure-Python reference.",
        epilog="example: python -m fastbp demo",
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))
