"""Email as pure functions: settings, the secret's start-up rule, links, recipients, the mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email import policy as email_policy
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import BaseModel
from sqlalchemy import create_engine, inspect, text

from graphs.common import store
from graphs.common.contract import Pause
from graphs.common.fields import Amount
from server import mail, notify
from server.auth import User
from server.mail import Link, LinkRefused, MailSettings, read_link, sign_link

SECRET = "unit-test-link-secret-0123456789"
USERS = [
    User("alice", "employee", "t-alice"),
    User("bob", "manager", "t-bob"),
    User("mia", "manager", "t-mia"),
    User("carol", "finance", "t-carol"),
    User("erin", "admin", "t-erin"),
]
ADDRESSES = {
    "alice": "alice@example.com",
    "bob": "bob@example.com",
    "mia": "mia@example.com",
    "carol": "carol@example.com",
}


class Expense(BaseModel):
    amount: Amount
    description: str
    requester: str | None = None


def expense(requester: str = "alice", **addressed) -> Pause:
    return Pause.about(
        Expense,
        {"amount": 1240.5, "description": "Team\noffsite <b>lunch</b>", "requester": requester},
        type="expense",
        action="Approve expense",
        options=["approve", "edit", "reject"],
        due_at="2030-01-02T03:04:05+00:00",
        **(addressed or {"role": "manager"}),
    )


def env(**settings: str) -> dict[str, str]:
    return {
        "HITL_SMTP_URL": "smtp://127.0.0.1:2525",
        "HITL_EMAIL_FROM": "approvals@example.com",
        "HITL_USER_EMAILS": "bob:bob@example.com",
        "HITL_LINK_SECRET": SECRET,
        **settings,
    }


def settings_from(values: dict[str, str], development: bool = False) -> MailSettings | None:
    return MailSettings.from_env(
        values, users=USERS, in_development=development, example="example-secret-value-1234"
    )


# Settings


@pytest.mark.parametrize(
    "url, host, port, security, username, password",
    [
        ("smtp://mail.internal", "mail.internal", 25, "plain", None, None),
        ("smtp://127.0.0.1:2525", "127.0.0.1", 2525, "plain", None, None),
        ("smtp://relay?starttls=true", "relay", 587, "starttls", None, None),
        ("smtp://u:pw1@relay:2587?starttls=1", "relay", 2587, "starttls", "u", "pw1"),
        (
            "smtps://bot%40corp:p%40ss%3Aword@smtp.corp",
            "smtp.corp",
            465,
            "tls",
            "bot@corp",
            "p@ss:word",
        ),
    ],
)
def test_the_smtp_url_is_read(url, host, port, security, username, password):
    smtp = mail.parse_smtp_url(url)
    assert (smtp.host, smtp.port, smtp.security) == (host, port, security)
    assert (smtp.username, smtp.password) == (username, password)
    if password:
        assert password not in repr(smtp)  # settings get logged, passwords never


@pytest.mark.parametrize(
    "url", ["http://mail", "smtp://", "mail.internal:25", "smtp://relay?tls=yes", "smtp://h:99999"]
)
def test_a_wrong_smtp_url_is_refused(url):
    with pytest.raises(ValueError, match="HITL_SMTP_URL"):
        mail.parse_smtp_url(url)


def test_user_addresses_are_read_for_configured_users_only():
    assert mail.parse_addresses(" bob:bob@example.com , carol:carol@example.com,", USERS) == {
        "bob": "bob@example.com",
        "carol": "carol@example.com",
    }
    assert mail.parse_addresses("", USERS) == {}
    for spec, words in [
        ("zed:zed@example.com", "not in HITL_USERS"),
        ("bob", "not name:address"),
        ("bob:not-an-address", "not name:address"),
        ("bob:bob@example.com\nBcc: x@evil.test", "not name:address"),
        ("bob:a@example.com,bob:b@example.com", "twice"),
    ]:
        with pytest.raises(ValueError, match=words):
            mail.parse_addresses(spec, USERS)


def test_email_is_off_unless_an_smtp_url_is_set():
    assert settings_from({}) is None
    assert settings_from({"HITL_SMTP_URL": " ", "HITL_LINK_SECRET": ""}) is None
    on = settings_from(env(HITL_PUBLIC_URL="https://approvals.example/"))
    assert on is not None
    assert on.addresses == {"bob": "bob@example.com"}
    assert on.public_url == "https://approvals.example"
    assert settings_from(env(HITL_PUBLIC_URL="")).public_url == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"HITL_EMAIL_FROM": ""}, "HITL_EMAIL_FROM"),
        ({"HITL_EMAIL_FROM": "approvals"}, "HITL_EMAIL_FROM"),
        ({"HITL_USER_EMAILS": "bob"}, "HITL_USER_EMAILS"),
        ({"HITL_SMTP_URL": "http://mail"}, "HITL_SMTP_URL"),
        ({"HITL_LINK_SECRET": ""}, "HITL_LINK_SECRET is not"),
        ({"HITL_LINK_SECRET": "short"}, "too short"),
    ],
)
def test_email_that_is_on_must_be_configured_whole(setting, words):
    with pytest.raises(ValueError, match=words):
        settings_from(env(**setting))


def test_the_example_secret_is_refused_outside_development_only():
    example = env(HITL_LINK_SECRET="example-secret-value-1234")
    with pytest.raises(ValueError, match="example value from .env.example"):
        settings_from(example, development=False)
    assert settings_from(example, development=True) is not None
    # Email off: no secret is needed, and the example is not looked at.
    assert settings_from({**example, "HITL_SMTP_URL": ""}, development=False) is None


def test_the_example_secret_is_the_one_env_example_ships():
    shipped = mail.example_secret()
    assert shipped and shipped == mail.EXAMPLE_SECRET
    assert mail.secret_problem(shipped, in_development=False, example=shipped)
    assert mail.secret_problem(shipped, in_development=True, example=shipped) is None


def test_development_is_langgraph_dev(monkeypatch):
    from server.auth import development

    monkeypatch.setenv("LANGSMITH_LANGGRAPH_API_VARIANT", "local_dev")
    assert development()
    monkeypatch.delenv("LANGSMITH_LANGGRAPH_API_VARIANT")
    assert not development()


# Links


def link(identity: str = "bob", expires: datetime | None = None) -> Link:
    return Link(
        identity,
        "thread-1",
        "pause-1",
        2,
        expires or datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1),
    )


def test_a_link_reads_back_as_signed():
    made = link()
    assert read_link(SECRET, sign_link(SECRET, made)) == made


def refusal(secret: str, token: str, now: datetime | None = None) -> tuple[int, str]:
    with pytest.raises(LinkRefused) as refused:
        read_link(secret, token, now)
    return refused.value.status, refused.value.reason


def test_a_changed_token_is_refused():
    token = sign_link(SECRET, link())
    # "[.]payload.timestamp.signature" (a leading dot: a compressed payload)
    payload, stamp, signature = token.rsplit(".", 2)
    carols = sign_link(SECRET, link("carol")).rsplit(".", 2)[0]
    changed = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (
        f"{carols}.{stamp}.{signature}",  # another user's payload under bob's signature
        f"{changed}.{stamp}.{signature}",
        f"{payload}.{stamp}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "",
        "not-a-token",
    ):
        assert bad != token
        status, reason = refusal(SECRET, bad)
        assert status == 403 and "not valid" in reason


def test_another_spelling_of_a_genuine_token_is_refused():
    """Base64 leaves spare bits in a part's last character: other values there decode to
    the same signature, which must not pass as a new token past the once-only record."""
    from itsdangerous.encoding import base64_decode

    token = sign_link(SECRET, link())
    head, signature = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same = [
        f"{head}.{signature[:-1]}{c}"
        for c in alphabet
        if c != signature[-1] and base64_decode(signature[:-1] + c) == base64_decode(signature)
    ]
    assert same  # a SHA-1 HMAC (20 bytes) in 27 characters leaves 2 spare bits
    assert read_link(SECRET, token).identity == link().identity
    for spelling in same:
        status, reason = refusal(SECRET, spelling)
        assert status == 403 and "not valid" in reason


def test_a_token_of_another_secret_is_refused():
    assert refusal("another-secret-0123456789abcdef", sign_link(SECRET, link()))[0] == 403


def test_a_token_of_another_purpose_is_refused():
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(SECRET, salt="something-else").dumps(
        {"u": "bob", "t": "thread-1", "i": "pause-1", "s": 1, "e": 2**40}
    )
    assert refusal(SECRET, other)[0] == 403
    wrong_shape = URLSafeTimedSerializer(SECRET, salt=mail.SALT).dumps({"u": "bob"})
    assert refusal(SECRET, wrong_shape) == (
        403,
        "This link is not valid: it does not name a request.",
    )


def test_an_expired_token_is_refused():
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    token = sign_link(SECRET, link(expires=expires))
    assert read_link(SECRET, token, now=expires - timedelta(seconds=1)).identity == "bob"
    status, reason = refusal(SECRET, token, now=expires)
    assert status == 410 and "expired at 2030-01-01 00:00 UTC" in reason
    past = sign_link(SECRET, link(expires=datetime.now(UTC) - timedelta(minutes=1)))
    assert refusal(SECRET, past)[0] == 410


def test_a_link_lasts_until_the_pause_is_due_or_a_week():
    now = datetime(2029, 12, 30, tzinfo=UTC)
    assert mail.expiry(expense(), now) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    undated = expense().model_copy(update={"due_at": None})
    assert mail.expiry(undated, now) == now + timedelta(days=mail.DEFAULT_LINK_DAYS)


def test_the_store_keeps_a_hash_of_the_token_not_the_token():
    token = sign_link(SECRET, link())
    digest = mail.token_hash(token)
    assert len(digest) == 64 and token not in digest
    assert digest == mail.token_hash(token) != mail.token_hash(token + "x")


# Recipients


def payload(pause: Pause) -> dict:
    return pause.payload()


def test_a_role_pause_mails_that_roles_users_with_an_address():
    assert mail.recipients(payload(expense()), ADDRESSES, USERS) == [
        ("bob", "bob@example.com"),
        ("mia", "mia@example.com"),
    ]
    assert mail.recipients(payload(expense(role="finance")), ADDRESSES, USERS) == [
        ("carol", "carol@example.com")
    ]
    # No address, no mail; a role nobody holds, no mail.
    assert mail.recipients(payload(expense()), {"bob": "bob@example.com"}, USERS) == [
        ("bob", "bob@example.com")
    ]
    assert mail.recipients(payload(expense(role="director")), ADDRESSES, USERS) == []


def test_the_requester_is_never_mailed():
    assert mail.recipients(payload(expense(requester="bob")), ADDRESSES, USERS) == [
        ("mia", "mia@example.com")
    ]
    assert mail.recipients(payload(expense(requester="bob", user="bob")), ADDRESSES, USERS) == []


def test_a_user_pause_mails_that_user():
    assert mail.recipients(payload(expense(user="carol")), ADDRESSES, USERS) == [
        ("carol", "carol@example.com")
    ]
    assert mail.recipients(payload(expense(user="erin")), ADDRESSES, USERS) == []  # no address


def test_something_that_is_not_a_pause_mails_nobody():
    assert mail.recipients({"question": "?"}, ADDRESSES, USERS) == []
    assert mail.recipients(None, ADDRESSES, USERS) == []


# The mail


def test_the_mail_shows_the_pause_and_a_personal_link(monkeypatch):
    monkeypatch.setenv("HITL_CURRENCY", "EUR")
    settings = settings_from(env(HITL_PUBLIC_URL="https://approvals.example"))
    now = datetime(2029, 12, 30, tzinfo=UTC)
    message = mail.compose(
        settings, "bob", "bob@example.com", "thread-1", "pause-1", expense(), now
    )
    parsed = message_from_string(message.as_string(), policy=email_policy.default)
    assert parsed["To"] == "bob@example.com" and parsed["From"] == "approvals@example.com"
    assert parsed["X-HITL-Pause"] == "pause-1"
    # One line: user text cannot add headers.
    assert (
        parsed["Subject"] == "Waiting for you: alice asks for 1,240.50: Team offsite <b>lunch</b>"
    )
    body = parsed.get_content()
    for said in (
        "Amount: 1,240.50 EUR",
        "Description: Team\noffsite <b>lunch</b>",
        "Requested by: alice",
        "Due: 2030-01-02 03:04 UTC",
        "answers as bob, once, until 2030-01-02 03:04 UTC",
        "Opening it decides nothing",
        "https://approvals.example/inbox#item-pause-1",
        "(approve, reject)",
    ):
        assert said in body, said
    url = next(line for line in body.splitlines() if "/email/answer?token=" in line)
    assert url.startswith("https://approvals.example/email/answer?token=")
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert read_link(SECRET, token, now) == Link(
        "bob", "thread-1", "pause-1", 1, datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    )


def test_user_text_in_headers_stays_on_one_line():
    assert mail.one_line("a\r\nBcc: x@evil.test\nb") == "a Bcc: x@evil.test b"
    assert len(mail.one_line("x" * 400)) == 150


def test_the_page_escapes_user_text():
    asked = expense()
    shown = mail.request_html(asked)
    assert "<b>lunch</b>" not in shown and "&lt;b&gt;lunch&lt;/b&gt;" in shown


def test_a_decision_is_told_in_a_sentence():
    entry = {
        "decision": "approve",
        "approver": "bob",
        "at": "2030-01-01T10:02:00+00:00",
        "channel": "email",
        "step": 1,
    }
    assert mail.decided_text(entry) == "bob approved it at 2030-01-01 10:02 UTC by email."
    expired = {"decision": "expire", "approver": "system", "at": "2030-01-01T10:02:00+00:00"}
    assert mail.decided_text(expired).startswith("It expired at 2030-01-01 10:02 UTC")
    later = {**entry, "step": 2, "approver": "carol", "decision": "reject", "note": "no"}
    values = {"audit": [entry, later]}
    assert mail.entry_for(values, 1) == entry and mail.entry_for(values, 2) == later
    assert mail.entry_for(values, 5) == later and mail.entry_for({}, 1) is None


# The outbox


def test_an_email_row_per_pause_and_recipient_beside_the_webhooks(offline):
    pause = notify.Pause("thread-1", "pause-1", "manager", payload(expense()))
    assert notify.add(pause, {"text": "hook"})
    assert notify.add(pause, {"to": "bob@example.com"}, "email", "bob")
    assert notify.add(pause, {"to": "mia@example.com"}, "email", "mia")
    assert not notify.add(pause, {"to": "bob@example.com"}, "email", "bob")  # raised again
    assert not notify.add(pause, {"text": "hook"})
    rows = {(r["channel"], r["recipient"]): r for r in notify.listing()}
    assert set(rows) == {("webhook", None), ("email", "bob"), ("email", "mia")}
    assert rows["webhook", None]["id"] == "pause-1"  # the webhook's row keeps the pause id
    assert {r["pause_id"] for r in rows.values()} == {"pause-1"}
    assert rows["email", "bob"]["id"] == notify.delivery_id("pause-1", "email", "bob")
    assert notify.pause_of({"interrupt_id": rows["email", "bob"]["id"], "pause_id": "pause-1"}) == (
        "pause-1"
    )


def test_an_outbox_of_an_older_version_gets_the_new_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE outbox (interrupt_id VARCHAR(64) PRIMARY KEY, thread_id VARCHAR(64) "
                "NOT NULL, body TEXT NOT NULL, status VARCHAR(10) NOT NULL, attempts INTEGER NOT "
                "NULL, next_at DATETIME NOT NULL, last_error TEXT, created_at DATETIME NOT NULL "
                "DEFAULT CURRENT_TIMESTAMP, sent_at DATETIME)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox (interrupt_id, thread_id, body, status, attempts, next_at) "
                "VALUES ('old-pause', 't', '{}', 'sent', 1, '2024-01-01 00:00:00')"
            )
        )
    upgraded = store.engine(url)
    columns = {c["name"] for c in inspect(upgraded).get_columns("outbox")}
    assert {"channel", "recipient", "pause_id"} <= columns
    assert inspect(upgraded).has_table("email_links")


def test_used_links_answer_once(offline):
    made = link()
    digest = mail.token_hash(sign_link(SECRET, made))
    assert mail.use_of(digest) is None
    assert mail.claim(digest, made)
    assert not mail.claim(digest, made)  # being answered
    mail.release(digest)  # not applied: the link works again
    assert mail.use_of(digest) is None
    assert mail.claim(digest, made)
    mail.used(digest, "approve")
    assert not mail.claim(digest, made)
    use = mail.use_of(digest)
    assert use["identity"] == "bob" and use["decision"] == "approve" and use["used_at"]
    mail.release(digest)  # a used link is never given back
    assert mail.use_of(digest)["used_at"]


def test_a_claim_a_crash_left_behind_works_again(offline, monkeypatch):
    made = link()
    digest = mail.token_hash(sign_link(SECRET, made))
    assert mail.claim(digest, made)
    later = datetime.now(UTC) + mail.CLAIM_TIMEOUT + timedelta(seconds=1)
    monkeypatch.setattr(mail, "now", lambda: later)
    assert mail.claim(digest, made)


def test_a_mail_the_smtp_server_refuses_is_a_problem_not_an_exception(monkeypatch):
    settings = settings_from(env(HITL_SMTP_URL="smtp://127.0.0.1:9"))  # nothing listens
    problem = asyncio.run(
        mail.Mailer(settings).deliver(
            "bob", "bob@example.com", "thread-1", {"id": "pause-1", "value": payload(expense())}
        )
    )
    assert problem and problem.startswith("SMTP 127.0.0.1:9:")
    assert "not a pause" in asyncio.run(
        mail.Mailer(settings).deliver("bob", "bob@example.com", "t", {"id": "p", "value": None})
    )


def test_the_door_names_the_fields_of_the_links_form():
    from server import allowlist

    assert allowlist.takes_form("POST", "/email/answer")
    assert not allowlist.takes_form("GET", "/email/answer")
    assert not allowlist.takes_form("POST", "/inbox/api/answer")
    fields = {"token": "t", "csrf": "c", "decision": "approve", "note": ""}
    for role in ("anonymous", "employee", "admin"):  # the link's token names the user
        assert allowlist.check("POST", "/email/answer", role, fields, []) is None
        assert allowlist.check("GET", "/email/answer", role, None, [("token", "t")]) is None
    refused = allowlist.check("POST", "/email/answer", "anonymous", {**fields, "approver": "x"}, [])
    assert refused is not None and refused.status == 403 and "'approver'" in refused.detail
    refused = allowlist.check("GET", "/email/answer", "anonymous", None, [("as", "carol")])
    assert refused is not None and refused.status == 403
