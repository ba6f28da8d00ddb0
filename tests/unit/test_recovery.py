"""Start-up recovery's pure parts, and its refusal on versions it was not written for."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from langgraph.checkpoint.base.id import uuid6

from graphs.common import fence
from server import recovery


@pytest.mark.parametrize(
    ("package", "entry"),
    [
        ("langgraph-runtime-inmem", "recovery-runtime-records"),
        ("langgraph-checkpoint-sqlite", "sqlite-checkpoint-tables"),
    ],
)
def test_recovery_refuses_to_run_on_versions_it_was_not_written_for(
    package, entry, monkeypatch, tmp_path
):
    # The supported versions themselves: tests/unit/test_fence.py.
    assert entry in recovery.FENCED
    real = fence.installed
    monkeypatch.setattr(fence, "installed", lambda p: "0.0.1" if p == package else real(p))
    # No client: recovery must refuse before it touches anything.
    with pytest.raises(fence.Unsupported, match=f"{package} is 0.0.1"):
        asyncio.run(recovery.recover(None, tmp_path / "checkpoints.sqlite"))


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
