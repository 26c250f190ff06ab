"""The report as text, Markdown, a PNG bar chart and JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastbp.bench.machine import machine_lines
from fastbp.bench.problems import LEARNING_RATE
from fastbp.bench.records import Config, Report, Result


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


HEADER = (
    "id",
    "implementation",
    "dtype",
    "threads",
    "run",
    "time",
    "per unit",
    "x fastbp",
    "GFLOP/s",
    "note",
)
RATIO = HEADER.index("x fastbp")


def fastbp_row(report: Report, result: Result) -> Result | None:
    """The fastbp result that ``result`` is relative to (W5: fastbp in two threads)."""
    if result.workload == "W5":
        return report.find("W5", "fastbp, two threads")
    return report.find(result.workload, "fastbp", result.dtype, result.threads) or report.find(
        result.workload, "fastbp", result.dtype
    )


def table_row(result: Result, base: Result | None) -> tuple[str, ...]:
    ratio = f"{result.full_seconds / base.full_seconds:.2f}" if base is not None else ""
    approx = "~" if result.extrapolated else ""
    if result.extrapolated:
        run = f"{result.n_run:,} of {result.n_full:,} {result.unit}"
    else:
        run = f"{result.n_run:,} {result.unit}"
    return (
        result.workload,
        result.impl,
        result.dtype,
        str(result.threads),
        run,
        approx + fmt_time(result.full_seconds),
        approx + fmt_time(result.full_seconds / result.n_full),
        ratio,
        f"{result.gflops:.1f}" if result.gflops else "",
        result.note,
    )


def table_rows(report: Report) -> list[tuple[str, ...]]:
    return [table_row(result, fastbp_row(report, result)) for result in report.results]


def legend(quote: str) -> str:
    """What '~' and 'x fastbp' mean, the column names between ``quote`` marks."""
    return (
        f"~ : extrapolated linearly per unit from the smaller run shown in {quote}run{quote}. "
        f"{quote}x fastbp{quote}: time relative to fastbp on the same workload, dtype and "
        "threads (W5: relative to two threads)."
    )


def text_report(report: Report) -> str:
    rows = [HEADER, *table_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = machine_lines(report.machine)
    lines.append(f"settings: {describe_config(report.config)}")
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    lines.append("")
    lines.append(legend("'"))
    lines += report.notes
    lines.append("")
    lines.append("targets:")
    for target in report.targets:
        lines.append(f"  [{target.verdict}] {target.text}: {target.measured}")
    met = sum(target.met is True for target in report.targets)
    lines.append(f"  {met} of {len(report.targets)} targets met")
    return "\n".join(lines)


def markdown_report(report: Report, command: str) -> str:
    out = [f"Command: `{command}`", ""]
    out += [f"- {line}" for line in machine_lines(report.machine)]
    out += [f"- settings: {describe_config(report.config)}", ""]
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("|" + "---|" * len(HEADER))
    for row in table_rows(report):
        out.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    out.append("")
    out.append(legend("*"))
    out += [f"{note}." if not note.endswith(".") else note for note in report.notes]
    out += ["", "| target | measured | verdict |", "|---|---|---|"]
    for target in report.targets:
        out.append(f"| {target.text} | {target.measured} | **{target.verdict}** |")
    return "\n".join(out) + "\n"


def describe_config(config: Config) -> str:
    mode = "quick" if config.quick else "full"
    return (
        f"{mode} run, median of {config.repeats} timed runs after a warm-up (W3 and the "
        f"reference: at most 3, no warm-up for the reference), BLAS/OpenMP threads "
        f"{config.threads}, learning rate {LEARNING_RATE}, seed {config.seed}"
    )


def png_report(report: Report, path: str) -> str | None:
    """A bar chart of each row's time relative to fastbp (log scale); None if written.

    Returns the reason when no PNG is written (matplotlib is not installed).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no PNG written"
    rows = [row for row in table_rows(report) if row[RATIO]]
    labels = [f"{row[0]} {row[2]} t{row[3]}: {row[1]}" for row in rows]
    values = [float(row[RATIO]) for row in rows]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.5))
    colours = [
        "tab:green" if row[1].startswith("fastbp") and row[RATIO] == "1.00" else "tab:blue"
        for row in rows
    ]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("time relative to fastbp (log scale; > 1 is slower than fastbp)")
    ax.set_title(f"fastbp bench: {report.machine['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def to_json(report: Report) -> dict[str, Any]:
    return {
        "machine": report.machine,
        "config": asdict(report.config),
        "results": [dict(asdict(r), full_seconds=r.full_seconds) for r in report.results],
        "targets": [dict(asdict(t), verdict=t.verdict) for t in report.targets],
        "memory": report.memory,
        "notes": report.notes,
    }
