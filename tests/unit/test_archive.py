"""The archive (server/archive.py): which threads qualify, its settings, the sweep's order
and its crash rule, who reads a row; ``may_see`` against the runtime's own filter."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from graphs.common import store
from server import archive
from server.auth import may_see, visible

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TRAIL = [{"level": 1, "role": "manager", "decision": "approve", "approver": "bob"}]


def thread(
    thread_id: str,
    *,
    status: str = "idle",
    hours_ago: float = 48,
    values: Any = None,
    interrupts: Any = None,
    **metadata: Any,
) -> dict[str, Any]:
    """A runtime thread record as the runtime keeps it (datetimes, interrupts by task)."""
    return {
        "thread_id": thread_id,
        "status": status,
        "created_at": NOW - timedelta(hours=hours_ago + 1),
        "updated_at": NOW - timedelta(hours=hours_ago),
        "metadata": {"graph_id": "expense_approval", "owner": "alice", **metadata},
        "values": {"status": "approved", "audit": TRAIL} if values is None else values,
        "interrupts": interrupts or {},
    }


PAUSE = {"task-1": [{"id": "p1", "value": {"role": "manager"}}]}


# -- settings -------------------------------------------------------------------------------


def test_settings_default_to_a_day_and_a_minute():
    assert archive.settings({}) == archive.Settings(after_hours=24.0, sweep_seconds=60.0)
    assert archive.settings({archive.AFTER_HOURS: " ", archive.SWEEP_SECONDS: ""}) == (
        archive.Settings()
    )


def test_settings_take_numbers_and_zero_hours():
    got = archive.settings({archive.AFTER_HOURS: "0", archive.SWEEP_SECONDS: "1"})
    assert got == archive.Settings(after_hours=0.0, sweep_seconds=1.0)
    assert archive.settings({archive.AFTER_HOURS: "0.5"}).after_hours == 0.5


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        (archive.AFTER_HOURS, "-1"),
        (archive.AFTER_HOURS, "a day"),
        (archive.AFTER_HOURS, "nan"),
        (archive.AFTER_HOURS, "inf"),
        (archive.SWEEP_SECONDS, "0"),
        (archive.SWEEP_SECONDS, "-5"),
        (archive.SWEEP_SECONDS, "often"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(name, raw):
    with pytest.raises(ValueError, match=name) as refused:
        archive.settings({name: raw})
    assert repr(raw) in str(refused.value)


# -- the selection rule ------------------------------------------------------------------------


def test_a_decided_thread_past_the_window_qualifies():
    assert archive.qualifies(thread("t"), NOW, 24)
    assert archive.qualifies(thread("t", hours_ago=0), NOW, 0)  # 0: at the next sweep


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (thread("t", hours_ago=23), "inside the window"),
        (thread("t", status="interrupted", interrupts=PAUSE), "a pending approval"),
        (thread("t", status="interrupted", hours_ago=10_000), "pending, however old"),
        (thread("t", status="busy"), "a run under way"),
        (thread("t", status="error"), "failed: a person looks at it"),
        (thread("t", interrupts=PAUSE), "idle but an interrupt is pending"),
        (thread("t", values={}), "never ran"),
    ],
)
def test_what_never_qualifies(record, why):
    assert not archive.qualifies(record, NOW, 24), why


def test_a_checkpoint_with_work_or_a_pause_left_is_not_finished():
    assert archive.finished_state({"values": {"a": 1}, "next": [], "tasks": []})
    assert not archive.finished_state({"next": ["approve"], "tasks": []})
    paused = {"next": [], "tasks": [{"interrupts": [{"id": "p1", "value": {}}]}]}
    assert not archive.finished_state(paused)


def test_a_row_completes_who_answered_from_the_trail():
    row = archive.row_of(thread("t", waiting_for="manager"), {"status": "approved", "audit": TRAIL})
    metadata = json.loads(row["metadata"])
    assert metadata["answered_by"] == ["bob"] and metadata["waiting_for"] is None
    assert (row["owner"], row["workflow"], row["outcome"]) == (
        "alice",
        "expense_approval",
        "approved",
    )
    assert row["decided_at"] == NOW - timedelta(hours=48)
    assert archive.row_of(thread("t"), {"audit": []})["outcome"] == "finished"


# -- may_see is visible()'s rule -------------------------------------------------------------


class User:
    def __init__(self, identity: str, role: str) -> None:
        self.identity = identity
        self.role = role

    def __getitem__(self, key: str) -> str:
        return {"role": self.role}[key]


ABSENT = object()
USERS = [
    ("alice", "employee"),
    ("frank", "employee"),
    ("bob", "manager"),
    ("carol", "finance"),
    ("dave", "director"),
    ("erin", "admin"),
]


def metadata_cases():
    owners = [ABSENT, None, "alice", "bob", "erin"]
    waits = [ABSENT, None, "manager", "finance", "admin", "employee", "user:alice", "user:bob"]
    answered = [ABSENT, [], ["bob"], ["carol", "dave"], "bob", ["erin", "frank"]]
    for owner, waiting, who in itertools.product(owners, waits, answered):
        found = {"graph_id": "expense_approval"}
        for key, value in (("owner", owner), ("waiting_for", waiting), ("answered_by", who)):
            if value is not ABSENT:
                found[key] = value
        yield found


@pytest.mark.usefixtures("inside_a_server")
def test_may_see_agrees_with_the_runtimes_filter_of_visible():
    from langgraph_runtime_inmem.ops import _check_filter_match  # noqa: PLC0415

    compared = seen = 0
    for metadata in metadata_cases():
        for identity, role in USERS:
            ctx = SimpleNamespace(user=User(identity, role))
            expected = _check_filter_match(metadata, visible(ctx))
            assert may_see(identity, role, metadata) == expected, (identity, role, metadata)
            compared += 1
            seen += expected
    assert compared == 5 * 8 * 6 * len(USERS) and 0 < seen < compared
    assert not may_see("alice", "employee", None)


# -- the sweep, over a fake runtime and a real store ------------------------------------------


class FakeRuntime:
    """What the sweeper asks of the runtime, in memory; removals can be made to fail."""

    def __init__(self, *threads: dict[str, Any]) -> None:
        self.threads = {t["thread_id"]: t for t in threads}
        self.states: dict[str, dict[str, Any]] = {}
        self.failures = 0
        self.touch_before_removal: set[str] = set()
        self.removed: list[str] = []

    async def oldest_idle(self, offset: int, limit: int) -> list[dict[str, Any]]:
        idle = [t for t in self.threads.values() if t["status"] == "idle"]
        idle.sort(key=lambda t: t["updated_at"])
        return [dict(t) for t in idle[offset : offset + limit]]

    async def every_thread(self) -> list[dict[str, Any]]:
        return [dict(t) for t in self.threads.values()]

    async def final_values(self, thread_id: str) -> dict[str, Any] | None:
        record = self.threads[thread_id]
        state = self.states.get(thread_id, {"values": record["values"], "next": [], "tasks": []})
        if thread_id in self.touch_before_removal:  # a write lands after the sweep read it
            record["updated_at"] = NOW
        return dict(state["values"]) if archive.finished_state(state) else None

    async def remove(self, thread_id: str, seen: datetime | None) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the runtime's delete failed")
        record = self.threads.get(thread_id)
        if record is None:
            return True
        if not archive.settled(record) or (seen is not None and record["updated_at"] != seen):
            return False
        del self.threads[thread_id]
        self.removed.append(thread_id)
        return True


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


def rows(url: str) -> dict[str, Any]:
    with store.engine(url).connect() as conn:
        return {r.thread_id: r for r in conn.execute(select(store.archive))}


def sweep(runtime: FakeRuntime, url: str, after_hours: float = 24) -> int:
    return asyncio.run(archive.sweep_once(runtime, after_hours, now=NOW, url=url))


def test_a_sweep_archives_decided_threads_only(url):
    runtime = FakeRuntime(
        thread("decided"),
        thread("recent", hours_ago=1),
        thread("pending", status="interrupted", interrupts=PAUSE, hours_ago=10_000),
        thread("failed", status="error"),
        thread("cut-short"),  # record idle, checkpoint still paused (server.repair's)
        thread("empty", values={}),
    )
    runtime.states["cut-short"] = {"values": {}, "next": ["approve"], "tasks": []}
    assert sweep(runtime, url) == 1
    assert runtime.removed == ["decided"]
    assert set(runtime.threads) == {"recent", "pending", "failed", "cut-short", "empty"}
    (row,) = rows(url).values()
    assert row.thread_id == "decided" and json.loads(row.record)["audit"] == TRAIL
    assert sweep(runtime, url) == 0  # nothing else qualifies, however often it looks


def test_many_threads_are_archived_across_pages(url, monkeypatch):
    monkeypatch.setattr(archive, "PAGE", 3)
    runtime = FakeRuntime(
        *(thread(f"d{i}", hours_ago=48 + i) for i in range(8)),
        *(thread(f"p{i}", status="interrupted", interrupts=PAUSE) for i in range(2)),
        thread("cut-short", hours_ago=100),
        thread("recent", hours_ago=1),
    )
    runtime.states["cut-short"] = {"values": {}, "next": ["approve"], "tasks": []}
    assert sweep(runtime, url) == 8
    assert set(rows(url)) == {f"d{i}" for i in range(8)}


def test_a_failed_removal_keeps_the_row_and_the_next_sweep_finishes_once(url):
    runtime = FakeRuntime(thread("decided"))
    runtime.failures = 1
    assert sweep(runtime, url) == 0
    first = rows(url)["decided"]  # step 1 happened and was committed; step 2 failed
    assert "decided" in runtime.threads
    assert sweep(runtime, url) == 1
    assert "decided" not in runtime.threads
    again = rows(url)
    assert list(again) == ["decided"] and again["decided"].archived_at == first.archived_at


def test_start_up_removes_what_a_crash_left_archived_whatever_the_window(url):
    runtime = FakeRuntime(thread("decided", hours_ago=1), thread("pending", status="interrupted"))
    for record in runtime.threads.values():  # rows written just before a crash
        assert archive.insert_if_absent(archive.row_of(record, record["values"]), url)
    assert asyncio.run(archive.remove_archived(runtime, url)) == 1
    assert set(runtime.threads) == {"pending"}  # a pending thread is never removed
    assert not archive.insert_if_absent(archive.row_of(thread("decided"), {}), url)
    assert len(rows(url)) == 2


def test_a_thread_written_after_it_was_read_stays_and_its_row_goes(url):
    runtime = FakeRuntime(thread("decided"))
    runtime.touch_before_removal.add("decided")
    assert sweep(runtime, url) == 0
    assert "decided" in runtime.threads and rows(url) == {}


# -- reading rows --------------------------------------------------------------------------------


def archived(url: str, *records: dict[str, Any]) -> None:
    for record in records:
        assert archive.insert_if_absent(archive.row_of(record, record["values"]), url)


def test_who_reads_which_row(url):
    archived(
        url,
        thread("alices", hours_ago=30),
        thread("franks", hours_ago=20, owner="frank", answered_by=["carol"]),
        thread("erins", hours_ago=10, owner="erin"),
    )
    one = archive.read_one("alices", "alice", "employee", url)
    assert set(one) == {
        "thread_id", "status", "metadata", "values", "created_at", "updated_at", "interrupts",
        "archived_at",
    }  # fmt: skip
    assert (one["status"], one["interrupts"], one["values"]["audit"]) == ("idle", {}, TRAIL)
    assert datetime.fromisoformat(one["updated_at"]) == NOW - timedelta(hours=30)
    assert archive.read_one("alices", "bob", "manager", url)["thread_id"] == "alices"  # answered
    for identity, role in (("frank", "employee"), ("carol", "finance")):
        with pytest.raises(LookupError):
            archive.read_one("alices", identity, role, url)
    with pytest.raises(LookupError):
        archive.read_one("missing", "alice", "employee", url)
    assert archive.read_one("franks", "erin", "admin", url)["thread_id"] == "franks"

    def ids(*args: Any, **kw: Any) -> list[str]:
        return [t["thread_id"] for t in archive.read_page(*args, url=url, **kw)]

    assert ids("alice", "employee") == ["alices"]
    assert ids("frank", "employee") == ["franks"]
    assert ids("carol", "finance") == ["franks"]  # she answered it
    assert ids("bob", "manager") == ["erins", "franks", "alices"]  # newest decided first
    assert ids("bob", "manager", 1, 1) == ["franks"]
    assert ids("erin", "admin") == ["erins"]  # her own view: what may_see allows
    assert ids("erin", "admin", everything=True) == ["erins", "franks", "alices"]
    assert ids("erin", "admin", 5, 2, everything=True) == ["alices"]


def test_the_visibility_query_is_not_fooled_by_like_wildcards(url):
    archived(url, thread("x", owner="a_b"))
    assert [t["thread_id"] for t in archive.read_page("a_b", "employee", url=url)] == ["x"]
    assert archive.read_page("a%", "employee", url=url) == []
    assert archive.read_page("aXb", "employee", url=url) == []


def test_counting_rows_is_one_per_thread(url):
    archived(url, thread("t"))
    assert not archive.insert_if_absent(archive.row_of(thread("t"), {"status": "x"}), url)
    with store.engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.archive)).scalar() == 1
