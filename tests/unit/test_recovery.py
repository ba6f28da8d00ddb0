"""Start-up recovery's pure parts, and its fence on the runtime it was written for."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from langgraph.checkpoint.base.id import uuid6

from server import recovery


def test_recovery_is_fenced_to_the_runtime_it_was_written_for():
    assert recovery.versions() == recovery.SUPPORTED, (
        "server/recovery.py reads the embedded runtime's thread records and the SQLite "
        f"checkpointer's tables; it was written for {recovery.SUPPORTED}, this is "
        f"{recovery.versions()}. Re-run tests/integration/test_reconcile.py and "
        "test_crash_recovery.py, check the README's recovery guarantees, then update SUPPORTED."
    )


def test_checkpoint_ids_tell_when_they_were_written():
    before = datetime.now(UTC)
    checkpoint_id = str(uuid6())
    time.sleep(0.01)
    written = recovery.checkpoint_time(checkpoint_id)
    assert before <= written <= datetime.now(UTC)


def test_owned_metadata_comes_from_the_checkpoint():
    thread = {
        "metadata": {"owner": "alice", "answered_by": ["bob"], "waiting_for": "manager"},
        "values": {
            "audit": [
                {"approver": "bob", "decision": "approve"},
                {"approver": "system", "decision": "expire"},
                {"approver": "carol", "decision": "approve"},
            ]
        },
        "interrupts": {
            "t1": [{"id": "a", "value": {"user": "alice"}}],
            "t2": [{"id": "b", "value": {"role": "director"}}],
        },
    }
    assert recovery.owned_metadata(thread, recovery.ThreadRecord()) == {
        "owner": "alice",
        "waiting_for": "director",
        "answered_by": ["bob", "carol"],
    }
    done = {"metadata": {}, "values": {}, "interrupts": {}}
    record = recovery.ThreadRecord(metadata={"owner": "frank"})
    assert recovery.owned_metadata(done, record) == {
        "owner": "frank",
        "waiting_for": None,
        "answered_by": [],
    }
