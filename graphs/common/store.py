"""The project's store: one database for the payment ledger, order ids and the notification outbox.

``HITL_LEDGER_URL`` (any SQLAlchemy URL; a libpq URL such as the server's
``DATABASE_URI``, ``postgres://...``, is read as psycopg 3), by default the SQLite
file ``$HITL_DATA_DIR/ledger.sqlite``. This module owns the engine, every table
and their creation; ``graphs.payments`` and ``server.notify`` use them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
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
)
"""The payment ledger: one row per idempotency key (an order id, or a tool call)."""

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
)
"""Webhook notifications waiting to be delivered (``server.notify``), one per pause."""


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


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        created = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(created, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:
            # WAL with synchronous=NORMAL: a commit survives the process being killed
            # (what the crash tests do); only a power loss may drop the last commits.
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    else:
        created = create_engine(url, pool_pre_ping=True, pool_recycle=1800)
    create_tables(created)
    return created


def create_tables(on: Engine) -> None:
    """Create the tables if missing, safe when several processes start at once."""
    try:
        metadata.create_all(on)
    except DBAPIError:
        # Processes starting together on a fresh database race to create a table:
        # the losers fail (duplicate table or catalog key) once the winner has made it.
        if not all(inspect(on).has_table(name) for name in metadata.tables):
            raise
