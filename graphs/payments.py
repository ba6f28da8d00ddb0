"""A simulated payment gateway with a real, durable, idempotent ledger.

Every charge is stored under an idempotency key (one row per key, enforced by the
database's primary key), so a repeated call with the same key returns the first
charge instead of charging again. That holds across task retries, workflow
resumes, processes killed between the charge and the checkpoint, and several
processes sharing one database.

The ledger lives in the project's store (``graphs.common.store``:
``HITL_LEDGER_URL``, by default the SQLite file ``$HITL_DATA_DIR/ledger.sqlite``).

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

from pydantic import Field
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from graphs.common import store
from graphs.common.fields import StrictModel
from graphs.common.store import charges, orders


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
    engine = store.engine()
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
    engine = store.engine(url)
    query = select(func.count()).select_from(charges)
    if order_id is not None:
        query = query.where(charges.c.order_id == order_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()
