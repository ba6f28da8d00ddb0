"""The reads a person waits on, with the standard library alone: ``hitl pending`` at once.

``langgraph_sdk`` imports langchain_core, and with httpx and the answer models it
takes about a second to import: longer than the listing itself. A listing is one
``POST /threads/search``, so this module sends it as ``langgraph_sdk`` would (the
same path, body and ``Authorization`` / ``x-api-key`` headers) through
``urllib.request``, and explains every failure with the same :class:`ClientError`
kinds and messages as :class:`~sdk_client.transport.HitlClient`. What writes
(submit, resume, chat...) stays on the SDK.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from typing import Any

from sdk_client.transport import ClientError, Outcome, outcome_of, search_body, status_error

API_KEYS = ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
"""Where ``langgraph_sdk`` finds an API key (sent as ``x-api-key``), first found wins."""


def unreachable(url: str, exc: BaseException) -> ClientError:
    """The error for a server that does not answer at all, with what to do about it."""
    return ClientError(
        f"cannot reach the server at {url} ({type(exc).__name__}): is it running? "
        "Start one with `make dev` (it serves on HITL_PORT, default 8123), or point "
        "--url / LANGGRAPH_URL at yours",
        kind="unreachable",
    )


class Reader:
    """Reads from one server as one user, a request at a time, without the SDK."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "User-Agent": "hitl"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        key = next((os.environ[k] for k in API_KEYS if os.environ.get(k)), None)
        if key:
            self.headers["x-api-key"] = key.strip().strip('"').strip("'")

    def request(self, method: str, path: str, what: str, body: Any = None) -> Any:
        """Send one request; return its JSON answer.

        Raises:
            ClientError: The server is down, or refused the request (the message
                says why, as the SDK path says it).
        """
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        sent = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(sent, timeout=self.timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            with refused:
                text = refused.read().decode(errors="replace")
            try:
                error_body: Any = json.loads(text)
            except ValueError:
                error_body = text
            raise status_error(refused.code, error_body, what, bool(self.token)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise unreachable(self.url, getattr(exc, "reason", exc)) from None

    def pending(
        self, graph_id: str | None = None, limit: int = 50, waiting_for: str | None = None
    ) -> list[Outcome]:
        """Threads waiting for a human, as :meth:`HitlClient.pending` lists them."""
        body = search_body("interrupted", graph_id, limit, waiting_for)
        threads = self.request("POST", "/threads/search", "search threads", body)
        return [outcome_of(thread) for thread in threads]

    def ok(self) -> None:
        """Check that the server answers (``GET /ok``).

        Raises:
            ClientError: Nothing answers at the URL.
        """
        try:
            self.request("GET", "/ok", "the server's health")
        except ClientError as exc:
            if exc.kind == "unreachable":
                raise
        except ValueError:  # something answers, if not in JSON: the command will say more
            pass
