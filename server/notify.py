"""Tell approvers when a workflow pauses for them: a Slack-compatible webhook.

Configured by ``HITL_WEBHOOK_URL`` (off when unset). For every pause the workflow
announces, one JSON message (``{"text": ..., "blocks": [...]}``, which Slack's
incoming webhooks and most chat tools accept) is posted, with a link to the item
in the inbox (``HITL_PUBLIC_URL``, default ``http://127.0.0.1:8123``).

- Once per pause: the pause id is claimed in the project's store (the same
  database as the payment ledger, SQLite or Postgres) before sending, so a pause
  raised again (a resumed sibling, crash recovery) or a second replica does not
  notify twice.
- Retries: failed posts are retried with exponential backoff
  (``HITL_WEBHOOK_ATTEMPTS``, default 5; 0.5 s doubling).
- Nothing for answered pauses: before every attempt the pause must still be
  pending.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, func, insert
from sqlalchemy.exc import IntegrityError

from graphs.payments import create_tables, ledger_engine, ledger_url
from server.threads import pending_pauses

logger = logging.getLogger(__name__)

metadata = MetaData()
notifications = Table(
    "notifications",
    metadata,
    Column("interrupt_id", String(64), primary_key=True),
    Column("thread_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


@dataclass(frozen=True)
class Pause:
    """A pause to notify about."""

    thread_id: str
    interrupt_id: str
    waiting_for: str | None
    payload: dict[str, Any]


@lru_cache(maxsize=4)
def store(url: str) -> Engine:
    """The project's store (the ledger's database) with the notifications table."""
    engine = ledger_engine(url)
    create_tables(engine, metadata)
    return engine


def claim(pause: Pause) -> bool:
    """Record that ``pause`` is being notified; False if it already was."""
    engine = store(ledger_url())
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(notifications).values(
                    interrupt_id=pause.interrupt_id, thread_id=pause.thread_id
                )
            )
    except IntegrityError:
        return False
    return True


def escape(text: Any) -> str:
    """Escape user text for Slack mrkdwn: it can then neither fake a link nor ping a channel."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(pause: Pause, public_url: str) -> dict[str, Any]:
    """The Slack-compatible message for a pause (every piece of user text escaped)."""
    value = pause.payload
    link = f"{public_url}/inbox#item-{pause.interrupt_id}"
    what = value.get("request") or {
        k: value[k] for k in ("amount", "description", "order_id", "name", "args") if k in value
    }
    summary = escape(", ".join(f"{k}: {v}" for k, v in what.items() if v is not None))
    who = escape(pause.waiting_for or "someone")
    kind = escape(value.get("type", "approval"))
    text = f"{kind} waits for {who}: {summary} <{link}|Open in the inbox>"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "thread_id": pause.thread_id,
        "interrupt_id": pause.interrupt_id,
        "waiting_for": pause.waiting_for,
        "link": link,
    }


class Notifier:
    """Post a webhook for each pause, in the background, with retries."""

    def __init__(self, client: LangGraphClient, url: str, public_url: str, attempts: int = 5):
        self.client = client
        self.url = url
        self.public_url = public_url.rstrip("/")
        self.attempts = attempts
        self.queue: asyncio.Queue[Pause] = asyncio.Queue()

    @classmethod
    def from_env(cls, client: LangGraphClient) -> Notifier | None:
        """A notifier configured by the environment, or None when no webhook is set."""
        url = os.environ.get("HITL_WEBHOOK_URL")
        if not url:
            return None
        public = os.environ.get("HITL_PUBLIC_URL", "http://127.0.0.1:8123")
        return cls(client, url, public, int(os.environ.get("HITL_WEBHOOK_ATTEMPTS", "5")))

    def enqueue(self, pause: Pause) -> None:
        """Queue a pause (call on the notifier's event loop)."""
        self.queue.put_nowait(pause)

    async def still_pending(self, pause: Pause, settle: float = 60.0) -> bool:
        """Whether the pause is still waiting for an answer (once its run has settled)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle
        thread = await self.client.threads.get(pause.thread_id)
        while thread["status"] == "busy" and loop.time() < deadline:
            await asyncio.sleep(0.2)  # the run that raised the pause is still finishing
            thread = await self.client.threads.get(pause.thread_id)
        return pause.interrupt_id in [i["id"] for i in pending_pauses(thread)]

    async def deliver(self, pause: Pause) -> bool:
        """Post one pause's message, retrying; return whether it was delivered."""
        if not await asyncio.to_thread(claim, pause):
            return False
        body = message(pause, self.public_url)
        delay = 0.5
        async with httpx.AsyncClient(timeout=5) as http:
            for attempt in range(1, self.attempts + 1):
                if not await self.still_pending(pause):
                    logger.info("not notifying %s: already answered", pause.interrupt_id)
                    return False
                try:
                    response = await http.post(self.url, json=body)
                    if response.status_code < 300:
                        return True
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)
                logger.warning("webhook attempt %d for %s failed: %s", attempt,
                               pause.interrupt_id, problem)  # fmt: skip
                await asyncio.sleep(delay)
                delay *= 2
        logger.error("webhook for pause %s gave up after %d attempts", pause.interrupt_id,
                     self.attempts)  # fmt: skip
        return False

    async def run(self) -> None:
        """Deliver queued pauses until cancelled (each on its own task)."""
        while True:
            pause = await self.queue.get()
            task = asyncio.create_task(self.deliver(pause))
            task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception():
        logger.error("webhook delivery failed", exc_info=task.exception())
