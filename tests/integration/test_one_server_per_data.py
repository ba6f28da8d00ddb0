"""One server per data directory: a second server on the same data refuses to start."""

from __future__ import annotations

import os
import subprocess

import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import ROOT, TOKENS, DevServer

pytestmark = pytest.mark.integration


def client(server: DevServer, user: str):
    return get_sync_client(url=server.url, headers={"Authorization": f"Bearer {TOKENS[user]}"})


def test_a_second_server_on_the_same_data_refuses_and_the_first_loses_nothing():
    with DevServer() as first:
        alice = client(first, "alice")
        thread_id = alice.threads.create(metadata={"graph_id": "expense_approval"})["thread_id"]
        alice.runs.wait(
            thread_id, "expense_approval", input={"amount": 5_000, "description": "Offsite"}
        )
        second = DevServer(root=first.root)  # the same view: the same ./data
        try:
            said = second.refusal()
        finally:
            second.stop()  # not cleanup(): the directory is the first server's
        assert "another server is running on the data directory" in said, said
        assert f"pid {first.proc.pid}" in said and f":{first.port}" in said, said
        # The first one serves on, with everything it had.
        assert alice.threads.get(thread_id)["status"] == "interrupted"
        bob = client(first, "bob")
        done = bob.runs.wait(
            thread_id, "expense_approval", command={"resume": {"decision": "approve"}}
        )
        assert done["status"] == "approved"
    # Once the first has stopped, the data directory is free again.
    with DevServer() as again:
        assert client(again, "alice").threads.search(limit=1) is not None


def test_make_dev_fails_clearly_when_its_port_is_taken(server):
    """`langgraph dev` alone would move to another port, on the same data: `make dev` stops."""
    port = str(server.url.rsplit(":", 1)[1])
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "dev.sh")],
        env={**os.environ, "HITL_PORT": port},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"error: port {port} is in use" in proc.stderr and "HITL_PORT" in proc.stderr
