"""Tell approvers when a workflow pauses for them: a Slack-compatible webhook, through an outbox.

Configured by ``HITL_WEBHOOK_URL`` (off when unset). For every pause the workflow
announces, one JSON message (``{"text": ..., "blocks": [...]}``, which Slack's
incoming webhooks and most chat tools accept) is posted, with a link to the item
in the inbox (``HITL_PUBLIC_URL``, default ``http://127.0.0.1:8123``).

- **Outbox.** A pause is first written to the ``outbox`` table of the project's
  store (the ledger's database, SQLite or Postgres), keyed by the pause id; a
  background task delivers what is due. A pause raised again (a resumed sibling,
  crash recovery, a second replica) finds its row and is not queued twice, and
  what was queued survives a crash or a restart.
- **At least once, with a stable id.** Each message carries ``id`` (the pause id)
  and an ``Idempotency-Key`` header, so a receiver drops the duplicates a crash
  between a post and its bookkeeping can cause.
- **Back-off and dead letters.** A failed post is retried after 0.5 s, doubling
  up to 60 s (``HITL_WEBHOOK_BACKOFF`` sets the first delay), up to
  ``HITL_WEBHOOK_ATTEMPTS`` (default 8, about two minutes) times; then the row is
  ``dead``. ``hitl notifications`` lists them, ``hitl notifications resend <id>``
  sends one again, and a server restart retries every dead letter whose pause is
  still waiting.
- **Nothing for answered pauses**: before every attempt the pause must still be
  pending; a pause answered meanwhile is ``dropped``.
- **Several replicas** claim a row before posting it (a lease on ``next_at``), so
  one replica posts it.
- **Email** (``server.mail``, on when ``HITL_SMTP_URL`` is set) goes through the same
  outbox, with the same attempts, back-off and dead letters: one row per pause and
  recipient (its key a delivery id of its own, ``channel`` ``email``). The mail and
  its signed link are made when it is sent, so no link rests in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from langgraph_sdk.client import LangGraphClient
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graphs.common import contract, store
from graphs.common.access import ADMIN
from graphs.common.store import outbox
from server.auth import caller
from server.mail import Mailer
from server.threads import pending_pauses

logger = logging.getLogger(__name__)

STATUSES = ("pending", "sent", "dead", "dropped")
LEASE = timedelta(seconds=30)
"""How long a claimed row is left alone by other replicas while it is being posted."""
BUSY_RETRY = timedelta(seconds=0.2)
"""When to look again at a pause whose run is still finishing."""


@dataclass(frozen=True)
class Pause:
    """A pause to notify about."""

    thread_id: str
    interrupt_id: str
    waiting_for: str | None
    payload: dict[str, Any]


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def aware(when: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def escape(text: Any) -> str:
    """Escape user text for Slack mrkdwn: it can then neither fake a link nor ping a channel."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def buttons(pause: Pause, asked: contract.Pause | None, link: str) -> list[dict[str, Any]]:
    """Slack's Block Kit buttons for the answers a pause offers (none for other pauses).

    Approve answers in Slack (``server.slack``): its value names the thread and the
    pause only, and the server checks the click like any answer. Reject (it needs a
    note) and Edit open the item in the inbox.
    """
    if asked is None:
        return []

    def button(action: str, label: str, **rest: Any) -> dict[str, Any]:
        text = {"type": "plain_text", "text": label}
        return {"type": "button", "action_id": action, "text": text, **rest}

    shown = []
    if "approve" in asked.options:
        named = json.dumps({"thread_id": pause.thread_id, "interrupt_id": pause.interrupt_id})
        shown.append(button("approve", "Approve", style="primary", value=named))
    if "reject" in asked.options:
        shown.append(button("reject", "Reject", style="danger", url=link))
    if asked.editable and "edit" in asked.options:
        shown.append(button("edit", "Edit", url=link))
    return shown


def message(pause: Pause, public_url: str) -> dict[str, Any]:
    """The Slack-compatible message for a pause, as its contract says it (user text escaped).

    "<headline> — waits for <who>: <label>: <value>, ... <link|Open in the inbox>",
    then the buttons of the answers it offers (:func:`buttons`).
    """
    link = f"{public_url}/inbox#item-{pause.interrupt_id}"
    asked = contract.Pause.read(pause.payload)
    said = escape(asked.headline if asked else "A workflow")
    shown = ", ".join(f"{f.label}: {f.text()}" for f in asked.fields) if asked else ""
    who = escape(pause.waiting_for or "someone")
    details = f": {escape(shown)}" if shown else ""
    text = f"{said} — waits for {who}{details} <{link}|Open in the inbox>"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if elements := buttons(pause, asked, link):
        blocks.append({"type": "actions", "block_id": "hitl-answer", "elements": elements})
    return {
        "id": pause.interrupt_id,
        "text": text,
        "blocks": blocks,
        "thread_id": pause.thread_id,
        "interrupt_id": pause.interrupt_id,
        "waiting_for": pause.waiting_for,
        "link": link,
    }


def delivery_id(interrupt_id: str, channel: str | None = None, recipient: str | None = None) -> str:
    """A row's key: the pause id for the webhook; one id per pause, channel and recipient else."""
    if channel is None:
        return interrupt_id
    return uuid.uuid5(uuid.NAMESPACE_URL, f"hitl:{interrupt_id}/{channel}/{recipient}").hex


def add(
    pause: Pause, body: dict[str, Any], channel: str | None = None, recipient: str | None = None
) -> bool:
    """Queue a pause's message (for the webhook, or ``channel`` to ``recipient``).

    False if it was queued before.
    """
    try:
        with store.engine().begin() as conn:
            conn.execute(
                insert(outbox).values(
                    interrupt_id=delivery_id(pause.interrupt_id, channel, recipient),
                    thread_id=pause.thread_id,
                    body=json.dumps(body),
                    status="pending",
                    attempts=0,
                    next_at=now(),
                    channel=channel,
                    recipient=recipient,
                    pause_id=pause.interrupt_id if channel else None,
                )
            )
    except IntegrityError:
        return False
    return True


def pause_of(row: dict[str, Any]) -> str:
    """The pause a row tells about."""
    return str(row.get("pause_id") or row["interrupt_id"])


def claim_due(limit: int = 20) -> list[dict[str, Any]]:
    """Take the due rows (each claimed with a lease, so one replica posts it)."""
    engine, at = store.engine(), now()
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox)
            .where(outbox.c.status == "pending", outbox.c.next_at <= at)
            .order_by(outbox.c.next_at)
            .limit(limit)
        ).all()
    claimed = []
    for row in rows:
        with engine.begin() as conn:
            taken = conn.execute(
                update(outbox)
                .where(outbox.c.interrupt_id == row.interrupt_id, outbox.c.next_at == row.next_at)
                .values(next_at=at + LEASE)
            ).rowcount
        if taken:
            claimed.append(row._asdict())
    return claimed


def settle(interrupt_id: str, **values: Any) -> None:
    """Record what became of a row."""
    with store.engine().begin() as conn:
        conn.execute(update(outbox).where(outbox.c.interrupt_id == interrupt_id).values(**values))


def listing(status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The outbox's rows, newest first (optionally of one status): delivery facts only.

    Not the message: it quotes the request, which the admin may not be allowed to read.
    """
    query = select(outbox).order_by(outbox.c.created_at.desc()).limit(limit)
    if status:
        query = query.where(outbox.c.status == status)
    with store.engine().connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": row.interrupt_id,
            "thread_id": row.thread_id,
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "created_at": aware(row.created_at).isoformat(),
            "sent_at": aware(row.sent_at).isoformat() if row.sent_at else None,
            "channel": row.channel or "webhook",
            "recipient": row.recipient,
            "pause_id": row.pause_id or row.interrupt_id,
        }
        for row in rows
    ]


def resend(interrupt_id: str | None = None) -> int:
    """Queue one row again (any status), or every dead letter; return how many."""
    query = update(outbox).values(status="pending", attempts=0, next_at=now(), last_error=None)
    query = (
        query.where(outbox.c.interrupt_id == interrupt_id)
        if interrupt_id
        else query.where(outbox.c.status == "dead")
    )
    with store.engine().begin() as conn:
        return conn.execute(query).rowcount


class Notifier:
    """Deliver the outbox's messages in the background, with back-off and dead letters."""

    def __init__(
        self,
        client: LangGraphClient,
        url: str | None,
        public_url: str,
        attempts: int = 8,
        backoff: float = 0.5,
        mailer: Mailer | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        self.wake = asyncio.Event()

    @classmethod
    def from_env(cls, client: LangGraphClient) -> Notifier | None:
        """A notifier configured by the environment, or None when neither webhook nor email is."""
        url = os.environ.get("HITL_WEBHOOK_URL") or None
        mailer = Mailer.from_env()
        if not url and mailer is None:
            return None
        public = os.environ.get("HITL_PUBLIC_URL", "http://127.0.0.1:8123")
        attempts = int(os.environ.get("HITL_WEBHOOK_ATTEMPTS", "8"))
        return cls(
            client,
            url,
            public,
            attempts,
            float(os.environ.get("HITL_WEBHOOK_BACKOFF", "0.5")),
            mailer,
        )

    def queue(self, pause: Pause) -> bool:
        """Queue a pause's messages: the webhook's, and a mail to each recipient (blocking)."""
        queued = False
        if self.url:
            queued |= add(pause, message(pause, self.public_url))
        if self.mailer is not None:
            for identity, address in self.mailer.recipients(pause.payload):
                queued |= add(pause, {"to": address}, "email", identity)
        return queued

    async def enqueue(self, pause: Pause) -> None:
        """Queue a pause's messages in the outbox and wake the deliverer."""
        if await asyncio.to_thread(self.queue, pause):
            self.wake.set()

    async def still_pending(self, row: dict[str, Any]) -> dict[str, Any] | Literal["busy"] | None:
        """The pause if it still waits; None once answered; "busy" while its run finishes."""
        thread = await self.client.threads.get(row["thread_id"])
        if thread["status"] == "busy":
            return "busy"
        return next((i for i in pending_pauses(thread) if i["id"] == pause_of(row)), None)

    async def post(self, http: httpx.AsyncClient, row: dict[str, Any]) -> str | None:
        """Post a webhook row: the problem, or None when the receiver took it."""
        if not self.url:
            return "HITL_WEBHOOK_URL is no longer set"
        try:
            response = await http.post(
                self.url,
                content=row["body"],
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": row["interrupt_id"],
                },
            )
        except httpx.HTTPError as exc:
            return repr(exc)
        return None if response.status_code < 300 else f"HTTP {response.status_code}"

    async def mail(self, row: dict[str, Any], pause: dict[str, Any]) -> str | None:
        """Mail an email row: the problem, or None when the SMTP server took it."""
        if self.mailer is None:
            return "HITL_SMTP_URL is no longer set"
        to = json.loads(row["body"])["to"]
        return await self.mailer.deliver(row["recipient"], to, row["thread_id"], pause)

    async def deliver(self, http: httpx.AsyncClient, row: dict[str, Any]) -> None:
        """Send one claimed row and record the outcome."""
        interrupt_id = row["interrupt_id"]
        pending = await self.still_pending(row)
        if isinstance(pending, str):  # busy
            await asyncio.to_thread(settle, interrupt_id, next_at=now() + BUSY_RETRY)
            return
        if pending is None:
            logger.info("not notifying %s: already answered", interrupt_id)
            await asyncio.to_thread(settle, interrupt_id, status="dropped")
            return
        if row.get("channel") == "email":
            problem = await self.mail(row, pending)
        else:
            problem = await self.post(http, row)
        attempts = row["attempts"] + 1  # every try, the one that went through too
        if problem is None:
            await asyncio.to_thread(
                settle, interrupt_id, status="sent", attempts=attempts, sent_at=now()
            )
            return
        if attempts >= self.attempts:
            logger.error(
                "%s %s is a dead letter after %d attempts: %s",
                row.get("channel") or "webhook",
                interrupt_id,
                attempts,
                problem,
            )
            await asyncio.to_thread(
                settle, interrupt_id, status="dead", attempts=attempts, last_error=problem
            )
            return
        delay = min(self.backoff * 2 ** (attempts - 1), 60.0)
        logger.warning(
            "%s attempt %d for %s failed: %s; next in %.1f s",
            row.get("channel") or "webhook",
            attempts,
            interrupt_id,
            problem,
            delay,
        )
        await asyncio.to_thread(
            settle,
            interrupt_id,
            attempts=attempts,
            last_error=problem,
            next_at=now() + timedelta(seconds=delay),
        )

    async def run(self) -> None:
        """Deliver due messages until cancelled; a restart first revives the dead letters."""
        revived = await asyncio.to_thread(resend)
        if revived:
            logger.warning("outbox: retrying %d dead letters after a restart", revived)
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                try:
                    due = await asyncio.to_thread(claim_due)
                    await asyncio.gather(*(self.deliver(http, row) for row in due))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("outbox delivery failed; retrying")
                    due = []
                if not due:
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                    except TimeoutError:
                        pass


def _admin(request: Request) -> JSONResponse | None:
    """A 403 unless the caller is an admin."""
    who, role = caller(request)
    if role != ADMIN:
        return JSONResponse(
            {"detail": f"notifications are for admins; you are {who} ({role})"}, status_code=403
        )
    return None


async def list_notifications(request: Request) -> JSONResponse:
    """The outbox, newest first, optionally of one status (admins): GET /notifications."""
    if refused := _admin(request):
        return refused
    status = request.query_params.get("status") or None
    if status and status not in STATUSES:
        return JSONResponse({"detail": f"status must be one of {', '.join(STATUSES)}"}, 422)
    return JSONResponse(await asyncio.to_thread(listing, status))


async def resend_notification(request: Request) -> JSONResponse:
    """Send one message again (admins): POST /notifications/{id}/resend."""
    if refused := _admin(request):
        return refused
    interrupt_id = request.path_params["interrupt_id"]
    if not await asyncio.to_thread(resend, interrupt_id):
        return JSONResponse({"detail": f"no notification {interrupt_id}"}, 404)
    return JSONResponse({"id": interrupt_id, "status": "pending"})


routes = [
    Route("/notifications", list_notifications),
    Route("/notifications/{interrupt_id}/resend", resend_notification, methods=["POST"]),
]
