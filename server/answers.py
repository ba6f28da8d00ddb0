"""Answering a pause for someone: the one path of the inbox, Slack and email answers.

Each of these routes knows who answers (the inbox's signed-in user, a mapped Slack
user, the addressee of a signed email link) and acts as that user through the
server's in-process client, so the answer passes the same auth handlers and run
rules (``server.guard``) as any HTTP client's. The route only names its channel
(:data:`~server.internal.ANSWER_CHANNEL`), which the answer's audit entry records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError

from graphs.common import fence
from graphs.common.audit import trail
from graphs.common.decisions import answer_errors, build_answer
from server.auth import USERS
from server.guard import last_decision
from server.internal import ANSWER_CHANNEL
from server.threads import pending_pauses

KIND_FOR = {403: "auth", 404: "not_found", 409: "stale", 413: "invalid", 422: "invalid"}
STATE = {"interrupted": "waiting", "idle": "finished", "error": "failed", "busy": "running"}


@dataclass(frozen=True)
class Outcome:
    """What became of an answer: applied, or not and why (the pause is then unchanged)."""

    status: int
    """200 when applied; otherwise the refusal's HTTP status."""
    kind: str
    """``applied``, or why not: ``invalid``, ``stale``, ``auth``, ``not_found``,
    ``conflict`` (being answered right now), ``refused`` (by the workflow), ``error``."""
    thread_id: str
    error: str | None = None
    state: str | None = None
    """After an applied answer: ``waiting`` (for someone else), ``finished``, ..."""
    outcome: str | None = None
    """After an applied answer: the workflow's own status (``approved``, ...)."""
    waiting_for: str | None = None
    last: dict[str, Any] | None = None
    """A stale answer: the decision that was made instead."""

    @property
    def applied(self) -> bool:
        """Whether the workflow took the answer."""
        return self.kind == "applied"

    def body(self) -> dict[str, Any]:
        """The JSON answer of the inbox's API."""
        if not self.applied:
            return {"error": self.error, "kind": self.kind, "last": self.last}
        return {
            "thread_id": self.thread_id,
            "state": self.state,
            "status": self.outcome,
            "waiting_for": self.waiting_for,
        }


def not_applied(thread_id: str, status: int, error: str, kind: str, **extra: Any) -> Outcome:
    """An answer that was not applied, and why."""
    return Outcome(status=status, kind=kind, thread_id=thread_id, error=error, **extra)


def user_named(identity: str) -> dict[str, Any] | None:
    """The configured user ``identity`` as ``authenticate`` returns them (None: unknown)."""
    user = next((u for u in USERS if u.identity == identity), None)
    if user is None:
        return None
    return {"identity": user.identity, "role": user.role, "permissions": [user.role]}


@asynccontextmanager
async def acting_as(identity: str) -> AsyncIterator[LangGraphClient]:
    """The server's in-process client, acting as the configured user ``identity``.

    Raises:
        LookupError: No such user is configured.
    """
    user = user_named(identity)
    if user is None:
        raise LookupError(f"{identity!r} is not a configured user")
    async with fence.acting_as(user):
        yield get_client()


async def give_answer(
    client: LangGraphClient,
    thread_id: str,
    pause_id: str,
    decision: str,
    *,
    channel: str,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
    args: dict[str, Any] | None = None,
) -> Outcome:
    """Answer pause ``pause_id`` of ``thread_id`` as ``client``'s user, through ``channel``.

    The answer is built by the domain's ``build_answer`` for that pause, sent with the
    ``reject`` multitask strategy (a second answer at the same time is refused, not
    queued), and checked again by the server like every answer.
    """
    try:
        thread = await client.threads.get(thread_id)
        pause = next((p for p in pending_pauses(thread) if p["id"] == pause_id), None)
        if pause is None:
            decisions = trail(thread.get("values"))
            return not_applied(
                thread_id,
                409,
                "already answered elsewhere: this item is stale" + last_decision(thread),
                "stale",
                last=decisions[-1] if decisions else None,
            )
        given = pause.get("value")
        value: dict[str, Any] = given if isinstance(given, dict) else {}
        try:
            resume = build_answer(decision, payload=value, note=note, changes=changes, args=args)
        except ValueError as exc:
            return not_applied(thread_id, 422, str(exc), "invalid")
        graph_id = str((thread.get("metadata") or {}).get("graph_id"))
        token = ANSWER_CHANNEL.set(channel)
        try:
            result = await client.runs.wait(
                thread_id,
                graph_id,
                command={"resume": {pause_id: resume}},
                multitask_strategy="reject",
                raise_error=False,
            )
        finally:
            ANSWER_CHANNEL.reset(token)
        after = await client.threads.get(thread_id)
    except (APIStatusError, httpx.HTTPStatusError) as exc:
        status, detail = status_and_detail(exc)
        kind = "conflict" if "already running" in detail else KIND_FOR.get(status, "error")
        return not_applied(thread_id, status, detail, kind)
    raised = result.get("__interrupt__") if isinstance(result, dict) else None
    if errors := answer_errors(raised, pending_pauses(thread)):
        return not_applied(
            thread_id, 422, f"the workflow refused the answer: {errors[0]}", "refused"
        )
    return Outcome(
        status=200,
        kind="applied",
        thread_id=thread_id,
        state=STATE.get(after["status"]),
        outcome=(after.get("values") or {}).get("status"),
        waiting_for=(after.get("metadata") or {}).get("waiting_for"),
    )


def status_and_detail(exc: APIStatusError | httpx.HTTPStatusError) -> tuple[int, str]:
    """The status and the server's reason of a refused call."""
    if isinstance(exc, APIStatusError):
        status, body = exc.status_code, exc.body
    else:
        status = exc.response.status_code
        try:
            body = exc.response.json()
        except ValueError:
            body = exc.response.text
    detail = body.get("detail") if isinstance(body, dict) else body
    return status, str(detail or exc)
