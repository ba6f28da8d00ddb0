"""A failing metadata write over a real ``langgraph dev``: the run still pauses, and the
pause is listed once the write recovers (or once the sweep finds a write that was lost).

The fault is the test's, not the product's: a ``sitecustomize`` module on the server's
``PYTHONPATH`` (a temporary directory) wraps the write into the runtime's thread record
under the listener's ``server.threads.write_metadata``, so that its ``waiting_for``
writes time out while a marker file says ``fail``, or vanish once (the store answered,
nothing was written) when it says ``drop``.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import TOKENS, DevServer
from tests.conftest import eventually, run_cli

pytestmark = pytest.mark.integration

FAULT_HOOK = textwrap.dedent(
    """
    import asyncio
    import os

    from server import threads

    MARKER = os.environ["HITL_TEST_METADATA_FAULT"]
    write = threads._patch

    def fault():
        if not os.path.exists(MARKER):
            return ""
        with open(MARKER) as marker:
            mode = marker.read().strip()
        if mode == "drop":  # once
            os.remove(MARKER)
        return mode

    async def faulty_write(thread_id, metadata):
        # off the loop: the dev server refuses blocking calls inside async code
        mode = await asyncio.to_thread(fault) if "waiting_for" in (metadata or {}) else ""
        if mode == "drop":  # the store answered; nothing was written
            return
        if mode == "fail":
            await asyncio.sleep(1.0)  # a slow store, then a timeout
            raise TimeoutError("metadata store timed out (test fault)")
        await write(thread_id, metadata)

    threads._patch = faulty_write
    """
)


class Served:
    def __init__(self, server: DevServer, marker: Path) -> None:
        self.server = server
        self.marker = marker

    def sdk(self, user: str) -> Any:
        return get_sync_client(
            url=self.server.url, headers={"Authorization": f"Bearer {TOKENS[user]}"}
        )

    def inbox(self, user: str) -> set[str]:
        response = httpx.get(
            f"{self.server.url}/inbox/api/items",
            headers={"Authorization": f"Bearer {TOKENS[user]}"},
            timeout=30,
        )
        response.raise_for_status()
        return {item["thread_id"] for item in response.json()}

    def pending(self, user: str) -> set[str]:
        proc = run_cli(self.server.url, "pending", json_output=True, user=user)
        assert proc.returncode == 0, proc.stderr
        return {outcome["thread_id"] for outcome in proc.data}

    def submit(self, amount: float, description: str) -> tuple[str, dict[str, Any]]:
        alice = self.sdk("alice")
        thread_id = alice.threads.create()["thread_id"]
        result = alice.runs.wait(
            thread_id,
            "expense_approval",
            input={"amount": amount, "description": description},
            raise_error=False,
        )
        return thread_id, result


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    hooks = tmp_path_factory.mktemp("fault-hook")
    (hooks / "sitecustomize.py").write_text(FAULT_HOOK)
    marker = hooks / "fault"
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "HITL_TEST_METADATA_FAULT": str(marker)}
    with DevServer(env=env) as server:
        yield Served(server, marker)


def test_a_pause_pauses_while_its_metadata_write_fails(served):
    served.marker.write_text("fail")
    try:
        thread_id, result = served.submit(500, "Write fails")

        assert "__interrupt__" in result, result
        alice = served.sdk("alice")
        thread = alice.threads.get(thread_id)
        assert thread["status"] == "interrupted"
        assert [r["status"] for r in alice.runs.list(thread_id)] == ["success"]
        assert "waiting_for" not in thread["metadata"]  # the fault is real: nothing written
        assert thread_id not in served.inbox("bob")
        time.sleep(1.5)  # a few failed attempts later, still paused and still unlisted
        assert alice.threads.get(thread_id)["status"] == "interrupted"
        assert thread_id not in served.inbox("bob")
    finally:
        served.marker.unlink(missing_ok=True)

    def listed():
        """the pause in bob's inbox after the write recovered"""
        return thread_id in served.inbox("bob")

    eventually(listed, timeout=40, interval=0.5)
    assert thread_id in served.pending("bob")
    assert served.sdk("alice").threads.get(thread_id)["metadata"]["waiting_for"] == "manager"
    assert "metadata write failed (attempt" in served.server.log_tail(400)

    bob = served.sdk("bob")
    final = bob.runs.wait(
        thread_id, "expense_approval", command={"resume": {"decision": "approved"}}
    )
    assert final["status"] == "approved"
    assert "bob" in bob.threads.get(thread_id)["metadata"]["answered_by"]
    assert thread_id not in served.inbox("bob")


def test_a_lost_write_is_reconciled_by_the_sweep(served):
    served.marker.write_text("drop")
    thread_id, result = served.submit(600, "Write lost")
    assert "__interrupt__" in result, result
    eventually(lambda: not served.marker.exists(), timeout=5)  # the listener's write is lost

    def listed():
        """the pause in bob's inbox after the sweep reconciled it"""
        return thread_id in served.inbox("bob")

    eventually(listed, timeout=20, interval=0.3)
    assert thread_id in served.pending("bob")
    assert f"thread {thread_id}: metadata reconciled" in served.server.log_tail(400)
