"""A mailed link in a real browser: headless Chromium (Debian) driven by Playwright.

The approver opens the link from the mail the server sent (captured by a real SMTP
server on loopback), reads the confirmation page, and answers from it; the API then
says what the server recorded. Screenshots go to a temporary directory, or to
``docs/`` with ``HITL_WRITE_DOCS_SCREENSHOTS=1`` (``make screenshots``).
"""

from __future__ import annotations

import pytest

from tests.conftest import chromium, run_cli
from tests.integration import test_mail_served
from tests.integration.test_mail_served import mailed_link, submitted

pytestmark = pytest.mark.integration

VIEWPORT = {"width": 760, "height": 640}
mailbox, served = test_mail_served.mailbox, test_mail_served.served  # its fixtures, per module


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport=VIEWPORT)
    yield context.new_page()
    context.close()


def test_the_mailed_link_confirms_then_approves(page, served, mailbox, shots):
    thread_id, pause_id = submitted(served, 1240.5, "Team offsite lunch")
    link = mailed_link(mailbox, "bob@example.com", pause_id)

    page.goto(link)
    assert page.locator("#as").inner_text().startswith("You are answering as bob (manager).")
    assert page.locator("h2.headline").inner_text() == "alice asks for 1,240.50: Team offsite lunch"
    labels = page.locator("dl.request dt").all_inner_texts()
    values = page.locator("dl.request dd").all_inner_texts()
    assert list(zip(labels, values, strict=True))[:3] == [
        ("Amount", "1,240.50 USD"),
        ("Description", "Team offsite lunch"),
        ("Requested by", "alice"),
    ]
    assert labels[3] == "Due" and values[3].endswith(" UTC")
    assert page.get_by_role("button", name="Reject").is_visible()
    page.get_by_label("Note (required to reject)").fill("Enjoy the lunch")
    page.screenshot(path=str(shots / "email-confirm.png"))
    waiting = run_cli(served.url, "status", thread_id, json_output=True).data
    assert waiting["state"] == "waiting" and not waiting["values"].get("audit")  # opened only

    page.get_by_role("button", name="Approve").click()
    done = page.locator("section.done")
    done.wait_for()
    assert done.locator("h2").inner_text() == "Approved"
    assert "You approved it as bob, by email" in done.inner_text()
    assert "The request is now approved." in done.inner_text()
    page.screenshot(path=str(shots / "email-done.png"))
    final = run_cli(served.url, "status", thread_id, json_output=True).data
    assert final["values"]["status"] == "approved"
    (entry,) = final["values"]["audit"]
    assert (entry["approver"], entry["decision"], entry["channel"]) == ("bob", "approve", "email")
    assert entry["note"] == "Enjoy the lunch"

    page.goto(link)  # the same link again: who decided, and no form
    closed = page.locator("section.closed")
    closed.wait_for()
    assert "This link was used by bob" in closed.inner_text()
    assert "bob approved it at" in closed.inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0


def test_a_reject_from_the_page_needs_a_note(page, served, mailbox):
    thread_id, pause_id = submitted(served, 860, "Desk chairs")
    page.goto(mailed_link(mailbox, "bob@example.com", pause_id))
    page.get_by_role("button", name="Reject").click()  # no note: refused on the page
    assert "A reject needs a note" in page.get_by_role("alert").inner_text()
    assert run_cli(served.url, "status", thread_id, json_output=True).data["state"] == "waiting"

    page.get_by_label("Note (required to reject)").fill("Chairs came with the lease")
    page.get_by_role("button", name="Reject").click()
    done = page.locator("section.done")
    done.wait_for()
    assert done.locator("h2").inner_text() == "Rejected"
    final = run_cli(served.url, "status", thread_id, json_output=True).data
    assert final["values"]["status"] == "rejected"
    (entry,) = final["values"]["audit"]
    assert (entry["approver"], entry["decision"], entry["note"]) == (
        "bob",
        "reject",
        "Chairs came with the lease",
    )
