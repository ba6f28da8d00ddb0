"""Soak: many workflows of every graph in flight, ``kill -9`` midway, all driven to the end.

Size: ``HITL_SOAK_SIZE`` workflows (default 100, the full size; the whole suite still
takes about 5 minutes on 2 cores; set it lower for a quicker local run).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import Counter

import pytest

from sdk_client import AnswerNotApplied, ClientError, HitlClient
from tests.conftest import TOKENS

pytestmark = pytest.mark.integration

SIZE = int(os.environ.get("HITL_SOAK_SIZE", "100"))
ROLE_USER = {"manager": "bob", "finance": "carol", "director": "dave"}
WORK = [
    ("expense_approval", {"amount": 500, "description": "Soak hotel"}),
    ("approval_chain", {"amount": 5000, "description": "Soak racks"}),
    ("order_processing", {"amount": 5000, "customer": "soak"}),
    ("assistant", {"messages": [{"role": "user", "content": "pay 9 to soak"}]}),
]


def clients(url):
    return {user: HitlClient(url, token=token) for user, token in TOKENS.items()}


def answerer(interrupt):
    value = interrupt["value"]
    if value.get("type") == "tool_approval":
        return value["user"], {"type": "approve"}
    return ROLE_USER[value["role"]], {"decision": "approve"}


async def answer_all(users, thread_ids, limit=8):
    """Answer every pending pause once; return how many answers were applied."""
    gate = asyncio.Semaphore(limit)

    async def one(thread_id):
        async with gate:
            outcome = await users["alice"].status(thread_id)
            if outcome.state != "waiting":
                return 0
            interrupt = outcome.interrupts[0]
            user, answer = answerer(interrupt)
            try:
                await users[user].resume(thread_id, answer, interrupt["id"])
            except (AnswerNotApplied, ClientError):
                return 0  # answered meanwhile, or the server just died: try again later
            return 1

    results = await asyncio.gather(*(one(t) for t in thread_ids), return_exceptions=True)
    return sum(r for r in results if isinstance(r, int))


def test_soak_kill_9_midway(fresh_server):
    server = fresh_server
    users = clients(server.url)
    started = time.monotonic()

    async def submit_all():
        gate = asyncio.Semaphore(8)

        async def one(i):
            graph, values = WORK[i % len(WORK)]
            async with gate:
                outcome = await users["alice"].submit(graph, values)
                return graph, outcome.thread_id

        return await asyncio.gather(*(one(i) for i in range(SIZE)))

    threads = asyncio.run(submit_all())
    ids = [t for _, t in threads]

    async def answer_then_kill():
        task = asyncio.ensure_future(answer_all(users, ids))
        await asyncio.sleep(1.0)  # answers are in flight
        server.kill()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(answer_then_kill())
    server.start()
    stale = asyncio.run(shown_waiting_although_decided(clients(server.url), ids))
    print(f"soak: {len(stale)} threads shown as waiting although decided after the restart")
    assert stale == []
    outcomes = asyncio.run(drive_to_the_end(clients(server.url), ids))
    print(f"soak: {SIZE} workflows in {time.monotonic() - started:.1f}s")

    by_graph = {t: g for g, t in threads}
    for outcome in outcomes:  # none lost, none decided twice
        values, graph = outcome.values, by_graph[outcome.thread_id]
        if graph == "expense_approval":
            assert values["status"] == "approved" and len(values["audit"]) == 1
        elif graph == "approval_chain":
            assert values["status"] == "approved"
            assert [e["role"] for e in values["audit"]] == ["manager", "finance"]
        elif graph == "order_processing":
            assert values["status"] == "paid" and values["decided_by"] == "bob"
        else:
            assert [r["decision"] for r in values["reviews"]] == ["approve"]
    ledger = sqlite3.connect(server.data_dir / "ledger.sqlite")
    charges = Counter(  # orders are keyed by order id, tool calls by thread and call
        k.split(":")[0] for (k,) in ledger.execute("SELECT idempotency_key FROM charges")
    )
    paying = [
        o.values["order_id"] if by_graph[o.thread_id] == "order_processing" else o.thread_id
        for o in outcomes
        if by_graph[o.thread_id] in ("order_processing", "assistant")
    ]
    assert sorted(charges) == sorted(paying)  # every payment made ...
    assert set(charges.values()) == {1}  # ... exactly once


async def shown_waiting_although_decided(users, ids):
    """Threads whose record shows a pause that their latest checkpoint no longer has."""
    sdk = users["alice"].sdk

    async def check(thread_id):
        thread, state = await sdk.threads.get(thread_id), await sdk.threads.get_state(thread_id)
        shown = {i["id"] for group in (thread.get("interrupts") or {}).values() for i in group}
        pending = {i["id"] for task in state["tasks"] for i in task.get("interrupts", [])}
        return thread_id if shown - pending else None

    return [t for t in await asyncio.gather(*(check(t) for t in ids)) if t]


async def drive_to_the_end(users, ids):
    """Answer until every workflow has finished; one event loop for the clients."""
    deadline = time.monotonic() + 60 + 5 * SIZE
    while True:
        outcomes = await asyncio.gather(*(users["alice"].status(t) for t in ids))
        if all(o.state == "finished" for o in outcomes):
            return outcomes
        stuck = {o.thread_id: (o.state, o.error) for o in outcomes if o.state != "finished"}
        assert time.monotonic() < deadline, stuck
        await answer_all(users, [o.thread_id for o in outcomes if o.state == "waiting"])
