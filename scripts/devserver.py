"""Start, stop and kill a real ``langgraph dev``, for the tests and the benchmarks.

``langgraph dev`` resolves graph paths against its working directory and keeps its
runtime state in ``./.langgraph_api``. To give each test server its own state
without touching the developer's, the server runs from a *view* of the project
root: a temporary directory of symlinks to the project's files, plus its own
``.env``, ``.langgraph_api`` and ``data`` directory. Restarting a server on the
same view is a restart on the same data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LANGGRAPH = Path(sys.executable).parent / "langgraph"
PRIVATE = {".env", ".langgraph_api", "data", ".git", ".venv", ".pytest_cache", "tests"}


def dev_users() -> dict[str, str]:
    """The development users of ``.env.example`` (name -> token), which test servers run with."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("HITL_USERS="):
            entries = line.removeprefix("HITL_USERS=").split(",")
            return {name: token for name, _role, token in (e.split(":") for e in entries)}
    raise RuntimeError(".env.example has no HITL_USERS line")


TOKENS = dev_users()
RUNTIME_ENV = {
    "LANGGRAPH_RUNTIME_EDITION": "inmem",
    "REDIS_URI": "fake",
    "DATABASE_URI": ":memory:",
    "MIGRATIONS_PATH": "__inmem",
}
"""What ``langgraph dev`` sets before langgraph-api and its in-memory runtime are imported."""
QUIET_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "HITL_SWEEP_SECONDS": "1",  # expire overdue pauses promptly in tests
}
LOG_LEVEL = "WARNING"
"""langgraph-api's level unless the environment (or ``env=``) names one, as ``make dev``:
its INFO lines come several per request; the project's own INFO events stay
(``server.logs.keep_project_logs``)."""
METRIC_TIER = "1"
"""langgraph-api's ``METRIC_MAX_EMITTING_TIER`` unless the environment names one, as
``make dev``: its tier-2 metrics (a few per stream event) are recorded only for Datadog
or ``EXPOSE_INTERNAL_METRICS_PROMETHEUS``; ``/metrics`` serves the tier-1 ones either way."""
JOBS = 10
"""Runs at a time (``--n-jobs-per-worker``, as ``make dev`` and a deployed server;
``langgraph dev`` runs one): with one, every run waits for the one before it, so one
slow step (an LLM call) holds up every approval (docs/performance.md)."""


def free_port() -> int:
    """Return a TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DevServer:
    """One ``langgraph dev`` process group on a free port, on its own data."""

    def __init__(
        self, env: dict[str, str] | None = None, root: Path | None = None, jobs: int = JOBS
    ) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="hitl-server-"))
        for entry in ROOT.iterdir():
            if entry.name not in PRIVATE and not (self.root / entry.name).exists():
                (self.root / entry.name).symlink_to(entry)
        shutil.copy(ROOT / ".env.example", self.root / ".env")
        self.data_dir = self.root / "data"
        self.env = {
            "LOG_LEVEL": LOG_LEVEL,
            "METRIC_MAX_EMITTING_TIER": METRIC_TIER,
            **os.environ,
            **QUIET_ENV,
            "HITL_DATA_DIR": str(self.data_dir),
            **(env or {}),
        }
        self.jobs = jobs
        self.env.pop("LANGGRAPH_URL", None)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = self.root / "server.log"

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0, wait: bool = True) -> DevServer:
        """Start the server and wait until ``/ok`` answers (``wait=False``: return at once)."""
        self.port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                str(LANGGRAPH),
                "dev",
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n-jobs-per-worker",
                str(self.jobs),
            ],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"langgraph dev exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"langgraph dev not ready after {timeout}s:\n{self.log_tail()}")

    def _signal_group(self, sig: int, wait: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def refusal(self, timeout: float = 60.0) -> str:
        """Start a server that must refuse to start: what it said (its whole log).

        Raises:
            AssertionError: It started (it is stopped again first).
        """
        try:
            self.start(timeout=timeout)
        except RuntimeError as exc:
            if "exited early" not in str(exc):
                raise
            return self.log_path.read_text(errors="replace")
        self.stop()
        raise AssertionError("the server started")

    def stop(self) -> None:
        """Stop the server cleanly (SIGTERM to its process group, then SIGKILL)."""
        self._signal_group(signal.SIGTERM, wait=20)

    def kill(self) -> None:
        """Kill the server's whole process group with SIGKILL, as a crash would."""
        self._signal_group(signal.SIGKILL, wait=10)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server printed."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DevServer:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
