"""Draw the benchmark results (``results.json``) as small PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend
from matplotlib.ticker import FuncFormatter  # noqa: E402

DPI = 110
SIZE = (9.0, 5.0)
"""Readable on a laptop screen and in the README without zooming."""
CHECKPOINTERS = {
    "memory": "InMemorySaver",
    "sqlite": "SqliteSaver",
    "async_sqlite": "AsyncSqliteSaver",
}
"""Plain names for the benchmark's internal keys."""
COLORS = {
    "inprocess": "#4c72b0",
    "served": "#55a868",
    "stock": "#c44e52",
    "seed": "#8c8c8c",
    "warn": "#dd8452",
}


def _save(fig: Any, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _bars(ax: Any, groups: list[str], series: list[tuple[str, str, list[dict]]]) -> None:
    """Grouped bars of medians with a p95 tick above each."""
    width = 0.8 / len(series)
    for i, (label, color, stats) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        medians = [s.get("median_ms", 0) for s in stats]
        p95s = [s.get("p95_ms", 0) for s in stats]
        ax.bar(xs, medians, width, label=label, color=color)
        ax.scatter(xs, p95s, marker="_", color="black", s=120, zorder=3)
    ax.set_xticks(range(len(groups)), groups)


def latency(results: dict[str, Any], out: Path) -> Path:
    """Cycle latency per graph: in-process, served (wake on enqueue), served (stock queue)."""
    data = results["latency"]["graphs"]
    groups = list(data)
    fig, ax = plt.subplots(figsize=SIZE)
    series = [
        ("in-process (InMemorySaver)", COLORS["inprocess"], [data[g]["inprocess"] for g in groups]),
        ("served, wake on enqueue", COLORS["served"], [data[g]["served"] for g in groups]),
    ]
    if all("served_stock" in data[g] for g in groups):
        series.append(
            ("served, stock queue", COLORS["stock"], [data[g]["served_stock"] for g in groups])
        )
    _bars(ax, groups, series)
    for g, graph_id in enumerate(groups):
        ratio = data[graph_id]["ratio"]
        served = data[graph_id]["served"]
        ax.annotate(
            f"{ratio:.1f}×",
            (g, max(served["median_ms"], served.get("p95_ms", 0))),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=10,
            fontweight="bold",
        )
    ax.set_yscale("log")
    ax.set_ylabel("cycle latency, ms (bar: median, tick: p95)")
    ax.set_title(
        "One approval cycle, served and in-process (label: served / in-process, target ≤ 10×)"
    )
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    return _save(fig, out, "latency")


def throughput(results: dict[str, Any], out: Path) -> Path:
    """Cycles per second, and p50 / p99 cycle latency, against concurrent clients."""
    section = results["throughput"]
    fig, (rate, lat) = plt.subplots(1, 2, figsize=(11.0, 5.0))
    styles = {
        "wake": ("served, wake on enqueue", COLORS["served"]),
        "wake_log_info": ("served, wake on enqueue, LOG_LEVEL=INFO", COLORS["inprocess"]),
        "stock": ("served, stock queue", COLORS["stock"]),
    }
    for key, runs in section["variants"].items():
        label, color = styles.get(key, (key, None))
        xs = [r["clients"] for r in runs]
        rate.plot(xs, [r["cycles_per_s"] for r in runs], marker="o", label=label, color=color)
        if all("cycle" in r for r in runs):
            lat.plot(
                xs,
                [r["cycle"]["median_ms"] for r in runs],
                marker="o",
                color=color,
                label=f"{label}: p50",
            )
            lat.plot(
                xs,
                [r["cycle"]["p99_ms"] for r in runs],
                marker="x",
                ls=":",
                color=color,
                label=f"{label}: p99",
            )
    wake = {r["clients"]: r["cycles_per_s"] for r in section["variants"].get("wake", [])}
    if 10 in wake and "target_no_collapse" in section:
        share = section["target_no_collapse"]
        rate.axhline(
            share * wake[10],
            ls="--",
            color="black",
            lw=1,
            label=f"target: ≥ {share:g}× the 10-client figure at 100 clients",
        )
    clients = sorted({r["clients"] for runs in section["variants"].values() for r in runs})
    for ax in (rate, lat):
        ax.set_xscale("log")
        ax.set_xticks(clients, [str(c) for c in clients])
        ax.minorticks_off()
        ax.set_xlabel("concurrent clients (log scale)")
    rate.set_ylabel("approval cycles / s")
    rate.set_ylim(bottom=0)
    rate.set_title("cycles per second", fontsize=11)
    rate.legend(fontsize=7)
    if lat.get_lines():
        lat.set_yscale("log")
        lat.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        # label 2 and 5 of each decade too, plainly: "200", not "2×10²"
        lat.yaxis.set_minor_formatter(
            FuncFormatter(lambda v, _: f"{v:,.0f}" if f"{v:.0e}"[0] in "25" else "")
        )
        lat.set_ylabel("cycle latency, ms (log scale)")
        lat.set_title("cycle latency under load", fontsize=11)
        lat.legend(fontsize=7)
    else:
        lat.set_axis_off()
    fig.suptitle(f"Throughput ({section['graph']}, one fresh server per point)", fontsize=10)
    return _save(fig, out, "throughput")


def scale(results: dict[str, Any], out: Path) -> Path:
    """List time, cycle latency, memory and restart time against waiting approvals."""
    levels = results["scale"]["levels"]
    ns = [lv["pending"] for lv in levels]
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.0))
    reference = results["scale"]["reference_pending"]
    panels = [
        (
            axes[0][0],
            "list a role's first page, ms",
            [lv["list"]["median_ms"] for lv in levels],
            [lv["list"]["p95_ms"] for lv in levels],
            200,
            "target: ≤ 200 ms",
        ),
        (
            axes[0][1],
            "approval cycle, ms",
            [lv["cycle"]["median_ms"] for lv in levels],
            [lv["cycle"]["p95_ms"] for lv in levels],
            [1.2 * lv["reference_cycle"]["median_ms"] for lv in levels],
            f"target: ≤ 1.2× the cycle of a server with {reference:,} waiting, same rounds",
        ),
        (
            axes[1][0],
            "server memory (RSS), MB",
            [lv["rss_mb"] for lv in levels],
            None,
            [results["scale"]["rss_empty_mb"] + 20 * n / 1024 for n in ns],
            "target: empty server + 20 KB per waiting approval",
        ),
        (
            axes[1][1],
            "restart (start until /ok), s",
            [lv["restart"]["start_s"] for lv in levels],
            None,
            10,
            "target: ≤ 10 s",
        ),
    ]
    for ax, title, medians, p95s, target, target_label in panels:
        label = "median" if p95s else "measured"
        ax.plot(ns, medians, marker="o", color=COLORS["served"], label=label)
        if p95s:
            ax.plot(ns, p95s, marker="x", ls=":", color=COLORS["warn"], label="p95")
        if isinstance(target, list):
            ax.plot(ns, target, ls="--", color="black", lw=1, label=target_label)
        else:
            ax.axhline(target, ls="--", color="black", lw=1, label=target_label)
        ax.set_xscale("log")  # the counts span decades: equal steps are equal ratios
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.minorticks_off()
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("approvals waiting (log scale)", fontsize=9)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=8)
    fig.suptitle("Scale with waiting approvals (embedded server)", fontsize=10)
    return _save(fig, out, "scale")


def history(results: dict[str, Any], out: Path) -> Path:
    """Cycle latency and throughput against the decided requests a server holds."""
    section = results["history"]
    levels = section["levels"]
    xs = list(range(len(levels)))
    names = [f"{lv['decided']:,}" for lv in levels]
    fig, (cyc, rate) = plt.subplots(1, 2, figsize=(11.0, 5.0))
    base = levels[0]["cycle"]["median_ms"]
    cyc.plot(
        xs,
        [lv["cycle"]["median_ms"] for lv in levels],
        marker="o",
        color=COLORS["served"],
        label="median",
    )
    cyc.plot(
        xs,
        [lv["cycle"]["p99_ms"] for lv in levels],
        marker="x",
        ls=":",
        color=COLORS["warn"],
        label="p99",
    )
    cyc.axhline(
        1.2 * base, ls="--", color="black", lw=1, label="target: ≤ 1.2× the empty server's median"
    )
    cyc.set_ylabel("approval cycle, one client at a time, ms")
    cyc.set_title("cycle latency", fontsize=11)
    palette = [COLORS["inprocess"], COLORS["stock"], COLORS["served"]]
    for i, clients in enumerate(r["clients"] for r in levels[0]["throughput"]):
        color = palette[i % len(palette)]
        series = [next(r for r in lv["throughput"] if r["clients"] == clients) for lv in levels]
        rate.plot(
            xs,
            [r["cycles_per_s"] for r in series],
            marker="o",
            color=color,
            label=f"{clients} clients",
        )
        rate.axhline(
            0.9 * series[0]["cycles_per_s"],
            ls="--",
            color=color,
            lw=1,
            label=f"target: ≥ 0.9× the empty server's, {clients} clients",
        )
    rate.set_ylabel("approval cycles / s")
    rate.set_ylim(bottom=0)
    rate.set_title("throughput", fontsize=11)
    for ax in (cyc, rate):
        ax.set_xticks(xs, names)
        ax.set_xlabel("decided requests held (archived)")
        ax.legend(fontsize=8)
    fig.suptitle(
        f"History: a server holding decided requests, {section['pending']:,} approvals waiting",
        fontsize=10,
    )
    return _save(fig, out, "history")


def runtime(results: dict[str, Any], out: Path) -> Path:
    """The in-memory runtime's share of one cycle against the decided requests it holds."""
    levels = results["runtime"]["levels"]
    xs = list(range(len(levels)))
    fig, ax = plt.subplots(figsize=SIZE)
    for key, label, color in (
        ("stock_us", "stock runtime (every lookup scans every thread and run)", COLORS["stock"]),
        ("indexed_us", "runtime index (server/runtime_index.py)", COLORS["served"]),
    ):
        ax.plot(xs, [lv[key] / 1000 for lv in levels], marker="o", color=color, label=label)
    ax.axhline(
        1.2 * levels[0]["indexed_us"] / 1000,
        ls="--",
        color="black",
        lw=1,
        label="target: ≤ 1.2× the indexed runtime with none held",
    )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xticks(xs, [f"{lv['held']:,}" for lv in levels])
    ax.set_xlabel("decided requests held in the runtime (each with its two runs)")
    ax.set_ylabel("runtime operations of one approval cycle, ms (median)")
    ax.set_title("The runtime's share of a cycle, in-process: stock and indexed", fontsize=11)
    ax.legend(fontsize=8)
    return _save(fig, out, "runtime")


def overhead(results: dict[str, Any], out: Path) -> Path:
    """Project graph / seed-style graph cycle time, per graph and checkpointer."""
    data = results["overhead"]["graphs"]
    groups = list(data)
    checkpointers = list(next(iter(data.values())))
    fig, ax = plt.subplots(figsize=SIZE)
    width = 0.8 / len(checkpointers)
    palette = [COLORS["inprocess"], COLORS["served"], COLORS["warn"]]
    for i, name in enumerate(checkpointers):
        xs = [g + (i - (len(checkpointers) - 1) / 2) * width for g in range(len(groups))]
        ratios = [data[g][name]["ratio"] for g in groups]
        ax.bar(
            xs, ratios, width, label=CHECKPOINTERS.get(name, name), color=palette[i % len(palette)]
        )
        for x, r in zip(xs, ratios, strict=True):
            ax.annotate(
                f"{r:.2f}×",
                (x, r),
                textcoords="offset points",
                xytext=(0, 2),
                ha="center",
                fontsize=9,
            )
    ax.axhline(1.5, ls="--", color="black", lw=1, label="target: ≤ 1.5× the seed-style graph")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("project / seed-style (median cycle)")
    ax.set_title("In-process overhead of the project's graphs")
    top = max(data[g][n]["ratio"] for g in groups for n in checkpointers)
    ax.set_ylim(0, max(top, 1.5) * 1.3)
    ax.legend(fontsize=9, loc="upper center", ncol=4)
    return _save(fig, out, "overhead")


def draw_all(results: dict[str, Any], out: Path) -> list[Path]:
    """Draw every plot whose section is in ``results``."""
    drawers = {
        "latency": latency,
        "throughput": throughput,
        "scale": scale,
        "history": history,
        "runtime": runtime,
        "overhead": overhead,
    }
    return [draw(results, out) for name, draw in drawers.items() if name in results]
