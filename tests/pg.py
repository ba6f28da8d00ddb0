"""A throwaway Postgres cluster for the tests: ``initdb`` + ``pg_ctl`` in a temp directory.

Uses the server binaries of Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``, installed by ``.ci/run`` when missing) or
``HITL_PG_BIN``. Postgres refuses to run as root, so as root the cluster belongs
to the ``postgres`` user (``runuser``) in a directory that user can reach (under
``/tmp``, not pytest's ``tmp_path``). Nothing is left behind: the server is
stopped and the directory removed on exit.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import pwd
import queue
import shutil
import subprocess
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.devserver import free_port


def pg_bin() -> Path | None:
    """Return the directory of ``initdb``/``pg_ctl`` (the newest installed), or None."""
    if env := os.environ.get("HITL_PG_BIN"):
        return Path(env)
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    newest = max(found, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    return Path(newest).parent


class PgCluster:
    """One running cluster on 127.0.0.1 with trust authentication for ``postgres``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="hitl-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        proc = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{proc.stdout}\n{proc.stderr}\n{log}")
        return proc

    def start(self) -> PgCluster:
        """Create the cluster and start the server (about a second)."""
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(str(self.bin / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data))
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True
        return self

    def stop(self) -> None:
        """Stop the server at once and remove every file of the cluster."""
        try:
            if self.started:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def conninfo(self, db: str = "postgres") -> str:
        """A libpq URL (psycopg, ``PostgresSaver``, LangGraph Server's ``DATABASE_URI``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def sqlalchemy_url(self, db: str = "postgres") -> str:
        """A SQLAlchemy URL on the psycopg 3 driver (``HITL_LEDGER_URL``)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """Create an empty database of its own for one test; return its name."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


@contextmanager
def postgres_cluster() -> Iterator[PgCluster]:
    """Start a throwaway cluster; stop it and delete it on exit."""
    bin_dir = pg_bin()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        raise FileNotFoundError("no Postgres server binaries (/usr/lib/postgresql/*/bin)")
    cluster = PgCluster(bin_dir)
    started = time.monotonic()
    try:
        cluster.start()
        print(f"postgres {bin_dir.parent.name} ready in {time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    """A cluster for the module; skipped (with the reason) only when Postgres is absent."""
    if pg_bin() is None:
        reason = "Postgres binaries absent: apt-get install -y postgresql (as .ci/run does)"
        print(reason)
        pytest.skip(reason)
    with postgres_cluster() as cluster:
        yield cluster


def _serve(index: int, inbox: Any, outbox: Any, barrier: Any) -> None:
    """A worker process: run each call it is sent, all workers starting it together."""
    while (message := inbox.get()) is not None:
        fn, args = message
        try:
            barrier.wait(timeout=120)
            outbox.put((index, True, fn(index, *args)))
        except BaseException:  # noqa: B036 - reported to the parent, which fails the test
            outbox.put((index, False, traceback.format_exc()))


class ProcessGroup:
    """``n`` long-lived OS processes (spawned, like separate server replicas).

    ``run(fn, args)`` sends one call to every process; a barrier makes them all
    start it at the same moment, and the results come back in process order.
    ``fn`` must be a module-level function (it is pickled by name).
    """

    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(n)
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [
            ctx.Process(target=_serve, args=(i, inbox, self.outbox, self.barrier), daemon=True)
            for i, inbox in enumerate(self.inboxes)
        ]
        for proc in self.procs:
            proc.start()

    def run(
        self, fn: Callable[..., Any], per_process: list[tuple], timeout: float = 120
    ) -> list[Any]:
        """Call ``fn(index, *per_process[index])`` in every process at once."""
        assert len(per_process) == len(self.procs)
        for inbox, args in zip(self.inboxes, per_process, strict=True):
            inbox.put((fn, args))
        results: dict[int, Any] = {}
        errors = []
        deadline = time.monotonic() + timeout
        while len(results) + len(errors) < len(self.procs):
            try:
                index, ok, value = self.outbox.get(timeout=1)
            except queue.Empty:
                dead = [p.pid for p in self.procs if not p.is_alive()]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(f"workers died ({dead}) or timed out") from None
                continue
            if ok:
                results[index] = value
            else:
                errors.append(f"process {index}:\n{value}")
        if errors:
            raise AssertionError("\n".join(errors))
        return [results[i] for i in range(len(self.procs))]

    def close(self) -> None:
        """Stop every process (politely, then by force)."""
        for inbox in self.inboxes:
            inbox.put(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
