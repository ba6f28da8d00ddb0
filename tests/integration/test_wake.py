"""The run-queue wake takes effect on the served project (server/wake.py).

Stock ``langgraph dev`` starts each run 0.5-1.0 s after it is enqueued, so a
sequential approval cycle (two runs) takes 1-2 s; with the wake it takes tens of
milliseconds. The threshold between them (0.5 s a cycle) leaves a wide margin
both ways on a loaded machine.
"""

from __future__ import annotations

import ctypes
import statistics
import time

import httpx
import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import DevServer
from tests.conftest import TOKENS

GLIBC = hasattr(ctypes.CDLL(None), "mallopt")

pytestmark = pytest.mark.integration

CYCLE_LIMIT = 0.5
"""Seconds: a cycle on the stock queue takes at least ~1 s, with the wake ~0.03 s."""


def cycle_seconds(sdk_as) -> float:
    alice, bob = sdk_as("alice"), sdk_as("bob")
    start = time.perf_counter()
    thread = alice.threads.create(metadata={"graph_id": "expense_approval"})
    paused = alice.runs.wait(
        thread["thread_id"], "expense_approval", input={"amount": 500, "description": "Wake"}
    )
    assert paused.get("__interrupt__"), paused
    done = bob.runs.wait(
        thread["thread_id"],
        "expense_approval",
        command={"resume": {"decision": "approve", "note": "ok"}},
    )
    elapsed = time.perf_counter() - start
    assert done["status"] == "approved", done
    return elapsed


def test_the_served_queue_wakes_on_enqueue(server, sdk_as):
    if isinstance(server, DevServer):
        log = server.log_path.read_text(errors="replace")
        assert "run-queue wake installed" in log, server.log_tail()
        assert "runtime index installed" in log, server.log_tail()
        assert "runtime tidy installed" in log, server.log_tail()
        assert "lean debug events installed" in log, server.log_tail()
        fixed = "malloc mmap threshold fixed at 131072 bytes"
        assert (fixed if GLIBC else "malloc mmap threshold not set") in log, server.log_tail()
        tuned = "the youngest generation collected every 20000 allocations"
        assert tuned in log, server.log_tail()
        assert "async log calls below LOG_LEVEL skipped" in log, server.log_tail()
    cycle_seconds(sdk_as)  # warm up
    times = [cycle_seconds(sdk_as) for _ in range(4)]
    assert statistics.median(times) < CYCLE_LIMIT, (
        f"approval cycles took {[round(t, 3) for t in times]} s: runs wait for the stock "
        "0.5 s queue poll, the wake-on-enqueue patch is not in effect (server/wake.py)"
    )


def test_the_stock_queue_is_what_the_patch_removes():
    """With ``HITL_FAST_QUEUE=0`` the same cycles are slow: the test above can tell them apart.

    The runtime index is off too (``HITL_RUNTIME_INDEX=0``): the stock runtime
    serves the same answers, which the cycles check.
    """
    with DevServer(env={"HITL_FAST_QUEUE": "0", "HITL_RUNTIME_INDEX": "0"}) as dev:

        def client(user):
            return get_sync_client(url=dev.url, headers={"Authorization": f"Bearer {TOKENS[user]}"})

        times = [cycle_seconds(client) for _ in range(2)]
        log = dev.log_path.read_text(errors="replace")
        assert "run-queue wake installed" not in log and "runtime index installed" not in log
        assert "runtime index off (HITL_RUNTIME_INDEX=0)" in log
    assert min(times) > CYCLE_LIMIT, (
        f"stock cycles took {times} s: the runtime no longer waits 0.5 s per run, the "
        "wake-on-enqueue patch may no longer be needed (server/wake.py)"
    )


def test_metrics_serve_the_same_at_the_quieter_tier(server, sdk_as):
    """The test servers record langgraph-api's tier-1 metrics only (``METRIC_MAX_EMITTING_TIER``,
    as ``make dev``): ``/metrics`` still serves requests and workers, its tier-1 set."""
    if isinstance(server, DevServer):
        assert server.env["METRIC_MAX_EMITTING_TIER"] == "1"
    sdk_as("erin").threads.search(limit=1)
    answer = httpx.get(
        f"{server.url}/metrics",
        params={"format": "prometheus"},
        headers={"Authorization": f"Bearer {TOKENS['erin']}"},
    )
    assert answer.status_code == 200, answer.text
    served = {line.split("{")[0].split(" ")[0] for line in answer.text.splitlines()}
    for name in ("lg_api_http_requests_total", "lg_api_workers_active", "lg_api_workers_max"):
        assert name in served, sorted(served)
