#!/usr/bin/env python3
"""The scale benchmark's report: per database, each request's p50 / p99 at each account size, the
ratio of its p50 at the largest size to the smallest, and whether that stays within 2x for the requests
the goal names; and a chart of p50 against the number of rows (scale.svg).

Usage: bench/scale_report.py RESULTS.jsonl OUT_DIR"""

import json
import sys
from collections import defaultdict
from pathlib import Path

# The requests whose cost must not grow with the data (within 2x of the smallest size).
HELD = {"agents_first_page", "agents_by_cursor", "tasks_queued_first_page", "tasks_by_cursor", "claim", "usage_year"}
ORDER = ["agents_first_page", "agents_first_page_during_retention", "agents_by_cursor", "agents_deep_page",
         "agent", "tasks_queued_first_page", "tasks_by_cursor", "claim", "usage_year"]
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def load(path):
    figures = defaultdict(dict)  # (backend, request) -> {rows: {metric: value}}
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        if r["scenario"] == "scale":
            figures[(r["backend"], r["series"])].setdefault(int(r["x"]), {})[r["metric"]] = r["value"]
    return figures


def table(figures):
    lines = []
    for backend in ("sqlite", "postgres"):
        sizes = sorted({n for (b, _), by in figures.items() if b == backend for n in by})
        if not sizes:
            continue
        lines.append(f"### {NAMES[backend]}\n")
        lines.append("| request (p50 / p99 ms) | " + " | ".join(f"{n:,} rows" for n in sizes)
                     + f" | p50 at {sizes[-1]:,} ÷ at {sizes[0]:,} | within 2× |")
        lines.append("|---" * (len(sizes) + 3) + "|")
        for request in ORDER:
            by = figures.get((backend, request))
            if not by:
                continue
            cells = [f"{by[n]['p50_ms']:.3f} / {by[n]['p99_ms']:.3f}" if n in by else "—" for n in sizes]
            low, high = by.get(sizes[0], {}).get("p50_ms"), by.get(sizes[-1], {}).get("p50_ms")
            ratio = high / low if low and high else None
            held = ("yes" if ratio <= 2 else "no") if ratio is not None and request in HELD else "(not a goal)"
            lines.append(f"| `{request}` | " + " | ".join(cells)
                         + f" | {'—' if ratio is None else f'{ratio:.2f}'} | {held} |")
        lines.append("")
    return "\n".join(lines)


def chart(figures, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: no chart (python3 -m pip install matplotlib)", file=sys.stderr)
        return
    backends = [b for b in ("sqlite", "postgres") if any(k[0] == b for k in figures)]
    fig, axes = plt.subplots(1, len(backends), figsize=(6 * len(backends), 4.5), squeeze=False)
    for ax, backend in zip(axes[0], backends):
        for request in ORDER:
            by = figures.get((backend, request))
            if by:
                sizes = sorted(by)
                ax.plot(sizes, [by[n]["p50_ms"] for n in sizes], marker="o", label=request)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows in the account (agents, tasks; usage ×10)")
        ax.set_ylabel("p50 (ms), concurrency 1")
        ax.set_title(NAMES[backend])
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(Path(out) / "scale.svg")


def main():
    figures = load(sys.argv[1])
    out = Path(sys.argv[2])
    text = table(figures)
    (out / "scale.md").write_text("# Cost against the size of an account (bench/scale.sh)\n\n" + text)
    chart(figures, out)
    print(text)


if __name__ == "__main__":
    main()
