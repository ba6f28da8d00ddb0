"""Shared fixtures: a real ``langgraph dev`` per test session, the SDK and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk import get_sync_client

from scripts.devserver import ROOT, RUNTIME_ENV, TOKENS, DevServer

CHROMIUM = os.environ.get("HITL_CHROMIUM", "/usr/lib/chromium/chromium")
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
]
"""Chromium flags that keep the browser off every host but this one."""


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """Debian's headless Chromium under Playwright, offline (the test skips without it)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only browser tests need it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*OFFLINE, *args])
        try:
            yield browser
        finally:
            browser.close()


def _tree_status() -> str | None:
    """``git status --porcelain`` of the checkout (None outside a git checkout)."""
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[TREE_BEFORE] = _tree_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite leaves the checkout as it found it: anything it changed fails the run."""
    before = session.config.stash.get(TREE_BEFORE, None)
    after = _tree_status()
    if before is None or after is None or after == before:
        return
    changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
    session.config.get_terminal_writer().line(
        "\nthe test run changed the checkout (git status --porcelain), which it must not:\n  "
        + "\n  ".join(changed),
        red=True,
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


TREE_BEFORE = pytest.StashKey[str | None]()


@pytest.fixture(scope="session")
def server() -> Iterator[SimpleNamespace | DevServer]:
    """A served project. ``LANGGRAPH_TEST_URL`` points the tests at a running server."""
    if url := os.environ.get("LANGGRAPH_TEST_URL"):
        print(f"using the server at {url} (LANGGRAPH_TEST_URL)")
        yield SimpleNamespace(url=url)
        return
    with DevServer() as dev:
        yield dev


@pytest.fixture
def sdk_as(server) -> Callable[[str | None], Any]:
    """A synchronous ``langgraph_sdk`` client on the test server, signed in as a user."""

    def client(user: str | None, token: str | None = None):
        token = token or TOKENS.get(user or "")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return get_sync_client(url=server.url, headers=headers)

    return client


@pytest.fixture
def sdk(sdk_as):
    """The SDK signed in as alice (employee)."""
    return sdk_as("alice")


def run_cli(
    url: str, *args: str, json_output: bool = False, user: str | None = "alice"
) -> subprocess.CompletedProcess:
    """Run ``python -m sdk_client --url URL ...`` as ``user`` (``.data``: parsed JSON)."""
    cmd = [sys.executable, "-m", "sdk_client", "--url", url, *(["--json"] if json_output else [])]
    cmd += ["--token", TOKENS[user]] if user else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGGRAPH_")}
    env["HITL_ENV_FILE"] = os.devnull
    proc = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    if json_output and proc.returncode == 0:
        proc.data = json.loads(proc.stdout)
    return proc


def submit_cli(
    url: str, graph: str, amount: float, description: str, *extra: str, user: str = "alice"
) -> subprocess.CompletedProcess:
    """Submit a request through the CLI, as ``user``; it must succeed (``.data``: its JSON)."""
    proc = run_cli(
        url,
        "submit",
        "--graph",
        graph,
        "--amount",
        str(amount),
        "--description",
        description,
        *extra,
        json_output=True,
        user=user,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def cli(server) -> Callable[..., subprocess.CompletedProcess]:
    """Run the CLI against the session's server."""
    return lambda *args, json_output=False, user="alice": run_cli(
        server.url, *args, json_output=json_output, user=user
    )


@pytest.fixture
def assistant_for(sdk_as) -> Callable[..., str]:
    """An assistant the admin configures: ``assistant_for(graph, **policy)`` returns its id.

    Policy (thresholds, levels, limits, deadlines, payment faults) is the deployment's:
    only an admin sets it, on an assistant; runs then pick the assistant.
    """

    def create(graph: str, **context: Any) -> str:
        name = f"{graph} {json.dumps(context)} {uuid.uuid4().hex[:6]}"
        return sdk_as("erin").assistants.create(graph, context=context, name=name)["assistant_id"]

    return create


def refused(call) -> tuple[int, str]:
    """Run a call that must fail; return its status and detail."""
    try:
        result = call()
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code, exc.response.text
    raise AssertionError(f"expected a refusal, got {result!r}")


PROVIDER_VARS = [
    "AZURE_OPENAI_ENDPOINT",
    "DIAL_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """The offline model and a private data directory (ledger) for in-process graphs."""
    for name in PROVIDER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HITL_LEDGER_URL", raising=False)


@pytest.fixture
def inside_a_server(tmp_path, monkeypatch):
    """What `langgraph dev` sets before langgraph-api and the runtime are imported."""
    monkeypatch.chdir(tmp_path)  # the in-memory runtime opens files under the cwd
    for name, value in RUNTIME_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def runtime(inside_a_server):
    """The in-memory runtime's ops and its store, in this process; given back as they were
    afterwards, with the project's patches of it taken off."""
    from graphs.common import fence  # noqa: PLC0415 - after inside_a_server's settings
    from server import leftovers, runtime_index, wake  # noqa: PLC0415

    ops, store = fence.inmem_ops(), fence.inmem_database().GLOBAL_STORE
    saved = {key: list(value) for key, value in store.items()}
    yield ops, store
    for patch in (leftovers, runtime_index, wake):
        patch.uninstall()
    for key, value in saved.items():
        dict.__setitem__(store, key, value)


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where browser tests put their screenshots: a temporary directory, so the suite
    leaves the tree as it was; ``docs/`` with ``HITL_WRITE_DOCS_SCREENSHOTS=1``
    (``make screenshots``), which refreshes the pictures the docs show."""
    if os.environ.get("HITL_WRITE_DOCS_SCREENSHOTS") == "1":
        return ROOT / "docs"
    return tmp_path


def eventually(probe: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Call ``probe`` until it returns something truthy and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not there after {timeout:.0f}s: {probe.__doc__ or probe}")
        time.sleep(interval)
    return result


@pytest.fixture
def thread() -> dict:
    """A fresh in-process thread config."""
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


@pytest.fixture
def checkpointer() -> InMemorySaver:
    """An in-memory checkpointer for in-process runs."""
    return InMemorySaver()


@pytest.fixture
def fresh_server() -> Iterator[DevServer]:
    """A server of the test's own, to kill and restart on the same data."""
    with DevServer() as dev:
        yield dev


@pytest.fixture
def ledger(server) -> Callable[..., int]:
    """Count charges in the test server's payment ledger."""
    if not isinstance(server, DevServer):
        pytest.skip("the ledger of a server given by LANGGRAPH_TEST_URL is not reachable")
    from graphs.payments import ledger_count

    url = f"sqlite:///{server.data_dir / 'ledger.sqlite'}"
    return lambda order_id=None: ledger_count(order_id, url=url)
