"""A simulated payment gateway with a real, durable, idempotent ledger.

Every charge is stored under an idempotency key (one row per key, enforced by the
database's primary key), so a repeated call with the same key returns the first
charge instead of charging again. That holds across task retries, workflow
resumes, processes killed between the charge and the checkpoint, and several
processes sharing one database.

The ledger lives in the project's store (``graphs.common.store``:
``HITL_LEDGER_URL``, by default the SQLite file ``$HITL_DATA_DIR/ledger.sqlite``).

Money is also capped per requester: what one requester moves without a manager's
review (a charge with ``reviewed`` false) may not exceed the limit in force, summed
over the UTC day and over the conversation. :func:`unreviewed_total` reads that
sum; :func:`charge` given a :class:`Spender` records who moved the money and, for
an unreviewed charge, refuses it (:class:`OverLimit`, nothing charged) when it
would cross the limit. The check and the charge are one transaction, serialised
per requester, so two conversations that each looked before either paid cannot
both pass.

Faults can be injected per run (the ``gateway`` entry of a workflow's context),
off by default: ``transient_failures`` (the first N attempts for a key fail with a
retryable error), ``decline`` (a permanent refusal, never retried) and
``crash_after_charge`` (the first attempt charges, then loses the connection
before answering, as a crash between the charge and the checkpoint would).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from graphs.common import store
from graphs.common.fields import StrictModel
from graphs.common.store import charges, orders, spenders


class TransientGatewayError(Exception):
    """A failure worth retrying: the gateway was unreachable or timed out."""


class PaymentDeclined(Exception):
    """A permanent refusal: retrying cannot help."""


class IdempotencyConflict(Exception):
    """The same idempotency key was used for a different amount."""


class OverLimit(Exception):
    """An unreviewed charge would take its requester over the limit: refused, nothing charged."""


class Spender(StrictModel):
    """Who moves the money of a charge, and under which limit."""

    requester: str | None = Field(default=None, max_length=200)
    """Whose allowance it draws on; in process without a signed-in user, None
    (such charges share one allowance)."""
    thread_id: str | None = Field(default=None, max_length=200)
    """The conversation or order thread the charge belongs to."""
    reviewed: bool = False
    """A manager approved this charge: it does not count towards the requester's limit."""
    limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """The most the requester may move without a manager, per day and per
    conversation; None records the charge without checking it."""


class GatewayFaults(StrictModel):
    """Faults to inject into the simulated gateway for one run."""

    transient_failures: int = Field(default=0, ge=0, le=100)
    decline: bool = False
    crash_after_charge: bool = False


ORDER_IDS = range(10_000, 100_000)
"""``ORD-`` + 5 digits (the order contract): 90,000 ids per ledger."""


def new_order_id() -> str:
    """Hand out an order id no earlier order has had (claimed in the ledger's database).

    The id is the payment's idempotency key, so it must name one order only:
    a thread copied or replayed keeps its order's id and can never charge it twice.

    Raises:
        RuntimeError: Every id is taken (or the random draws kept colliding).
    """
    engine = store.engine()
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


def charge(
    key: str,
    order_id: str,
    amount: float,
    faults: GatewayFaults | None = None,
    spender: Spender | None = None,
) -> dict[str, Any]:
    """Charge ``amount`` once per ``key``; a repeat returns the first charge.

    With a ``spender``, the charge records who moved the money; an unreviewed one
    with a ``limit`` is refused when it would take the requester's unreviewed total
    (today, or in this conversation) above it. A repeat of a charged key returns the
    first charge without that check.

    Raises:
        TransientGatewayError: An injected transient failure (retry it).
        PaymentDeclined: An injected decline (do not retry).
        IdempotencyConflict: ``key`` was already charged a different amount.
        OverLimit: The charge would cross the requester's limit (nothing charged).
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
    result = _record(key, order_id, amount, spender or Spender())
    if faults.crash_after_charge and attempt == faults.transient_failures + 1:
        raise TransientGatewayError(f"connection lost after charging {order_id} (injected)")
    return result


def _record(key: str, order_id: str, amount: float, spender: Spender) -> dict[str, Any]:
    engine = store.engine()
    row: dict[str, Any] = {
        "idempotency_key": key,
        "order_id": order_id,
        "amount": round(amount, 2),
        "transaction_id": f"TXN-{random.randint(1000, 9999)}",
        "requester": spender.requester,
        "thread_id": spender.thread_id,
        "reviewed": spender.reviewed,
        "created_at": datetime.now(UTC),
    }
    limit = None if spender.reviewed else spender.limit
    if limit is not None:
        _add_spender(spender.requester)
    try:
        with engine.begin() as conn:
            if limit is not None:
                _lock(conn, spender.requester)
                if (first := _charged(conn, key)) is not None:
                    return _replay(first, key, amount)  # a repeat is never refused
                if refusal := _over_limit(conn, spender, abs(row["amount"]), limit):
                    raise OverLimit(refusal)
            conn.execute(insert(charges).values(**row))
    except IntegrityError:
        with engine.connect() as conn:
            first = _charged(conn, key)
        if first is None:
            raise
        return _replay(first, key, amount)
    return {"status": "success", "transaction_id": row["transaction_id"]}


def _charged(conn: Connection, key: str) -> Row[*tuple[Any, ...]] | None:
    return conn.execute(select(charges).where(charges.c.idempotency_key == key)).one_or_none()


def _replay(first: Row[*tuple[Any, ...]], key: str, amount: float) -> dict[str, Any]:
    if float(first.amount) != round(amount, 2):
        raise IdempotencyConflict(
            f"{key} was charged {first.amount}, not {amount}: refusing a second charge"
        )
    return {"status": "success", "transaction_id": first.transaction_id}


def _add_spender(requester: str | None) -> None:
    """Make sure ``requester`` has a lock row (before the charge's transaction opens)."""
    name = requester or ""
    engine = store.engine()
    with engine.connect() as conn:
        if conn.execute(select(spenders.c.requester).where(spenders.c.requester == name)).first():
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(spenders).values(requester=name, charges=0))
    except IntegrityError:
        pass  # another process added it meanwhile


def _lock(conn: Connection, requester: str | None) -> None:
    """Hold ``requester``'s lock until ``conn`` commits (a row lock; SQLite: the write lock).

    The update is the transaction's first statement: SQLite then takes its write
    lock before reading anything, waiting for another writer (the engine's busy
    timeout) instead of failing on a stale snapshot.
    """
    name = requester or ""
    bump = update(spenders).where(spenders.c.requester == name)
    if conn.execute(bump.values(charges=spenders.c.charges + 1)).rowcount != 1:
        raise RuntimeError(f"no lock row for requester {name!r} in table spenders")


def _over_limit(conn: Connection, spender: Spender, amount: float, limit: float) -> str | None:
    """Why an unreviewed charge of ``amount`` would cross ``limit``; None if it would not."""
    totals = [(_unreviewed(conn, spender.requester, since=day_start()), "today")]
    if spender.thread_id is not None:
        here = _unreviewed(conn, spender.requester, thread_id=spender.thread_id)
        totals.append((here, "in this conversation"))
    for total, where in totals:
        if round(total + amount, 2) > limit:
            return (
                f"over your limit of {limit:,.2f} without a manager: {total:,.2f} already "
                f"moved {where} without a manager's review, and this {amount:,.2f} would "
                f"make {total + amount:,.2f}; a manager must review it"
            )
    return None


def day_start(at: datetime | None = None) -> datetime:
    """Return the start (00:00 UTC) of the UTC day of ``at`` (default: now)."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def unreviewed_total(
    requester: str | None, thread_id: str | None = None, since: datetime | None = None
) -> float:
    """Sum what ``requester`` moved without a manager's review (refunds count as positive).

    Args:
        requester: Whose charges; None sums the charges made without a requester.
        thread_id: Only this conversation's (or order thread's) charges.
        since: Only charges made at or after this time (e.g. :func:`day_start`).
    """
    with store.engine().connect() as conn:
        return _unreviewed(conn, requester, thread_id, since)


def _unreviewed(
    conn: Connection,
    requester: str | None,
    thread_id: str | None = None,
    since: datetime | None = None,
) -> float:
    query = select(func.coalesce(func.sum(func.abs(charges.c.amount)), 0)).where(
        charges.c.reviewed.is_(False),
        charges.c.requester.is_(None) if requester is None else charges.c.requester == requester,
    )
    if thread_id is not None:
        query = query.where(charges.c.thread_id == thread_id)
    if since is not None:
        query = query.where(charges.c.created_at >= since.astimezone(UTC))
    return float(conn.execute(query).scalar_one())


def ledger_count(order_id: str | None = None, url: str | None = None) -> int:
    """Count charges in the ledger (for one order, or all)."""
    engine = store.engine(url)
    query = select(func.count()).select_from(charges)
    if order_id is not None:
        query = query.where(charges.c.order_id == order_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()
