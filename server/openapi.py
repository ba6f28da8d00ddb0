"""The project's routes in ``/openapi.json``, next to LangGraph Server's own.

langgraph-api describes a custom app by reading its routes' docstrings, and it
reads the whole merged app that way, so its own routes come out blank (``{}``)
and win the merge: without this, ``/openapi.json`` and ``/docs`` describe no
request body and no parameter of any route. :func:`publish` replaces that
description with this one (the project's routes only), once the server is up.
It uses langgraph-api's ``set_custom_spec``, a private hook: the fence's
``openapi-custom-spec`` entry (``graphs/common/fence.py``), optional.
"""

from __future__ import annotations

import logging
from typing import Any

from graphs.common import fence
from server.notify import STATUSES

logger = logging.getLogger(__name__)


def _get(summary: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "tags": ["HITL"], "parameters": list(parameters)}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


REFRESH = _query("refresh", "Seconds between refreshes of the list", {"type": "integer"})
ANSWER = {
    "type": "object",
    "required": ["thread_id", "interrupt_id", "decision"],
    "properties": {
        "thread_id": {"type": "string", "format": "uuid"},
        "interrupt_id": {"type": "string", "description": "The pause answered"},
        "decision": {"type": "string", "description": "One of the pause's options"},
        "note": {"type": "string", "description": "Why (required to reject)"},
        "changes": {"type": "object", "description": "Edited fields (an edit)"},
        "args": {"type": "object", "description": "A tool review's edited arguments"},
    },
}
SLACK_FORM = {
    "type": "object",
    "required": ["payload"],
    "properties": {"payload": {"type": "string", "description": "Slack's block_actions JSON"}},
}
EMAIL_FORM = {
    "type": "object",
    "required": ["token", "csrf", "decision"],
    "properties": {
        "token": {"type": "string", "description": "The mailed link's signed token"},
        "csrf": {"type": "string", "description": "The page's CSRF value (also its cookie)"},
        "decision": {"type": "string", "description": "One of the pause's options (not edit)"},
        "note": {"type": "string", "description": "Why (required to reject)"},
    },
}
PATHS: dict[str, Any] = {
    "/": _get("Health check; points to the inbox and the API docs"),
    "/me": _get("Who the token belongs to"),
    "/deletions": _get("Threads deleted by admins, with their records (admins)"),
    "/archive": _get(
        "Archived decided threads, newest decided first (admins: every one; others: "
        "those they may see)",
        _query(
            "limit",
            "At most this many",
            {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        ),
        _query("offset", "Skip this many", {"type": "integer", "minimum": 0, "default": 0}),
    ),
    "/archive/{thread_id}": _get(
        "One archived thread, as the runtime shows a thread, with archived_at",
        _path("thread_id"),
    ),
    "/inbox": _get("The approvals inbox page", REFRESH),
    "/inbox/": _get("The approvals inbox page", REFRESH),
    "/inbox/static/{name}": _get("The inbox's script and style sheet", _path("name")),
    "/inbox/api/me": _get("Who is signed in, and the deployment's currency"),
    "/inbox/api/items": _get("The pauses the caller may answer"),
    "/inbox/api/history": _get("Finished requests the caller may see"),
    "/inbox/api/answer": {
        "post": {
            "summary": "Answer one pause",
            "tags": ["HITL"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ANSWER}}},
        }
    },
    "/notifications": _get(
        "The webhook outbox: delivery facts (admins)",
        _query("status", "Only this status", {"type": "string", "enum": list(STATUSES)}),
    ),
    "/notifications/{interrupt_id}/resend": {
        "post": {
            "summary": "Send one notification again (admins)",
            "tags": ["HITL"],
            "parameters": [_path("interrupt_id")],
        }
    },
    "/email/answer": {
        "get": {
            "summary": "A mailed link: the confirmation page (decides nothing)",
            "tags": ["HITL"],
            "parameters": [
                {
                    "name": "token",
                    "in": "query",
                    "required": True,
                    "description": "The link's signed token (user, thread, pause, expiry)",
                    "schema": {"type": "string"},
                }
            ],
        },
        "post": {
            "summary": "Answer from the confirmation page, once, as the link's user",
            "tags": ["HITL"],
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": EMAIL_FORM}},
            },
        },
    },
    "/slack/interactions": {
        "post": {
            "summary": "Slack's interactivity Request URL: an Approve click (signed by Slack)",
            "tags": ["HITL"],
            "parameters": [
                {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                for name in ("X-Slack-Request-Timestamp", "X-Slack-Signature")
            ],
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": SLACK_FORM}},
            },
        }
    },
}


def publish() -> None:
    """Describe the project's routes in ``/openapi.json`` without blanking the server's own."""
    try:
        openapi = fence.openapi_module()
    except ImportError:
        return
    if not hasattr(openapi, "set_custom_spec"):
        logger.warning("langgraph-api has no set_custom_spec: /openapi.json may be blank")
        return
    openapi.set_custom_spec({"openapi": "3.1.0", "info": {}, "paths": PATHS})
    if hasattr(openapi.get_openapi_spec, "cache_clear"):
        openapi.get_openapi_spec.cache_clear()
