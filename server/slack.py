"""Answer from Slack: the Approve button of a pause's message, under every rule of any answer.

A pause's notification (``server.notify.message``) carries an Approve button whose
value names the thread and the pause, never a decision; Reject and Edit open the
item in the inbox (a reject needs a note). A click reaches ``POST
/slack/interactions``, the Request URL of the Slack app:

- **Signed by Slack.** The request's signature is checked with the app's signing
  secret (``HITL_SLACK_SIGNING_SECRET``; the route is off, 404, without it) by
  ``slack_sdk``'s ``SignatureVerifier``, which also refuses a timestamp more than
  five minutes away. Each signed request is written to the store keyed by its
  signature, so the same request sent again (a replay) is refused.
- **A mapped user.** ``HITL_SLACK_USERS`` (``U0BOB:bob,...``) names the project
  user of each Slack user; an unmapped one is refused. The answer is given as that
  user through the server's own client (``server.answers``): addressed to them, not
  their own request, still pending, not expired, like every other answer, and the
  audit entry records the channel ``slack``.
- **Within Slack's 3 seconds, never lost.** The click is stored (``pending``)
  before Slack gets its 200, then applied in the background; a server that dies in
  between applies what is still pending when it starts again. A pause answers once:
  a second try is stale, so nothing is applied twice.
- **The outcome replaces the buttons**, posted to the interaction's
  ``response_url``: "Approved by bob at 14:02 UTC", or "Not applied: <why>". Only
  hosts in ``HITL_SLACK_RESPONSE_HOSTS`` (default Slack's ``hooks.slack.com``) are
  ever called, over HTTPS (plain HTTP for a listed loopback host only): a request
  naming any other ``response_url`` is refused and nothing is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from langgraph_sdk.client import LangGraphClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphs.common import store
from graphs.common.store import slack_interactions
from server.answers import Outcome, acting_as, give_answer, user_named
from server.notify import escape
from server.threads import as_server

logger = logging.getLogger(__name__)

APPROVE = "approve"
"""The ``action_id`` of the Approve button: the only action answered here."""
SLACK_HOSTS = "hooks.slack.com"
WINDOW = 5 * 60
"""Seconds a request's timestamp may be away from now (``SignatureVerifier``'s rule)."""
KEPT = 24 * 3600
"""Seconds a finished interaction is kept (well past :data:`WINDOW`, so replays stay known)."""
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
RETRY_FOR = 30.0
"""Seconds an answer is tried again while its thread is busy (another answer, a restore)."""
POST_DELAYS = (0.5, 1.0, 2.0)
"""Seconds before each retry of a failed post to ``response_url``."""
PAST = {
    "approve": "approved",
    "reject": "rejected",
    "edit": "edited",
    "expire": "expired",
    "retry": "retried",
    "cancel": "cancelled",
}


def parse_users(spec: str) -> dict[str, str]:
    """Parse ``HITL_SLACK_USERS``: ``slack_id:user,...`` -> {Slack user id: project user}.

    Raises:
        ValueError: An entry is not ``slack_id:user``, or a Slack user id repeats.
    """
    users: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        slack_id, sep, user = (part.strip() for part in entry.partition(":"))
        if not sep or not slack_id or not user or ":" in user or " " in slack_id:
            raise ValueError(f"HITL_SLACK_USERS entry {entry!r} is not slack_user_id:user")
        if slack_id in users:
            raise ValueError(f"HITL_SLACK_USERS names Slack user {slack_id} twice")
        users[slack_id] = user
    return users


def parse_hosts(spec: str) -> frozenset[str]:
    """Parse ``HITL_SLACK_RESPONSE_HOSTS``: ``host`` or ``host:port`` entries, comma-separated."""
    return frozenset(e.strip().lower() for e in spec.split(",") if e.strip())


def why_not_callable(url: str, hosts: frozenset[str]) -> str | None:
    """Why ``response_url`` may not be called (None: it may).

    Its host must be listed: ``host`` for the default port, ``host:port`` for another
    one. It must be HTTPS, except on a listed loopback host (a test's receiver).
    """
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return f"response_url {url!r} is not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return f"response_url {url!r} is not an http(s) URL"
    if parts.username is not None or parts.password is not None:
        return "response_url carries credentials"
    default = 443 if parts.scheme == "https" else 80
    named = f"[{host}]" if ":" in host else host
    listed = (port in (None, default) and named in hosts) or f"{named}:{port or default}" in hosts
    if not listed:
        return f"response_url host {parts.netloc!r} is not in HITL_SLACK_RESPONSE_HOSTS"
    if parts.scheme == "http" and host not in LOOPBACK:
        return "response_url is not HTTPS"
    return None


@dataclass(frozen=True)
class Settings:
    """Slack's settings: the app's signing secret, the user map, the response hosts."""

    secret: str
    users: Mapping[str, str]
    hosts: frozenset[str]

    @classmethod
    def from_env(cls) -> Settings | None:
        """The settings of the environment; None when Slack is off (no signing secret).

        Raises:
            ValueError: ``HITL_SLACK_USERS`` is malformed.
        """
        secret = os.environ.get("HITL_SLACK_SIGNING_SECRET", "").strip()
        if not secret:
            return None
        return cls(
            secret=secret,
            users=parse_users(os.environ.get("HITL_SLACK_USERS", "")),
            hosts=response_hosts(),
        )

    def why_unsigned(self, body: bytes, timestamp: str, signature: str) -> str | None:
        """Why a request is not Slack's (None: Slack signed it, within the last 5 minutes)."""
        if not timestamp or not signature:
            return "not signed by Slack: X-Slack-Request-Timestamp and X-Slack-Signature needed"
        if not (timestamp.strip().isascii() and timestamp.strip().isdigit()):
            return "not signed by Slack: the timestamp is not a number"
        try:
            valid = SignatureVerifier(self.secret).is_valid(body, timestamp.strip(), signature)
        except UnicodeDecodeError:
            valid = False
        if valid:
            return None
        if abs(time.time() - int(timestamp)) > WINDOW:
            return "stale request: its timestamp is more than 5 minutes away"
        return "bad signature: not signed with this app's signing secret"


def response_hosts() -> frozenset[str]:
    """The hosts ``response_url`` may name (``HITL_SLACK_RESPONSE_HOSTS``)."""
    return parse_hosts(os.environ.get("HITL_SLACK_RESPONSE_HOSTS") or SLACK_HOSTS)


@dataclass(frozen=True)
class Click:
    """What a signed interaction asks: which button, on which pause, by whom, answered where."""

    action: str | None
    slack_user: str | None
    response_url: str | None
    thread_id: str | None = None
    interrupt_id: str | None = None

    @classmethod
    def read(cls, body: bytes) -> Click:
        """Read Slack's form body (a ``payload`` field holding JSON).

        Raises:
            ValueError: The body is not an interaction payload, or an Approve button's
                value does not name a thread and a pause.
        """
        try:
            form = parse_qs(body.decode(), strict_parsing=True)
            payload = json.loads(form["payload"][0])
        except (UnicodeDecodeError, KeyError, IndexError, ValueError):
            raise ValueError("the body is not a Slack interaction (a payload field)") from None
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        given = payload.get("user")
        user: dict[str, Any] = given if isinstance(given, dict) else {}
        url = payload.get("response_url")
        actions = payload.get("actions") if payload.get("type") == "block_actions" else None
        clicked = [a for a in actions or [] if isinstance(a, dict)]
        approve = next((a for a in clicked if a.get("action_id") == APPROVE), None)
        slack_user = str(user["id"]) if user.get("id") else None
        response_url = str(url) if url else None
        if approve is None:  # a link button (Reject, Edit) or anything else: nothing to answer
            action = str(clicked[0].get("action_id")) if clicked else None
            return cls(action, slack_user, response_url)
        try:
            value = json.loads(str(approve.get("value")))
            thread_id, interrupt_id = str(value["thread_id"]), str(value["interrupt_id"])
        except (ValueError, TypeError, KeyError):
            raise ValueError(
                "the Approve button's value does not name a thread and a pause"
            ) from None
        if not slack_user or not response_url:
            raise ValueError("the interaction names no user or no response_url")
        return cls(APPROVE, slack_user, response_url, thread_id, interrupt_id)


def record(
    signature: str, timestamp: int, click: Click, status: str, project_user: str | None
) -> bool:
    """Remember a signed request (False: it was seen before, a replay); forget old ones."""
    try:
        with store.engine().begin() as conn:
            conn.execute(
                delete(slack_interactions).where(
                    slack_interactions.c.status != "pending",
                    slack_interactions.c.request_ts < int(time.time()) - KEPT,
                )
            )
            conn.execute(
                insert(slack_interactions).values(
                    id=signature,
                    request_ts=timestamp,
                    status=status,
                    thread_id=click.thread_id,
                    interrupt_id=click.interrupt_id,
                    slack_user=click.slack_user,
                    project_user=project_user,
                    response_url=click.response_url,
                )
            )
    except IntegrityError:
        return False
    return True


def pending() -> list[dict[str, Any]]:
    """The accepted clicks not applied yet (oldest first)."""
    with store.engine().connect() as conn:
        rows = conn.execute(
            select(slack_interactions)
            .where(slack_interactions.c.status == "pending")
            .order_by(slack_interactions.c.request_ts)
        ).all()
    return [row._asdict() for row in rows]


def finish(interaction_id: str, outcome: str, error: str | None) -> None:
    """Record what became of a click."""
    with store.engine().begin() as conn:
        conn.execute(
            update(slack_interactions)
            .where(slack_interactions.c.id == interaction_id)
            .values(status="done", outcome=outcome, last_error=error, done_at=datetime.now(UTC))
        )


def clock(at: Any) -> str:
    """``14:02 UTC`` of an ISO time (the time itself when it cannot be read)."""
    try:
        when = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return str(at)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%H:%M UTC")


def outcome_text(outcome: Outcome, user: str, now: datetime | None = None) -> str:
    """What replaces the buttons: who approved and when, or why nothing was applied.

    A stale answer whose pause was approved by this same user from Slack is this
    click's own approval (applied before a crash, or by a second click): it says so.
    """
    if outcome.applied:
        return f"Approved by {user} at {clock((now or datetime.now(UTC)).isoformat())}"
    last = outcome.last or {}
    if outcome.kind == "stale" and last:
        mine = (last.get("approver"), last.get("channel"), last.get("decision"))
        if mine == (user, "slack", APPROVE):
            return f"Approved by {user} at {clock(last.get('at'))}"
        decision = str(last.get("decision"))
        return (
            f"Not applied: already decided, {PAST.get(decision, decision)} by "
            f"{last.get('approver')} at {clock(last.get('at'))}"
        )
    return f"Not applied: {outcome.error}"


async def answer(client: LangGraphClient, thread_id: str, interrupt_id: str) -> Outcome:
    """Approve as ``client``'s user, trying again while the thread is busy (for a while)."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        outcome = await give_answer(client, thread_id, interrupt_id, APPROVE, channel="slack")
        busy = outcome.kind == "conflict" or "in a moment" in str(outcome.error)
        if outcome.kind == "stale" and not busy:
            # A thread being answered shows no pause while its run goes on.
            with contextlib.suppress(Exception):
                busy = (await client.threads.get(thread_id))["status"] == "busy"
        if not busy or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(0.5)


async def decide(row: Mapping[str, Any]) -> str:
    """Apply one stored click and say what became of it."""
    user, slack_user = row["project_user"], row["slack_user"]
    if not user:
        return (
            f"Not applied: Slack user {slack_user} is not mapped to a user of this server "
            "(HITL_SLACK_USERS)"
        )
    try:
        async with acting_as(user) as client:
            outcome = await answer(client, row["thread_id"], row["interrupt_id"])
    except LookupError:
        return f"Not applied: {user} (Slack user {slack_user}) is not a configured user"
    return outcome_text(outcome, user)


async def post(url: str, text: str) -> str | None:
    """Replace the message's buttons with ``text`` (the problem, if the post failed)."""
    if refused := why_not_callable(url, response_hosts()):
        logger.error("slack: not posting the outcome: %s", refused)
        return refused
    body = {"replace_original": True, "text": escape(text)}
    problem = None
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as http:
        for delay in (*POST_DELAYS, None):
            try:
                response = await http.post(url, json=body)
                if response.status_code < 300:
                    return None
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = repr(exc)
            if delay is not None:
                await asyncio.sleep(delay)
    logger.error("slack: the outcome could not be posted to response_url: %s", problem)
    return problem


class Interactions:
    """The clicks being applied in the background (kept until done)."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, row: Mapping[str, Any]) -> None:
        """Apply a stored click in the background, as the server (not as Slack's request)."""
        task = as_server(self.apply(dict(row)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def apply(self, row: dict[str, Any]) -> None:
        """Apply, post the outcome, mark it done; on failure it stays pending for a restart."""
        try:
            text = await decide(row)
            problem = await post(str(row["response_url"]), text)
            await asyncio.to_thread(finish, row["id"], text, problem)
            logger.info("slack: %s (%s on %s)", text, row["slack_user"], row["thread_id"])
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("slack: the click %s stays pending (applied at restart)", row["id"])

    async def resume(self) -> int:
        """Apply what a stopped server had accepted but not finished (at start-up).

        Raises:
            ValueError: ``HITL_SLACK_USERS`` is malformed (the server does not start).
        """
        settings = Settings.from_env()
        if settings is None:
            return 0
        for slack_user, user in settings.users.items():
            if user_named(user) is None:
                logger.error(
                    "HITL_SLACK_USERS maps %s to %r, who is not in HITL_USERS: refused",
                    slack_user,
                    user,
                )
        rows = await asyncio.to_thread(pending)
        if rows:
            logger.warning("slack: applying %d click(s) accepted before a restart", len(rows))
        for row in rows:
            self.start(row)
        return len(rows)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let the clicks under way finish (at shutdown); the rest stays pending."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in set(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


INTERACTIONS = Interactions()


def refusal(status: int, detail: str) -> JSONResponse:
    """A refused request (Slack shows the approver that it failed)."""
    return JSONResponse({"detail": detail}, status_code=status)


async def interactions(request: Request) -> Response:
    """Slack's interactivity Request URL: POST /slack/interactions (signed by Slack)."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        logger.error("slack: %s", exc)
        return refusal(503, f"Slack is misconfigured: {exc}")
    if settings is None:
        return refusal(404, "Slack interactions are off (HITL_SLACK_SIGNING_SECRET is not set)")
    body = await request.body()
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if why := settings.why_unsigned(body, timestamp, signature):
        logger.warning("slack: refused a request: %s", why)
        return refusal(401, why)
    try:
        click = Click.read(body)
    except ValueError as exc:
        return refusal(400, str(exc))
    status, user = "ignored", None
    refused = click.response_url and why_not_callable(click.response_url, settings.hosts)
    if click.action == APPROVE:
        if refused:
            logger.error("slack: refused a click, nothing applied: %s", refused)
            status = "refused"
        else:
            status, user = "pending", settings.users.get(str(click.slack_user))
    fresh = await asyncio.to_thread(record, signature, int(timestamp), click, status, user)
    if not fresh:
        logger.warning("slack: refused a replayed request (%s)", signature[:16])
        return refusal(401, "replayed request: this signed request was received before")
    if status == "refused":
        return refusal(403, f"{refused}; nothing was applied")
    if status == "pending":
        INTERACTIONS.start({"id": signature, "project_user": user, **asdict(click)})
    return Response(status_code=200)


routes = [Route("/slack/interactions", interactions, methods=["POST"])]
