"""What every benchmark shares: the workloads, the statistics, and the progress output."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm


@dataclass(frozen=True)
class Workload:
    """One approval cycle of a graph: what alice submits and what bob answers."""

    graph_id: str
    input: dict[str, Any]
    answer: dict[str, Any]
    outcome: tuple[str, str]
    """``(key, value)`` the finished run's values must show."""


WORKLOADS = {
    w.graph_id: w
    for w in (
        Workload(
            "expense_approval",
            {"amount": 500, "description": "Team dinner"},
            {"decision": "approve", "note": "ok"},
            ("status", "approved"),
        ),
        Workload(
            "approval_chain",
            {"amount": 500, "description": "Team dinner", "requester": "alice"},
            {"decision": "approve", "note": "ok"},
            ("status", "approved"),
        ),
        Workload(
            "order_processing",
            {"amount": 5000, "customer": "bench"},
            {"decision": "approve"},
            ("status", "paid"),
        ),
    )
}
"""Each pauses once, for a manager (bob), and then finishes."""


def percentile(ordered: list[float], q: float) -> float:
    """Return the nearest-rank ``q`` percentile (0-100) of an ascending, non-empty list."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Sizes:
    """How much each section of ``python -m benchmarks`` does."""

    inproc_cycles: int = 100
    inproc_warmup: int = 10
    served_cycles: int = 20
    stock_cycles: int = 4
    throughput_seconds: float = 8.0
    clients: tuple[int, ...] = (1, 10, 100, 300)
    throughput_variants: tuple[str, ...] = ("wake", "wake_log_info", "stock")
    burst: int = 1_000
    burst_concurrency: int = 300
    pending: tuple[int, ...] = (10, 1_000)
    scale_cycles: int = 20
    scale_rounds: int = 5
    list_reps: int = 20
    seed_concurrency: int = 16
    history_real: int = 500
    history_pending: int = 1_000
    history_decided: tuple[int, ...] = (0, 10_000, 50_000)
    history_clients: tuple[int, ...] = (10, 100)
    history_cycles: int = 60
    history_rounds: int = 3
    cli_runs: int = 10
    runtime_held: tuple[int, ...] = (0, 1_000, 10_000)
    runtime_cycles: int = 100
    runtime_rounds: int = 3


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
    history_real=1_000,
    history_cycles=100,
    cli_runs=30,
    runtime_cycles=200,
)


def summarize(seconds: list[float]) -> dict[str, float]:
    """Return the median, p95, p99, mean and min of durations, in milliseconds.

    The percentiles are nearest-rank: with fewer than 100 durations, p99 is the
    largest one.
    """
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "min_ms": round(ms[0], 3),
    }


def check_outcome(workload: Workload, values: Any) -> None:
    """Fail loudly when a cycle did not end as the workload expects.

    Raises:
        RuntimeError: The final values do not show the expected outcome.
    """
    key, expected = workload.outcome
    if not isinstance(values, dict) or values.get(key) != expected:
        raise RuntimeError(f"{workload.graph_id}: expected {key}={expected!r}, got {values!r}")


def say(message: str = "") -> None:
    """Print a line without breaking the progress bars."""
    tqdm.write(message)


def bar(total: int, desc: str) -> tqdm:
    """Return a progress bar for ``total`` steps."""
    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)


def ticker(progress: tqdm) -> Callable[[], None]:
    """Return a callable advancing ``progress`` by one."""
    return lambda: progress.update(1)
