"""``hitl --help`` and ``hitl pending`` answer at once (issue 24): what they import, what they send.

No timing here (the benchmark's "cli" section times them): these tests prove the
import budget, and that the SDK-free read path of ``pending`` sends what the SDK
would and explains failures as the SDK path does. The server is a real HTTP
server on a free local port answering canned responses: the archive and search
routes are the server's, but what the client sends and reads is the point.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from graphs.common.contract import MONEY, Pause
from scripts.devserver import free_port
from sdk_client import ClientError, HitlClient

THREAD = "11111111-1111-1111-1111-111111111111"
PAUSE = "a" * 32
HEAVY = [
    "langgraph_sdk",
    "langchain_core",
    "langgraph",
    "httpx",
    "httpcore",
    "anyio",
    "orjson",
    "jsonschema",
    "graphs.common.decisions",
    "graphs.common.audit",
    "asyncio",
    "pydantic",
    "graphs.common.contract",
]
"""What neither ``--help`` nor ``pending`` may import (``pending`` reads pauses as list rows)."""


class Expense(BaseModel):
    amount: Annotated[float, MONEY]
    description: str
    requester: str


def waiting_thread() -> dict[str, Any]:
    """A thread as ``POST /threads/search`` returns it: one pause, in the contract's shape."""
    values = {"amount": 750.0, "description": "Team dinner", "requester": "alice"}
    pause = Pause.about(
        Expense,
        values,
        type="expense",
        action="Approve expense",
        role="manager",
        options=["approve", "reject"],
        due_at="2026-12-03T08:37:00+00:00",
    )
    return {
        "thread_id": THREAD,
        "status": "interrupted",
        "metadata": {"graph_id": "expense_approval", "owner": "alice"},
        "values": {**values, "status": "pending"},
        "interrupts": {"task": [{"id": PAUSE, "value": pause.payload()}]},
        "created_at": "2026-12-01T00:00:00+00:00",
        "updated_at": "2026-12-01T00:00:01+00:00",
    }


@contextmanager
def canned(status: int, body: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP server answering every request with ``status`` and ``body`` (JSON).

    Yields its URL and the requests it received (method, path, headers, JSON body).
    """
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(sent) if sent else None,
                }
            )
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def probe(argv: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``hitl <argv>`` in a fresh interpreter; return it and the heavy modules it loaded."""
    code = (
        "import sys\n"
        "from sdk_client.cli import main\n"
        "try:\n"
        f"    status = main({argv!r})\n"
        "except SystemExit as done:\n"
        "    status = done.code\n"
        f"heavy = sorted(set({HEAVY!r}) & set(sys.modules))\n"
        "print('STATUS', status, 'HEAVY', ','.join(heavy), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGGRAPH_", "HITL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "HITL_ENV_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert last.startswith("STATUS "), proc.stdout + proc.stderr
    heavy = last.split("HEAVY", 1)[1].strip()
    return proc, heavy.split(",") if heavy else []


def test_help_imports_nothing_heavy():
    proc, heavy = probe(["--help"])
    assert "examples:" in proc.stdout and "STATUS 0" in proc.stderr
    assert heavy == []
    proc, heavy = probe(["resume", "--help"])
    assert proc.stdout.startswith("usage: hitl resume") and heavy == []


def test_pending_reads_and_renders_without_the_sdk():
    with canned(200, [waiting_thread()]) as (url, seen):
        proc, heavy = probe(["--url", url, "--token", "dev-bob", "pending"])
        assert "STATUS 0" in proc.stderr, proc.stderr
        assert heavy == []
        row = proc.stdout.splitlines()[-1]
        assert row.split() == [
            THREAD,
            "expense_approval",
            "waiting",
            "for",
            "manager",
            "750.00",
            "Team",
            "dinner",
            "2026-12-03",
            "08:37",
        ]
        proc, heavy = probe(["--url", url, "--token", "dev-bob", "pending", "--json"])
        assert heavy == [] and json.loads(proc.stdout)[0]["thread_id"] == THREAD
    # One request each: the search itself (no health probe first).
    assert [(r["method"], r["path"]) for r in seen] == [("POST", "/threads/search")] * 2


def sdk_pending(url: str, token: str | None, **query: Any) -> list[dict[str, Any]]:
    """``HitlClient.pending`` (the SDK path) against the server at ``url``."""

    async def go() -> list[dict[str, Any]]:
        async with HitlClient(url, token=token) as client:
            return [o.as_dict() for o in await client.pending(**query)]

    return asyncio.run(go())


def test_the_read_path_sends_what_the_sdk_sends_and_reads_the_same(monkeypatch):
    from sdk_client.reader import Reader

    monkeypatch.setenv("LANGSMITH_API_KEY", "'ls-key'")
    for query in ({}, {"graph_id": "expense_approval", "limit": 5, "waiting_for": "manager"}):
        with canned(200, [waiting_thread()]) as (url, seen):
            by_sdk = sdk_pending(url, "dev-bob", **query)
            by_reader = [o.as_dict() for o in Reader(url, "dev-bob").pending(**query)]
        assert by_reader == by_sdk and by_sdk[0]["state"] == "waiting"
        sdk, reader = seen
        assert (reader["method"], reader["path"]) == (sdk["method"], sdk["path"])
        assert reader["body"] == sdk["body"]
        assert list(reader["body"]) == list(sdk["body"])  # in the same order, too
        for header in ("authorization", "x-api-key", "content-type"):
            assert reader["headers"][header] == sdk["headers"][header], header
    assert reader["headers"]["x-api-key"] == "ls-key"


def test_the_read_path_explains_failures_as_the_sdk_path_does():
    from sdk_client.reader import Reader

    cases = [
        (401, {"detail": "missing token"}, None, "auth", "no token given"),
        (401, {"detail": "bad token"}, "wrong", "auth", "the token was refused"),
        (403, {"detail": "employees list their own"}, "dev-alice", "auth", "employees list"),
        (404, {"detail": "Not Found"}, "dev-bob", "not_found", "not found (404)"),
        (500, "Internal Server Error", "dev-bob", "error", "refused the request (500)"),
    ]
    for status, body, token, kind, said in cases:
        with canned(status, body) as (url, _):
            with pytest.raises(ClientError) as by_sdk:
                sdk_pending(url, token)
            with pytest.raises(ClientError) as by_reader:
                Reader(url, token).pending()
        assert str(by_reader.value) == str(by_sdk.value), status
        assert by_reader.value.kind == by_sdk.value.kind == kind and said in str(by_sdk.value)


def test_pending_with_no_server_says_so_at_once_with_a_hint():
    url = f"http://127.0.0.1:{free_port()}"
    proc, heavy = probe(["--url", url, "pending"])
    assert "STATUS 1" in proc.stderr and heavy == []
    assert f"error: cannot reach the server at {url} (ConnectionRefusedError)" in proc.stderr
    assert "make dev" in proc.stderr and "Traceback" not in proc.stderr


def test_the_sdk_client_is_imported_by_what_writes_only():
    """``import sdk_client.transport`` is cheap; building a client brings the SDK."""
    code = (
        "import sys, sdk_client.transport as t\n"
        "before = 'langgraph_sdk' in sys.modules\n"
        "t.HitlClient('http://127.0.0.1:1')\n"
        "print(before, 'langgraph_sdk' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "True"], proc.stdout + proc.stderr
