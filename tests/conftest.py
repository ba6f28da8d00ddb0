"""Shared fixtures: a real ``langgraph dev`` per test session, the SDK and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk import get_sync_client

from tests.devserver import ROOT, DevServer


@pytest.fixture(scope="session")
def server() -> Iterator[SimpleNamespace | DevServer]:
    """A served project. ``LANGGRAPH_TEST_URL`` points the tests at a running server."""
    if url := os.environ.get("LANGGRAPH_TEST_URL"):
        print(f"using the server at {url} (LANGGRAPH_TEST_URL)")
        yield SimpleNamespace(url=url)
        return
    dev = DevServer().start()
    try:
        yield dev
    finally:
        dev.cleanup()


@pytest.fixture
def sdk(server):
    """A synchronous ``langgraph_sdk`` client on the test server."""
    return get_sync_client(url=server.url)


@pytest.fixture
def cli(server) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m sdk_client`` against the test server as a subprocess."""

    def run(*args: str, json_output: bool = False) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "sdk_client", "--url", server.url]
        cmd += ["--json"] if json_output else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANGGRAPH_")}
        env["HITL_ENV_FILE"] = os.devnull
        proc = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
        )
        if json_output and proc.returncode == 0:
            proc.data = json.loads(proc.stdout)
        return proc

    return run


@pytest.fixture
def thread() -> dict:
    """A fresh in-process thread config."""
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


@pytest.fixture
def checkpointer() -> InMemorySaver:
    """An in-memory checkpointer for in-process runs."""
    return InMemorySaver()
