"""Run the benchmark suite: ``.venv/bin/python -m benchmarks [--full]``.

Sections (all by default, or some with ``--only``):

- ``overhead``: in-process cycle of each project graph against its seed-style
  counterpart, with InMemorySaver, SqliteSaver and AsyncSqliteSaver;
- ``latency``: served cycle (wake on enqueue, and the stock queue) against the
  in-process floor of the same graph;
- ``throughput``: cycles per second at 1, 10, 100 and 300 concurrent clients, with
  p50 / p99 cycle latency and the server's CPU per cycle against the in-process
  cycle of the same graph; then a burst of 1,000 submissions at once;
- ``scale``: with 10, 1,000 (and 10,000 with ``--full``) approvals waiting: the
  time to list a role's first page, cycle latency (in alternating rounds against
  a second server holding 10), server memory and restart time;
- ``history``: 1,000 approvals waiting and 0, 10,000 and 50,000 decided requests
  archived: cycle latency and throughput at 10 and 100 clients at each level (a
  server per level, measured in alternating rounds), and memory and disk per
  decided request before and after archiving
  (``benchmarks/history.py``);
- ``cli``: start-up of ``hitl --help`` and ``hitl pending`` (``benchmarks/cli.py``).

Writes ``benchmarks/results/results.json`` and one PNG per section next to it
(``cli`` has none). Default sizes take about 20 minutes on 2 cores; ``--full``
takes longer. ``--size NAME=VALUE`` changes one size (a field of ``Sizes``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks import cli, history, inprocess, plots, runtime, served
from benchmarks.common import (
    DEFAULT,
    FULL,
    WORKLOADS,
    Sizes,
    Workload,
    bar,
    say,
    summarize,
    ticker,
)
from scripts.devserver import DevServer

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("overhead", "latency", "throughput", "scale", "history", "runtime", "cli")

TARGETS = {
    "overhead_ratio": 1.5,
    "served_ratio": 10.0,
    "throughput_100": 100.0,
    "list_ms": 200.0,
    "cycle_growth": 1.2,
    "restart_s": 10.0,
    "kb_per_pending": 20.0,
    "no_collapse": 0.9,
    "cpu_ratio": 4.0,
    "history_cycle": 1.2,
    "history_throughput": 0.9,
    "cli_s": 0.3,
}
"""The targets of issues 10 and 24 (2 cores)."""


# --- sections -----------------------------------------------------------------------------


def run_overhead(sizes: Sizes) -> dict[str, Any]:
    """Project graph vs seed-style graph in-process, per checkpointer."""
    graphs: dict[str, Any] = {}
    steps = len(WORKLOADS) * len(inprocess.CHECKPOINTERS) * 2
    with bar(steps * (sizes.inproc_cycles + sizes.inproc_warmup), "overhead") as progress:
        for graph_id, workload in WORKLOADS.items():
            graphs[graph_id] = {}
            for name in inprocess.CHECKPOINTERS:
                times = inprocess.compare(
                    workload, name, sizes.inproc_cycles, sizes.inproc_warmup, ticker(progress)
                )
                seed, project = summarize(times["seed"]), summarize(times["project"])
                graphs[graph_id][name] = {
                    "seed": seed,
                    "project": project,
                    "ratio": round(project["median_ms"] / seed["median_ms"], 3),
                }
    return {"graphs": graphs, "cycles": sizes.inproc_cycles}


def run_latency(sizes: Sizes) -> dict[str, Any]:
    """Served cycle latency against the in-process floor, for each graph."""
    graphs: dict[str, Any] = {g: {} for g in WORKLOADS}
    inproc_steps = len(WORKLOADS) * 2 * (sizes.inproc_cycles + sizes.inproc_warmup)
    with bar(inproc_steps, "latency: in-process") as progress:
        for graph_id, workload in WORKLOADS.items():
            for name, key in (("memory", "inprocess"), ("async_sqlite", "inprocess_async_sqlite")):
                times = inprocess.compare(
                    workload,
                    name,
                    sizes.inproc_cycles,
                    sizes.inproc_warmup,
                    ticker(progress),
                    variants=("project",),
                )
                graphs[graph_id][key] = summarize(times["project"])
    runs = {
        "served": (True, sizes.served_cycles, 3),
        "served_stock": (False, sizes.stock_cycles, 1),
    }
    wake = {}
    for key, (fast, count, warmup) in runs.items():
        total = len(WORKLOADS) * (count + warmup)
        with bar(total, f"latency: {key}") as progress, served.server(fast) as dev:
            wake[key] = served.wake_active(dev)
            for graph_id, workload in WORKLOADS.items():
                times = asyncio.run(
                    served.cycles(dev.url, workload, count, warmup, ticker(progress))
                )
                graphs[graph_id][key] = summarize(times)
    for entry in graphs.values():
        floor = entry["inprocess"]["median_ms"]
        entry["ratio"] = round(entry["served"]["median_ms"] / floor, 2)
        entry["ratio_stock"] = round(entry["served_stock"]["median_ms"] / floor, 1)
        entry["ratio_vs_async_sqlite"] = round(
            entry["served"]["median_ms"] / entry["inprocess_async_sqlite"]["median_ms"], 2
        )
    return {"graphs": graphs, "wake_active": wake}


def run_throughput(sizes: Sizes) -> dict[str, Any]:
    """Cycles/s, cycle latency and server CPU per cycle at each client count; then a burst.

    The in-process cycle of the same graph (InMemorySaver) is measured first, in
    the same run, and again after each point, with no server running: a point's
    server CPU per cycle is given as a ratio of the mean of the two medians around
    it, the one before it (the run's first, or the previous point's after: nothing
    runs between them) and the one after it (``cpu_vs_inprocess``; this machine's
    speed drifts by a fifth within minutes), and of the first one
    (``cpu_vs_first_inprocess``).
    """
    workload = WORKLOADS["expense_approval"]
    all_variants = {
        "wake": (True, {}),
        "wake_log_info": (True, {"LOG_LEVEL": "INFO"}),  # the default is WARNING
        "stock": (False, {}),
    }
    variants = {k: all_variants[k] for k in sizes.throughput_variants}

    def in_process() -> dict[str, float]:
        times = inprocess.compare(
            workload, "memory", sizes.inproc_cycles, sizes.inproc_warmup, variants=("project",)
        )
        return summarize(times["project"])

    floor = in_process()
    before = floor["median_ms"]
    results: dict[str, list[dict[str, Any]]] = {}
    for key, (fast, env) in variants.items():
        results[key] = []
        progress = tqdm(desc=f"throughput: {key}", unit="cycle", leave=False, dynamic_ncols=True)
        with progress:
            for clients in sizes.clients:
                # A fresh server each time: the runtime's cost grows with the runs it keeps.
                with served.server(fast, env) as dev:
                    asyncio.run(served.cycles(dev.url, workload, 0, 3, ticker(progress)))
                    cpu_before = served.cpu_seconds(dev.proc.pid)
                    run = asyncio.run(
                        served.throughput(
                            dev.url, workload, clients, sizes.throughput_seconds, ticker(progress)
                        )
                    )
                    cpu = served.cpu_seconds(dev.proc.pid) - cpu_before
                after = in_process()["median_ms"]
                around = (before + after) / 2
                before = after
                cpu_ms = 1000 * cpu / max(run["cycles"], 1)
                run["server_cpu_cores"] = round(cpu / run["seconds"], 2)
                run["server_cpu_ms_per_cycle"] = round(cpu_ms, 1)
                run["inprocess_ms"] = round(around, 3)
                run["cpu_vs_inprocess"] = round(cpu_ms / around, 2)
                run["cpu_vs_first_inprocess"] = round(cpu_ms / floor["median_ms"], 2)
                results[key].append(run)
    with bar(sizes.burst, "throughput: burst") as progress, served.server(True) as dev:
        cpu_before = served.cpu_seconds(dev.proc.pid)
        burst = asyncio.run(
            served.burst(dev.url, workload, sizes.burst, sizes.burst_concurrency, ticker(progress))
        )
        burst["server_cpu_s"] = round(served.cpu_seconds(dev.proc.pid) - cpu_before, 1)
    return {
        "graph": workload.graph_id,
        "inprocess": floor,
        "variants": results,
        "burst": burst,
        "target_no_collapse": TARGETS["no_collapse"],
        "target_cpu_ratio": TARGETS["cpu_ratio"],
    }


def run_scale(sizes: Sizes) -> dict[str, Any]:
    """Grow the number of waiting approvals and measure at each level.

    A second server, the reference, holds the first level's waiting approvals (10)
    throughout. A level's cycle latency is measured in ``scale_rounds`` rounds, the
    two servers in turn (which goes first alternates; the other is paused with
    SIGSTOP), ``scale_cycles`` sequential cycles each; ``cycle_vs_reference`` is the
    median of the rounds' ratios of the medians, so that the machine's drift over
    the minutes between levels is not counted as growth (as the history section).
    """
    workload = WORKLOADS["expense_approval"]
    levels: list[dict[str, Any]] = []
    steps = max(sizes.pending) + sizes.pending[0]
    steps += len(sizes.pending) * (2 * sizes.scale_rounds * sizes.scale_cycles + sizes.list_reps)
    with (
        bar(steps, "scale") as progress,
        served.server(True) as dev,
        served.server(True) as reference,
    ):
        tick = ticker(progress)
        for each in (dev, reference):
            asyncio.run(served.cycles(each.url, workload, 0, 5, lambda: None))
        asyncio.run(
            served.seed_pending(
                reference.url, workload, sizes.pending[0], sizes.seed_concurrency, tick
            )
        )
        served.pause(reference)
        time.sleep(1)
        rss_empty = served.rss_bytes(dev.proc.pid)
        pending = 0
        for level in sizes.pending:
            progress.set_description(f"scale: seeding {level:,} waiting")
            started = time.perf_counter()
            asyncio.run(
                served.seed_pending(
                    dev.url, workload, level - pending, sizes.seed_concurrency, tick
                )
            )
            seed_s = time.perf_counter() - started
            pending = level
            time.sleep(1)
            progress.set_description(f"scale: measuring at {level:,}")
            listing = asyncio.run(served.list_first_page(dev.url, "manager", sizes.list_reps))
            progress.update(sizes.list_reps)
            paired = paired_cycles(dev, reference, workload, sizes, tick)
            rss = served.rss_bytes(dev.proc.pid)
            progress.set_description(f"scale: restarting at {level:,}")
            restart = served.restart(dev)
            rss_restarted = served.rss_bytes(dev.proc.pid)
            after = asyncio.run(served.list_first_page(dev.url, "manager", 1))
            levels.append(
                {
                    "pending": level,
                    "seed_s": round(seed_s, 2),
                    "list": summarize(listing["times"]),
                    "listed": listing["found"],
                    "listed_after_restart": after["found"],
                    **paired,
                    "rss_mb": round(rss / 2**20, 1),
                    "rss_after_restart_mb": round(rss_restarted / 2**20, 1),
                    "kb_per_pending": round((rss - rss_empty) / 1024 / level, 2),
                    "restart": restart,
                }
            )
    return {
        "graph": workload.graph_id,
        "rss_empty_mb": round(rss_empty / 2**20, 1),
        "reference_pending": sizes.pending[0],
        "levels": levels,
    }


def paired_cycles(
    dev: DevServer,
    reference: DevServer,
    workload: Workload,
    sizes: Sizes,
    tick: Callable[[], None],
) -> dict[str, Any]:
    """Cycle latency on ``dev`` against the paused ``reference``, in alternating rounds."""
    servers = {"reference": reference, "dev": dev}
    times: dict[str, list[float]] = {name: [] for name in servers}
    ratios = []
    served.pause(dev)
    for i in range(sizes.scale_rounds):
        medians = {}
        for name in list(servers)[:: 1 if i % 2 == 0 else -1]:  # who goes first alternates
            server = servers[name]
            served.resume(server)
            batch = asyncio.run(served.cycles(server.url, workload, sizes.scale_cycles, 1, tick))
            served.pause(server)
            times[name] += batch
            medians[name] = summarize(batch)["median_ms"]
        ratios.append(round(medians["dev"] / medians["reference"], 2))
    served.resume(dev)
    return {
        "cycle": summarize(times["dev"]),
        "reference_cycle": summarize(times["reference"]),
        "cycle_vs_reference_rounds": ratios,
        "cycle_vs_reference": round(statistics.median(ratios), 2),
    }


# --- targets and report -------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Judge every target the results allow."""
    found = []

    def add(name: str, target: str, measured: str, met: bool, note: str = "") -> None:
        found.append(
            {"name": name, "target": target, "measured": measured, "met": met, "note": note}
        )

    if "overhead" in results:
        for graph_id, by_cp in results["overhead"]["graphs"].items():
            worst = max(by_cp.values(), key=lambda e: e["ratio"])["ratio"]
            detail = ", ".join(f"{k} {v['ratio']:.2f}x" for k, v in by_cp.items())
            add(
                f"overhead {graph_id}",
                "<= 1.5x seed-style",
                detail,
                worst <= TARGETS["overhead_ratio"],
            )
    if "latency" in results:
        for graph_id, entry in results["latency"]["graphs"].items():
            add(
                f"served cycle {graph_id}",
                "median <= 10x in-process",
                f"{entry['served']['median_ms']:.1f} ms = {entry['ratio']:.1f}x "
                f"(stock {entry['ratio_stock']:.0f}x)",
                entry["ratio"] <= TARGETS["served_ratio"],
            )
    if "throughput" in results:
        section = results["throughput"]
        runs = {r["clients"]: r for r in section["variants"].get("wake", [])}
        if 100 in runs:
            add(
                "throughput, 100 clients",
                ">= 100 cycles/s",
                f"{runs[100]['cycles_per_s']:.1f} cycles/s",
                runs[100]["cycles_per_s"] >= TARGETS["throughput_100"],
            )
        if 10 in runs and 100 in runs:
            ten, hundred = runs[10], runs[100]
            ratio = hundred["cycles_per_s"] / max(ten["cycles_per_s"], 1e-9)
            errors = ten.get("errors", 0) + hundred.get("errors", 0)
            add(
                "no collapse",
                ">= 0.9x the 10-client throughput at 100 clients",
                f"{hundred['cycles_per_s']:.1f} vs {ten['cycles_per_s']:.1f} cycles/s "
                f"= {ratio:.2f}x" + (f", {errors} failed cycles" if errors else ""),
                ratio >= TARGETS["no_collapse"] and not errors,
            )
        if 100 in runs and "cpu_vs_inprocess" in runs[100]:
            r = runs[100]
            first = section["inprocess"]["median_ms"]
            around = r.get("inprocess_ms", first)
            add(
                "server CPU per cycle",
                "<= 4x the in-process cycle (100 clients)",
                f"{r['server_cpu_ms_per_cycle']:.1f} ms vs {around:.1f} ms = "
                f"{r['cpu_vs_inprocess']:.2f}x (in-process around the point; "
                f"{first:.1f} ms at the run's start: "
                f"{r.get('cpu_vs_first_inprocess', r['cpu_vs_inprocess']):.2f}x)",
                r["cpu_vs_inprocess"] <= TARGETS["cpu_ratio"],
            )
        if "burst" in section:
            b = section["burst"]
            add(
                f"burst of {b['submissions']:,} submissions",
                "no error, every one paused",
                f"{b['seconds']:.1f} s, {b['errors']} errors, {b['paused']:,} paused "
                f"({b['concurrency']} at a time)",
                b["errors"] == 0 and b["paused"] >= b["submissions"],
            )
    if "scale" in results:
        levels = results["scale"]["levels"]
        top = levels[-1]
        note = "" if top["pending"] >= 10_000 else "target is at 10,000: run with --full"
        n = f"at {top['pending']:,} waiting"
        add(
            "list first page",
            "<= 200 ms at 10,000",
            f"{top['list']['median_ms']:.0f} ms {n}",
            top["list"]["median_ms"] <= TARGETS["list_ms"],
            note,
        )
        add(
            "cycle latency growth",
            "<= 1.2x that at 10 waiting",
            f"{top['cycle_vs_reference']:.2f}x {n} (rounds: "
            f"{', '.join(f'{r:.2f}' for r in top['cycle_vs_reference_rounds'])})",
            top["cycle_vs_reference"] <= TARGETS["cycle_growth"],
            note,
        )
        add(
            "restart",
            "<= 10 s at 10,000",
            f"{top['restart']['start_s']:.1f} s {n}",
            top["restart"]["start_s"] <= TARGETS["restart_s"],
            note,
        )
        add(
            "memory",
            "<= 20 KB per waiting approval",
            f"{top['kb_per_pending']:.1f} KB {n}",
            top["kb_per_pending"] <= TARGETS["kb_per_pending"],
            note,
        )
    if "history" in results:
        seeding = results["history"].get("seeding", {})
        if "cost_held" in seeding:
            held, ratio = seeding["cost_held"], seeding["cost_held_vs_empty"]
            add(
                f"history: cycle with {held['held']:,} decided held in the runtime",
                "<= 1.2x the empty server's",
                f"{held['cycle']['median_ms']:.1f} vs "
                f"{seeding['cost_empty']['cycle']['median_ms']:.1f} ms = {ratio['cycle']:.2f}x "
                f"(server CPU per cycle {ratio['cpu']:.2f}x)",
                ratio["cycle"] <= TARGETS["history_cycle"],
                "inside the archive window",
            )
        levels = results["history"]["levels"]
        empty = levels[0]
        for lv in levels[1:]:
            n = f"at {lv['decided']:,} decided"
            add(
                f"history: cycle {n}",
                "<= 1.2x the empty server's",
                f"{lv['cycle']['median_ms']:.1f} vs {empty['cycle']['median_ms']:.1f} ms "
                f"= {lv['cycle_vs_empty']:.2f}x" + _rounds(lv.get("cycle_vs_empty_rounds")),
                lv["cycle_vs_empty"] <= TARGETS["history_cycle"],
            )
            for r in lv["throughput"]:
                ratio = lv["throughput_vs_empty"][str(r["clients"])]
                per_round = lv.get("throughput_vs_empty_rounds", {}).get(str(r["clients"]))
                add(
                    f"history: throughput, {r['clients']} clients, {n}",
                    ">= 0.9x the empty server's",
                    f"{r['cycles_per_s']:.1f} cycles/s = {ratio:.2f}x"
                    + _rounds(per_round)
                    + (f", {r['errors']} failed cycles" if r.get("errors") else ""),
                    ratio >= TARGETS["history_throughput"] and not r.get("errors"),
                )
    if "runtime" in results:
        top = results["runtime"]["levels"][-1]
        add(
            f"runtime: one cycle's runtime operations with {top['held']:,} decided held",
            "<= 1.2x with none held (runtime index)",
            f"{top['indexed_us'] / 1000:.2f} ms = {top['indexed_vs_empty']:.2f}x "
            f"(stock runtime: {top['stock_us'] / 1000:.1f} ms = {top['stock_vs_empty']:.1f}x)",
            top["indexed_vs_empty"] <= TARGETS["history_cycle"],
            "in-process, the real in-memory runtime",
        )
    if "cli" in results:
        for c in results["cli"]["commands"].values():
            add(
                f"cli: {' '.join(c['argv'])}",
                "median <= 0.3 s",
                f"{c['median_s']:.2f} s (p90 {c['p90_s']:.2f} s)",
                c["median_s"] <= TARGETS["cli_s"],
            )
    return found


def report(results: dict[str, Any]) -> None:
    """Print the headline numbers and the targets."""
    if "latency" in results:
        say("\nCycle latency (ms, median / p95)")
        say(
            f"{'graph':18} {'in-process':>16} {'served':>16} {'ratio':>7} "
            f"{'served stock':>18} {'ratio':>7}"
        )
        for graph_id, e in results["latency"]["graphs"].items():
            say(
                f"{graph_id:18} {_ms(e['inprocess']):>16} {_ms(e['served']):>16} "
                f"{e['ratio']:>6.1f}x {_ms(e['served_stock']):>18} {e['ratio_stock']:>6.0f}x"
            )
    if "overhead" in results:
        say("\nIn-process overhead (median ms, seed-style -> project)")
        for graph_id, by_cp in results["overhead"]["graphs"].items():
            cells = "  ".join(
                f"{name}: {e['seed']['median_ms']:.2f} -> {e['project']['median_ms']:.2f} "
                f"({e['ratio']:.2f}x)"
                for name, e in by_cp.items()
            )
            say(f"{graph_id:18} {cells}")
    if "throughput" in results:
        section = results["throughput"]
        floor = section.get("inprocess", {}).get("median_ms")
        say(f"\nThroughput (in-process cycle of the same graph: {floor} ms at the start)")
        say(
            f"{'variant':18} {'clients':>7} {'cycles/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'CPU ms/cycle':>13} {'in-proc ms':>11} {'x in-proc':>10} {'client ms':>10} "
            f"{'errors':>7}"
        )
        for key, runs in section["variants"].items():
            for r in runs:
                c = r.get("cycle", {})
                say(
                    f"{key:18} {r['clients']:>7} {r['cycles_per_s']:>9.1f} "
                    f"{c.get('median_ms', 0):>8.0f} {c.get('p99_ms', 0):>8.0f} "
                    f"{r.get('server_cpu_ms_per_cycle', 0):>13.1f} "
                    f"{r.get('inprocess_ms', floor or 0):>11.2f} "
                    f"{r.get('cpu_vs_inprocess', 0):>9.1f}x "
                    f"{r.get('client_cpu_ms_per_cycle', 0):>10.1f} {r.get('errors', 0):>7}"
                )
        if "burst" in section:
            b = section["burst"]
            say(
                f"burst: {b['submissions']:,} submissions, {b['concurrency']} at a time: "
                f"{b['seconds']} s ({b['submissions_per_s']}/s), {b['errors']} errors, "
                f"{b['paused']:,} paused"
            )
    if "scale" in results:
        say(f"\nScale (empty server: {results['scale']['rss_empty_mb']} MB RSS)")
        for lv in results["scale"]["levels"]:
            say(
                f"{lv['pending']:>6,} waiting: list {_ms(lv['list'])} ms, "
                f"cycle {_ms(lv['cycle'])} ms ({lv['cycle_vs_reference']:.2f}x the reference's "
                f"{_ms(lv['reference_cycle'])} ms), "
                f"RSS {lv['rss_mb']} MB ({lv['kb_per_pending']} KB/waiting), "
                f"restart {lv['restart']['start_s']} s (stop {lv['restart']['stop_s']} s)"
            )
    if "history" in results:
        h = results["history"]
        seeding = h["seeding"]
        say(f"\nHistory ({h['pending']:,} waiting; {h['method']})")
        for key, label in (
            ("per_request_held", "held in the runtime"),
            ("per_request_archived_in_place", "archived, same process"),
            ("per_request_archived_batch", "a batch more, archived"),
            ("per_request_archived_more", "a second batch, archived"),
            ("per_request_archived_restarted", "archived, after a restart"),
        ):
            if key not in seeding:  # runs before it was measured
                continue
            per = seeding[key]
            say(
                f"  per decided request, {label:26}: RSS {per['rss_kb']:>8.1f} KB, "
                f"disk {per['disk_kb']:>7.1f} KB"
            )
        for key in ("cost_empty", "cost_held"):  # runs before this change have neither
            if key in seeding:
                c = seeding[key]
                say(
                    f"  {c['held']:>6,} decided held in the runtime: cycle "
                    f"{c['cycle']['median_ms']:.1f} ms, server CPU "
                    f"{c['server_cpu_ms_per_cycle']:.1f} ms per cycle"
                )
        for lv in h["levels"]:
            tps = ", ".join(
                f"{r['clients']} clients {r['cycles_per_s']:.1f}/s "
                f"(p50 {r['cycle']['median_ms']:.0f} / p99 {r['cycle']['p99_ms']:.0f} ms)"
                + (f" [rounds {r['cycles_per_s_rounds']}]" if "cycles_per_s_rounds" in r else "")
                for r in lv["throughput"]
            )
            say(
                f"  {lv['decided']:>6,} decided: cycle {lv['cycle']['median_ms']:.1f} / "
                f"{lv['cycle']['p99_ms']:.1f} ms (median / p99) "
                f"({lv['cycle_vs_empty']:.2f}x); {tps}; RSS {lv['rss_bytes'] / 2**20:.0f} MB, "
                f"disk {lv['disk_bytes']['total'] / 2**20:.1f} MB, start {lv['start_s']} s"
            )
    if "runtime" in results:
        r = results["runtime"]
        say(f"\nRuntime operations of one cycle ({r['cycles']} cycles, {r['rounds']} rounds)")
        for lv in r["levels"]:
            say(
                f"  {lv['held']:>6,} decided held: stock {lv['stock_us'] / 1000:7.2f} ms "
                f"({lv['stock_vs_empty']:.2f}x), indexed {lv['indexed_us'] / 1000:.2f} ms "
                f"({lv['indexed_vs_empty']:.2f}x)"
            )
    if "cli" in results:
        say(f"\nCLI start-up ({results['cli']['runs']} runs each)")
        for c in results["cli"]["commands"].values():
            say(f"  {' '.join(c['argv']):32} median {c['median_s']:.3f} s, p90 {c['p90_s']:.3f} s")
    say("\nTargets")
    for t in results.get("targets", []):
        mark = "met" if t["met"] else "NOT MET"
        note = f"  ({t['note']})" if t["note"] else ""
        say(f"  {mark:8} {t['name']}: {t['measured']} [target {t['target']}]{note}")


def _rounds(ratios: list[float] | None) -> str:
    """`` (median of rounds: a / b / c)``, for a ratio taken in rounds; nothing for one."""
    if not ratios or len(ratios) < 2:
        return ""
    return f" (median of rounds: {' / '.join(f'{x:.2f}' for x in ratios)})"


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['median_ms']:.1f} / {stats['p95_ms']:.1f}"


def meta(sizes: Sizes, mode: str) -> dict[str, Any]:
    """Describe the machine, the versions and the sizes of this run."""
    versions = {}
    for package in (
        "langgraph",
        "langgraph-api",
        "langgraph-runtime-inmem",
        "langgraph-sdk",
        "langgraph-checkpoint-sqlite",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
        "mode": mode,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "versions": versions,
        "sizes": asdict(sizes),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--full", action="store_true", help="bigger sizes: 10,000 waiting approvals, longer runs"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="run only these sections (the others are kept from results.json)",
    )
    parser.add_argument(
        "--pending",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        help="waiting-approval levels for scale, e.g. 10,1000,10000",
    )
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one size, e.g. throughput_seconds=2 or clients=1,10 (fields of Sizes)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write results")
    return parser.parse_args(argv)


def resize(sizes: Sizes, settings: list[str]) -> Sizes:
    """Apply ``NAME=VALUE`` settings to ``sizes`` (tuples are comma-separated).

    Raises:
        SystemExit: A setting names no field of :class:`Sizes` or has a bad value.
    """
    kinds = {f.name: f.type for f in fields(Sizes)}
    changes: dict[str, Any] = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        kind = str(kinds.get(name, ""))
        try:
            if not kind:
                raise ValueError(f"no size called {name!r}: one of {', '.join(kinds)}")
            if kind.startswith("tuple[int"):
                changes[name] = tuple(int(v) for v in value.split(","))
            elif kind.startswith("tuple[str"):
                changes[name] = tuple(value.split(","))
            else:
                changes[name] = float(value) if kind == "float" else int(value)
        except ValueError as exc:
            raise SystemExit(f"--size {setting}: {exc}") from exc
    return replace(sizes, **changes)


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections, then write the JSON result and the plots."""
    args = parse_args(argv)
    sizes = FULL if args.full else DEFAULT
    if args.pending:
        sizes = replace(sizes, pending=args.pending)
    sizes = resize(sizes, args.size)
    # In-process runs of order_processing write a ledger: keep it out of the project's data/.
    os.environ["HITL_DATA_DIR"] = tempfile.mkdtemp(prefix="hitl-bench-data-")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    results: dict[str, Any] = {}
    if path.exists() and set(args.only) != set(SECTIONS):
        results = json.loads(path.read_text())
    runners = {
        "overhead": run_overhead,
        "latency": run_latency,
        "throughput": run_throughput,
        "scale": run_scale,
        "history": history.run,
        "runtime": runtime.run,
        "cli": cli.run,
    }
    started = time.perf_counter()
    sections = tqdm(args.only, desc="sections", unit="section", dynamic_ncols=True)
    for name in sections:
        sections.set_postfix_str(name)
        section_start = time.perf_counter()
        results[name] = runners[name](sizes)
        results[name]["meta"] = meta(sizes, "full" if args.full else "default")
        results[name]["meta"]["seconds"] = round(time.perf_counter() - section_start, 1)
        path.write_text(json.dumps(results, indent=2) + "\n")  # keep what is done
    sections.close()
    results["targets"] = targets(results)
    path.write_text(json.dumps(results, indent=2) + "\n")
    drawn = plots.draw_all(results, args.out)
    report(results)
    files = ", ".join(p.name for p in [path, *drawn])
    say(f"\nwrote {files} (in {args.out}) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
