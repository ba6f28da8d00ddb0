"""A simulated payment gateway with a real, durable, idempotent ledger.

Every charge is stored under an idempotency key (one row per key, enforced by the
database's primary key), so a repeated call with the same key returns the first
charge instead of charging again. That holds across task retries, workflow
resumes, processes killed between the charge and the checkpoint, and several
processes sharing one database.

The ledger lives at ``HITL_LEDGER_URL`` (any SQLAlchemy URL, e.g.
``postgresql+psycopg://user:pw@host/db``; a libpq URL such as the server's
``DATABASE_URI``, ``postgres://...``, is read as psycopg 3), by default the SQLite
file ``$HITL_DATA_DIR/ledger.sqlite``. Both go through the same SQLAlchemy code.

Faults can be injected per run (the ``gateway`` entry of a workflow's context),
off by default: ``transient_failures`` (the first N attempts for a key fail with a
retryable error), ``decline`` (a permanent refusal, never retried) and
``crash_after_charge`` (the first attempt charges, then loses the connection
before answering, as a crash between the charge and the checkpoint would).
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from functools import lru_cache
from typing import Any

from pydantic import Field
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from graphs.common import StrictModel, data_dir

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
orders = Table(
    "orders",
    metadata,
    Column("order_id", String(50), primary_key=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
"""Every order id ever handed out, so that an id names one order only (its ledger key)."""


class TransientGatewayError(Exception):
    """A failure worth retrying: the gateway was unreachable or timed out."""


class PaymentDeclined(Exception):
    """A permanent refusal: retrying cannot help."""


class IdempotencyConflict(Exception):
    """The same idempotency key was used for a different amount."""


class GatewayFaults(StrictModel):
    """Faults to inject into the simulated gateway for one run."""

    transient_failures: int = Field(default=0, ge=0, le=100)
    decline: bool = False
    crash_after_charge: bool = False


def ledger_url() -> str:
    """Return the ledger's database URL."""
    return os.environ.get("HITL_LEDGER_URL") or f"sqlite:///{data_dir() / 'ledger.sqlite'}"


def engine_url(url: str) -> str:
    """Return ``url`` for SQLAlchemy: a bare ``postgres(ql)://`` URL gets the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername not in ("postgres", "postgresql"):
        return url
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@lru_cache(maxsize=8)
def ledger_engine(url: str) -> Engine:
    """Return a shared engine for ``url`` with the ledger table created."""
    url = engine_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:
            # WAL with synchronous=NORMAL: a commit survives the process being killed
            # (what the crash tests do); only a power loss may drop the last commits.
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_recycle=1800)
    create_tables(engine, metadata)
    return engine


def create_tables(engine: Engine, tables: MetaData) -> None:
    """Create ``tables`` if missing, safe when several processes start at once."""
    try:
        tables.create_all(engine)
    except DBAPIError:
        # Processes starting together on a fresh database race to create a table:
        # the losers fail (duplicate table or catalog key) once the winner has made it.
        if not all(inspect(engine).has_table(name) for name in tables.tables):
            raise


ORDER_IDS = range(10_000, 100_000)
"""``ORD-`` + 5 digits (the order contract): 90,000 ids per ledger."""


def new_order_id() -> str:
    """Hand out an order id no earlier order has had (claimed in the ledger's database).

    The id is the payment's idempotency key, so it must name one order only:
    a thread copied or replayed keeps its order's id and can never charge it twice.

    Raises:
        RuntimeError: Every id is taken (or the random draws kept colliding).
    """
    engine = ledger_engine(ledger_url())
    for _ in range(200):
        order_id = f"ORD-{random.choice(ORDER_IDS)}"
        try:
            with engine.begin() as conn:
                conn.execute(insert(orders).values(order_id=order_id))
        except IntegrityError:
            continue
        return order_id
    raise RuntimeError("no free order id left in ORD-10000..ORD-99999: archive the ledger")


_attempts: Counter[str] = Counter()
_attempts_lock = threading.Lock()


def charge(key: str, order_id: str, amount: float, faults: GatewayFaults | None = None) -> dict:
    """Charge ``amount`` once per ``key``; a repeat returns the first charge.

    Raises:
        TransientGatewayError: An injected transient failure (retry it).
        PaymentDeclined: An injected decline (do not retry).
        IdempotencyConflict: ``key`` was already charged a different amount.
    """
    faults = faults or GatewayFaults()
    with _attempts_lock:
        _attempts[key] += 1
        attempt = _attempts[key]
    if faults.decline:
        raise PaymentDeclined(f"card declined for {order_id}")
    if attempt <= faults.transient_failures:
        failing = faults.transient_failures
        raise TransientGatewayError(f"gateway unavailable (injected failure {attempt}/{failing})")
    result = _record(key, order_id, amount)
    if faults.crash_after_charge and attempt == faults.transient_failures + 1:
        raise TransientGatewayError(f"connection lost after charging {order_id} (injected)")
    return result


def _record(key: str, order_id: str, amount: float) -> dict:
    engine = ledger_engine(ledger_url())
    transaction_id = f"TXN-{random.randint(1000, 9999)}"
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(charges).values(
                    idempotency_key=key,
                    order_id=order_id,
                    amount=round(amount, 2),
                    transaction_id=transaction_id,
                )
            )
    except IntegrityError:
        with engine.connect() as conn:
            row = conn.execute(select(charges).where(charges.c.idempotency_key == key)).one()
        if float(row.amount) != round(amount, 2):
            raise IdempotencyConflict(
                f"{key} was charged {row.amount}, not {amount}: refusing a second charge"
            ) from None
        transaction_id = row.transaction_id
    return {"status": "success", "transaction_id": transaction_id}


def ledger_count(order_id: str | None = None, url: str | None = None) -> int:
    """Count charges in the ledger (for one order, or all)."""
    engine = ledger_engine(url or ledger_url())
    query = select(func.count()).select_from(charges)
    if order_id is not None:
        query = query.where(charges.c.order_id == order_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()
