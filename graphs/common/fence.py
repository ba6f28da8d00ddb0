"""The fence: every use of a non-public API, and the versions each was written against.

The project leans on a few internals of langgraph-api, the in-memory runtime, the
SQLite checkpointer, langgraph and langchain. They all live here, so that an
upgrade is checked in one place:

- :data:`SUPPORTED` is the one table of the exact versions they were written
  against; ``pyproject.toml`` pins the same versions and ``langgraph.deploy.json``
  pins the server image to the same langgraph-api (``tests/unit/test_deploy.py``);
- :data:`ENTRIES` names each private thing, who uses it, the packages it depends
  on, what is lost without it, and whether correctness depends on it
  (``required``) or it is a convenience that can be switched off;
- the accessors below (:func:`runtime_threads`, :func:`with_user`, :func:`acting_as`,
  :func:`inmem_ops`, :func:`inmem_database`, :func:`past_private_network`,
  :func:`openapi_module`, :func:`decision_schema`,
  :func:`interrupt_id`, ``CONFIG_KEY_CHECKPOINT_NS``) are the only way the project
  reaches them. They import lazily: importing this module loads nothing but the
  standard library, and ``graphs/`` never loads langgraph-api through it;
- :func:`check` reports each entry as ``ok``, ``degraded`` (an optional entry on an
  unsupported version, or missing: the server goes on without it), ``refused`` (a
  required one: the server must not start) or ``unused`` (not on this server: the
  embedded-only entries on a deployed server). ``server/app.py`` runs it first
  thing at start-up, logs one line per degraded entry and refuses to start on a
  refused one, naming the package, the installed and the supported version.

There is no switch to make the fence accept another version: a new version is
supported by checking each entry that depends on it and then changing
:data:`SUPPORTED` (``docs/operations.md``, *The fence*). Tests fake a version
without a product backdoor: unit tests pass ``versions=`` to :func:`check`; the
served test (``tests/integration/test_fence_served.py``) starts the server with a
``sitecustomize.py`` of its own on ``PYTHONPATH`` that wraps :func:`check` the same
way, which exists only in that test's temporary directory.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SUPPORTED: dict[str, str] = {
    "langgraph-api": "0.16.7",
    "langgraph-runtime-inmem": "0.36.7",
    "langgraph-checkpoint-sqlite": "3.1.2",
    "langgraph": "1.2.24",
    "langchain": "1.5.2",
}
"""The exact version of each package whose internals the project was written against."""

Status = Literal["ok", "degraded", "refused", "unused"]


def embedded() -> bool:
    """Whether this is ``langgraph dev`` on the project's SQLite checkpointer.

    The in-memory runtime then serves, on the version :data:`SUPPORTED` names (its
    required embedded-only entries refuse any other): what they rely on holds.
    """
    return os.environ.get("LANGGRAPH_RUNTIME_EDITION", "inmem") == "inmem" and (
        "server/checkpointer.py" in os.environ.get("LANGGRAPH_CHECKPOINTER", "")
    )


# -- accessors: the only way in ------------------------------------------------------


def runtime_threads() -> tuple[Callable[..., Any], Any]:
    """The serving runtime's ``connect`` and ``Threads`` (``langgraph_runtime``).

    The interface langgraph-api serves every API call with, in memory or on Postgres;
    it exists only inside a server. The project calls ``Threads.get`` (thread reads),
    ``Threads.search`` and ``Threads.delete`` (archiving, as the server itself).
    """
    from langgraph_runtime.database import connect  # noqa: PLC0415
    from langgraph_runtime.ops import Threads  # noqa: PLC0415

    return connect, Threads


def with_user(user: Any, auth: Any) -> Any:
    """Run the calls inside as ``user``: langgraph-api's ``with_user`` (a context manager)."""
    from langgraph_api.utils import with_user as _with_user  # noqa: PLC0415

    return _with_user(user, auth)


def acting_as(user: Mapping[str, Any]) -> Any:
    """Run the calls inside as ``user`` (what ``authenticate`` returns for them).

    The user is normalised the way langgraph-api normalises what ``authenticate``
    returns, so the auth handlers and the run's stored user see the same object as
    for that user's own HTTP requests.
    """
    from langgraph_api.auth.custom import normalize_user  # noqa: PLC0415
    from starlette.authentication import AuthCredentials  # noqa: PLC0415

    permissions = list(user.get("permissions") or [])
    return with_user(normalize_user(dict(user)), AuthCredentials(permissions))


def inmem_ops() -> Any:
    """The in-memory runtime's ``ops`` module (``Runs``, ``Threads``), for the run-queue wake."""
    from langgraph_runtime_inmem import ops  # noqa: PLC0415

    return ops


def inmem_database() -> Any:
    """The in-memory runtime's ``database`` module (``GLOBAL_STORE``), for the runtime index."""
    from langgraph_runtime_inmem import database  # noqa: PLC0415

    return database


def inmem_stream() -> Any:
    """The in-memory runtime's ``inmem_stream`` module (its stream manager), for its tidying."""
    from langgraph_runtime_inmem import inmem_stream  # noqa: PLC0415

    return inmem_stream


def past_private_network(app: Any) -> Any | None:
    """The app inside ``app`` if it is langgraph-api's ``PrivateNetworkMiddleware`` (else None).

    Looked up among the modules already loaded: ``langgraph dev`` loads it to serve
    with it, and nothing else needs it loaded.
    """
    module = sys.modules.get("langgraph_api.middleware.private_network")
    middleware = getattr(module, "PrivateNetworkMiddleware", None)
    return app.app if middleware is not None and isinstance(app, middleware) else None


def openapi_module() -> Any:
    """langgraph-api's ``langgraph_api.api.openapi`` module (``set_custom_spec``)."""
    # The module, not the route function of the same name in langgraph_api.api.
    return importlib.import_module("langgraph_api.api.openapi")


def decision_schema(allowed: Any, name: str, tool: Any) -> Any:
    """The answer type of a per-call tool review (langchain's ``_decision_schema``)."""
    from langchain.agents.middleware.human_in_the_loop import _decision_schema  # noqa: PLC0415

    return _decision_schema(allowed, name, tool)


def interrupt_id(namespace: str, index: int) -> str:
    """The id of the ``index``-th pause of a task (langgraph's ``_interrupt_id``)."""
    from langgraph.types import _interrupt_id  # noqa: PLC0415

    return _interrupt_id(namespace, index)


def __getattr__(name: str) -> Any:
    """``CONFIG_KEY_CHECKPOINT_NS`` (langgraph's private constant), loaded when asked for."""
    if name == "CONFIG_KEY_CHECKPOINT_NS":
        from langgraph._internal._constants import CONFIG_KEY_CHECKPOINT_NS  # noqa: PLC0415

        return CONFIG_KEY_CHECKPOINT_NS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- probes: is the private thing still there? ----------------------------------------


def _has(owner: Any, *names: str) -> None:
    for name in names:
        if not hasattr(owner, name):
            raise AttributeError(f"{getattr(owner, '__name__', owner)} has no {name}")


def _probe_thread_read() -> None:
    connect, threads = runtime_threads()
    _has(threads, "get", "search", "delete", "patch")


def _probe_with_user() -> None:
    from langgraph_api.auth.custom import normalize_user  # noqa: PLC0415, F401
    from langgraph_api.utils import with_user as _with_user  # noqa: PLC0415, F401


def _probe_openapi() -> None:
    _has(openapi_module(), "set_custom_spec", "get_openapi_spec")


def _probe_private_network() -> None:
    from langgraph_api.middleware import private_network  # noqa: PLC0415

    _has(private_network, "PrivateNetworkMiddleware")


def _probe_wake() -> None:
    ops = inmem_ops()
    _has(ops.Runs, "next", "put", "set_status")
    _has(ops.Threads, "set_joint_status")


def _probe_runtime_index() -> None:
    ops = inmem_ops()
    _has(inmem_database(), "GLOBAL_STORE")
    for method, names in (
        (ops.Threads._get_with_filters, ["conn", "thread_id", "filters"]),
        (ops.Threads.put, ["conn", "thread_id"]),
        (ops.Threads.patch, ["conn", "thread_id"]),
        (ops.Runs.set_status, ["conn", "run_id", "status"]),
        (ops.Threads.set_joint_status, ["conn", "thread_id", "run_id", "run_status"]),
        (ops.Runs.get, ["conn", "run_id", "thread_id"]),
        (ops.Runs.put, ["conn", "assistant_id", "kwargs", "thread_id"]),
    ):
        _takes(method, names)


def _takes(method: Any, names: list[str], leading: bool = False) -> None:
    """Raise unless ``method`` takes ``names`` in this order (``leading``: as its first ones)."""
    import inspect  # noqa: PLC0415

    params = list(inspect.signature(method).parameters)
    found = params[: len(names)] if leading else [p for p in params if p in names]
    if found != names:
        first = " first" if leading else ""
        raise AttributeError(f"{method.__qualname__} takes {found}{first}, not {names}")


def _probe_runtime_leftovers() -> None:
    ops, stream = inmem_ops(), inmem_stream()
    _has(stream, "get_stream_manager", "THREADLESS_KEY", "_ensure_uuid", "StreamManager")
    tables = ("queues", "control_queues", "thread_streams", "control_keys", "message_stores")
    _has(stream.StreamManager(), *tables)
    _has(inmem_database().GLOBAL_RETRY_COUNTER, "_counters", "_locks")
    _has(inmem_database(), "GLOBAL_STORE")
    _takes(ops.Runs.enter, ["run_id", "thread_id"], leading=True)
    _takes(ops.Threads.delete, ["conn", "thread_id"], leading=True)


def _probe_debug_interrupts() -> None:
    import dataclasses  # noqa: PLC0415

    from langgraph.pregel import debug  # noqa: PLC0415
    from langgraph.types import Interrupt  # noqa: PLC0415

    _has(debug, "asdict", "map_debug_task_results", "map_debug_checkpoint")
    used = getattr(debug, "asdict")  # noqa: B009 - not exported: what the module calls
    if used is not dataclasses.asdict and not getattr(used, "__hitl_lean_debug__", False):
        raise AttributeError(f"langgraph.pregel.debug.asdict is {used!r}")
    if not dataclasses.is_dataclass(Interrupt):
        raise AttributeError("langgraph.types.Interrupt is not a dataclass")


def _probe_checkpoint_tables() -> None:
    import sqlite3  # noqa: PLC0415

    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

    conn = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        SqliteSaver(conn).setup()
        for table, columns in (
            ("checkpoints", {"thread_id", "checkpoint_ns", "checkpoint_id", "metadata"}),
            ("writes", {"thread_id", "checkpoint_ns", "checkpoint_id", "channel", "type", "value"}),
        ):
            found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if missing := columns - found:
                raise AttributeError(f"table {table} has no {', '.join(sorted(missing))}")
    finally:
        conn.close()


def _probe_review_hooks() -> None:
    from langchain.agents.middleware import human_in_the_loop  # noqa: PLC0415

    _has(human_in_the_loop, "_decision_schema")
    _has(human_in_the_loop.HumanInTheLoopMiddleware, "_tool_approval_request", "_resolve_per_call")


def _probe_interrupt_id() -> None:
    from langgraph import types  # noqa: PLC0415
    from langgraph._internal import _constants  # noqa: PLC0415

    _has(types, "_interrupt_id")
    _has(_constants, "CONFIG_KEY_CHECKPOINT_NS")


# -- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One private thing the project uses."""

    name: str
    uses: str
    """The private thing."""
    used_by: str
    packages: tuple[str, ...]
    """The packages (keys of :data:`SUPPORTED`) whose version it was written for."""
    degrades: str
    """What is lost when it cannot be used."""
    required: bool
    """Correctness depends on it: the server refuses to start without it."""
    embedded_only: bool = False
    """Used only by ``langgraph dev`` on the SQLite checkpointer (not a deployed server)."""
    probe: Callable[[], None] | None = None
    """Raises when the private thing is gone (None: the version is all there is to check)."""


ENTRIES: tuple[Entry, ...] = (
    Entry(
        name="runtime-thread-read",
        uses="langgraph_runtime.ops.Threads.get/search/delete/patch and "
        "langgraph_runtime.database.connect",
        used_by="server/threads.py (read_thread: auth handlers, pause events; "
        "write_metadata: the pause listener's metadata writes), "
        "server/archive.py (decided threads leave the runtime)",
        packages=("langgraph-api",),
        degrades="authorization of runs and answers cannot read thread records, "
        "pauses cannot be addressed, and decided threads cannot be archived",
        required=True,
        probe=_probe_thread_read,
    ),
    Entry(
        name="with-user",
        uses="langgraph_api.utils.with_user, langgraph_api.auth.custom.normalize_user",
        used_by="server/inbox.py, server/answers.py (calls run as the answering user)",
        packages=("langgraph-api",),
        degrades="the inbox, Slack and email answers cannot act as the answering user",
        required=True,
        probe=_probe_with_user,
    ),
    Entry(
        name="openapi-custom-spec",
        uses="langgraph_api.api.openapi.set_custom_spec",
        used_by="server/openapi.py",
        packages=("langgraph-api",),
        degrades="/openapi.json and /docs describe the project's routes blank",
        required=False,
        probe=_probe_openapi,
    ),
    Entry(
        name="private-network-header",
        uses="langgraph_api.middleware.private_network.PrivateNetworkMiddleware, "
        "skipped: the boundary sets its header",
        used_by="server/app.py (Boundary)",
        packages=("langgraph-api",),
        degrades="every request passes through langgraph dev's PrivateNetworkMiddleware, "
        "a BaseHTTPMiddleware (about a tenth more CPU per approval cycle)",
        required=False,
        probe=_probe_private_network,
    ),
    Entry(
        name="run-queue-wake",
        uses="patches langgraph_runtime_inmem.ops Runs.next/put/set_status, "
        "Threads.set_joint_status",
        used_by="server/wake.py",
        packages=("langgraph-runtime-inmem",),
        degrades="runs start after the runtime's stock 0.5 s queue poll "
        "(0.5-1.0 s per run) instead of when enqueued",
        required=False,
        embedded_only=True,
        probe=_probe_wake,
    ),
    Entry(
        name="runtime-index",
        uses="langgraph_runtime_inmem.database.GLOBAL_STORE's threads and runs lists "
        "(indexed by thread id); scopes Threads._get_with_filters/put/patch/set_joint_status, "
        "Runs.get/put to their thread and Runs.next to the pending runs' threads",
        used_by="server/runtime_index.py",
        packages=("langgraph-runtime-inmem",),
        degrades="every thread read and run start or end scans every thread and run "
        "the runtime holds: cycles slow down with each decided request in the archive window",
        required=False,
        embedded_only=True,
        probe=_probe_runtime_index,
    ),
    Entry(
        name="runtime-leftovers",
        uses="langgraph_runtime_inmem.inmem_stream's stream manager tables (control_keys, "
        "queues, control_queues, thread_streams, message_stores) and "
        "database.GLOBAL_RETRY_COUNTER's counters and locks; wraps Runs.enter and Threads.delete",
        used_by="server/leftovers.py",
        packages=("langgraph-runtime-inmem",),
        degrades="every run leaves its control message, lock and retry counter in the runtime "
        "until the server restarts (2-4 KB of memory per decided request)",
        required=False,
        embedded_only=True,
        probe=_probe_runtime_leftovers,
    ),
    Entry(
        name="debug-interrupts",
        uses="langgraph.pregel.debug.asdict (how the debug stream mode's events copy "
        "interrupts), replaced by one that shares plain JSON payloads",
        used_by="server/debug_events.py",
        packages=("langgraph",),
        degrades="every debug event langgraph-api adds to a run deep-copies the pauses' "
        "payloads (4-5 % of the server's CPU per approval cycle)",
        required=False,
        probe=_probe_debug_interrupts,
    ),
    Entry(
        name="recovery-runtime-records",
        uses="the in-memory runtime's 10 s write cycle and re-queued runs after a crash; "
        "a run that ends without a checkpoint leaves its thread's interrupts as they were",
        used_by="server/recovery.py (start-up recovery), server/repair.py (cut_short)",
        packages=("langgraph-runtime-inmem",),
        degrades="start-up recovery cannot vouch for threads and runs after a crash",
        required=True,
        embedded_only=True,
    ),
    Entry(
        name="sqlite-checkpoint-tables",
        uses="raw SQL on langgraph-checkpoint-sqlite's checkpoints and writes tables "
        "(a task's interrupts: the __interrupt__ writes against the checkpoint they pause)",
        used_by="server/recovery.py (read_checkpoints), server/checkpointer.py (pruning)",
        packages=("langgraph-checkpoint-sqlite",),
        degrades="start-up recovery and pruning misread the checkpoints",
        required=True,
        embedded_only=True,
        probe=_probe_checkpoint_tables,
    ),
    Entry(
        name="tool-review-hooks",
        uses="HumanInTheLoopMiddleware._tool_approval_request/_resolve_per_call overrides, "
        "langchain's _decision_schema",
        used_by="graphs/assistant/middleware.py",
        packages=("langchain",),
        degrades="the assistant's tool reviews lose their reviewer and their checks",
        required=True,
        probe=_probe_review_hooks,
    ),
    Entry(
        name="interrupt-id",
        uses="langgraph.types._interrupt_id, langgraph._internal._constants."
        "CONFIG_KEY_CHECKPOINT_NS",
        used_by="graphs/assistant/middleware.py (re-asking a refused review under its id)",
        packages=("langgraph",),
        degrades="a refused tool review cannot be asked again under the same pause id",
        required=True,
        probe=_probe_interrupt_id,
    ),
)
"""Every private thing the project uses, one entry each."""


# -- the check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """What :func:`check` says about one entry."""

    entry: Entry
    status: Status
    reason: str = ""

    def line(self) -> str:
        """One log line: the entry, its status, why, and what it costs."""
        if self.status == "ok":
            return f"fence: {self.entry.name} ok"
        if self.status == "unused":
            return f"fence: {self.entry.name} unused ({self.reason})"
        return f"fence: {self.entry.name} {self.status}: {self.reason}; {self.entry.degrades}"


class Unsupported(RuntimeError):
    """A required entry's versions are not the ones it was written for."""


def installed(package: str) -> str | None:
    """The installed version of ``package`` (None: not installed)."""
    import importlib.metadata  # noqa: PLC0415 - keeps importing the fence cheap

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _examine(entry: Entry, embedded: bool, versions: Mapping[str, str | None]) -> Finding:
    if entry.embedded_only and not embedded:
        return Finding(entry, "unused", "embedded server only")
    bad: Status = "refused" if entry.required else "degraded"
    for package in entry.packages:
        found = versions[package] if package in versions else installed(package)
        if found != SUPPORTED[package]:
            shown = found or "not installed"
            why = f"{package} is {shown}, supported: {SUPPORTED[package]}"
            return Finding(entry, bad, why)
    if entry.probe is not None:
        try:
            entry.probe()
        except Exception as exc:  # noqa: BLE001 - whatever the reason, it cannot be used
            return Finding(entry, bad, f"{entry.uses}: {type(exc).__name__}: {exc}")
    return Finding(entry, "ok")


def check(
    *,
    embedded: bool = True,
    versions: Mapping[str, str | None] | None = None,
    names: Iterable[str] | None = None,
) -> list[Finding]:
    """Examine each entry (or those named): its packages' versions, then whether it exists.

    Blocking (package metadata, imports): call it in a thread from async code.

    Args:
        embedded: whether this is ``langgraph dev`` on the SQLite checkpointer; if
            not, the embedded-only entries are ``unused``.
        versions: package versions to assume instead of the installed ones (tests).
        names: only these entries, in this order.
    """
    by_name = {entry.name: entry for entry in ENTRIES}
    chosen = [by_name[name] for name in names] if names is not None else list(ENTRIES)
    return [_examine(entry, embedded, versions or {}) for entry in chosen]


def finding(name: str, **kwargs: Any) -> Finding:
    """What :func:`check` says about the entry ``name``."""
    return check(names=[name], **kwargs)[0]


def require(name: str) -> None:
    """Raise :class:`Unsupported` unless the entry ``name`` is ``ok`` (or ``unused``)."""
    found = finding(name)
    if found.status in ("refused", "degraded"):
        raise Unsupported(unsupported_message([found]) or found.line())


def unsupported_message(findings: Iterable[Finding]) -> str:
    """Why the server refuses to start: required entries on unsupported versions (empty: none)."""
    refused = [f for f in findings if f.status == "refused"]
    if not refused:
        return ""
    lines = [
        f"  - {f.entry.name} ({f.entry.used_by}): {f.reason}; {f.entry.degrades}" for f in refused
    ]
    return "\n".join(
        [
            "refusing to start: private APIs that correctness depends on are not the "
            "versions they were written for",
            *lines,
            "Install the supported versions (pip install -e . pins them; the deploy image is "
            "pinned in langgraph.deploy.json), or check each entry against the new version "
            "and update SUPPORTED in graphs/common/fence.py (docs/operations.md, The fence).",
        ]
    )
