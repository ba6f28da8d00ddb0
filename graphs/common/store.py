"""The project's store: ledger, order ids, outbox, Slack clicks, used email links, archive.

``HITL_LEDGER_URL`` (any SQLAlchemy URL; a libpq URL such as the server's
``DATABASE_URI``, ``postgres://...``, is read as psycopg 3), by default the SQLite
file ``$HITL_DATA_DIR/ledger.sqlite``. This module owns the engine, every table
and their creation; ``graphs.payments``, ``server.notify`` and ``server.mail`` use them.

Schema changes are additive only: a table the code knows but the database lacks is
created, and a nullable column it lacks is added (:func:`create_tables`), so a
ledger written by an older version keeps working.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    text,
)
from sqlalchemy.exc import DBAPIError

metadata = MetaData()

charges = Table(
    "charges",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("order_id", String(50), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("transaction_id", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    # Who moved the money and whether a manager reviewed it (the per-requester limit,
    # graphs.payments.unreviewed_total). Nullable: rows of older ledgers have none.
    Column("requester", String(200)),
    Column("thread_id", String(200)),
    Column("reviewed", Boolean),
    Index("charges_by_requester", "requester", "created_at"),
)
"""The payment ledger: one row per idempotency key (an order id, or a tool call).

``requester``, ``thread_id`` (the conversation or order thread) and ``reviewed``
(a manager approved it) are empty on rows written before they existed, and such
rows count towards no one's limit.
"""

spenders = Table(
    "spenders",
    metadata,
    Column("requester", String(200), primary_key=True),
    Column("charges", Integer, nullable=False, default=0),
)
"""One row per requester whose money is capped: the lock that makes check-then-charge atomic.

A capped charge first updates its requester's row, which holds the row (Postgres) or
the database (SQLite) until it commits, so two charges of one requester never both
pass the limit check before either is written.
"""

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(50), primary_key=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
"""Every order id ever handed out, so that an id names one order only (its ledger key)."""

outbox = Table(
    "outbox",
    metadata,
    Column("interrupt_id", String(64), primary_key=True),
    Column("thread_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    # A row for another channel than the webhook (an email to one user) is keyed by a
    # delivery id of its own (one per pause, channel and recipient) and names its pause
    # here. Empty on webhook rows, whose key is the pause id.
    Column("channel", String(16)),
    Column("recipient", String(200)),
    Column("pause_id", String(64)),
)
"""Notifications waiting to be delivered (``server.notify``): one per pause for the webhook,
one per pause and recipient for email."""

email_links = Table(
    "email_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("identity", String(200), nullable=False),
    Column("thread_id", String(64), nullable=False),
    Column("interrupt_id", String(64), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("decision", String(20)),
)
"""Email links that answered (``server.mail``), by the SHA-256 of their token: each answers once.

A row without ``used_at`` is a link whose answer is being applied (claimed at
``claimed_at``); it is removed if the answer is not applied.
"""

deletions = Table(
    "deletions",
    metadata,
    Column("thread_id", String(64), primary_key=True),
    Column("workflow", String(100)),
    Column("owner", String(200)),
    Column("deleted_by", String(200), nullable=False),
    Column("deleted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("record", Text, nullable=False),
)
"""Threads an admin deleted (``server.records``): who, when, and the request's decisions."""

archive = Table(
    "archive",
    metadata,
    Column("thread_id", String(64), primary_key=True),
    Column("workflow", String(100)),
    Column("owner", String(200)),
    Column("outcome", String(40)),
    Column("metadata", Text, nullable=False),
    Column("record", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("archived_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("archive_by_decided", "decided_at"),
)
"""Decided threads moved out of the runtime (``server.archive``): one row per thread.

``outcome`` is the workflow's ``status`` value (or ``finished``), ``metadata`` the
thread's metadata and ``record`` its values (the request, the audit trail, the
outcome, ledger references), both JSON; ``decided_at`` is the thread's last
``updated_at``. Written once (insert-if-absent), never rewritten.
"""

slack_interactions = Table(
    "slack_interactions",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("request_ts", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("thread_id", String(64)),
    Column("interrupt_id", String(64)),
    Column("slack_user", String(64)),
    Column("project_user", String(200)),
    Column("response_url", Text),
    Column("outcome", Text),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Index("slack_interactions_by_status", "status", "request_ts"),
)
"""Signed Slack requests (``server.slack``), keyed by their signature: a replay is a duplicate.

An Approve click is written here (``pending``) before Slack gets its answer, applied
in the background, its outcome posted to ``response_url``, then ``done``; a server
that died in between applies what is still ``pending`` when it starts again. Other
signed requests (link buttons, refusals) are ``ignored`` or ``refused``.
"""


def data_dir() -> Path:
    """Return the project's data directory (``HITL_DATA_DIR``, default ``./data``), created."""
    path = Path(os.environ.get("HITL_DATA_DIR") or "data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_url() -> str:
    """Return the store's database URL."""
    return os.environ.get("HITL_LEDGER_URL") or f"sqlite:///{data_dir() / 'ledger.sqlite'}"


def engine_url(url: str) -> str:
    """Return ``url`` for SQLAlchemy: a bare ``postgres(ql)://`` URL gets the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername not in ("postgres", "postgresql"):
        return url
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def engine(url: str | None = None) -> Engine:
    """Return a shared engine for ``url`` (default: :func:`store_url`) with every table created."""
    return _engine(engine_url(url or store_url()))


def commit_mode(conn: Any) -> None:
    """Set how a SQLite connection commits: WAL, ``synchronous=NORMAL`` (store and checkpoints).

    A commit is an append to the write-ahead log, with no ``fsync`` each: it survives
    the process being killed (what the crash tests do); only a power loss or an
    operating-system crash may drop the last commits (SQLite's trade-off for WAL).
    """
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        created = create_engine(url, connect_args={"timeout": 30})
        event.listen(created, "connect", lambda dbapi_conn, _record: commit_mode(dbapi_conn))
    else:
        created = create_engine(url, pool_pre_ping=True, pool_recycle=1800)
    create_tables(created)
    return created


def create_tables(on: Engine) -> None:
    """Create the tables and add missing columns, safe when several processes start at once."""
    try:
        metadata.create_all(on)
    except DBAPIError:
        # Processes starting together on a fresh database race to create a table:
        # the losers fail (duplicate table or catalog key) once the winner has made it.
        if not all(inspect(on).has_table(name) for name in metadata.tables):
            raise
    _add_missing_columns(on)


def _add_missing_columns(on: Engine) -> None:
    """Bring a table made by an older version up to date: add its new (nullable) columns.

    ``create_all`` skips a table that exists, columns and indexes included.
    ``ALTER TABLE ... ADD COLUMN`` of a nullable column without a default is the
    same statement on SQLite and Postgres, and leaves existing rows empty.
    """
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspect(on).get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        if not missing:
            continue
        for column in missing:
            if not column.nullable:
                raise RuntimeError(f"{table.name}.{column.name} is missing and not nullable")
            kind = column.type.compile(dialect=on.dialect)
            try:
                with on.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
            except DBAPIError:
                # Another process added it first (duplicate column).
                if column.name not in {c["name"] for c in inspect(on).get_columns(table.name)}:
                    raise
        for index in table.indexes:
            try:
                index.create(on, checkfirst=True)
            except DBAPIError:
                if index.name not in {i["name"] for i in inspect(on).get_indexes(table.name)}:
                    raise
