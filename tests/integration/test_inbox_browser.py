"""The inbox in a real browser: headless Chromium (Debian) driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.devserver import ROOT
from tests.conftest import submit_cli

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("HITL_CHROMIUM", "/usr/lib/chromium/chromium")
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


def sign_in(page, server, token):
    page.goto(f"{server.url}/inbox")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#tabs:not([hidden])")


def test_manager_approves_an_expense_in_the_browser(browser, server, cli):
    submitted = cli(
        "submit", "--amount", "812.5", "--description", "Browser conference", json_output=True
    )
    thread_id = submitted.data["thread_id"]
    pause_id = submitted.data["interrupts"][0]["id"]
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, server, "dev-bob")
    assert "bob (manager)" in page.inner_text("#who")
    card = page.locator(f"#item-{pause_id}")
    card.wait_for()
    assert "Browser conference" in card.inner_text() and "812.5" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "inbox-phone.png"), full_page=True)
    card.locator(".note").fill("Approved in the browser")
    card.get_by_role("button", name="Approve").click()
    page.wait_for_selector(f"#item-{pause_id}", state="detached")
    assert "Sent: approve" in page.inner_text("#notice")
    final = cli("status", thread_id, json_output=True).data
    assert final["values"]["status"] == "approved"
    assert final["values"]["approver_note"] == "Approved in the browser"
    assert final["values"]["audit"][-1]["approver"] == "bob"
    page.close()


def test_edit_in_the_approval_chain_and_stale_items(browser, server, cli):
    submitted = submit_cli(server.url, "approval_chain", 600, "Desks")
    thread_id = submitted.data["thread_id"]
    pause_id = submitted.data["interrupts"][0]["id"]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    sign_in(page, server, "dev-bob")
    card = page.locator(f"#item-{pause_id}")
    card.wait_for()
    page.screenshot(path=str(DOCS / "inbox.png"), full_page=True)
    card.get_by_role("button", name="Edit").click()
    card.locator("input[name=amount]").fill("-3")
    card.get_by_role("button", name="Send edit").click()
    assert "positive number" in card.locator(".error").inner_text()  # checked before sending
    card.locator("input[name=amount]").fill("2400")
    card.locator(".note").fill("Standing desks cost more")
    card.get_by_role("button", name="Send edit").click()
    page.wait_for_selector(f"#item-{pause_id}", state="detached")
    state = cli("status", thread_id, json_output=True).data
    (pause,) = state["interrupts"]
    assert pause["value"]["role"] == "finance"  # the edit raised it past 1,000
    assert pause["value"]["request"]["amount"] == 2400
    assert state["values"]["audit"][0]["changes"] == {"amount": 2400}

    # carol (finance) sees it; a second tab answered elsewhere first shows it as stale.
    page = browser.new_page()
    sign_in(page, server, "dev-carol")
    card = page.locator(f"#item-{pause['id']}")
    card.wait_for()
    assert cli("resume", thread_id, "approve", user="carol").returncode == 0
    card.get_by_role("button", name="Approve").click()
    page.wait_for_selector(f"#item-{pause['id']}", state="detached")
    assert "already answered elsewhere" in page.inner_text("#notice")
    page.get_by_role("button", name="History").click()
    page.wait_for_selector("#history .item")
    assert "approval_chain: approved" in page.inner_text("#history")


def test_the_page_never_shows_what_the_user_may_not_see(browser, server, cli):
    submitted = cli(
        "submit", "--amount", "333", "--description", "Not for finance", json_output=True
    )
    page = browser.new_page()
    sign_in(page, server, "dev-carol")
    page.wait_for_selector("#count")
    assert "Not for finance" not in page.inner_text("#items")
    assert submitted.data["thread_id"] not in page.content()
    page.goto(f"{server.url}/inbox")
    page.evaluate("sessionStorage.setItem('hitl-token', 'forged')")
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    assert "refused" in page.inner_text("#signin-error")
