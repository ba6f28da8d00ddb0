"""A server holding a long history: decided requests archived, approvals waiting.

In one run:

1. **Real cycles, archived for real.** A fresh server with the archive window so
   large that nothing leaves the runtime runs ``real`` approval cycles; its memory
   (RSS of the process group) and disk (data directory and ``.langgraph_api``)
   are measured with them held in the runtime. Restarted with
   ``HITL_ARCHIVE_AFTER_HOURS=0``, its sweeper archives them; memory and disk
   are measured again (in place; after each of two more batches of as many
   cycles, each archived as it ends; and after one more restart). The archived
   rows it wrote are the templates for step 2.
2. **Levels.** A server gets ``pending`` approvals waiting (alice's
   submissions) and is stopped. Each level of decided requests (0, 10,000,
   50,000) gets its own server: a copy of that directory whose archive table is
   filled up to the level with copies of the real rows under fresh thread ids
   (:func:`fill_archive`: seeding 50,000 through real cycles would take hours at
   ~20 cycles/s). All of them are started and paused (SIGSTOP); then, in each of
   ``history_rounds`` rounds, each level's server in turn runs alone and is
   measured: sequential cycles, then throughput at each client count. The order
   rotates from round to round, and a level's ratio to the empty server's is the
   median of its rounds' ratios, so the machine's drift over the minutes of a
   run (±20 % on these machines) does not land on one level. The servers run
   with the window at 0, so each round starts with the runtime holding the
   waiting approvals only: the decided requests of earlier rounds' cycles are
   archived by the sweeper as they would be on a server in use.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks import served
from benchmarks.common import WORKLOADS, Sizes, bar, summarize, ticker
from graphs.common import store
from scripts.devserver import DevServer

HELD = {"HITL_ARCHIVE_AFTER_HOURS": "1000000"}
"""A window no request reaches: every decided request stays in the runtime."""
ARCHIVE_NOW = {"HITL_ARCHIVE_AFTER_HOURS": "0", "HITL_ARCHIVE_SWEEP_SECONDS": "1"}
"""Archive every decided request at once (the seeding server's second life)."""
MEASURED = {"HITL_ARCHIVE_AFTER_HOURS": "0", "HITL_ARCHIVE_SWEEP_SECONDS": "10"}
"""The measured server: decided requests leave the runtime within a sweep."""
FLUSH_S = 11.0
"""The in-memory runtime writes ``.langgraph_api`` every 10 s: wait for one write."""
SPREAD = timedelta(minutes=10)
"""Copies are dated back this much each, so 50,000 of them span about a year."""


def store_url(dev: DevServer) -> str:
    """The URL of the store (archive table included) the server ``dev`` uses."""
    return dev.env.get("HITL_LEDGER_URL") or f"sqlite:///{dev.data_dir / 'ledger.sqlite'}"


def archive_count(url: str) -> int:
    """Return how many rows the archive table at ``url`` holds."""
    engine = store.engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(store.archive)).scalar_one()
    engine.dispose()  # no connection left open on a server's file
    return int(count)


def archive_rows(url: str) -> list[dict[str, Any]]:
    """Return every row of the archive table at ``url``."""
    engine = store.engine(url)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(store.archive))]
    engine.dispose()
    return rows


def copies(templates: list[dict[str, Any]], count: int) -> Any:
    """Yield ``count`` archive rows copied from ``templates``, each under a fresh thread id.

    The old thread id is replaced wherever the metadata or the record names it;
    the n-th copy's dates move back by ``n`` times :data:`SPREAD`.
    """
    if not templates:
        raise ValueError("no archived rows to copy")
    for n in range(count):
        row = dict(templates[n % len(templates)])
        old, new = str(row["thread_id"]), str(uuid.uuid4())
        back = SPREAD * (n + 1)
        row["thread_id"] = new
        row["metadata"] = str(row["metadata"]).replace(old, new)
        row["record"] = str(row["record"]).replace(old, new)
        for key in ("created_at", "decided_at", "archived_at"):
            if row.get(key) is not None:
                row[key] = row[key] - back
        yield row


def fill_archive(url: str, templates: list[dict[str, Any]], target: int, batch: int = 5_000) -> int:
    """Add copies of ``templates`` to the archive at ``url`` until it holds ``target`` rows.

    Meant for a stopped server's store. Returns how many rows were added.
    """
    missing = target - archive_count(url)
    if missing <= 0:
        return 0
    rows = copies(templates, missing)
    engine = store.engine(url)
    added = 0
    while added < missing:
        chunk = [row for _, row in zip(range(min(batch, missing - added)), rows, strict=False)]
        with engine.begin() as conn:
            conn.execute(store.archive.insert(), chunk)
        added += len(chunk)
    engine.dispose()  # the server opens the file next
    return added


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` every 0.5 s until it holds; return the seconds it took.

    Raises:
        TimeoutError: ``check`` did not hold within ``timeout`` seconds.
    """
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.5)
    return round(time.monotonic() - start, 1)


def decided_in_runtime(dev: DevServer) -> int:
    """How many of alice's threads the runtime still holds finished (status ``idle``)."""
    return asyncio.run(served.thread_count(dev.url, "idle"))


def _footprint(dev: DevServer) -> dict[str, Any]:
    disk = served.disk_bytes(dev)
    return {"rss_bytes": served.rss_bytes(dev.proc.pid), "disk_bytes": disk}


def _per_request(before: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, float]:
    rss = (after["rss_bytes"] - before["rss_bytes"]) / n
    disk = (after["disk_bytes"]["total"] - before["disk_bytes"]["total"]) / n
    return {"rss_kb": round(rss / 1024, 2), "disk_kb": round(disk / 1024, 2)}


async def _run_cycles(url: str, count: int, concurrency: int, tick: Callable[[], None]) -> None:
    """Run ``count`` full cycles, ``concurrency`` at a time."""
    workload = WORKLOADS["expense_approval"]
    todo = iter(range(count))

    async def worker() -> None:
        users = served.Users(url)
        try:
            for _ in todo:
                await served.cycle(users, workload)
                tick()
        finally:
            await users.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def held_cost(dev: DevServer, sizes: Sizes, tick: Callable[[], None]) -> dict[str, Any]:
    """Sequential cycles on the running server: their latency and the server's CPU per cycle."""
    workload = WORKLOADS["expense_approval"]
    cpu_before = served.cpu_seconds(dev.proc.pid)
    times = asyncio.run(served.cycles(dev.url, workload, sizes.history_cycles, 0, tick))
    cpu = served.cpu_seconds(dev.proc.pid) - cpu_before
    return {
        "held": decided_in_runtime(dev),
        "cycle": summarize(times),
        "server_cpu_ms_per_cycle": round(1000 * cpu / len(times), 1),
    }


def seed_real(sizes: Sizes, tick: Callable[[], None]) -> dict[str, Any]:
    """Step 1: real cycles, measured held in the runtime and archived; return the templates too.

    Before and after the real cycles, :func:`held_cost` measures what holding them
    (inside the archive window) costs every later cycle.
    """
    n = sizes.history_real
    with served.server(True, HELD) as dev:
        url = store_url(dev)
        asyncio.run(_run_cycles(dev.url, 5, 1, lambda: None))  # warm up
        cost_empty = held_cost(dev, sizes, tick)
        time.sleep(FLUSH_S)
        empty = _footprint(dev)
        started = time.perf_counter()
        asyncio.run(_run_cycles(dev.url, n, sizes.seed_concurrency, tick))
        cycles_s = time.perf_counter() - started
        time.sleep(FLUSH_S)
        held = _footprint(dev)
        cost_held = held_cost(dev, sizes, tick)
        decided = decided_in_runtime(dev)
        extra = sizes.history_cycles
        dev.stop()
        dev.env.update(ARCHIVE_NOW)
        dev.start(timeout=600)
        swept_s = wait_until(
            lambda: archive_count(url) >= decided and decided_in_runtime(dev) == 0,
            timeout=120 + 0.5 * decided,
            what=f"{decided} decided requests archived (is the archive sweeper running?)",
        )
        time.sleep(FLUSH_S)
        archived_in_place = _footprint(dev)
        # Twice as many again on the same process, each archived as it ends (within a
        # sweep). The first batch raises the process's high-water mark (cycles run
        # `seed_concurrency` at a time); what the second adds, each decided request
        # keeps for good on a server that runs for months.
        batches = []
        for _ in range(2):
            asyncio.run(_run_cycles(dev.url, n, sizes.seed_concurrency, tick))
            settled(dev, timeout=120 + 0.5 * n)
            time.sleep(FLUSH_S)
            batches.append(_footprint(dev))
        archived_batch, archived_more = batches
        dev.stop()
        dev.start(timeout=600)
        time.sleep(FLUSH_S)
        archived_restarted = _footprint(dev)
        templates = archive_rows(url)
    payload = [len(str(r["metadata"])) + len(str(r["record"])) for r in templates]
    return {
        "templates": templates,
        "result": {
            "real_cycles": n,
            "decided": decided,
            "cycles_s": round(cycles_s, 1),
            "archive_s": swept_s,
            "archived_rows": len(templates),
            "row_payload_bytes": round(sum(payload) / max(len(payload), 1)),
            "empty": empty,
            "held": held,
            "archived_in_place": archived_in_place,
            "archived_batch": archived_batch,
            "archived_more": archived_more,
            "archived_restarted": archived_restarted,
            "per_request_held": _per_request(empty, held, n),
            # Archiving took the held_cost cycles measured after `held` too.
            "per_request_archived_in_place": _per_request(empty, archived_in_place, n + extra),
            "per_request_archived_batch": _per_request(archived_in_place, archived_batch, n),
            "per_request_archived_more": _per_request(archived_batch, archived_more, n),
            "per_request_archived_restarted": _per_request(
                empty, archived_restarted, 3 * n + extra
            ),
            "cost_empty": cost_empty,
            "cost_held": cost_held,
            "cost_held_vs_empty": {
                "cycle": round(
                    cost_held["cycle"]["median_ms"] / cost_empty["cycle"]["median_ms"], 2
                ),
                "cpu": round(
                    cost_held["server_cpu_ms_per_cycle"] / cost_empty["server_cpu_ms_per_cycle"], 2
                ),
            },
        },
    }


def measure_level(dev: DevServer, sizes: Sizes, tick: Callable[[], None]) -> dict[str, Any]:
    """Sequential cycles, then throughput at each client count, on the running server.

    ``times`` holds every sequential cycle's duration (s), for pooling rounds.
    """
    workload = WORKLOADS["expense_approval"]
    times = asyncio.run(served.cycles(dev.url, workload, sizes.history_cycles, 2, tick))
    runs = []
    for clients in sizes.history_clients:
        cpu_before = served.cpu_seconds(dev.proc.pid)
        run = asyncio.run(
            served.throughput(dev.url, workload, clients, sizes.throughput_seconds, tick)
        )
        cpu = served.cpu_seconds(dev.proc.pid) - cpu_before
        run["server_cpu_ms_per_cycle"] = round(1000 * cpu / max(run["cycles"], 1), 1)
        runs.append(run)
    return {"cycle": summarize(times), "times": times, "throughput": runs}


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One level's figures from its rounds (:func:`measure_level` results, in round order).

    ``cycle`` summarizes every round's sequential cycles together; each
    ``throughput`` entry is the run of the median round for that client count,
    with ``errors`` summed over the rounds. ``rounds`` keeps each round's cycle
    median and throughputs, which :func:`compare` pairs round by round.
    """
    runs = []
    for i in range(len(rounds[0]["throughput"])):
        tries = sorted((r["throughput"][i] for r in rounds), key=lambda r: r["cycles_per_s"])
        middle = dict(tries[(len(tries) - 1) // 2])
        middle["errors"] = sum(r["errors"] for r in tries)
        middle["cycles_per_s_rounds"] = [r["throughput"][i]["cycles_per_s"] for r in rounds]
        runs.append(middle)
    return {
        "cycle": summarize([t for r in rounds for t in r["times"]]),
        "throughput": runs,
        "rounds": [
            {
                "cycle_median_ms": r["cycle"]["median_ms"],
                "cycles_per_s": {str(t["clients"]): t["cycles_per_s"] for t in r["throughput"]},
            }
            for r in rounds
        ],
    }


def compare(levels: list[dict[str, Any]]) -> None:
    """Add each level's ratios to the first (empty) level's, paired round by round.

    Round ``i`` of every level ran within minutes of round ``i`` of the others, so
    each round's ratio is free of the machine's drift between rounds; a level's
    ratio is the median of its rounds' ratios (``*_rounds`` keeps them all).
    """
    base = levels[0]["rounds"]
    for entry in levels:
        pairs = list(zip(entry["rounds"], base, strict=True))
        cycle = [r["cycle_median_ms"] / b["cycle_median_ms"] for r, b in pairs]
        entry["cycle_vs_empty_rounds"] = [round(x, 2) for x in cycle]
        entry["cycle_vs_empty"] = round(statistics.median(cycle), 2)
        entry["throughput_vs_empty_rounds"] = {
            clients: [
                round(r["cycles_per_s"][clients] / max(b["cycles_per_s"][clients], 1e-9), 2)
                for r, b in pairs
            ]
            for clients in base[0]["cycles_per_s"]
        }
        entry["throughput_vs_empty"] = {
            clients: round(statistics.median(ratios), 2)
            for clients, ratios in entry["throughput_vs_empty_rounds"].items()
        }


def settled(dev: DevServer, timeout: float = 120) -> float:
    """Wait until the runtime holds no decided request (the sweeper archived them)."""
    return wait_until(
        lambda: decided_in_runtime(dev) == 0,
        timeout=timeout,
        what="the runtime holds no decided request (is the archive sweeper running?)",
    )


def level_servers(
    sizes: Sizes,
    templates: list[dict[str, Any]],
    stack: ExitStack,
    progress: Any,
    tick: Callable[[], None],
) -> list[tuple[DevServer, dict[str, Any]]]:
    """One paused server per level of decided requests, each with the same approvals waiting.

    The first server gets ``history_pending`` approvals waiting and is stopped; the
    others start from copies of its directory (runtime state, checkpoints, store),
    their archive tables filled up to their levels. Every server is started (the
    start timed), left to settle, and paused. ``stack`` stops and deletes them.
    """
    env = served.server_env(True, MEASURED)
    first = stack.enter_context(DevServer(env=env))
    progress.set_description(f"history: {sizes.history_pending:,} waiting")
    asyncio.run(
        served.seed_pending(
            first.url,
            WORKLOADS["expense_approval"],
            sizes.history_pending,
            sizes.seed_concurrency,
            tick,
        )
    )
    first.stop()
    servers = []
    for level in sorted(sizes.history_decided):
        dev = first
        if servers:
            root = Path(tempfile.mkdtemp(prefix="hitl-server-"))
            shutil.copytree(first.root, root, symlinks=True, dirs_exist_ok=True)
            dev = DevServer(env=env, root=root)
            stack.callback(dev.cleanup)
        stack.callback(served.resume, dev)  # a paused server does not stop on SIGTERM
        progress.set_description(f"history: {level:,} decided")
        url = store_url(dev)
        copy_start = time.perf_counter()
        added = fill_archive(url, templates, level) if level else 0
        copy_s = time.perf_counter() - copy_start
        start = time.perf_counter()
        dev.start(timeout=600)
        start_s = time.perf_counter() - start
        info = {
            "decided": level,
            "archived": archive_count(url),
            "copied": added,
            "copy_s": round(copy_s, 1),
            "start_s": round(start_s, 1),
            "settle_s": settled(dev),
            "waiting": asyncio.run(served.thread_count(dev.url, "interrupted")),
        }
        served.pause(dev)
        servers.append((dev, info))
    return servers


def run(sizes: Sizes) -> dict[str, Any]:
    """The history section: real archived requests, then each level of decided requests.

    The levels are measured in ``history_rounds`` rounds, each level's server
    running alone (the others paused) and the order rotating from round to round.
    """
    levels_wanted = sorted(sizes.history_decided)
    steps = 3 * sizes.history_real + sizes.history_pending + 2 * sizes.history_cycles
    steps += len(levels_wanted) * sizes.history_rounds * (sizes.history_cycles + 2)
    with bar(steps, "history: real cycles") as progress, ExitStack() as stack:
        tick = ticker(progress)
        seeded = seed_real(sizes, tick)
        servers = level_servers(sizes, seeded["templates"], stack, progress, tick)
        rounds: list[list[dict[str, Any]]] = [[] for _ in servers]
        for n in range(sizes.history_rounds):
            for i in [(n + k) % len(servers) for k in range(len(servers))]:
                dev, info = servers[i]
                progress.set_description(f"history: round {n + 1}, {info['decided']:,} decided")
                served.resume(dev)
                settled(dev)
                rounds[i].append(measure_level(dev, sizes, tick))
                settled(dev)  # this round's decided requests leave before the next level runs
                served.pause(dev)
        levels = [  # the footprint of a paused server, its last round's requests archived
            {**info, **combine(measured), **_footprint(dev)}
            for (dev, info), measured in zip(servers, rounds, strict=True)
        ]
    compare(levels)
    return {
        "graph": "expense_approval",
        "pending": sizes.history_pending,
        "rounds": sizes.history_rounds,
        "seeding": seeded["result"],
        "levels": levels,
        "method": (
            f"{seeded['result']['decided']} real cycles archived by the sweeper; levels "
            "above them filled with copies of those rows under fresh thread ids, "
            "written into the archive table of a stopped copy of the level-0 server; "
            f"{sizes.history_rounds} rounds, one server running at a time, order rotating"
        ),
    }
