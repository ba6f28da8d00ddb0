"""Run the benchmark suite: ``.venv/bin/python -m benchmarks [--full]``.

Sections (all by default, or some with ``--only``):

- ``overhead``: in-process cycle of each project graph against its seed-style
  counterpart, with InMemorySaver, SqliteSaver and AsyncSqliteSaver;
- ``latency``: served cycle (wake on enqueue, and the stock queue) against the
  in-process floor of the same graph;
- ``throughput``: cycles per second at 1, 10 and 100 concurrent clients;
- ``scale``: with 10, 1,000 (and 10,000 with ``--full``) approvals waiting: the
  time to list a role's first page, cycle latency, server memory and restart time.

Writes ``benchmarks/results/results.json`` and one PNG per section next to it.
Default sizes take a few minutes on 2 cores; ``--full`` takes longer.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks import inprocess, plots, served
from benchmarks.common import WORKLOADS, summarize

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("overhead", "latency", "throughput", "scale")

TARGETS = {
    "overhead_ratio": 1.5,
    "served_ratio": 10.0,
    "throughput_100": 100.0,
    "list_ms": 200.0,
    "cycle_growth": 1.2,
    "restart_s": 10.0,
    "kb_per_pending": 20.0,
}
"""The targets of issue 10 (2 cores)."""


@dataclass(frozen=True)
class Sizes:
    """How much each section does."""

    inproc_cycles: int = 100
    inproc_warmup: int = 10
    served_cycles: int = 20
    stock_cycles: int = 4
    throughput_seconds: float = 8.0
    clients: tuple[int, ...] = (1, 10, 100)
    pending: tuple[int, ...] = (10, 1_000)
    scale_cycles: int = 20
    list_reps: int = 20
    seed_concurrency: int = 16


DEFAULT = Sizes()
FULL = Sizes(
    inproc_cycles=300,
    inproc_warmup=20,
    served_cycles=60,
    stock_cycles=8,
    throughput_seconds=20.0,
    pending=(10, 1_000, 10_000),
    scale_cycles=40,
    list_reps=30,
)


def say(message: str = "") -> None:
    """Print a line without breaking the progress bars."""
    tqdm.write(message)


def bar(total: int, desc: str) -> tqdm:
    """Return a progress bar for ``total`` steps."""
    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)


def ticker(progress: tqdm) -> Callable[[], None]:
    """Return a callable advancing ``progress`` by one."""
    return lambda: progress.update(1)


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
    """Cycles per second at each client count, for the default server and two variants."""
    workload = WORKLOADS["expense_approval"]
    variants = {
        "wake": (True, {}),
        "wake_log_warning": (True, {"LOG_LEVEL": "WARNING"}),
        "stock": (False, {}),
    }
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
                run["server_cpu_cores"] = round(cpu / run["seconds"], 2)
                run["server_cpu_ms_per_cycle"] = round(1000 * cpu / max(run["cycles"], 1), 1)
                results[key].append(run)
    return {
        "graph": workload.graph_id,
        "variants": results,
        "target_cycles_per_s": TARGETS["throughput_100"],
    }


def run_scale(sizes: Sizes) -> dict[str, Any]:
    """Grow the number of waiting approvals and measure at each level."""
    workload = WORKLOADS["expense_approval"]
    levels: list[dict[str, Any]] = []
    steps = max(sizes.pending) + len(sizes.pending) * (sizes.scale_cycles + sizes.list_reps)
    with bar(steps, "scale") as progress, served.server(True) as dev:
        tick = ticker(progress)
        asyncio.run(served.cycles(dev.url, workload, 0, 5, lambda: None))
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
            cycles = asyncio.run(served.cycles(dev.url, workload, sizes.scale_cycles, 1, tick))
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
                    "cycle": summarize(cycles),
                    "rss_mb": round(rss / 2**20, 1),
                    "rss_after_restart_mb": round(rss_restarted / 2**20, 1),
                    "kb_per_pending": round((rss - rss_empty) / 1024 / level, 2),
                    "restart": restart,
                }
            )
    base = levels[0]["cycle"]["median_ms"]
    for entry in levels:
        entry["cycle_vs_first"] = round(entry["cycle"]["median_ms"] / base, 2)
    return {
        "graph": workload.graph_id,
        "rss_empty_mb": round(rss_empty / 2**20, 1),
        "levels": levels,
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
        runs = {r["clients"]: r for r in results["throughput"]["variants"]["wake"]}
        if 100 in runs:
            add(
                "throughput, 100 clients",
                ">= 100 cycles/s",
                f"{runs[100]['cycles_per_s']:.1f} cycles/s",
                runs[100]["cycles_per_s"] >= TARGETS["throughput_100"],
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
            f"{top['cycle_vs_first']:.2f}x {n}",
            top["cycle_vs_first"] <= TARGETS["cycle_growth"],
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
        say("\nThroughput (cycles/s)")
        for key, runs in results["throughput"]["variants"].items():
            cells = "  ".join(f"{r['clients']:>3} clients: {r['cycles_per_s']:>6.1f}" for r in runs)
            say(f"{key:18} {cells}")
    if "scale" in results:
        say(f"\nScale (empty server: {results['scale']['rss_empty_mb']} MB RSS)")
        for lv in results["scale"]["levels"]:
            say(
                f"{lv['pending']:>6,} waiting: list {_ms(lv['list'])} ms, "
                f"cycle {_ms(lv['cycle'])} ms ({lv['cycle_vs_first']:.2f}x), "
                f"RSS {lv['rss_mb']} MB ({lv['kb_per_pending']} KB/waiting), "
                f"restart {lv['restart']['start_s']} s (stop {lv['restart']['stop_s']} s)"
            )
    say("\nTargets")
    for t in results.get("targets", []):
        mark = "met" if t["met"] else "NOT MET"
        note = f"  ({t['note']})" if t["note"] else ""
        say(f"  {mark:8} {t['name']}: {t['measured']} [target {t['target']}]{note}")


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
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections, then write the JSON result and the plots."""
    args = parse_args(argv)
    sizes = FULL if args.full else DEFAULT
    if args.pending:
        sizes = replace(sizes, pending=args.pending)
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
    say(
        f"\nwrote {path} and {', '.join(p.name for p in drawn)} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
