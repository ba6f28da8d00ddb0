"""Archiving over a real server (issue 24): a decided request leaves the runtime and stays
readable; a pending one never leaves; a crash between the archive row and the removal
archives the thread once.

The servers here archive at the next sweep (``HITL_ARCHIVE_AFTER_HOURS=0``) and sweep
every second; the crash test's server archives nothing by age (a window of years), so
only its start-up rule (a thread with an archive row leaves the runtime) acts.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import DevServer
from server import archive
from tests.conftest import TOKENS, eventually, run_cli

pytestmark = pytest.mark.integration

AT_ONCE = {
    "HITL_ARCHIVE_AFTER_HOURS": "0",
    "HITL_ARCHIVE_SWEEP_SECONDS": "1",
    "LOG_LEVEL": "INFO",  # langgraph-api's own lines about the checkpointer
}
NEVER_BY_AGE = {"HITL_ARCHIVE_AFTER_HOURS": "100000", "HITL_ARCHIVE_SWEEP_SECONDS": "1"}


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(env=AT_ONCE) as dev:
        yield dev


def hitl(server, *args, user="alice"):
    proc = run_cli(server.url, *args, json_output=True, user=user)
    assert proc.returncode == 0, proc.stderr
    return proc.data


def get(server, path: str, user: str, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKENS[user]}"}
    return httpx.get(f"{server.url}{path}", headers=headers, params=params, timeout=30)


def in_runtime(server, thread_id: str, user: str = "alice") -> bool:
    sdk = get_sync_client(url=server.url, headers={"Authorization": f"Bearer {TOKENS[user]}"})
    try:
        sdk.threads.get(thread_id)
    except httpx.HTTPStatusError as exc:
        assert exc.response.status_code == 404, exc.response.text
        return False
    return True


def rows(server, thread_id: str) -> int:
    with sqlite3.connect(server.data_dir / "ledger.sqlite") as conn:
        query = "SELECT COUNT(*) FROM archive WHERE thread_id = ?"
        return conn.execute(query, (thread_id,)).fetchone()[0]


def checkpoints(server, thread_id: str) -> int:
    with sqlite3.connect(server.data_dir / "checkpoints.sqlite") as conn:
        query = "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?"
        return conn.execute(query, (thread_id,)).fetchone()[0]


def decided(server) -> str:
    """Alice's expense of 500, approved by bob (with a note): its thread id."""
    submitted = hitl(server, "submit", "--amount", "500", "--description", "Conference ticket")
    thread_id = submitted["thread_id"]
    done = hitl(server, "resume", thread_id, "approve", "--note", "Q4 budget", user="bob")
    assert done["values"]["status"] == "approved"
    return thread_id


def test_a_decided_request_leaves_the_runtime_and_stays_readable(server):
    thread_id = decided(server)

    def archived() -> bool:
        """the decided thread has left the runtime"""
        return not in_runtime(server, thread_id)

    eventually(archived, timeout=30)
    assert rows(server, thread_id) == 1
    assert checkpoints(server, thread_id) == 0  # its checkpoints went with it
    assert "moved to the archive" in server.log_tail(400)

    mine = get(server, f"/archive/{thread_id}", "alice")
    assert mine.status_code == 200, mine.text
    record = mine.json()
    assert (record["thread_id"], record["status"], record["interrupts"]) == (thread_id, "idle", {})
    assert record["archived_at"] and record["created_at"] <= record["updated_at"]
    assert record["metadata"]["owner"] == "alice" and "bob" in record["metadata"]["answered_by"]
    assert record["values"]["status"] == "approved"
    (entry,) = record["values"]["audit"]
    assert (entry["approver"], entry["decision"], entry["note"]) == ("bob", "approve", "Q4 budget")

    history = {h["thread_id"]: h for h in get(server, "/inbox/api/history", "alice").json()}
    assert history[thread_id]["outcome"] == "approved"
    assert history[thread_id]["audit"][0]["approver"] == "bob"

    # The CLI reads the archive: history, status and the admin's audit export.
    trail = run_cli(server.url, "history", thread_id, user="alice")
    assert trail.returncode == 0, trail.stderr
    assert re.search(r"1/manager: approve by bob via cli note='Q4 budget'", trail.stdout)
    status = run_cli(server.url, "status", thread_id, user="bob")
    assert status.returncode == 0 and "archived" in status.stdout, status.stdout
    listed = run_cli(server.url, "archive", "--limit", "500", user="erin")
    assert listed.returncode == 0 and thread_id in listed.stdout, listed.stdout
    refused = run_cli(server.url, "history", thread_id, user="frank")
    assert refused.returncode != 0 and thread_id[:8] in refused.stderr, refused.stderr

    assert get(server, f"/archive/{thread_id}", "bob").status_code == 200  # he answered it
    hidden = get(server, f"/archive/{thread_id}", "frank")
    assert hidden.status_code == 404 and thread_id in hidden.json()["detail"]
    assert get(server, f"/archive/{thread_id}", "carol").status_code == 404
    assert thread_id not in {t["thread_id"] for t in get(server, "/archive", "frank").json()}
    export = get(server, "/archive", "erin", limit=500).json()  # the admin's audit export
    assert thread_id in {t["thread_id"] for t in export}

    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-erin"})
    with pytest.raises(httpx.HTTPStatusError) as gone:  # archiving is not deletion
        sdk.threads.delete(thread_id)
    assert gone.value.response.status_code == 404
    assert get(server, f"/archive/{thread_id}", "alice").status_code == 200


def test_the_archive_routes_refuse_bad_paging(server):
    for params, name in (
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ):
        refused = get(server, "/archive", "alice", **params)
        assert refused.status_code == 422 and name in refused.json()["detail"], refused.text
    unknown = get(server, "/archive", "alice", since="2026-01-01")
    assert unknown.status_code == 403 and "since" in unknown.json()["detail"]
    assert get(server, "/archive", "alice", limit="1", offset="0").status_code == 200
    assert httpx.get(f"{server.url}/archive", timeout=30).status_code == 401


def test_a_pending_request_is_never_archived_however_old(server):
    submitted = hitl(server, "submit", "--amount", "500", "--description", "Monitor")
    thread_id = submitted["thread_id"]
    time.sleep(4)  # four sweeps, each with a window of zero hours
    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
    assert sdk.threads.get(thread_id)["status"] == "interrupted"
    assert rows(server, thread_id) == 0
    assert get(server, f"/archive/{thread_id}", "alice").status_code == 404
    done = hitl(server, "resume", thread_id, "approve", user="bob")  # still answerable
    assert done["values"]["status"] == "approved"

    def archived() -> bool:
        """decided now, the thread is archived at the next sweep"""
        return not in_runtime(server, thread_id)

    eventually(archived, timeout=30)


def test_a_crash_between_the_row_and_the_removal_archives_once():
    """The row is written, then the process dies before the runtime's delete: the next
    start removes the thread, with one row, and later sweeps add none."""
    with DevServer(env=NEVER_BY_AGE) as server:
        thread_id = decided(server)
        sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
        thread, state = sdk.threads.get(thread_id), sdk.threads.get_state(thread_id)
        server.kill()  # kill -9, within the runtime's 10 s write cycle
        row = archive.row_of(thread, state["values"])  # what step 1 writes
        url = f"sqlite:///{server.data_dir / 'ledger.sqlite'}"
        assert archive.insert_if_absent(row, url)
        server.start()
        assert not in_runtime(server, thread_id)  # gone before the server answered /ok
        assert checkpoints(server, thread_id) == 0  # through the runtime's own delete
        assert "archive: 1 archived threads removed from the runtime" in server.log_tail(400)
        first = get(server, f"/archive/{thread_id}", "alice").json()
        assert first["values"]["audit"][0]["approver"] == "bob"
        time.sleep(3)  # sweeps
        server.kill()  # and again, before the runtime wrote its removal
        server.start()
        assert not in_runtime(server, thread_id)
        assert rows(server, thread_id) == 1
        again = get(server, f"/archive/{thread_id}", "alice").json()
        assert again == first  # the row is left as it is


def test_the_checkpointer_prunes_so_langgraph_api_does_not_warn(server):
    """langgraph-api warns about a custom checkpointer without ``aprune`` when it opens it."""
    decided(server)  # the checkpointer is opened on first use
    log = re.sub(r"\x1b\[[0-9;]*m", "", server.log_path.read_text(errors="replace"))
    assert "Using custom checkpointer: PruningSqliteSaver" in log
    assert "missing aprune" not in log and "missing adelete_thread" not in log


def test_a_negative_window_stops_the_server_naming_the_setting():
    server = DevServer(env={"HITL_ARCHIVE_AFTER_HOURS": "-1"})
    try:
        assert "HITL_ARCHIVE_AFTER_HOURS='-1' is refused" in server.refusal()
    finally:
        server.cleanup()
