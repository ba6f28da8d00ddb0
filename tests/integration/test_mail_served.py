"""Email over a real server: mail captured by a real SMTP server on loopback (aiosmtpd).

The served ``langgraph dev`` mails every pause to its approvers; each test follows
the mailed link as a mail client and a browser would (``httpx``: GET the page, keep
its cookie, POST its form) and checks, through the API, what the server recorded.
"""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from scripts import devserver
from scripts.devserver import DevServer, free_port
from tests.conftest import eventually, run_cli, submit_cli

pytestmark = pytest.mark.integration

SECRET = "served-test-link-secret-0123456789"
ADDRESSES = {
    "alice": "alice@example.com",
    "bob": "bob@example.com",
    "carol": "carol@example.com",
}


class Mailbox:
    """A real SMTP server on loopback that keeps every message it is handed.

    ``refuse[word] = n``: the next ``n`` messages whose subject has ``word`` are refused
    (451, try again later), each kept in :attr:`refused`.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # noqa: PLC0415 - test-only dependency

        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refused: list[EmailMessage] = []
        self.refuse: dict[str, int] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            word = next((w for w, n in self.refuse.items() if n and w in parsed["Subject"]), None)
            if word is not None:
                self.refuse[word] -= 1
                self.refused.append(parsed)
                return "451 4.3.0 Try again later"
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str, pause_id: str | None = None) -> list[EmailMessage]:
        """The messages for ``address`` (about pause ``pause_id``)."""
        with self.lock:
            return [
                m
                for rcpt, m in self.messages
                if address in rcpt and (pause_id is None or m["X-HITL-Pause"] == pause_id)
            ]

    def about(self, pause_id: str) -> list[str]:
        """Who was mailed about a pause."""
        with self.lock:
            return sorted(
                r for rcpt, m in self.messages if m["X-HITL-Pause"] == pause_id for r in rcpt
            )


def mail_env(mailbox: Mailbox, public_url: str) -> dict[str, str]:
    return {
        "HITL_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}",
        "HITL_EMAIL_FROM": "approvals@example.com",
        "HITL_USER_EMAILS": ",".join(f"{u}:{a}" for u, a in ADDRESSES.items()),
        "HITL_LINK_SECRET": SECRET,
        "HITL_PUBLIC_URL": public_url,
    }


def mailing_server(mailbox: Mailbox) -> Iterator[DevServer]:
    """A server that mails through ``mailbox``; its public URL is its own (the links work)."""
    port = free_port()
    server = DevServer(env=mail_env(mailbox, f"http://127.0.0.1:{port}"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(devserver, "free_port", lambda: port)  # the port the links name
            server.start()
        assert server.url == f"http://127.0.0.1:{port}"
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture(scope="module")
def served(mailbox) -> Iterator[DevServer]:
    yield from mailing_server(mailbox)


def body_of(message: EmailMessage) -> str:
    """A mail's text, its lines ended by newlines (SMTP ends them with CRLF)."""
    return message.get_content().replace("\r\n", "\n")


def link_in(message: EmailMessage) -> str:
    """The personal link a mail carries."""
    body = body_of(message)
    found = re.search(r"^(http\S+/email/answer\?token=\S+)$", body, re.MULTILINE)
    assert found, body
    return found.group(1)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def submitted(server, amount: float = 1240.5, what: str = "Team offsite lunch") -> tuple[str, str]:
    """Alice's expense, waiting for a manager: ``(thread_id, pause id)``."""
    data = submit_cli(server.url, "expense_approval", amount, what).data
    assert data["state"] == "waiting" and data["interrupts"][0]["value"]["role"] == "manager"
    return data["thread_id"], data["interrupts"][0]["id"]


def mailed_link(mailbox: Mailbox, address: str, pause_id: str) -> str:
    (message,) = eventually(lambda: mailbox.to(address, pause_id), timeout=30)
    return link_in(message)


def status(server, thread_id: str) -> dict:
    """The request as alice (its requester) sees it: state, values, audit."""
    return run_cli(server.url, "status", thread_id, json_output=True).data


def form_of(page: httpx.Response) -> dict[str, str]:
    """The hidden fields of the confirmation page's form."""
    return {
        name: unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text
        )
    }


def text_of(page: httpx.Response) -> str:
    """A page's words, without tags."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def sign(identity: str, thread_id: str, pause_id: str, expires: datetime | None = None) -> str:
    """A link as the server makes them, signed with the test server's secret."""
    from server.mail import Link, sign_link  # noqa: PLC0415

    until = expires or datetime.now(UTC) + timedelta(days=1)
    return sign_link(SECRET, Link(identity, thread_id, pause_id, 1, until))


def open_page(server, client: httpx.Client, token: str) -> httpx.Response:
    return client.get(f"{server.url}/email/answer", params={"token": token})


def post(server, client: httpx.Client, fields: dict[str, str]) -> httpx.Response:
    return client.post(f"{server.url}/email/answer", data=fields)


def unanswered(server, thread_id: str, pause_id: str) -> None:
    """Nothing was applied: the request still waits on the same pause, its audit trail empty."""
    now = status(server, thread_id)
    assert now["state"] == "waiting", now
    assert [i["id"] for i in now["interrupts"]] == [pause_id], now["interrupts"]
    assert not now["values"].get("audit"), now["values"]


def test_a_pause_is_mailed_to_its_approvers_never_the_requester(served, mailbox):
    thread_id, pause_id = submitted(served)
    (message,) = eventually(lambda: mailbox.to("bob@example.com", pause_id), timeout=30)
    assert message["Subject"] == "Waiting for you: alice asks for 1,240.50: Team offsite lunch"
    assert message["From"] == "approvals@example.com"
    body = body_of(message)
    for said in ("Amount: 1,240.50 USD", "Description: Team offsite lunch", "Requested by: alice"):
        assert said in body, body
    assert re.search(r"^Due: \d{4}-\d\d-\d\d \d\d:\d\d UTC$", body, re.MULTILINE), body
    assert link_in(message).startswith(f"{served.url}/email/answer?token=")
    assert f"{served.url}/inbox#item-{pause_id}" in body
    rows = eventually(
        lambda: [
            r
            for r in run_cli(served.url, "notifications", json_output=True, user="erin").data
            if r["pause_id"] == pause_id and r["status"] == "sent"
        ]
    )
    assert [(r["channel"], r["recipient"]) for r in rows] == [("email", "bob")]
    listed = run_cli(served.url, "notifications", "--status", "sent", user="erin").stdout
    assert f"{rows[0]['id']}  sent     email to bob  attempts 1" in listed, listed
    # alice (the requester, with an address) and carol (finance) are not mailed about it.
    assert mailbox.about(pause_id) == ["bob@example.com"]
    unanswered(served, thread_id, pause_id)


def test_the_link_opens_a_page_that_decides_nothing_and_its_form_approves_as_bob(served, mailbox):
    thread_id, pause_id = submitted(served, 980, "Printer toner")
    link = mailed_link(mailbox, "bob@example.com", pause_id)
    with httpx.Client(timeout=60) as scanner:  # a mail scanner opens links, twice
        for _ in range(2):
            assert scanner.get(link).status_code == 200
    unanswered(served, thread_id, pause_id)

    with httpx.Client(timeout=60) as browser:
        page = browser.get(link)
        assert page.status_code == 200
        words = text_of(page)
        assert "You are answering as bob (manager)" in words
        assert "alice asks for 980.00: Printer toner" in words
        assert "Amount 980.00 USD" in words and "Requested by alice" in words
        assert "Note (required to reject)" in words
        assert 'value="approve"' in page.text and 'value="reject"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        cookie = page.headers["set-cookie"]
        for flag in ("HttpOnly", "SameSite=strict", "Path=/email/"):
            assert flag.lower() in cookie.lower(), cookie
        form = form_of(page)
        assert form["token"] == token_of(link)
        assert form["csrf"] == browser.cookies["hitl_csrf"]
        unanswered(served, thread_id, pause_id)

        done = post(served, browser, {**form, "decision": "approve", "note": "Fine by me"})
        assert done.status_code == 200, done.text
        assert "You approved it as bob, by email" in text_of(done)

        again = post(served, browser, {**form, "decision": "approve"})  # a second use
        assert again.status_code == 410
        assert "This link was used by bob" in text_of(again)
        assert "bob approved it at" in text_of(again) and "by email" in text_of(again)
        reopened = browser.get(link)
        assert reopened.status_code == 410 and "bob approved it at" in text_of(reopened)
        assert 'name="decision"' not in reopened.text

    final = status(served, thread_id)
    assert final["values"]["status"] == "approved"
    (entry,) = final["values"]["audit"]
    assert (entry["approver"], entry["decision"], entry["channel"]) == ("bob", "approve", "email")
    assert entry["note"] == "Fine by me"


def test_links_that_may_not_answer_are_refused_and_change_nothing(served, mailbox):
    thread_id, pause_id = submitted(served, 640, "Conference pass")
    link = mailed_link(mailbox, "bob@example.com", pause_id)
    token = token_of(link)

    def refused(token: str, decision: str = "approve") -> tuple[int, int, str]:
        """GET and POST (with a matching CSRF pair) of a link: their statuses, the POST's words."""
        with httpx.Client(timeout=60) as client:
            shown = open_page(served, client, token)
            client.cookies.set("hitl_csrf", "c" * 43, domain="127.0.0.1", path="/email/")
            answered = post(
                served, client, {"token": token, "csrf": "c" * 43, "decision": decision}
            )
        assert 'name="decision"' not in shown.text
        return shown.status_code, answered.status_code, text_of(answered)

    # Tampered: carol's payload under bob's timestamp and signature, or a changed signature.
    # (A token is "[.]payload.timestamp.signature"; a leading dot marks a compressed payload.)
    # The signature's first character is changed: its last one may carry only padding
    # bits (base64 of a digest that does not fill it), so changing it may not change it.
    carols = sign("carol", thread_id, pause_id).rsplit(".", 2)[0]
    head, signature = token.rsplit(".", 1)
    for tampered in (
        ".".join([carols, *token.rsplit(".", 2)[1:]]),
        f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",
    ):
        assert tampered != token
        shown, answered, words = refused(tampered)
        assert (shown, answered) == (403, 403) and "This link is not valid" in words
    # Expired (signed by the server's own function, due in the past).
    past = sign("bob", thread_id, pause_id, datetime.now(UTC) - timedelta(minutes=1))
    shown, answered, words = refused(past)
    assert (shown, answered) == (410, 410) and "This link expired at" in words
    # Another user's link: carol (finance) for bob's (a manager's) pause.
    shown, answered, words = refused(sign("carol", thread_id, pause_id))
    assert (shown, answered) == (403, 403) and "not for carol" in words
    # A link for the requester, who is not whom it waits for.
    shown, answered, words = refused(sign("alice", thread_id, pause_id))
    assert (shown, answered) == (403, 403)
    assert "alice may not answer this request: waits for manager" in words
    # Not a link at all, or none.
    with httpx.Client(timeout=60) as client:
        assert open_page(served, client, "").status_code == 400
        assert client.get(f"{served.url}/email/answer").status_code == 400
    unanswered(served, thread_id, pause_id)

    # bob's genuine link, but the form comes without its CSRF pair.
    with httpx.Client(timeout=60) as client:
        form = form_of(open_page(served, client, token))
        missing = post(served, client, {"token": token, "decision": "approve"})
        assert missing.status_code == 403 and "security token" in text_of(missing)
        wrong = post(served, client, {**form, "csrf": "x" * 43, "decision": "approve"})
        assert wrong.status_code == 403
    with httpx.Client(timeout=60) as other:  # the field, but not the cookie (another browser)
        assert post(served, other, {**form, "decision": "approve"}).status_code == 403
    with httpx.Client(timeout=60) as client:  # the door checks a form's fields as a body's
        form = form_of(open_page(served, client, token))
        smuggled = post(served, client, {**form, "decision": "approve", "approver": "carol"})
        assert smuggled.status_code == 403
        assert "body field 'approver' is not accepted" in smuggled.json()["detail"]
    unanswered(served, thread_id, pause_id)


def test_the_requesters_own_link_cannot_approve(served, mailbox):
    """bob (a manager) asks; his expense waits for a manager, and he is the only one."""
    data = submit_cli(served.url, "expense_approval", 870, "Manager's laptop", user="bob").data
    thread_id, pause_id = data["thread_id"], data["interrupts"][0]["id"]
    assert data["interrupts"][0]["value"]["role"] == "manager"
    own = sign("bob", thread_id, pause_id)
    with httpx.Client(timeout=60) as client:
        shown = open_page(served, client, own)
        assert shown.status_code == 403 and 'name="decision"' not in shown.text
        assert "you cannot approve your own request" in text_of(shown)
        client.cookies.set("hitl_csrf", "c" * 43, domain="127.0.0.1", path="/email/")
        answered = post(served, client, {"token": own, "csrf": "c" * 43, "decision": "approve"})
        assert answered.status_code == 403 and "own request" in text_of(answered)
    now = run_cli(served.url, "status", thread_id, json_output=True, user="bob").data
    assert now["state"] == "waiting" and not now["values"].get("audit")
    time.sleep(2)  # what the outbox would have sent by now
    assert mailbox.about(pause_id) == []  # bob is not mailed about his own request


def test_a_reject_needs_a_note(served, mailbox):
    thread_id, pause_id = submitted(served, 720, "Standing desk")
    link = mailed_link(mailbox, "bob@example.com", pause_id)
    with httpx.Client(timeout=60) as browser:
        form = form_of(browser.get(link))
        bare = post(served, browser, {**form, "decision": "reject", "note": "  "})
        assert bare.status_code == 422
        assert "A reject needs a note" in text_of(bare)
        assert 'value="reject"' in bare.text  # the form again: the link still works
        unanswered(served, thread_id, pause_id)
        edit = post(served, browser, {**form, "decision": "edit"})
        assert edit.status_code == 422 and "Choose one of: approve, reject" in text_of(edit)
        rejected = post(served, browser, {**form, "decision": "reject", "note": "Over budget"})
        assert rejected.status_code == 200, rejected.text
        assert "You rejected it as bob" in text_of(rejected)
    final = status(served, thread_id)
    assert final["values"]["status"] == "rejected"
    (entry,) = final["values"]["audit"]
    assert (entry["approver"], entry["decision"], entry["channel"], entry["note"]) == (
        "bob",
        "reject",
        "email",
        "Over budget",
    )


def test_a_link_to_a_pause_answered_elsewhere_says_who_decided(served, mailbox):
    thread_id, pause_id = submitted(served, 560, "Team books")
    link = mailed_link(mailbox, "bob@example.com", pause_id)
    assert run_cli(served.url, "resume", thread_id, "approve", user="bob").returncode == 0
    with httpx.Client(timeout=60) as browser:
        page = browser.get(link)
        assert page.status_code == 410
        words = text_of(page)
        assert "Already decided" in words and "bob approved it at" in words and "by cli" in words
    assert len(status(served, thread_id)["values"]["audit"]) == 1


def outbox_rows(server, pause_id: str) -> list[dict]:
    """The outbox's rows of a pause, as an admin lists them."""
    rows = run_cli(server.url, "notifications", json_output=True, user="erin").data
    return [r for r in rows if r["pause_id"] == pause_id]


def test_a_refused_mail_is_sent_again_with_back_off(served, mailbox):
    mailbox.refuse["Flaky"] = 2
    thread_id, pause_id = submitted(served, 410, "Flaky projector")
    (message,) = eventually(lambda: mailbox.to("bob@example.com", pause_id), timeout=30)
    assert len([m for m in mailbox.refused if m["X-HITL-Pause"] == pause_id]) == 2
    (row,) = eventually(lambda: [r for r in outbox_rows(served, pause_id) if r["status"] == "sent"])
    assert (row["channel"], row["recipient"], row["attempts"]) == ("email", "bob", 3)
    assert "451" in row["last_error"]
    unanswered(served, thread_id, pause_id)


def test_no_mail_for_a_pause_answered_before_it_went_out(served, mailbox):
    mailbox.refuse["Stalled"] = 10**6  # the SMTP server refuses ...
    thread_id, pause_id = submitted(served, 430, "Stalled order")
    eventually(lambda: any(m["X-HITL-Pause"] == pause_id for m in mailbox.refused))
    assert run_cli(served.url, "resume", thread_id, "approve", user="bob").returncode == 0
    mailbox.refuse["Stalled"] = 0  # ... until the pause is answered
    (row,) = eventually(
        lambda: [r for r in outbox_rows(served, pause_id) if r["status"] != "pending"]
    )
    assert row["status"] == "dropped"
    assert mailbox.to("bob@example.com", pause_id) == []


def test_email_on_without_a_link_secret_does_not_start(mailbox):
    env = mail_env(mailbox, "http://127.0.0.1:8123")
    del env["HITL_LINK_SECRET"]
    server = DevServer(env=env)
    try:
        assert "HITL_LINK_SECRET is not" in server.refusal()
    finally:
        server.cleanup()
