"""Every call the client makes to a LangGraph server, through ``langgraph_sdk``.

Nothing here prints or reads the terminal (that is ``cli.py``). Each failure the
server or the network can produce is turned into a :class:`ClientError` whose
message a person can act on.

Importing this module is cheap (the standard library only): ``langgraph_sdk``,
``httpx`` and the answer models (jsonschema, pydantic) take about a second to
import, so they are imported where a call needs them. ``sdk_client/reader.py``
reads with the same errors and no SDK at all (``hitl pending``).
"""

from __future__ import annotations

import string
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx
    from langgraph_sdk.errors import APIStatusError

T = TypeVar("T")

WAITING, FINISHED, FAILED, RUNNING = "waiting", "finished", "failed", "running"
SHORT_ID = 8
"""The fewest characters of an id the client looks up (the README and tables shorten ids)."""
PAGE = 500
"""Threads per page when the client lists every thread a caller can see."""


class ClientError(Exception):
    """A failure explained in one line, for a person.

    ``kind`` says what went wrong for programs: ``invalid`` (the answer does not fit
    the pause), ``stale`` (the pause is no longer pending), ``conflict`` (someone
    else is answering), ``refused`` (the workflow refused the answer), ``not_found``,
    ``auth``, ``unreachable`` or ``error``.
    """

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class AnswerNotApplied(ClientError):
    """The workflow refused an answer; the pause is still waiting (see ``outcome``)."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message, kind="refused")
        self.outcome = outcome


@dataclass
class Outcome:
    """Where a workflow thread stands."""

    thread_id: str
    graph_id: str | None
    state: str
    """``waiting`` for a human, ``finished``, ``failed`` or ``running``."""
    values: dict[str, Any] = field(default_factory=dict)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    """Pending pauses: ``{"id", "value", "response_schema"}`` each."""
    error: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    archived_at: str | None = None
    """When a decided thread left the runtime for the archive; None for every other."""

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy (``archived_at`` only for an archived thread)."""
        data = asdict(self)
        if data["archived_at"] is None:
            del data["archived_at"]
        return data


def outcome_of(thread: dict[str, Any]) -> Outcome:
    """Where a thread stands, read from the thread as the server returns it.

    A failed run's error and the values of a thread restored after a crash take
    further reads: :meth:`HitlClient.status` makes them.
    """
    interrupts = [i for group in (thread.get("interrupts") or {}).values() for i in group]
    state = {
        "interrupted": WAITING,
        "idle": FINISHED,
        "error": FAILED,
        "busy": RUNNING,
    }.get(thread["status"], thread["status"])
    if state == FINISHED and interrupts:
        state = WAITING
    archived_at = thread.get("archived_at")
    return Outcome(
        thread_id=thread["thread_id"],
        graph_id=(thread.get("metadata") or {}).get("graph_id"),
        state=state,
        values=thread.get("values") or {},
        interrupts=interrupts,
        created_at=str(thread.get("created_at")),
        updated_at=str(thread.get("updated_at")),
        archived_at=None if archived_at is None else str(archived_at),
    )


def search_body(
    status: str, graph_id: str | None, limit: int, waiting_for: str | None = None
) -> dict[str, Any]:
    """The body of ``POST /threads/search`` for a listing, as ``langgraph_sdk`` sends it.

    Newest change first; ``graph_id`` and ``waiting_for`` (a role or ``user:<name>``)
    narrow it by the thread's metadata.
    """
    body: dict[str, Any] = {"limit": limit, "offset": 0}
    metadata = {k: v for k, v in (("graph_id", graph_id), ("waiting_for", waiting_for)) if v}
    if metadata:
        body["metadata"] = metadata
    return body | {"status": status, "sort_by": "updated_at", "sort_order": "desc"}


def validate_answer(interrupt: dict[str, Any], value: Any) -> None:
    """Check an answer against the pause's own response schema before sending it.

    Raises:
        ClientError: The answer does not fit the schema; the message names the field.
    """
    from graphs.common.decisions import schema_error

    if error := schema_error(interrupt.get("response_schema"), value):
        raise ClientError(f"invalid answer, not sent: {error}", kind="invalid")


class HitlClient:
    """A thin client for the project's workflows on one server."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx
        from langgraph_sdk import get_client
        from langgraph_sdk.client import LangGraphClient

        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.url = url
        self.has_token = bool(token)
        if transport is None:
            self.sdk = get_client(url=url, headers=headers, timeout=timeout)
        else:  # tests: a mocked transport (httpx.MockTransport)
            http = httpx.AsyncClient(base_url=url, headers=headers, transport=transport)
            self.sdk = LangGraphClient(http)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.sdk.aclose()

    async def __aenter__(self) -> HitlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, awaitable: Awaitable[T], what: str, conflict: str | None = None) -> T:
        """Await an SDK call, translating transport and HTTP failures."""
        import httpx
        from langgraph_sdk.errors import APIStatusError

        try:
            return await awaitable
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach the server at {self.url}: {exc}", kind="unreachable"
            ) from None
        except (APIStatusError, httpx.HTTPStatusError) as exc:
            code, body = _status_and_body(exc)
            raise status_error(code, body, what, self.has_token, conflict) from None

    async def submit(
        self,
        graph_id: str,
        values: dict[str, Any],
        assistant: str | None = None,
        wait: bool = True,
    ) -> Outcome:
        """Start ``graph_id`` on a new thread and run it until it pauses or ends.

        ``assistant`` picks a configured version of the graph (its approval policy,
        which an admin sets); by default the graph's own defaults apply.
        """
        thread = await self._call(
            self.sdk.threads.create(metadata={"graph_id": graph_id}), "create a thread"
        )
        thread_id = thread["thread_id"]
        run = self.sdk.runs.wait if wait else self.sdk.runs.create
        extra = {"raise_error": False} if wait else {}
        await self._call(
            run(
                thread_id,
                assistant or graph_id,
                input=values,
                multitask_strategy="reject",
                **extra,
            ),
            f"run {graph_id}",
        )
        return await self.status(thread_id)

    async def assistants(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        """List the configured versions of the graphs (all, or of one graph)."""
        return await self._call(
            self.sdk.assistants.search(graph_id=graph_id, limit=100), "list assistants"
        )

    async def input_schema(self, graph_id: str, assistant: str | None = None) -> dict[str, Any]:
        """The JSON schema of what ``graph_id`` takes as input (of ``assistant``'s graph, if given).

        The server answers schemas by assistant id only (a UUID): a graph's are read
        through any assistant of that graph.

        Raises:
            ClientError: The server serves no such graph (the message lists those it serves).
        """
        name = assistant or graph_id
        assistant_id = name if _is_uuid(name) else await self._assistant_of(name)
        schemas = await self._call(
            self.sdk.assistants.get_schemas(assistant_id), f"the input of {name}"
        )
        return schemas.get("input_schema") or {}

    async def _assistant_of(self, graph_id: str) -> str:
        """The id of an assistant of ``graph_id`` (the server makes one per graph)."""
        try:
            found = await self.assistants(graph_id)
        except ClientError as exc:  # the server answers 404 for a graph it does not serve
            if exc.kind != "not_found":
                raise
            found = []
        if not found:
            served = sorted({a["graph_id"] for a in await self.assistants()})
            raise ClientError(
                f"unknown graph {graph_id!r}: this server serves {', '.join(served)}",
                kind="not_found",
            )
        return str(found[0]["assistant_id"])

    async def notifications(self, status: str | None = None) -> list[dict[str, Any]]:
        """The webhook outbox, newest first (admins)."""
        params = {"status": status} if status else None
        return await self._call(
            self.sdk.http.get("/notifications", params=params), "list notifications"
        )

    async def resend_notification(self, notification_id: str) -> dict[str, Any]:
        """Send one notification again (admins)."""
        return await self._call(
            self.sdk.http.post(f"/notifications/{notification_id}/resend", json={}),
            f"notification {notification_id}",
        )

    async def create_assistant(
        self, graph_id: str, name: str, context: dict[str, Any]
    ) -> dict[str, Any]:
        """Configure a version of ``graph_id`` with its own policy (admins only)."""
        return await self._call(
            self.sdk.assistants.create(graph_id, context=context, name=name),
            "create an assistant",
        )

    async def resolve_thread(self, text: str) -> str:
        """The id of the thread ``text`` names: a whole id, or the start of one the caller sees.

        A shortened id as the README and the tables print it (``01a230c0-bb95-…``) is
        looked up among the threads the caller can see; it must start exactly one.

        Raises:
            ClientError: ``text`` is not (the start of) an id, or no thread or several
                threads start with it (the message lists them).
        """
        digits = id_prefix(text)
        if len(digits) == 32:
            import uuid

            return str(uuid.UUID(digits))
        found = [t for t in await self.thread_ids() if _digits(t).startswith(digits)]
        if len(found) == 1:
            return found[0]
        shown = _unelided(text)
        if not found:
            raise ClientError(
                f"no thread you can see starts with {shown}: `hitl pending` lists the threads "
                "waiting, with their ids, and `hitl submit` prints each new thread's id; an "
                "archived request is found by its whole id only (`hitl archive` lists them)",
                kind="not_found",
            )
        listed = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if found[10:] else "")
        raise ClientError(
            f"{len(found)} threads start with {shown}: {listed}; give more of the id",
            kind="invalid",
        )

    async def thread_ids(self) -> list[str]:
        """Every thread id the caller can see, newest first (read page by page)."""
        ids: dict[str, None] = {}  # a thread created while paging shifts the pages: dedupe
        offset = 0
        while True:
            page = await self._call(
                self.sdk.threads.search(
                    limit=PAGE,
                    offset=offset,
                    sort_by="created_at",
                    sort_order="desc",
                    select=["thread_id"],
                ),
                "list threads",
            )
            ids.update(dict.fromkeys(str(t["thread_id"]) for t in page))
            if len(page) < PAGE:
                return list(ids)
            offset += PAGE

    async def status(self, thread_id: str) -> Outcome:
        """Return where a thread stands: in the runtime, else in the archive.

        A decided thread leaves the runtime for the archive after the retention
        window (``GET /archive/{id}``); it reads as ``finished`` with its
        ``archived_at``.
        """
        try:
            thread = dict(await self._call(self.sdk.threads.get(thread_id), f"thread {thread_id}"))
        except ClientError as exc:
            if exc.kind != "not_found" or (archived := await self.archived(thread_id)) is None:
                raise
            thread = archived
        return await self._outcome(thread)

    async def archived(self, thread_id: str) -> dict[str, Any] | None:
        """The archived record of a thread the runtime no longer holds, in its thread shape.

        None when the caller may see no such record (or the server keeps no archive).
        """
        try:
            found: dict[str, Any] = await self._call(
                self.sdk.http.get(f"/archive/{thread_id}"), f"archived thread {thread_id}"
            )
        except ClientError as exc:
            if exc.kind == "not_found":
                return None
            raise
        return found

    async def archive(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Archived threads, newest decided first (admins: all; others: what they may see).

        Raises:
            ClientError: The server keeps no archive (a version before it had one).
        """
        try:
            found: list[dict[str, Any]] = await self._call(
                self.sdk.http.get("/archive", params={"limit": limit, "offset": offset}),
                "list the archive",
            )
        except ClientError as exc:
            if exc.kind != "not_found":
                raise
            raise ClientError(
                f"the server at {self.url} keeps no archive (404 for /archive): it runs a "
                "version from before decided requests were archived",
                kind="not_found",
            ) from None
        return found

    async def _outcome(self, thread: dict[str, Any]) -> Outcome:
        outcome = outcome_of(thread)
        if outcome.state == FAILED:
            outcome.error = await self._last_error(outcome.thread_id)
        if thread.get("values") is None and outcome.state == FINISHED:
            # A thread restored after a crash has its values only in its checkpoints.
            state = await self._call(self.sdk.threads.get_state(outcome.thread_id), "state")
            outcome.values = state["values"] or {}
        return outcome

    async def _last_error(self, thread_id: str) -> str | None:
        import httpx
        from langgraph_sdk.errors import APIStatusError

        runs = await self._call(self.sdk.runs.list(thread_id, limit=1), "list runs")
        if not runs:
            return None
        try:
            result = await self.sdk.runs.join(thread_id, runs[0]["run_id"])
        except (httpx.HTTPError, APIStatusError):
            return "the run failed"
        err = result.get("__error__") if isinstance(result, dict) else None
        if isinstance(err, dict):
            return f"{err.get('error')}: {err.get('message')}"
        return "the run failed"

    async def pending(
        self, graph_id: str | None = None, limit: int = 50, waiting_for: str | None = None
    ) -> list[Outcome]:
        """List threads waiting for a human (optionally: for this role or ``user:<name>``)."""
        return await self._search("interrupted", graph_id, limit, waiting_for)

    async def finished(self, graph_id: str | None = None, limit: int = 50) -> list[Outcome]:
        """List finished threads, newest first."""
        return await self._search("idle", graph_id, limit)

    async def _search(
        self, status: str, graph_id: str | None, limit: int, waiting_for: str | None = None
    ) -> list[Outcome]:
        body = search_body(status, graph_id, limit, waiting_for)
        threads = await self._call(
            self.sdk.http.post("/threads/search", json=body), "search threads"
        )
        return [await self._outcome(t) for t in threads]

    async def resume(
        self,
        thread_id: str,
        value: Any,
        interrupt_id: str | None = None,
        before: Outcome | None = None,
    ) -> Outcome:
        """Answer a pending pause, refusing clearly when there is nothing to answer.

        The answer is checked against the pause's response schema first, addressed
        to that pause by id (so it cannot land on a different one), and sent with
        the ``reject`` multitask strategy (so a concurrent second answer is refused).
        ``before`` is the thread as the caller just read it, if it did.
        """
        before = before or await self.status(thread_id)
        target = pick_interrupt(before, interrupt_id)
        validate_answer(target, value)
        # The server refuses (4xx, with the reason) an answer that is stale, not the
        # sender's to give, or malformed; what the run returns says whether the workflow
        # took it: a refused answer comes back as a fresh pause carrying an ``error``.
        result = await self._call(
            self.sdk.runs.wait(
                thread_id,
                before.graph_id or "",
                command={"resume": {target["id"]: value}},
                multitask_strategy="reject",
                raise_error=False,
            ),
            f"thread {thread_id}",
            conflict=f"thread {thread_id} is already being answered by someone else "
            "(409 conflict): this answer was not applied",
        )
        from graphs.common.decisions import answer_errors

        raised = result.get("__interrupt__") if isinstance(result, dict) else None
        errors = answer_errors(raised, before.interrupts)
        after = await self.status(thread_id)
        if errors:
            raise AnswerNotApplied(
                f"the workflow refused the answer: {errors[0]} (thread {thread_id} is still "
                "waiting)",
                after,
            )
        return after

    async def chat(self, message: str, thread_id: str | None = None) -> Outcome:
        """Send ``message`` to the assistant, on a new thread or an existing one."""
        values = {"messages": [{"role": "user", "content": message}]}
        if thread_id is None:
            return await self.submit("assistant", values)
        before = await self.status(thread_id)
        if before.state == WAITING:
            raise ClientError(
                f"thread {thread_id} is waiting for a tool review: answer it first (hitl resume)"
            )
        await self._call(
            self.sdk.runs.wait(
                thread_id, "assistant", input=values, multitask_strategy="reject", raise_error=False
            ),
            f"thread {thread_id}",
        )
        return await self.status(thread_id)

    async def watch(self, thread_id: str, timeout: float = 300.0, interval: float = 0.5) -> Outcome:
        """Poll a thread until it waits for a human or ends."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            outcome = await self.status(thread_id)
            if outcome.state != RUNNING:
                return outcome
            if time.monotonic() >= deadline:
                raise ClientError(f"thread {thread_id} still running after {timeout:.0f}s")
            await asyncio.sleep(interval)


def id_prefix(text: str) -> str:
    """The hex digits an id, whole or shortened, starts with: ``01a230c0-…`` -> ``01a230c0``.

    Hyphens and case do not count, and a trailing ellipsis (``…`` or ``...``) is
    dropped, so an id copied as the README or a table prints it works.

    Raises:
        ClientError: ``text`` is not the start of an id, or has fewer than 8 digits.
    """
    digits = _digits(text)
    if not digits:
        raise ClientError(
            f"not an id: {text!r} (ids are hexadecimal, like 01a230c0-bb95-7618-a1fd-…)",
            kind="invalid",
        )
    if len(digits) < SHORT_ID:
        raise ClientError(
            f"{text!r} is too short to look up: give at least {SHORT_ID} characters of the id",
            kind="invalid",
        )
    return digits


def _digits(text: str) -> str:
    """The hex digits of a (shortened) id, lower case; empty if it is not one."""
    digits = _unelided(text).replace("-", "").lower()
    ok = 0 < len(digits) <= 32 and all(c in string.hexdigits for c in digits)
    return digits if ok else ""


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _unelided(text: str) -> str:
    text = text.strip()
    for mark in ("…", "..."):
        text = text.removesuffix(mark)
    return text


def pick_interrupt(outcome: Outcome, interrupt_id: str | None) -> dict[str, Any]:
    """Return the pause to answer: the one named (its id or its start), or the only one pending."""
    if interrupt_id:
        named = [i for i in outcome.interrupts if i["id"] == interrupt_id]
        digits = _digits(interrupt_id)
        if not named and digits and len(digits) >= SHORT_ID:
            named = [i for i in outcome.interrupts if _digits(str(i["id"])).startswith(digits)]
        if len(named) == 1:
            return named[0]
        if named:
            raise ClientError(
                f"{len(named)} pending pauses start with {_unelided(interrupt_id)}: "
                f"{', '.join(i['id'] for i in named)}; give more of the id",
                kind="invalid",
            )
        raise ClientError(
            f"pause {interrupt_id} is not pending on thread {outcome.thread_id} "
            "(already answered, or never existed): nothing was sent",
            kind="stale",
        )
    if outcome.state != WAITING or not outcome.interrupts:
        raise ClientError(
            f"thread {outcome.thread_id} is not waiting for a human (it is {outcome.state}): "
            "nothing was sent",
            kind="stale",
        )
    if len(outcome.interrupts) > 1:
        ids = ", ".join(i["id"] for i in outcome.interrupts)
        raise ClientError(
            f"thread {outcome.thread_id} has {len(outcome.interrupts)} pending pauses; "
            f"choose one with --interrupt-id ({ids})"
        )
    return outcome.interrupts[0]


def _status_and_body(exc: APIStatusError | httpx.HTTPStatusError) -> tuple[int, Any]:
    from langgraph_sdk.errors import APIStatusError

    if isinstance(exc, APIStatusError):
        return exc.status_code, exc.body
    try:
        return exc.response.status_code, exc.response.json()
    except ValueError:
        return exc.response.status_code, exc.response.text


def status_error(
    code: int, body: Any, what: str, has_token: bool, conflict: str | None = None
) -> ClientError:
    """The error for a refused request: the server's status ``code`` and error ``body``.

    Args:
        code: The HTTP status (400 or more).
        body: The error body, decoded from JSON where it was JSON.
        what: What was asked, as the message starts ("thread 01a2…", "search threads").
        has_token: Whether a token was sent (a 401 then means it was refused).
        conflict: The message for "another run is in progress", where that is a conflict
            between people (two answers at once).
    """
    detail = _detail(body)
    if code == 409 and detail.startswith("stale answer"):
        return ClientError(f"{what}: {detail}", kind="stale")
    if code == 409 and conflict and "already running" in detail:
        return ClientError(conflict, kind="conflict")
    kind = {401: "auth", 403: "auth", 404: "not_found", 409: "conflict"}.get(code, "error")
    return ClientError(_explain_status(code, body, what, has_token), kind)


def _detail(body: Any) -> str:
    """The server's reason, from an error body."""
    if isinstance(body, dict):
        body = body.get("detail") or body.get("message") or body
    return body if isinstance(body, str) else ("" if body is None else str(body))


def _explain_status(code: int, body: Any, what: str, has_token: bool) -> str:
    detail = _detail(body)
    if code == 401 and not has_token:
        return f"{what}: no token given (401): sign in with --token or LANGGRAPH_TOKEN"
    if code == 401:
        return f"{what}: the token was refused (401): check --token / LANGGRAPH_TOKEN"
    if code == 403:
        return f"{what}: not allowed (403): {detail or 'not for this user'}"
    if code == 404:
        return f"{what}: not found (404), or not visible to this user"
    if code == 409 and "already running" not in detail:
        return f"{what}: refused (409): {detail}"
    if code == 409:
        return f"{what}: conflict (409): another run is in progress on this thread"
    return f"{what}: the server refused the request ({code}): {detail}"
