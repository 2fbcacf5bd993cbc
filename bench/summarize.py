#!/usr/bin/env python3
"""Turns one benchmark run into summary.md and one SVG chart per scenario, next to the results.

Usage: python3 bench/summarize.py bench/results/2026-11-30

The directory holds what bench/all.sh left there:
  results.jsonl  one figure per line, as `record` in bench/lib.sh writes it:
                 {"scenario": "chat_open", "backend": "sqlite", "series": "talon", "x": 2000,
                  "metric": "p99_ms", "value": 1.84}
                 x is the swept parameter (offered rate, concurrency, clients, workers, nodes) or null.
                 Metrics: p50_ms and p99_ms (milliseconds), rps (operations per second), errors
                 (count), mib (resident memory).
  machine.txt    one line describing the machine, copied into the summary as it is.

A scenario, series or figure missing from the run shows as "not measured" rather than failing: partial
runs (BACKENDS=sqlite, one script alone) are routine.
"""

import argparse
import json
import math
import operator
import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend has to be chosen first)

plt.rcParams["svg.fonttype"] = "none"
# A fixed salt keeps the SVG element ids, and so the files, identical from one rerun to the next.
plt.rcParams["svg.hashsalt"] = "talon-bench"

SQ, PG = "sqlite", "postgres"
BACKEND_NAMES = {SQ: "SQLite", PG: "PostgreSQL"}


# Formatting: three significant digits below 100, whole numbers with thousands separators above.

def num(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def unit(suffix):
    return lambda v: num(v) + suffix


ms, mib, req_s, tasks_s = unit(" ms"), unit(" MiB"), unit(" req/s"), unit(" tasks/s")


def delta_ms(v):
    # Four digits: a difference judged against a limit such as 0.15 ms must not round onto it.
    return ("+" if v >= 0 else "") + f"{v:.4g} ms"


def held_rate(v):
    return req_s(v) if v else "none held"


def fmt_value(metric, v):
    units = {"rps": "/s", "mib": " MiB"}
    return ms(v) if metric.endswith("_ms") else num(v) + units.get(metric, "")


# Looking figures up. A getter takes the run's Results and the goal row's scenario, and returns a number
# or None when the run lacks what it needs.

KEY = ("scenario", "backend", "series", "x", "metric")


class Results:
    def __init__(self, records):
        self.records = records
        self.by_key = {tuple(r[k] for k in KEY): r["value"] for r in records}

    def scenario(self, name):
        return [r for r in self.records if r["scenario"] == name]

    def value(self, scenario, backend, series, metric, x=None):
        return self.by_key.get((scenario, backend, series, x, metric))

    def xs(self, scenario, backend, series):
        return sorted({k[3] for k in self.by_key if k[:3] == (scenario, backend, series) and k[3] is not None})


def at(backend, series, metric, x=None, scenario=None):
    return lambda res, sc: res.value(scenario or sc, backend, series, metric, x)


def diff(a, b):
    return lambda res, sc: None if None in (a(res, sc), b(res, sc)) else a(res, sc) - b(res, sc)


def best(backend, series, metric="rps", scenario=None):
    def get(res, sc):
        sc = scenario or sc
        values = [res.value(sc, backend, series, metric, x) for x in res.xs(sc, backend, series)]
        return max((v for v in values if v is not None), default=None)
    return get


def highest_held_rate(backend, series, p99_limit=5.0):
    """The highest offered rate served at ≥ 98% with p99 under the limit and no errors; 0 when none was."""
    def get(res, sc):
        xs = res.xs(sc, backend, series)
        figures = {x: [res.value(sc, backend, series, m, x) for m in ("p99_ms", "errors", "rps")] for x in xs}
        # A rate with a figure missing counts as not held: claiming a goal on partial data is worse.
        held = [x for x, (p99, errors, rps) in figures.items()
                if None not in (p99, errors, rps) and p99 < p99_limit and errors == 0 and rps >= 0.98 * x]
        return max(held, default=0) if xs else None
    return get


def item(label, getter, fmt, op=None, limit=None):
    """One figure of a goal row; judged against limit when it has one, shown for reference otherwise."""
    return {"label": label, "get": getter, "fmt": fmt, "op": op, "limit": limit}


def latency(backend, series, x=None, p50=None, p99=None):
    return [item("p50", at(backend, series, "p50_ms", x), ms, "<=", p50),
            item("p99", at(backend, series, "p99_ms", x), ms, "<=", p99)]


OPS = {"<=": (operator.le, "≤"), "<": (operator.lt, "<"), ">=": (operator.ge, "≥")}

# The goals of the performance issue, one row each: "this" holds the figures judged, "baseline" (optional)
# those shown beside them from the same run, "filing" the figure measured when the issue was filed, "note"
# (optional) a footnote. The goal column is written from the judged items' limits, so that a limit lives
# in one place only.
GOALS = [
    {"scenario": "chat_c1", "goal": "chat, concurrency 1, added to the direct call",
     "filing": "+0.6 ms p50, +1.9 ms p99",
     "this": [item("p50", diff(at(SQ, "talon", "p50_ms"), at(SQ, "direct", "p50_ms")), delta_ms, "<=", 0.15),
              item("p99", diff(at(SQ, "talon", "p99_ms"), at(SQ, "direct", "p99_ms")), delta_ms, "<=", 0.5)],
     "baseline": latency(SQ, "direct")},
    {"scenario": "chat_open", "goal": "chat, one core, open loop: highest rate with p99 < 5 ms and no errors",
     "filing": "below 500 req/s",
     "this": [item("", highest_held_rate(SQ, "talon"), held_rate, ">=", 3000)],
     "baseline": [item("", highest_held_rate(SQ, "direct"), held_rate)]},
    {"scenario": "chat_saturated", "goal": "chat, saturated", "filing": "~1,450 req/s",
     "this": [item("", at(SQ, "talon", "rps"), req_s, ">=", 5000)],
     "baseline": [item("", at(SQ, "direct", "rps"), req_s)]},
    *[{"scenario": "agent_get",
       "goal": "GET /api/agents/:id, concurrency 1 / saturated, "
               + ("SQLite" if b == SQ else "PostgreSQL (informational)"),
       "filing": "p50 0.23 ms, 3,717 req/s / 4,365 req/s",
       "this": [item("p50 at c=1", at(b, "talon", "p50_ms", 1), ms, "<=", 0.1),
                item("at c=1", at(b, "talon", "rps", 1), req_s),
                item("at c=64", at(b, "talon", "rps", 64), req_s, ">=", 12000)]} for b in (SQ, PG)],
    *[{"scenario": "versions", "goal": f"new versions of one agent, 16 clients, {BACKEND_NAMES[b]}",
       "filing": filing,
       "this": [item("", at(b, "talon", "rps", 16), unit(" versions/s"), ">=", limit)],
       "baseline": [item("with 1 client", at(b, "talon", "rps", 1), unit(" versions/s"))]}
      for b, limit, filing in ((SQ, 2500, "1,221/s"), (PG, 1500, "530/s"))],
    {"scenario": "tasks_http", "goal": "tasks over HTTP (baseline: the store alone), PostgreSQL, best over workers",
     "filing": "518/s with 8 workers",
     "this": [item("batched", best(PG, "batched"), tasks_s, ">=", 4000),
              item("single", best(PG, "single"), tasks_s, ">=", 1500)],
     "baseline": [item("batched", best(PG, "batched", scenario="queue_store"), tasks_s),
                  item("single", best(PG, "single", scenario="queue_store"), tasks_s)]},
    {"scenario": "queue_store", "goal": "task queue store alone, PostgreSQL, best over workers",
     "filing": "995/s",
     "note": "For scale: a PostgreSQL job queue on this machine does 3.6–3.9k jobs/s unbatched "
             "and ~36k jobs/s batched.",
     "this": [item("single", best(PG, "single"), tasks_s, ">=", 5000),
              item("batched", best(PG, "batched"), tasks_s, ">=", 40000)]},
    *[{"scenario": "wakeup_claim", "goal": f"task created on replica A, claimed on B, {label}",
       "filing": "up to 500 ms (polling)",
       "this": latency(b, "a_to_b", p50=3, p99=20),
       "baseline": latency(b, "a_to_a")}
      for b, label in ((PG, "PostgreSQL (LISTEN/NOTIFY)"), (SQ, "SQLite (Redis pub/sub)"))],
    *[{"scenario": "wakeup_webhook", "goal": f"event on replica A, webhook from B, {BACKEND_NAMES[b]}",
       "filing": "up to 200 ms (polling)",
       "this": latency(b, "a_to_b", p50=5)} for b in (PG, SQ)],
    *[{"scenario": "lineage", "goal": f"lineage of a 10,000-agent tree, {BACKEND_NAMES[b]}",
       "filing": "p50 104–125 ms",
       "this": latency(b, "talon", x=10000, p50=40)} for b in (SQ, PG)],
    {"scenario": "memory", "goal": "server memory, SQLite", "filing": "13–36 MiB / 43 MiB",
     "this": [item("idle", at(SQ, "idle", "mib"), mib, "<", 20),
              item("after chat load, 6 s idle", at(SQ, "after_chat_settled", "mib"), mib, "<", 64),
              item("as the load ends", at(SQ, "after_chat", "mib"), mib)]},
    # Resident memory counts the executable's mapped code (about 17 MiB, shared and reclaimable); this
    # row leaves it out, so the two together show which part a goal is missed by.
    {"scenario": "memory", "goal": "server memory, SQLite, the process's own (RssAnon; informational)",
     "filing": "not measured",
     "this": [item("idle", at(SQ, "idle", "anon_mib"), mib, "<", 20),
              item("after chat load, 6 s idle", at(SQ, "after_chat_settled", "anon_mib"), mib, "<", 64),
              item("as the load ends", at(SQ, "after_chat", "anon_mib"), mib)]},
]

def bars(title, metrics, ylabel, **options):
    return {"title": title, "kind": "bars", "metrics": metrics, "ylabel": ylabel, **options}


def lines(title, metrics, xlabel, ylabel, **options):
    return {"title": title, "kind": "lines", "metrics": metrics, "xlabel": xlabel, "ylabel": ylabel, **options}


LATENCY = ["p50_ms", "p99_ms"]
# Every scenario in the order of the summary, with what its chart shows. Bars: one group per
# (backend, series, x), one bar per metric. Lines: one line per (backend, series, metric) against x.
SCENARIOS = {
    "chat_c1": bars("chat completion at concurrency 1, direct and through Talon", LATENCY, "latency (ms)"),
    "chat_open": lines("chat completion, open loop at rising rates", LATENCY, "offered rate (req/s)",
                       "latency (ms, log scale)", logy=True, hline=5.0),
    "chat_saturated": bars("chat completion, saturated (64 connections)", ["rps"], "throughput (req/s)"),
    "agent_get": bars("GET /api/agents/:id", ["rps"], "throughput (req/s)", xname="c="),
    "versions": lines("new versions of one agent", ["rps"], "clients", "throughput (versions/s)", logx=True),
    # Log y: single calls and batches differ tenfold, and both have a goal to read off.
    "tasks_http": lines("create → claim → complete over HTTP", ["rps"], "workers",
                        "throughput (tasks/s, log scale)", logx=True, logy=True),
    "queue_store": lines("create → claim → complete through the store alone", ["rps"], "workers",
                         "throughput (tasks/s, log scale)", logx=True, logy=True),
    "wakeup_claim": bars("task created → claimed, across replicas (a_to_b) and on one (a_to_a)", LATENCY,
                         "wake-up latency (ms)"),
    "wakeup_webhook": bars("event → webhook delivered from the other replica", LATENCY, "wake-up latency (ms)"),
    "lineage": bars("GET /api/agents/:id/lineage", LATENCY, "latency (ms)", xname="nodes "),
    "memory": bars("server memory", ["mib", "anon_mib"], "memory (MiB)"),
}
METRIC_NAMES = {"p50_ms": "p50", "p99_ms": "p99", "rps": "throughput", "mib": "RSS", "anon_mib": "own (RssAnon)"}


def read_results(path):
    """Every well-formed record, sorted; a line that is not one is reported and left out."""
    records = {}
    if not path.exists():
        print(f"{path}: missing; every goal shows as not measured", file=sys.stderr)
    for n, line in enumerate(path.read_text().splitlines() if path.exists() else [], 1):
        try:
            r = json.loads(line)
            r = {k: r[k] for k in (*KEY, "value")}
            numbers = (r["value"], 0 if r["x"] is None else r["x"])
            if not all(isinstance(r[k], str) for k in KEY if k != "x") or not all(
                    type(v) in (int, float) and math.isfinite(v) for v in numbers):
                raise ValueError("x (or null) and value have to be numbers, the rest strings")
        except (ValueError, KeyError, TypeError) as e:
            if line.strip():
                print(f"{path}:{n}: skipped, not a record ({e!r})", file=sys.stderr)
            continue
        key = tuple(r[k] for k in KEY)
        if key in records:
            print(f"{path}:{n}: {key} recorded twice; the later figure counts", file=sys.stderr)
        records[key] = r
    # Sorted so that reruns diff cleanly; a figure without x comes before the swept ones.
    return Results(sorted(records.values(), key=lambda r: (r["scenario"], r["backend"], r["series"],
                                                           r["x"] is not None, r["x"] or 0, r["metric"])))


def table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]


def evaluate(goal, res):
    """(goal text, this run, baseline, goal met) of one goal row."""
    judged = [i for i in goal["this"] if i["limit"] is not None]
    limits = ", ".join(f"{OPS[i['op']][1]} {i['fmt'](i['limit'])} {i['label']}".strip() for i in judged)
    text = f"{goal['goal']}: {limits}"

    def show(items):
        values = [(i, i["get"](res, goal["scenario"])) for i in items]
        if not values or all(v is None for _, v in values):
            return "—", values
        return ", ".join(f"{'—' if v is None else i['fmt'](v)} {i['label']}".strip() for i, v in values), values

    this_run, values = show(goal["this"])
    verdicts = [None if v is None else OPS[i["op"]][0](v, i["limit"]) for i, v in values if i["limit"] is not None]
    # A figure that misses its goal settles the row even when another figure of it is missing.
    met = "no" if False in verdicts else "not measured" if None in verdicts else "yes"
    this_run = "not measured in this run" if this_run == "—" else this_run
    return text, this_run, show(goal.get("baseline", []))[0], met


def label_parts(keys, xname):
    """Labels naming only what tells the keys apart (backend, series, x), so that the legends stay short."""
    backends, series, xs = ({k[i] for k in keys} for i in range(3))
    def label(k):
        parts = [BACKEND_NAMES.get(k[0], k[0])] if len(backends) > 1 else []
        parts += [k[1]] if len(series) > 1 or len(backends) <= 1 else []
        parts += [f"{xname}{num(k[2])}"] if len(xs) > 1 and k[2] is not None else []
        return ", ".join(parts)
    return label


def bar_chart(ax, recs, spec):
    # A metric absent from the whole run gets no slot, or the present bars would sit off their labels.
    metrics = [m for m in spec["metrics"] if any(r["metric"] == m for r in recs)]
    if not metrics:
        return
    groups = sorted({(r["backend"], r["series"], r["x"]) for r in recs if r["metric"] in metrics},
                    key=lambda k: (k[0], k[1], k[2] is not None, k[2] or 0))
    values = {(r["backend"], r["series"], r["x"], r["metric"]): r["value"] for r in recs}
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        heights = [values.get((*g, metric), math.nan) for g in groups]
        offsets = [n + (i - (len(metrics) - 1) / 2) * width for n in range(len(groups))]
        drawn = ax.bar(offsets, heights, width, label=METRIC_NAMES.get(metric, metric))
        ax.bar_label(drawn, labels=["" if math.isnan(h) else num(h) for h in heights], fontsize=7, padding=2)
    label = label_parts(groups, spec.get("xname", "x="))
    ax.set_xticks(range(len(groups)), [label(g) for g in groups], fontsize=8)
    ax.margins(y=0.12)


def line_chart(ax, recs, spec):
    metrics = spec["metrics"]
    keys = sorted({(r["backend"], r["series"], r["metric"]) for r in recs
                   if r["metric"] in metrics and r["x"] is not None})
    label = label_parts([(b, s, None) for b, s, _ in keys], "")
    colours, styles = {}, ["-", "-.", ":"]
    for backend, series, metric in keys:
        points = sorted((r["x"], r["value"]) for r in recs
                        if (r["backend"], r["series"], r["metric"]) == (backend, series, metric) and r["x"] is not None)
        colour = colours.setdefault((backend, series), f"C{len(colours)}")
        name = label((backend, series, None)) + (f" {METRIC_NAMES[metric]}" if len(metrics) > 1 else "")
        ax.plot(*zip(*points), styles[metrics.index(metric) % len(styles)], marker="o", markersize=4,
                color=colour, label=name)
    if spec.get("logy"):
        ax.set_yscale("log")
    xs = sorted({r["x"] for r in recs if r["x"] is not None})
    if spec.get("logx") and xs and xs[0] > 0:
        # Workers and clients double from one step to the next: ticks at the measured counts only.
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [num(x) for x in xs])
        ax.minorticks_off()
    if "hline" in spec:
        ax.axhline(spec["hline"], color="grey", linestyle="--", linewidth=1, label=ms(spec["hline"]))
    ax.set_xlabel(spec["xlabel"])


def chart(name, recs, spec, path):
    fig, ax = plt.subplots(figsize=(7, 4))
    (bar_chart if spec["kind"] == "bars" else line_chart)(ax, recs, spec)
    ax.set_title(f"{name}: {spec['title']}", fontsize=10)
    ax.set_ylabel(spec["ylabel"])
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    # No date in the metadata: a rerun on the same results writes the same file.
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path, help="one run's results, e.g. bench/results/2026-11-30")
    out = parser.parse_args().directory
    if not out.is_dir():
        sys.exit(f"{out}: not a directory")
    res = read_results(out / "results.jsonl")
    machine_file = out / "machine.txt"
    machine_line = (machine_file.read_text().strip().splitlines() or [""])[0] if machine_file.exists() else ""

    # bench/all.sh writes the line without its "machine:" label; the header puts one back.
    if not machine_line.lower().startswith("machine"):
        machine_line = "Machine: " + (machine_line or "not recorded (machine.txt missing or empty)")
    md = ["# Benchmark summary", "", machine_line, "", "Produced by `bench/all.sh`.", ""]
    notes, rows = [], []
    for goal in GOALS:
        text, this_run, baseline, met = evaluate(goal, res)
        if goal.get("note"):
            notes.append(goal["note"])
            text += f" [{len(notes)}]"
        rows.append([text, goal["filing"], this_run, baseline, met])
    md += table(["goal", "at filing", "this run", "baseline (same run)", "goal met"], rows)
    md += [""] + [f"[{n}] {note}" for n, note in enumerate(notes, 1)] + ([""] if notes else [])

    md += ["## Details", ""]
    extra = sorted({r["scenario"] for r in res.records} - SCENARIOS.keys())
    for name in [*SCENARIOS, *extra]:
        spec = SCENARIOS.get(name)
        recs = res.scenario(name)
        md += [f"### {name}" + (f": {spec['title']}" if spec else ""), ""]
        svg = out / f"{name}.svg"
        if not recs:
            md += ["Not measured in this run.", ""]
            # A chart left from an earlier summary of this directory would contradict the table.
            svg.unlink(missing_ok=True)
            continue
        md += table(["backend", "series", "x", "metric", "value"],
                    [[r["backend"], r["series"], "—" if r["x"] is None else num(r["x"]), r["metric"],
                      fmt_value(r["metric"], r["value"])] for r in recs])
        md.append("")
        if spec:
            chart(name, recs, spec, svg)
            md += [f"![{name}]({name}.svg)", ""]
    (out / "summary.md").write_text("\n".join(md))
    print(f"wrote {out / 'summary.md'}")


if __name__ == "__main__":
    main()
