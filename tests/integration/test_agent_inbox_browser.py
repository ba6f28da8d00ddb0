"""LangChain's Agent Inbox, the real one, in headless Chromium against a real server.

Agent Inbox (langchain-ai/agent-inbox, a Next.js app, MIT) is built from its source
at ``../shared/agent-inbox`` by ``scripts/agent_inbox.py``: a copy in a cache
directory outside the repository, npm packages only, reused while the tree is
unchanged. The session starts it with ``next start`` on a free port and stops its
process group at the end. ``AGENT_INBOX_URL`` points the tests at a running Agent
Inbox instead. Without the source or node/npm the tests skip, saying what to run.

The approvers use it as people would: they add an inbox per workflow, put their
token in as the "LangSmith API key", list the pauses, open one and accept, edit or
respond. After every answer the test reads the thread back through
``langgraph_sdk`` (status, values, audit trail).

What the test relies on, from Agent Inbox's source at commit ``f38301b``:

- its settings live in the browser's localStorage: the inboxes under
  ``inbox:agent_inboxes`` (graph/assistant id, deployment URL, name, selected) and
  the "LangSmith API key" under ``inbox:langchain_api_key``, which it sends on every
  request as ``x-api-key`` (here: a user's token);
- it lists ``threads.search({offset: 0, limit: 10, status: "interrupted",
  metadata: {graph_id}})``, newest first, and shows a pause only when its value is
  a HumanInterrupt ``{action_request: {action, args}, config: {allow_*},
  description}``;
- it answers with ``runs.stream(thread_id, graph_id, {command: {resume:
  [HumanResponse]}, streamMode: "events"})``: ``{"type": "accept", "args": null}``
  from the Accept button, ``{"type": "edit", "args": {action, args}}`` from Submit
  after an edit (every arg it shows, edited ones as the text typed) and
  ``{"type": "response", "args": text}`` from Send Response;
- a refused answer (any HTTP error) shows as "Failed to submit response." and the
  item stays open: the server's reason is not shown.

Screenshots go to the test's ``tmp_path``. ``HITL_WRITE_DOCS_SCREENSHOTS=1`` also
writes the three in ``docs/`` (``agent-inbox-list``, ``-approve``, ``-edit``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from scripts import agent_inbox
from scripts.devserver import ROOT
from tests.conftest import chromium, eventually

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-sync",
    "--no-first-run",
]
"""Besides ``tests.conftest.OFFLINE``: the flags this test was written and run with."""
VIEWPORT = {"width": 1280, "height": 900}
DOCS = ROOT / "docs"
DOC_SHOTS = {"list", "approve", "edit"}
"""Screenshots that ``HITL_WRITE_DOCS_SCREENSHOTS=1`` also writes as docs/agent-inbox-*.png."""
EXPENSE, CHAIN, ORDER, ASK = "expense_approval", "approval_chain", "order_processing", "assistant"
THREAD_PARAM = "view_state_thread_id"  # Agent Inbox's query parameter for an open thread
FAILED = "Failed to submit response."  # the only thing Agent Inbox shows of a refusal

# Agent Inbox reloads the page once a day per browser the first time an inbox shows
# empty (inbox-view.tsx, ``autoRefreshInboxes``, keyed ``inbox-refreshed-<date>``).
# A fresh browser profile always hits it right after the first inbox is added, in the
# middle of the next clicks; mark it done so that reload does not land under the test.
NO_DAILY_RELOAD = "localStorage.setItem(`inbox-refreshed-${new Date().toDateString()}`, 'true');"


def serves_agent_inbox(url: str, source: str) -> None:
    """Fail unless ``url`` answers with Agent Inbox's page."""
    try:
        answer = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        pytest.fail(f"{source}={url} does not answer: {exc!r}")
    assert answer.status_code == 200, f"{source}={url} answered {answer.status_code}"
    assert "Agent Inbox" in answer.text, f"{source}={url} does not serve Agent Inbox"


@pytest.fixture(scope="session")
def agent_inbox_url(request) -> Iterator[str]:
    """Agent Inbox, built from ``../shared/agent-inbox`` (cached) and started for the session.

    ``AGENT_INBOX_URL`` points the tests at a running one instead.
    """
    if url := os.environ.get("AGENT_INBOX_URL", "").strip().rstrip("/"):
        serves_agent_inbox(url, "AGENT_INBOX_URL")
        yield url
        return
    if reason := agent_inbox.missing_requirement():
        pytest.skip(reason)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    started = time.monotonic()
    app = agent_inbox.build(log=lambda line: reporter.write_line(f"\n{line}") if reporter else None)
    with agent_inbox.AgentInbox(app) as inbox:
        print(f"Agent Inbox from {app} at {inbox.url}, after {time.monotonic() - started:.1f}s")
        yield inbox.url


@pytest.fixture(scope="module")
def browser(agent_inbox_url):
    with chromium(*CHROMIUM_ARGS) as browser:
        yield browser


class Recorder:
    """What the page sends to the LangGraph server, and what breaks in the page."""

    def __init__(self, page, server_url: str) -> None:
        self.server_url = server_url
        self.requests: list[dict[str, Any]] = []
        self.page_errors: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _request(self, request) -> None:
        if not request.url.startswith(self.server_url):
            return
        try:
            body = request.post_data_json
        except Exception:  # noqa: BLE001 - not JSON: keep the text
            body = request.post_data
        self.requests.append(
            {
                "method": request.method,
                "path": request.url[len(self.server_url) :],
                "x-api-key": request.headers.get("x-api-key"),
                "body": body,
            }
        )

    def answers(self, thread_id: str) -> list[dict[str, Any]]:
        """The runs the page started on a thread (its answers)."""
        return [
            r
            for r in self.requests
            if r["method"] == "POST" and r["path"].startswith(f"/threads/{thread_id}/runs")
        ]

    def answer(self, thread_id: str, graph: str, token: str) -> dict[str, Any]:
        """The one answer the page sent on a thread, checked to be Agent Inbox's; its resume."""
        (answer,) = self.answers(thread_id)
        assert answer["path"] == f"/threads/{thread_id}/runs/stream"
        assert answer["x-api-key"] == token
        assert answer["body"]["assistant_id"] == graph
        assert answer["body"]["stream_mode"] in ("events", ["events"])
        (response,) = answer["body"]["command"]["resume"]
        return response


@pytest.fixture
def open_page(browser, server) -> Iterator[Callable[[], tuple[Any, Recorder]]]:
    """Fresh browser profiles (empty localStorage) at 1280x900, each with its recorder."""
    contexts = []

    def new() -> tuple[Any, Recorder]:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        context.add_init_script(NO_DAILY_RELOAD)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page, Recorder(page, server.url)

    yield new
    for context in contexts:
        context.close()


@pytest.fixture
def shot(tmp_path) -> Callable[[Any, str], None]:
    """Screenshot into tmp_path; with HITL_WRITE_DOCS_SCREENSHOTS=1, the docs' ones too."""
    to_docs = os.environ.get("HITL_WRITE_DOCS_SCREENSHOTS") == "1"

    def take(page, name: str) -> None:
        path = tmp_path / f"agent-inbox-{name}.png"
        page.screenshot(path=str(path))
        if to_docs and name in DOC_SHOTS:
            shutil.copy(path, DOCS / path.name)

    return take


def submit(sdk, graph: str, values: dict[str, Any], assistant: str | None = None) -> str:
    """Start a workflow as its requester and return the thread id once it waits."""
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    sdk.runs.wait(thread_id, assistant or graph, input=values)
    return thread_id


def pause_of(sdk, thread_id: str) -> dict[str, Any]:
    """The one pending pause's value."""
    thread = sdk.threads.get(thread_id)
    assert thread["status"] == "interrupted", thread["status"]
    (value,) = [i["value"] for group in thread["interrupts"].values() for i in group]
    return value


def values_of(sdk, thread_id: str) -> dict[str, Any]:
    return sdk.threads.get_state(thread_id)["values"]


def audit_of(sdk, thread_id: str) -> list[dict[str, Any]]:
    return values_of(sdk, thread_id).get("audit") or []


def decided(entry: dict[str, Any]) -> tuple[Any, ...]:
    return entry["role"], entry["decision"], entry["approver"], entry["note"]


def settle(page) -> None:
    """Wait until Agent Inbox has set its query parameters and stopped fetching.

    On every load it rewrites the URL a few times (inbox, offset, limit) and may
    re-render the forms on the way: typing before that is lost.
    """
    page.wait_for_url(lambda url: "offset=" in url and "limit=" in url)
    page.wait_for_load_state("networkidle")


def stored_inboxes(page) -> list[dict[str, Any]]:
    """The inboxes Agent Inbox keeps in localStorage (``inbox:agent_inboxes``)."""
    try:
        stored = page.evaluate("localStorage.getItem('inbox:agent_inboxes')")
    except PlaywrightError:  # the page is between two loads
        return []
    return json.loads(stored or "[]")


def reopen(page, url: str) -> None:
    """Open Agent Inbox at its base URL (it may still be reloading itself)."""
    for attempt in range(5):
        try:
            page.goto(url)
            return
        except PlaywrightError:  # a reload of its own cut this navigation short
            if attempt == 4:
                raise


def add_inbox(page, base_url: str, graph_id: str, deployment_url: str, name: str) -> None:
    """Add an inbox through Agent Inbox's "Add Inbox" dialog, then open it.

    The dialog opens by itself while there is no inbox. Once the first inbox is
    stored, the URL keeps ``no_inboxes_found=true`` and the welcome dialog comes
    back over the new inbox; so the test opens the base URL afresh, as a user would,
    and picks the inbox in the sidebar, which loads the page with every parameter.
    """
    dialog = page.get_by_role("dialog")
    settle(page)
    if stored_inboxes(page):
        page.get_by_role("button", name="Add Inbox").click()
    else:
        dialog.get_by_text("Welcome to the Agent Inbox!").wait_for()
    for field, value in [
        ("#graph-id", graph_id),
        ("#deployment-url", deployment_url),
        ("#name", name),
    ]:
        dialog.locator(field).fill(value)
        expect(dialog.locator(field)).to_have_value(value)
    dialog.get_by_role("button", name="Add Inbox").click()
    eventually(lambda: any(i["graphId"] == graph_id for i in stored_inboxes(page)))
    reopen(page, base_url)
    switch_inbox(page, name)


def switch_inbox(page, name: str) -> None:
    """Pick an inbox in the sidebar (Agent Inbox loads the page anew, fully specified)."""
    sidebar_item = page.get_by_role("listitem").get_by_role("button", name=name, exact=True)
    with page.expect_event("load"):
        sidebar_item.click()
    page.wait_for_url(lambda url: "agent_inbox=" in url)
    settle(page)


def set_api_key(page, key: str) -> None:
    """Agent Inbox's Settings: the "LangSmith API key", which it sends as x-api-key."""
    page.get_by_role("button", name="Settings").click()
    page.locator("#langchain-api-key").fill(key)
    expect(page.locator("#langchain-api-key")).to_have_value(key)
    page.keyboard.press("Escape")  # closing the popover re-fetches the list
    expect(page.locator("#langchain-api-key")).to_have_count(0)


def sign_in(page, base_url: str, server_url: str, token: str, inboxes: dict[str, str]) -> None:
    """Set Agent Inbox up as its user would: inboxes on the server, the token as the key.

    ``inboxes`` maps graph ids to inbox names; the last one added is open afterwards.
    """
    page.goto(base_url)
    (graph, name), *others = inboxes.items()
    add_inbox(page, base_url, graph, server_url, name)
    set_api_key(page, token)
    for graph, name in others:
        add_inbox(page, base_url, graph, server_url, name)
    stored = page.evaluate("Object.assign({}, localStorage)")
    assert stored["inbox:langchain_api_key"] == token
    assert {i["graphId"] for i in json.loads(stored["inbox:agent_inboxes"])} == set(inboxes)


def saved_settings(page, base_url: str, server_url: str, token: str, graph: str, name: str) -> None:
    """Open Agent Inbox with one inbox and the token saved, as :func:`sign_in` leaves them.

    Writes the two localStorage keys it reads (faster than its dialogs, which
    :func:`sign_in` and the first test go through), then picks the inbox.
    """
    inbox = {
        "id": str(uuid.uuid4()),
        "graphId": graph,
        "deploymentUrl": server_url,
        "name": name,
        "selected": True,
    }
    page.goto(f"{base_url}/favicon.ico")  # its origin, without the app's first-run dialog
    page.evaluate(
        "([inboxes, key]) => { localStorage.setItem('inbox:agent_inboxes', inboxes);"
        " localStorage.setItem('inbox:langchain_api_key', key); }",
        [json.dumps([inbox]), token],
    )
    reopen(page, base_url)
    switch_inbox(page, name)


def row(page, pause: dict[str, Any]):
    """A pause's list row: its action as the title, then the first 65 characters of its
    description as plain text (markdown shows raw)."""
    return page.get_by_text(pause["description"][:65]).first


def open_item(page, recorder: Recorder, pause: dict[str, Any], thread_id: str) -> None:
    """Click the list row of a pause (the newest first) and check that its thread opens."""
    item = row(page, pause)
    item.wait_for()
    item.click()
    page.wait_for_url(lambda url: THREAD_PARAM in url)
    assert parse_qs(urlparse(page.url).query)[THREAD_PARAM] == [thread_id]
    try:
        page.get_by_text(pause["action_request"]["action"], exact=True).first.wait_for()
    except PlaywrightError:
        nulls = [k for k, v in pause["action_request"]["args"].items() if v is None]
        hint = (
            f"; action_request.args has null values {nulls}: with allow_edit its Edit/Accept"
            " form reads `.length` of every arg value, so a null breaks the page"
            if nulls and pause["config"]["allow_edit"]
            else ""
        )
        raise AssertionError(
            f"Agent Inbox did not show the pause; errors in the page: {recorder.page_errors}" + hint
        ) from None


def accept(page, shot=None, name: str = "") -> None:
    """Press Accept (the button of the Accept or Edit/Accept card)."""
    button = page.get_by_role("button", name="Accept", exact=True)
    button.wait_for()
    if shot:
        shot(page, name)
    button.click()


def respond(page, text: str) -> None:
    """Write a response in "Respond to assistant" and send it."""
    box = page.get_by_placeholder("Your response here...")
    box.fill(text)
    expect(box).to_have_value(text)
    page.get_by_role("button", name="Send Response", exact=True).click()


def back_in_list(page) -> None:
    """Agent Inbox goes back to the list once the thread no longer waits."""
    page.wait_for_url(lambda url: THREAD_PARAM not in url)


def refused_in_page(page) -> None:
    """Agent Inbox shows a refusal as its one error toast, and keeps the item open."""
    page.get_by_text(FAILED, exact=True).wait_for()
    assert THREAD_PARAM in page.url


def test_manager_lists_accepts_and_rejects_expenses(
    agent_inbox_url, open_page, server, sdk_as, shot
):
    page, recorder = open_page()
    alice, bob, tag = sdk_as("alice"), sdk_as("bob"), uuid.uuid4().hex[:6]
    fair = submit(alice, EXPENSE, {"amount": 5000, "description": f"Trade fair {tag}"})
    dinner = submit(alice, EXPENSE, {"amount": 420, "description": f"Team dinner {tag}"})
    fair_pause, dinner_pause = pause_of(bob, fair), pause_of(bob, dinner)
    assert fair_pause["role"] == dinner_pause["role"] == "manager"
    assert fair_pause["config"]["allow_edit"] is False

    sign_in(page, agent_inbox_url, server.url, "dev-bob", {EXPENSE: "Expenses"})

    # The list: both, as HumanInterrupts (an expense's description is its own text).
    for pause in (fair_pause, dinner_pause):
        page.get_by_text(pause["description"], exact=True).first.wait_for()
    page.get_by_text("Approve expense", exact=True).first.wait_for()
    assert page.get_by_text("Invalid interrupt data").count() == 0
    searches = [r for r in recorder.requests if r["path"] == "/threads/search"]
    assert any(
        r["x-api-key"] == "dev-bob"
        and r["body"].get("status") == "interrupted"
        and r["body"].get("metadata") == {"graph_id": EXPENSE}
        for r in searches
    ), searches
    shot(page, "list")

    # Accept the fair. No edit is offered: the fields show as text, the one text box
    # is the response's. (The screenshots show each item just before its answer.)
    open_item(page, recorder, fair_pause, fair)
    expect(page.get_by_role("textbox")).to_have_count(1)
    accept(page, shot, "approve")
    eventually(lambda: values_of(alice, fair).get("status") == "approved")
    back_in_list(page)
    assert recorder.answer(fair, EXPENSE, "dev-bob") == {"type": "accept", "args": None}
    assert [decided(e) for e in audit_of(alice, fair)] == [("manager", "approve", "bob", "")]
    assert alice.threads.get(fair)["status"] == "idle"

    # Reject the dinner with a note: Agent Inbox's response.
    note = f"Team budget is spent {tag}"
    open_item(page, recorder, dinner_pause, dinner)
    respond(page, note)
    eventually(lambda: values_of(alice, dinner).get("status") == "rejected")
    back_in_list(page)
    assert recorder.answer(dinner, EXPENSE, "dev-bob") == {"type": "response", "args": note}
    assert values_of(alice, dinner)["approver_note"] == note
    assert [decided(e) for e in audit_of(alice, dinner)] == [("manager", "reject", "bob", note)]
    assert alice.threads.get(dinner)["status"] == "idle"
    assert row(page, dinner_pause).count() == 0 and row(page, fair_pause).count() == 0
    assert recorder.page_errors == [], recorder.page_errors


def test_chain_edited_accepted_and_rejected_by_each_level(
    agent_inbox_url, open_page, server, sdk_as, shot
):
    alice, bob, carol, tag = sdk_as("alice"), sdk_as("bob"), sdk_as("carol"), uuid.uuid4().hex[:6]
    racks = submit(alice, CHAIN, {"amount": 500, "description": f"Racks {tag}"})
    servers = submit(alice, CHAIN, {"amount": 5120, "description": f"Servers {tag}"})
    racks_pause, servers_pause = pause_of(bob, racks), pause_of(bob, servers)
    assert racks_pause["config"]["allow_edit"] and racks_pause["editable"] == [
        "amount",
        "description",
    ]
    assert servers_pause["levels"] == ["manager", "finance"]

    page, recorder = open_page()
    saved_settings(page, agent_inbox_url, server.url, "dev-bob", CHAIN, "Approval chain")

    # The manager edits the racks' amount to 600 and submits (one level: approved).
    open_item(page, recorder, racks_pause, racks)
    amount = page.locator('p:text-is("Amount") + textarea')  # its Edit/Accept form
    expect(amount).to_have_value("500")
    amount.fill("600")
    submit_edit = page.get_by_role("button", name="Submit", exact=True)  # was "Accept"
    submit_edit.wait_for()
    shot(page, "edit")
    submit_edit.click()
    eventually(lambda: values_of(alice, racks).get("status") == "approved")
    back_in_list(page)
    response = recorder.answer(racks, CHAIN, "dev-bob")
    assert response["type"] == "edit"
    assert response["args"]["action"] == racks_pause["action_request"]["action"]
    assert response["args"]["args"]["amount"] == "600"  # a form field: it sends the text
    (edit,) = audit_of(alice, racks)
    assert (edit["decision"], edit["approver"], edit["changes"]) == ("edit", "bob", {"amount": 600})
    assert values_of(alice, racks)["amount"] == 600

    # The manager accepts step 1 of the servers; the chain now waits for finance. (An
    # Accept from the Edit/Accept card sends the action request as its args.)
    open_item(page, recorder, servers_pause, servers)
    accept(page)
    eventually(lambda: len(audit_of(alice, servers)) == 1)
    response = recorder.answer(servers, CHAIN, "dev-bob")
    assert response == {"type": "accept", "args": servers_pause["action_request"]}
    assert [decided(e) for e in audit_of(alice, servers)] == [("manager", "approve", "bob", "")]
    step_two = pause_of(carol, servers)
    assert (step_two["role"], step_two["step"]) == ("finance", 2)
    assert values_of(alice, servers)["status"] == "pending"
    # Agent Inbox keeps the thread open on its next pause, finance's, though not his:
    # his Accept there is refused (403) and changes nothing.
    page.get_by_text(step_two["action_request"]["action"], exact=True).first.wait_for()
    assert parse_qs(urlparse(page.url).query)[THREAD_PARAM] == [servers]
    accept(page)
    refused_in_page(page)
    assert len(recorder.answers(servers)) == 2
    assert pause_of(carol, servers) == step_two and len(audit_of(alice, servers)) == 1

    # Finance rejects step 2 with a note, in her own browser.
    page, recorder = open_page()
    saved_settings(page, agent_inbox_url, server.url, "dev-carol", CHAIN, "Approval chain")
    open_item(page, recorder, step_two, servers)
    note = f"Lease them instead {tag}"
    respond(page, note)
    eventually(lambda: values_of(alice, servers).get("status") == "rejected")
    back_in_list(page)
    assert recorder.answer(servers, CHAIN, "dev-carol") == {"type": "response", "args": note}
    assert [decided(e) for e in audit_of(alice, servers)] == [
        ("manager", "approve", "bob", ""),
        ("finance", "reject", "carol", note),
    ]
    assert alice.threads.get(servers)["status"] == "idle"
    assert recorder.page_errors == [], recorder.page_errors


def test_orders_and_failed_payments(
    agent_inbox_url, open_page, server, sdk_as, assistant_for, ledger
):
    alice, bob, tag = sdk_as("alice"), sdk_as("bob"), uuid.uuid4().hex[:6]
    big = submit(alice, ORDER, {"amount": 5000, "customer": f"acme {tag}", "items": ["rack"]})
    odd = submit(alice, ORDER, {"amount": 4100, "customer": f"initech {tag}"})
    failing = assistant_for(ORDER, gateway={"transient_failures": 3})
    retried = submit(alice, ORDER, {"amount": 50, "customer": f"hooli {tag}"}, failing)
    cancelled = submit(alice, ORDER, {"amount": 60, "customer": f"umbrella {tag}"}, failing)
    pauses = {t: pause_of(bob, t) for t in (big, odd, retried, cancelled)}
    assert pauses[retried]["action_request"]["action"] == "Payment failed: retry the charge?"
    assert not any(p["config"]["allow_edit"] for p in pauses.values())

    page, recorder = open_page()
    saved_settings(page, agent_inbox_url, server.url, "dev-bob", ORDER, "Orders")
    for pause in pauses.values():
        row(page, pause).wait_for()

    # Accept an order over the limit: it is charged once.
    open_item(page, recorder, pauses[big], big)
    accept(page)
    eventually(lambda: values_of(alice, big).get("status") == "paid")
    back_in_list(page)
    assert recorder.answer(big, ORDER, "dev-bob") == {"type": "accept", "args": None}
    done = values_of(alice, big)
    assert ledger(done["order_id"]) == 1
    assert [decided(e)[:3] for e in done["audit"]] == [("manager", "approve", "bob")]

    # Reject another with a note: nothing is charged.
    open_item(page, recorder, pauses[odd], odd)
    respond(page, f"Customer on hold {tag}")
    eventually(lambda: values_of(alice, odd).get("status") == "cancelled")  # a rejected order
    back_in_list(page)
    assert recorder.answer(odd, ORDER, "dev-bob")["type"] == "response"
    done = values_of(alice, odd)
    assert ledger(done["order_id"]) == 0
    assert done["audit"][-1]["note"] == f"Customer on hold {tag}"

    # A payment that kept failing: Accept retries the charge, a response cancels.
    open_item(page, recorder, pauses[retried], retried)
    accept(page)
    eventually(lambda: values_of(alice, retried).get("status") == "paid")
    back_in_list(page)
    assert ledger(values_of(alice, retried)["order_id"]) == 1
    assert audit_of(alice, retried)[-1]["decision"] == "retry"

    open_item(page, recorder, pauses[cancelled], cancelled)
    respond(page, f"Card expired {tag}")
    eventually(lambda: values_of(alice, cancelled).get("status") == "cancelled")
    back_in_list(page)
    assert ledger(values_of(alice, cancelled)["order_id"]) == 0
    assert [decided(e) for e in audit_of(alice, cancelled)][-1] == (
        "manager",
        "cancel",
        "bob",
        f"Card expired {tag}",
    )
    for thread_id in (big, odd, retried, cancelled):
        assert alice.threads.get(thread_id)["status"] == "idle"
    assert recorder.page_errors == [], recorder.page_errors


def test_refused_answers_show_as_not_applied(agent_inbox_url, open_page, server, sdk_as):
    alice, bob, tag = sdk_as("alice"), sdk_as("bob"), uuid.uuid4().hex[:6]
    own = submit(bob, EXPENSE, {"amount": 3000, "description": f"My own laptop {tag}"})
    raced = submit(alice, EXPENSE, {"amount": 3100, "description": f"Conference {tag}"})
    own_pause, raced_pause = pause_of(bob, own), pause_of(bob, raced)

    page, recorder = open_page()
    saved_settings(page, agent_inbox_url, server.url, "dev-bob", EXPENSE, "Expenses")

    # The manager accepts his own request: refused (403), nothing changes.
    open_item(page, recorder, own_pause, own)
    accept(page)
    refused_in_page(page)
    assert recorder.answer(own, EXPENSE, "dev-bob") == {"type": "accept", "args": None}
    assert bob.threads.get(own)["status"] == "interrupted"
    assert values_of(bob, own)["status"] == "pending" and audit_of(bob, own) == []
    # Rejecting his own is his to do: a response from the same page goes through.
    respond(page, "Withdrawn")
    eventually(lambda: values_of(bob, own).get("status") == "rejected")
    assert [decided(e) for e in audit_of(bob, own)] == [("manager", "reject", "bob", "Withdrawn")]

    # A stale answer: the item is open, the manager decides it elsewhere (the CLI, the
    # inbox), then presses Accept here: refused (409), the first decision stands.
    page.goto(agent_inbox_url)
    settle(page)
    open_item(page, recorder, raced_pause, raced)
    page.get_by_role("button", name="Accept", exact=True).wait_for()
    bob.runs.wait(raced, EXPENSE, command={"resume": {"decision": "reject", "note": "elsewhere"}})
    assert values_of(alice, raced)["status"] == "rejected"
    accept(page)
    refused_in_page(page)
    assert recorder.answer(raced, EXPENSE, "dev-bob") == {"type": "accept", "args": None}
    assert values_of(alice, raced)["status"] == "rejected"
    assert [decided(e) for e in audit_of(alice, raced)] == [
        ("manager", "reject", "bob", "elsewhere")
    ]
    assert alice.threads.get(raced)["status"] == "idle"


def test_requester_reviews_her_assistants_tool_calls(
    agent_inbox_url, open_page, server, sdk_as, ledger
):
    alice = sdk_as("alice")

    def ask(text: str) -> str:
        thread_id = alice.threads.create(metadata={"graph_id": ASK})["thread_id"]
        alice.runs.wait(thread_id, ASK, input={"messages": [{"role": "user", "content": text}]})
        return thread_id

    tag = uuid.uuid4().hex[:6]
    paid, refused = ask(f"pay 41 to acme{tag}"), ask(f"pay 42 to acme{tag}")
    filed = ask(f"file 120 for taxi {tag}")
    pauses = {t: pause_of(alice, t) for t in (paid, refused, filed)}
    assert pauses[paid]["action_request"]["args"] == {"amount": "41", "recipient": f"acme{tag}"}
    assert not pauses[paid]["config"]["allow_edit"] and pauses[filed]["config"]["allow_edit"]

    page, recorder = open_page()
    saved_settings(page, agent_inbox_url, server.url, "dev-alice", ASK, "Assistant")

    before = ledger()
    open_item(page, recorder, pauses[paid], paid)
    accept(page)
    eventually(lambda: alice.threads.get(paid)["status"] == "idle")
    back_in_list(page)
    assert recorder.answer(paid, ASK, "dev-alice") == {"type": "accept", "args": None}
    assert ledger() == before + 1

    open_item(page, recorder, pauses[refused], refused)
    respond(page, "Not this one")
    eventually(lambda: alice.threads.get(refused)["status"] == "idle")
    back_in_list(page)
    assert recorder.answer(refused, ASK, "dev-alice") == {
        "type": "response",
        "args": "Not this one",
    }
    assert ledger() == before + 1
    messages = values_of(alice, refused)["messages"]
    assert any("Not this one" in str(m.get("content")) for m in messages), messages

    # Filing an expense may be edited: 120 becomes 130, and that is what is filed.
    open_item(page, recorder, pauses[filed], filed)
    amount = page.locator('p:text-is("Amount") + textarea')
    expect(amount).to_have_value("120")
    amount.fill("130")
    page.get_by_role("button", name="Submit", exact=True).click()
    eventually(lambda: alice.threads.get(filed)["status"] == "idle")
    back_in_list(page)
    response = recorder.answer(filed, ASK, "dev-alice")
    assert response["type"] == "edit" and response["args"]["args"]["amount"] == "130"
    messages = values_of(alice, filed)["messages"]
    assert any("Filed expense 130.00" in str(m.get("content")) for m in messages), messages
    reviews = [
        (r["decision"], r["approver"])
        for t in (paid, refused, filed)
        for r in values_of(alice, t)["reviews"]
    ]
    assert reviews == [("approve", "alice"), ("reject", "alice"), ("edit", "alice")]
    assert recorder.page_errors == [], recorder.page_errors
