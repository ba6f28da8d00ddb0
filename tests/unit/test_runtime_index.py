"""The runtime index (server/runtime_index.py): exact, saved plain, and changing nothing.

Three checks: the indexed lists answer every thread's records exactly as a scan
of the whole list does, after any sequence of changes (a property test); the
store indexes the lists the runtime assigns and saves plain lists; and the real
in-memory runtime's operations, scoped, give the same answers and leave the same
store as the stock ones, on one script of thread and run operations (including
the paths the index leaves to the stock code: rollback, deletes). The served
suite runs with the index installed (``runtime index installed`` in its log,
checked by tests/integration/test_fence_served.py).
"""

from __future__ import annotations

import asyncio
import pickle
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.common import fence
from server import runtime_index, wake
from server.runtime_index import RunList, ThreadList
from tests.unit.runtime_helpers import ASSISTANT, collect, fresh

THREADS = [uuid.UUID(int=n) for n in range(1, 5)]


def _record(n: int, thread: int, status: str = "pending") -> dict[str, Any]:
    return {"run_id": n, "thread_id": THREADS[thread], "status": status}


STATUSES = ["pending", "running", "success"]
records = st.builds(
    _record, st.integers(0, 10**6), st.integers(0, len(THREADS) - 1), st.sampled_from(STATUSES)
)
changes = st.one_of(
    st.tuples(st.just("append"), records),
    st.tuples(st.just("set"), st.integers(-8, 8), records),
    st.tuples(st.just("pop"), st.integers(-8, 8)),
    st.tuples(st.just("del"), st.integers(-8, 8)),
    st.tuples(st.just("insert"), st.integers(-8, 8), records),
    st.tuples(st.just("extend"), st.lists(records, max_size=3)),
    st.tuples(st.just("slice"), st.lists(records, max_size=3)),
    st.tuples(st.just("reverse")),
    st.tuples(st.just("clear")),
    st.tuples(st.just("lookup"), st.integers(0, len(THREADS) - 1)),
    st.tuples(st.just("leave pending"), st.integers(-8, 8), st.sampled_from(STATUSES[1:])),
    st.tuples(st.just("retry"), st.integers(-8, 8)),
    st.tuples(st.just("replace"), st.integers(-8, 8)),
)


def _apply(lst: list[dict[str, Any]], change: tuple[Any, ...]) -> None:
    kind, *args = change
    if kind in ("set", "pop", "del", "leave pending", "retry", "replace") and not lst:
        return
    if kind == "append":
        lst.append(args[0])
    elif kind == "set":
        lst[args[0] % len(lst)] = args[1]
    elif kind == "pop":
        lst.pop(args[0] % len(lst))
    elif kind == "del":
        del lst[args[0] % len(lst)]
    elif kind == "insert":
        lst.insert(args[0], args[1])
    elif kind == "extend":
        lst.extend(args[0])
    elif kind == "slice":
        lst[1:2] = args[0]
    elif kind == "reverse":
        lst.reverse()
    elif kind == "clear":
        lst.clear()
    elif kind == "lookup" and isinstance(lst, RunList | ThreadList):
        lst.of(THREADS[args[0]])  # builds the index mid-way
        if isinstance(lst, RunList):
            lst.pending()  # and the set of pending runs
    elif kind == "leave pending":  # what starting, finishing or cancelling a run does
        lst[args[0] % len(lst)]["status"] = args[1]
    elif kind == "replace":  # what a scoped Threads.patch does (by record, not position)
        old = lst[args[0] % len(lst)]
        new = {**old, "patched": True}
        if isinstance(lst, ThreadList):
            lst.replace(old, new)
        else:
            lst[args[0] % len(lst)] = new
    elif kind == "retry":  # what Runs.set_status(run_id, "pending") does, noted by the patch
        lst[args[0] % len(lst)]["status"] = "pending"
        if isinstance(lst, RunList):
            lst.note_pending()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(records, max_size=6),
    st.lists(changes, max_size=25),
    st.sampled_from([ThreadList, RunList]),
)
def test_an_indexed_list_answers_what_a_scan_of_it_finds(start, script, kind):
    lst = kind(start)
    plain = [dict(r) for r in start]  # its own records: in-place changes are applied to both
    for change in script:
        _apply(lst, change)
        _apply(plain, change)
        assert list(lst) == plain
        for thread in [*THREADS, uuid.UUID(int=99)]:
            found = lst.of(thread)
            assert found == [r for r in plain if r["thread_id"] == thread]
            scanned = [r for r in lst if r["thread_id"] == thread]
            assert all(a is b for a, b in zip(found, scanned, strict=True))
        if isinstance(lst, RunList):
            assert lst.pending() == [r for r in lst if r["status"] == "pending"]


thread_changes = st.tuples(
    st.sampled_from(["replace thread", "drop thread", "add thread"]), st.integers(0, 3)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=6), st.lists(st.one_of(changes, thread_changes), max_size=25))
def test_the_queue_view_holds_every_pending_thread_and_only_current_records(start, script):
    runs = RunList(start)
    threads = ThreadList({"thread_id": t, "n": 0} for t in THREADS)
    store = {"runs": runs, "threads": threads}
    view = runtime_index.QueueView()
    for change in script:
        kind, n = change[0], change[-1]
        if kind == "replace thread" and threads.of(THREADS[n]):
            old = threads.of(THREADS[n])[0]
            threads.replace(old, {**old, "n": old["n"] + 1})  # what Threads.patch does
        elif kind == "drop thread" and threads.of(THREADS[n]):
            threads.remove(threads.of(THREADS[n])[0])
        elif kind == "add thread":
            threads.append({"thread_id": THREADS[n], "n": 0})
        elif kind not in ("replace thread", "drop thread"):
            _apply(runs, change)
        waiting = {r["thread_id"] for r in runs if r["status"] == "pending"}
        for whole in (runs, threads):
            seen = view.slice(store, whole)
            assert view.slice(store, whole) is seen  # kept while nothing changes
            assert all(any(r is x for x in whole) for r in seen)  # only what the list holds
            wanted = [r for r in whole if r["thread_id"] in waiting]
            assert all(any(r is x for x in seen) for r in wanted)  # every pending thread's


def test_saved_lists_are_plain_lists():
    runs = RunList([_record(1, 0)])
    loaded = pickle.loads(pickle.dumps({"runs": runs}, 2))
    assert type(loaded["runs"]) is list and loaded["runs"] == [_record(1, 0)]


class Store(dict[str, Any]):
    """A dict subclass like the runtime's store (an instance dict, so its class can change)."""


def test_the_store_indexes_the_lists_the_runtime_assigns():
    store = Store(threads=[_record(1, 0)], runs=[], crons=[])
    runtime_index.patch_store(store)
    try:
        assert type(store["threads"]) is ThreadList and type(store["runs"]) is RunList
        store["runs"] = [_record(2, 1)]  # what Threads.delete does
        assert type(store["runs"]) is RunList and store["runs"].of(THREADS[1]) == [_record(2, 1)]
        store["crons"] = []
        assert type(store["crons"]) is list
        assert isinstance(store, Store)
    finally:
        runtime_index.unpatch_store(store)
    assert type(store) is Store and type(store["runs"]) is list and type(store["threads"]) is list


# -- the real runtime's operations, scoped and stock ------------------------------------------


async def script(ops: Any, store: Any) -> list[Any]:
    """Thread and run operations through the runtime; what each answered."""
    conn = fresh(store)
    threads = [uuid.UUID(int=100 + n) for n in range(6)]
    runs = [[uuid.UUID(int=1000 + 10 * n + k) for k in range(3)] for n in range(6)]
    answers: list[Any] = []

    async def put_run(t: int, k: int, **options: Any) -> None:
        defaults = {"metadata": {}, "prevent_insert_if_inflight": True, "if_not_exists": "reject"}
        answers.append(
            await collect(
                ops.Runs.put(
                    conn,
                    ASSISTANT,
                    {"input": {"t": t}},
                    thread_id=threads[t],
                    run_id=runs[t][k],
                    **(defaults | options),
                )
            )
        )

    async def take(limit: int) -> None:
        """The queue takes up to ``limit`` runs (with the wake installed: from the view)."""
        wake.WAKER.scanned_at = time.monotonic()  # a scan of every run just happened
        answers.append([(r["run_id"], n) async for r, n in ops.Runs.next(wait=False, limit=limit)])

    for t in range(5):  # thread 5 is created by a run (if_not_exists="create")
        answers.append(
            await collect(ops.Threads.put(conn, threads[t], metadata={"t": t}, if_exists="raise"))
        )
    for t in range(6):
        await put_run(t, 0, if_not_exists="create")
    await put_run(1, 1)  # thread 1 has a pending run: the inflight one comes back
    await take(2)  # the two oldest pending runs start
    await put_run(0, 2, multitask_strategy="enqueue", prevent_insert_if_inflight=False)
    await take(10)  # every other pending run starts; thread 0's new one waits for its first
    done = {"next": [], "values": {"ok": True}, "tasks": []}
    paused = {
        "next": ["ask"],
        "values": {},
        "tasks": [{"id": "task", "interrupts": [{"value": 1, "id": "i"}]}],
    }
    await ops.Threads.set_joint_status(conn, threads[0], runs[0][0], "success", "g", done)
    await ops.Threads.set_joint_status(conn, threads[1], runs[1][0], "interrupted", "g", paused)
    await ops.Threads.set_joint_status(conn, threads[2], runs[2][0], "rollback", "g", None)
    await ops.Threads.set_joint_status(
        conn, threads[3], runs[3][0], "error", "g", None, ValueError("boom")
    )
    await put_run(0, 1)
    await put_run(1, 2, multitask_strategy="enqueue", prevent_insert_if_inflight=False)
    await take(10)  # every pending run whose thread has none running
    await take(10)  # nothing left to take
    for t in range(6):
        answers.append(await collect(ops.Threads.get(conn, threads[t])))
        answers.append(await collect(ops.Runs.get(conn, runs[t][0], thread_id=threads[t])))
    answers.append(
        await collect(ops.Runs.get(conn, runs[0][0], thread_id=threads[1]))
    )  # not its thread
    answers.append(await collect(ops.Threads.patch(conn, threads[4], metadata={"x": 1})))
    answers.append(await collect(ops.Threads.patch(conn, threads[4], metadata={"y": 2})))
    answers.append(
        await collect(ops.Threads.put(conn, threads[4], metadata={}, if_exists="do_nothing"))
    )
    answers.append(await collect(ops.Threads.delete(conn, threads[3])))
    answers.append(await collect(ops.Runs.delete(conn, runs[0][2], thread_id=threads[0])))
    await put_run(4, 1)
    with pytest.raises(Exception, match="not found"):
        await ops.Threads.get(conn, threads[3])
    answers.append({key: store[key] for key in ("threads", "runs")})
    return answers


def _plain(value: Any) -> Any:
    """``value`` without its clock readings and with its exceptions as their text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, datetime)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, BaseException):
        return repr(value)
    return value


def test_scoped_operations_answer_and_store_what_the_stock_ones_do(runtime, monkeypatch):
    ops, store = runtime
    stock = _plain(asyncio.run(script(ops, store)))
    wake.patch_classes(ops.Runs, ops.Threads)
    runtime_index.patch_store(store)
    runtime_index.patch_classes(ops.Runs, ops.Threads)
    assert runtime_index.active()
    assert type(store["runs"]) is RunList
    monkeypatch.setattr(runtime_index, "_STORE", store)  # what install() records
    seen: list[bool] = []
    real_view = runtime_index.queue_view
    monkeypatch.setattr(runtime_index, "queue_view", lambda on: seen.append(on) or real_view(on))
    skips = wake.WAKER.skips
    indexed = _plain(asyncio.run(script(ops, store)))
    assert seen and all(seen)  # every scan of the queue read the view ...
    assert wake.WAKER.skips == skips + 1  # ... but the last, skipped: nothing was pending
    assert type(store["runs"]) is RunList and type(store["threads"]) is ThreadList
    assert indexed == stock
    final = indexed[-1]
    # 6 threads, one deleted; 10 runs put, 3 refused as inflight, 1 rolled back, 2 deleted.
    assert len(final["threads"]) == 5 and len(final["runs"]) == 5


def test_installs_behind_the_fence_and_can_be_switched_off(runtime, monkeypatch):
    ops, store = runtime
    stock_put = ops.Runs.__dict__["put"]
    monkeypatch.setenv("HITL_RUNTIME_INDEX", "0")
    assert runtime_index.install() is False and not runtime_index.active()
    monkeypatch.delenv("HITL_RUNTIME_INDEX")
    real = fence.installed
    monkeypatch.setattr(
        fence, "installed", lambda p: "0.99.0" if p == "langgraph-runtime-inmem" else real(p)
    )
    assert runtime_index.install() is False and ops.Runs.__dict__["put"] is stock_put
    monkeypatch.setattr(fence, "installed", real)
    monkeypatch.setenv("BG_JOB_ISOLATED_LOOPS", "true")  # runs on other threads: no index
    assert runtime_index.install() is False and ops.Runs.__dict__["put"] is stock_put
    monkeypatch.delenv("BG_JOB_ISOLATED_LOOPS")
    assert runtime_index.install() is True and runtime_index.active()
    assert type(store["threads"]) is ThreadList
    runtime_index.uninstall()
    assert ops.Runs.__dict__["put"] is stock_put and type(store["threads"]) is list


def test_metadata_merges_as_the_stock_patch_does_without_copying_the_record(runtime):
    ops, store = runtime
    conn = fresh(store)
    stock_id, merged_id = uuid.UUID(int=201), uuid.UUID(int=202)

    async def put(thread_id: uuid.UUID) -> dict[str, Any]:
        await collect(
            ops.Threads.put(conn, thread_id, metadata={"owner": "alice"}, if_exists="raise")
        )
        (thread,) = [t for t in store["threads"] if t["thread_id"] == thread_id]
        thread["values"] = {"trail": [{"decision": "approve"}]}  # what a run leaves
        return thread

    asyncio.run(put(stock_id))
    assert runtime_index.merge_metadata(merged_id, {"x": 1}) is None  # not installed
    runtime_index.install()
    old = asyncio.run(put(merged_id))
    asyncio.run(collect(ops.Threads.patch(conn, stock_id, metadata={"waiting_for": "manager"})))
    assert runtime_index.merge_metadata(str(merged_id), {"waiting_for": "manager"}) is True
    stock, merged = (
        next(t for t in store["threads"] if t["thread_id"] == key) for key in (stock_id, merged_id)
    )
    assert {k: v for k, v in _plain(merged).items() if k != "thread_id"} == {
        k: v for k, v in _plain(stock).items() if k != "thread_id"
    }
    assert set(merged) == set(stock) and merged["metadata"]["waiting_for"] == "manager"
    assert merged is not old and "waiting_for" not in old["metadata"]  # a reader's copy stays
    assert merged["updated_at"] > old["updated_at"] == merged["state_updated_at"]
    assert runtime_index.merge_metadata(uuid.UUID(int=203), {"x": 1}) is False
