"""What every benchmark shares: the workloads, the users, and the statistics."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


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


def summarize(seconds: list[float]) -> dict[str, float]:
    """Return the median, p95, mean and min of durations, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"n": 0}
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(p95, 3),
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
