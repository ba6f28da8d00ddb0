"""The inbox in a real browser: headless Chromium (Debian) driven by Playwright.

Each test reads the page as an approver would (the headline, the labels, the messages
on the card) and then checks, through the CLI, what the server really recorded.
"""

from __future__ import annotations

import pytest

from tests.conftest import chromium, submit_cli

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser):
    """One browser session (its tabs share the sign-in), in US English."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport=DESKTOP)
    yield context
    context.close()


def sign_in(page, server, token, query=""):
    page.goto(f"{server.url}/inbox{query}")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#tabs:not([hidden])")


def color(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).color")


def fields(card) -> list[tuple[str, str]]:
    """A card's field list: (label, value) as shown."""
    labels, values = card.locator("dl.request dt"), card.locator("dl.request dd")
    return list(zip(labels.all_inner_texts(), values.all_inner_texts(), strict=True))


def test_the_card_reads_as_an_approver_thinks_of_it(context, server, cli, shots):
    submitted = cli(
        "submit", "--amount", "1240.5", "--description", "Team offsite lunch", json_output=True
    )
    thread_id = submitted.data["thread_id"]
    pause_id = submitted.data["interrupts"][0]["id"]
    page = context.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, server, "dev-bob")
    assert "bob (manager)" in page.inner_text("#who")
    card = page.locator(f"#item-{pause_id}")
    card.wait_for()
    assert card.locator(".headline").inner_text() == "alice asks for 1,240.50: Team offsite lunch"
    assert fields(card) == [("Amount", "$1,240.50"), ("Description", "Team offsite lunch")]
    meta = card.locator(".meta").inner_text()
    for said in ("Expense approval", "from alice", "waiting", "due in 2 days"):
        assert said in meta, meta
    assert "T" not in card.locator(".due time").inner_text()  # no raw ISO time
    assert page.get_by_role("tab", name="Waiting for me").get_attribute("aria-selected") == "true"
    assert page.get_by_role("tab", name="History").get_attribute("aria-selected") == "false"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots / "inbox-phone.png"))

    card.get_by_role("button", name="Reject").click()  # no note: refused on the card
    error = card.locator(".error")
    assert "Say why in the note" in error.inner_text() and error.get_attribute("role") == "alert"
    assert cli("status", thread_id, json_output=True).data["state"] == "waiting"
    card.get_by_label("Note").fill("Approved in the browser")
    card.get_by_role("button", name="Approve").click()
    outcome = card.locator(".outcome")
    outcome.wait_for()
    assert outcome.inner_text().startswith("Sent: you approved it. Now approved.")
    assert color(outcome) != color(error)  # success and errors look different
    assert page.inner_text("#count") == str(page.locator("#items .item:not(.sent)").count())
    final = cli("status", thread_id, json_output=True).data
    assert final["values"]["status"] == "approved"
    assert final["values"]["approver_note"] == "Approved in the browser"
    assert final["values"]["audit"][-1]["approver"] == "bob"

    page.get_by_role("tab", name="History").click()
    page.wait_for_selector("#history .item")
    assert page.get_by_role("tab", name="History").get_attribute("aria-selected") == "true"
    finished = page.locator("#history .item", has_text="Team offsite lunch").first
    assert "Approved" in finished.locator(".outcome-badge").inner_text()
    assert fields(finished) == [("Amount", "$1,240.50"), ("Description", "Team offsite lunch")]
    entry = finished.locator("ol.audit li").first.inner_text()
    assert "Approved by bob (manager" in entry and "Approved in the browser" in entry
    assert ":" in finished.locator("ol.audit time").first.inner_text()  # a time, no micros


def test_edit_mode_says_it_approves_and_cancel_sends_nothing(context, server, cli, shots):
    cli(
        "submit",
        "--graph",
        "order_processing",
        "--amount",
        "5000",
        "--customer",
        "Globex",
        user="frank",
    )
    cli("submit", "--amount", "1240.5", "--description", "Team offsite lunch", user="frank")
    submitted = submit_cli(server.url, "approval_chain", 600, "Desks")
    thread_id = submitted.data["thread_id"]
    pause_id = submitted.data["interrupts"][0]["id"]
    page = context.new_page()
    sign_in(page, server, "dev-bob")
    card = page.locator(f"#item-{pause_id}")
    card.wait_for()
    page.screenshot(path=str(shots / "inbox.png"))
    card.get_by_role("button", name="Edit…").click()
    form = card.locator("form.edit")
    assert "approves this step" in form.inner_text()
    assert not card.get_by_role("button", name="Approve", exact=True).is_visible()  # one primary
    card.get_by_label("Amount (USD)").fill("-3")
    card.get_by_role("button", name="Approve with changes").click()
    assert "Amount must be a positive number" in card.locator(".error").inner_text()
    page.screenshot(path=str(shots / "inbox-edit.png"))
    card.get_by_role("button", name="Cancel").click()
    assert form.is_hidden() and card.locator(".error").is_hidden()  # the old error is gone
    assert card.get_by_role("button", name="Approve", exact=True).is_visible()
    state = cli("status", thread_id, json_output=True).data
    assert state["state"] == "waiting" and not state["values"].get("audit")  # nothing sent

    card.get_by_role("button", name="Edit…").click()
    assert card.locator(".error").is_hidden()
    card.get_by_label("Amount (USD)").fill("2400")
    card.get_by_label("Note").fill("Standing desks cost more")
    card.get_by_role("button", name="Approve with changes").click()
    card.locator(".outcome").wait_for()
    message = card.locator(".outcome").inner_text()
    assert "you approved it with your changes" in message and "now waits for finance" in message
    state = cli("status", thread_id, json_output=True).data
    (pause,) = state["interrupts"]
    assert pause["value"]["role"] == "finance"  # the edit raised it past 1,000
    assert pause["value"]["request"]["amount"] == 2400
    assert state["values"]["audit"][0]["changes"] == {"amount": 2400}


def test_a_new_workflow_shows_and_edits_its_own_fields(context, server, cli, sdk):
    thread_id = sdk.threads.create()["thread_id"]
    result = sdk.runs.wait(thread_id, "travel_request", input={"destination": "Oslo", "cost": 2500})
    pause_id = result["__interrupt__"][0]["id"]
    page = context.new_page()
    sign_in(page, server, "dev-bob")
    card = page.locator(f"#item-{pause_id}")
    card.wait_for()
    assert card.locator(".headline").inner_text() == "alice asks for 2,500.00: Oslo"
    assert fields(card) == [("Destination", "Oslo"), ("Cost", "$2,500.00")]
    assert "step 1 of 2" in card.locator(".meta").inner_text()
    card.get_by_role("button", name="Edit…").click()
    assert card.get_by_label("Destination").input_value() == "Oslo"
    card.get_by_label("Cost (USD)").fill("0")
    card.get_by_role("button", name="Approve with changes").click()
    assert "Cost must be a positive number" in card.locator(".error").inner_text()
    card.get_by_label("Cost (USD)").fill("1500")
    card.get_by_role("button", name="Approve with changes").click()
    card.locator(".outcome").wait_for()
    assert "Now approved" in card.locator(".outcome").inner_text()  # no finance below 2,000
    assert cli("status", thread_id, json_output=True).data["values"]["cost"] == 1500

    page.get_by_role("tab", name="History").click()
    done = page.locator("#history .item", has_text="Oslo").first
    done.wait_for()
    assert fields(done) == [("Destination", "Oslo"), ("Cost", "$1,500.00")]
    assert "changed cost to $1,500.00" in done.locator("ol.audit").inner_text()


def test_a_stale_item_says_on_its_card_who_answered(context, server, cli, shots):
    submitted = submit_cli(server.url, "approval_chain", 2500, "Racks")
    thread_id = submitted.data["thread_id"]
    assert cli("resume", thread_id, "approve", "--note", "ok", user="bob").returncode == 0
    (pause,) = cli("status", thread_id, json_output=True).data["interrupts"]
    page = context.new_page()
    sign_in(page, server, "dev-carol")
    card = page.locator(f"#item-{pause['id']}")
    card.wait_for()
    history = card.locator(".trail")
    assert "Approved by bob (manager, step 1)" in history.inner_text()
    assert history.locator("time").count() == 1
    assert cli("resume", thread_id, "approve", user="carol").returncode == 0  # another tab
    card.get_by_role("button", name="Approve").click()
    outcome = card.locator(".outcome")
    outcome.wait_for()
    text = outcome.inner_text()
    assert "Already answered: approved by carol" in text and "not applied" in text, text
    assert "stale" in card.get_attribute("class")
    assert page.locator("#notice").is_hidden()  # said on the card, not at the top
    page.screenshot(path=str(shots / "inbox-stale.png"))
    assert len(cli("history", thread_id, json_output=True).data) == 2  # applied once


def test_a_link_in_a_new_tab_lands_on_its_item_signed_in(context, server, cli):
    pauses = [
        cli(
            "submit", "--amount", str(200 + i), "--description", f"Linked {i}", json_output=True
        ).data["interrupts"][0]["id"]
        for i in range(4)
    ]
    first = context.new_page()
    sign_in(first, server, "dev-bob")
    linked = context.new_page()  # a notification link, opened in a new tab
    linked.set_viewport_size(PHONE)
    linked.goto(f"{server.url}/inbox#item-{pauses[0]}")  # the oldest: at the bottom
    card = linked.locator(f"#item-{pauses[0]}.highlight")
    card.wait_for()
    assert linked.locator("#signin").is_hidden()  # no second sign-in
    assert linked.evaluate("document.activeElement.id") == f"item-{pauses[0]}"
    box, height = card.bounding_box(), PHONE["height"]
    assert box["y"] >= 0 and box["y"] < height, box  # scrolled into view
    linked.goto(f"{server.url}/inbox#item-0123")
    linked.reload()
    linked.locator("#notice", has_text="no longer waiting for you").wait_for()

    linked.get_by_role("button", name="Sign out").click()  # signs out every tab
    first.wait_for_selector("#signin:not([hidden])")
    alone = context.new_page()
    alone.goto(f"{server.url}/inbox")
    alone.wait_for_selector("#signin:not([hidden])")
    assert "session storage" in alone.inner_text("#token-hint")


def test_the_list_refreshes_by_itself(context, server, cli):
    typed = cli("submit", "--amount", "310", "--description", "Typed on", json_output=True)
    page = context.new_page()
    sign_in(page, server, "dev-bob", query="?refresh=2")
    card = page.locator(f"#item-{typed.data['interrupts'][0]['id']}")
    card.get_by_label("Note").fill("I was about to answer")
    new = cli("submit", "--amount", "320", "--description", "Arrived later", json_output=True)
    page.locator(f"#item-{new.data['interrupts'][0]['id']}").wait_for(timeout=15_000)
    first = page.locator("#items .item .headline").first.inner_text()
    assert first == "alice asks for 320.00: Arrived later"
    assert card.get_by_label("Note").input_value() == "I was about to answer"  # kept
    thread_id = typed.data["thread_id"]
    assert cli("resume", thread_id, "approve", user="bob").returncode == 0  # elsewhere
    page.wait_for_selector(f"#item-{typed.data['interrupts'][0]['id']}.stale", timeout=15_000)
    assert "answered elsewhere or expired" in card.locator(".outcome").inner_text()


def test_the_page_never_shows_what_the_user_may_not_see(context, server, cli):
    submitted = cli(
        "submit", "--amount", "333", "--description", "Not for finance", json_output=True
    )
    page = context.new_page()
    sign_in(page, server, "dev-carol")
    page.wait_for_selector("#count")
    assert "Not for finance" not in page.inner_text("#items")
    assert submitted.data["thread_id"] not in page.content()
    page.evaluate("sessionStorage.setItem('hitl-token', 'forged')")
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    assert "refused" in page.inner_text("#signin-error")
