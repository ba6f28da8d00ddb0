"""Start-up time of the ``hitl`` command line, as a person runs it: a fresh process each time.

``hitl --help`` and ``hitl --token dev-bob pending`` (against a server with a few
approvals waiting for a manager) run ``runs`` times each as subprocesses, from
the project root, after one untimed run of each (the file cache warm, as for a
person who typed a command before). Wall time is process start to exit.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import served
from benchmarks.common import WORKLOADS, Sizes, bar, percentile, ticker
from scripts.devserver import ROOT, TOKENS

HITL = Path(sys.executable).parent / "hitl"
WAITING = 3
"""Approvals waiting for a manager while ``hitl pending`` is timed."""
COMMANDS = {
    "help": ["--help"],
    "pending": ["--token", TOKENS["bob"], "pending"],
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``hitl`` with ``argv`` once; return its wall time and the finished process."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(HITL), *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    return time.perf_counter() - start, done


def check(name: str, done: subprocess.CompletedProcess) -> None:
    """Fail loudly when a timed command did not do its job.

    Raises:
        RuntimeError: The command failed, or ``pending`` did not list the waiting approvals.
    """
    if done.returncode != 0:
        raise RuntimeError(f"hitl {name} exited {done.returncode}: {done.stderr[-500:]}")
    if name == "pending" and f"{WAITING} waiting" not in done.stdout:
        raise RuntimeError(f"hitl pending did not list {WAITING} waiting: {done.stdout[-500:]}")


def stats(seconds: list[float]) -> dict[str, float]:
    """Median, p90, min and max of wall times, in seconds."""
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median_s": round(statistics.median(ordered), 3),
        "p90_s": round(percentile(ordered, 90), 3),
        "min_s": round(ordered[0], 3),
        "max_s": round(ordered[-1], 3),
    }


def time_commands(url: str, runs: int, tick: Callable[[], None]) -> dict[str, Any]:
    """Time every command of :data:`COMMANDS` against the server at ``url``."""
    env = {**os.environ, "LANGGRAPH_URL": url}
    env.pop("HITL_TOKEN", None)
    found: dict[str, Any] = {}
    for name, argv in COMMANDS.items():
        check(name, timed(argv, env)[1])  # untimed: warms the file cache
        times = []
        for _ in range(runs):
            elapsed, done = timed(argv, env)
            check(name, done)
            times.append(elapsed)
            tick()
        found[name] = {"argv": ["hitl", *argv], **stats(times)}
    return found


def run(sizes: Sizes) -> dict[str, Any]:
    """The cli section: a server with a few approvals waiting, then each command timed."""
    with bar(WAITING + len(COMMANDS) * sizes.cli_runs, "cli") as progress, served.server() as dev:
        tick = ticker(progress)
        asyncio.run(served.seed_pending(dev.url, WORKLOADS["expense_approval"], WAITING, 1, tick))
        commands = time_commands(dev.url, sizes.cli_runs, tick)
    return {"runs": sizes.cli_runs, "waiting": WAITING, "commands": commands, "target_s": 0.3}
