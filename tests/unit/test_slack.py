"""Slack, as pure functions: Slack's signature, the user map, the response hosts, the buttons."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from pydantic import BaseModel

from graphs.common.contract import Pause
from server.answers import Outcome
from server.notify import Pause as Notified
from server.notify import message
from server.slack import (
    Click,
    Settings,
    outcome_text,
    parse_hosts,
    parse_users,
    record,
    why_not_callable,
)
from tests.unit.trip import Trip, TripChanges

SECRET = "test-signing-secret"


def slack_signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's recipe (docs.slack.dev, "Verifying requests from Slack"): HMAC-SHA256 of
    ``v0:{timestamp}:{body}`` with the signing secret, hex, prefixed ``v0=``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def settings(**hosts: str) -> Settings:
    return Settings(SECRET, {"U0BOB": "bob"}, parse_hosts(hosts.get("hosts", "hooks.slack.com")))


def form(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def click(action: str = "approve", value: object = None, **extra) -> dict:
    button = {"action_id": action, "type": "button", "block_id": "hitl-answer"}
    if value is not None:
        button["value"] = value if isinstance(value, str) else json.dumps(value)
    return {
        "type": "block_actions",
        "user": {"id": "U0BOB", "username": "bob"},
        "response_url": "https://hooks.slack.com/actions/T1/2/abc",
        "actions": [button],
        **extra,
    }


BODY = form(click(value={"thread_id": "t1", "interrupt_id": "p1"}))


def test_a_request_signed_by_slack_within_five_minutes_passes():
    now = str(int(time.time()))
    assert settings().why_unsigned(BODY, now, slack_signature(BODY, now)) is None
    a_minute_ago = str(int(time.time()) - 60)
    assert settings().why_unsigned(BODY, a_minute_ago, slack_signature(BODY, a_minute_ago)) is None


@pytest.mark.parametrize(
    "change, why",
    [
        ({"secret": "another-secret"}, "bad signature"),
        ({"body": BODY + b"x"}, "bad signature"),
        ({"signed_ts": "1"}, "bad signature"),  # signed for another time than it says
        ({"ts_offset": -301}, "stale request"),
        ({"ts_offset": -3600}, "stale request"),
        ({"ts_offset": 301}, "stale request"),  # from the future, too
        ({"timestamp": ""}, "not signed by Slack"),
        ({"signature": ""}, "not signed by Slack"),
        ({"timestamp": "soon"}, "timestamp is not a number"),
        ({"timestamp": "\u00b2"}, "timestamp is not a number"),  # a digit, not ASCII
        ({"signature": "v0=" + "0" * 64}, "bad signature"),
    ],
)
def test_anything_else_is_refused_with_its_reason(change, why):
    timestamp = change.get("timestamp", str(int(time.time()) + change.get("ts_offset", 0)))
    signed = change.get("signed_ts", timestamp)
    signature = change.get("signature", slack_signature(BODY, signed, change.get("secret", SECRET)))
    refused = settings().why_unsigned(change.get("body", BODY), timestamp, signature)
    assert refused is not None and why in refused


def test_a_body_that_is_not_utf8_is_refused_not_raised():
    now = str(int(time.time()))
    body = b"payload=\xff\xfe"
    assert "bad signature" in str(settings().why_unsigned(body, now, slack_signature(body, now)))


def test_slack_users_map_to_project_users():
    assert parse_users("U0BOB:bob, W0CAROL:carol,") == {"U0BOB": "bob", "W0CAROL": "carol"}
    assert parse_users("") == {}


@pytest.mark.parametrize("spec", ["U0BOB", "U0BOB:", ":bob", "U0BOB:bob:manager", "U0 BOB:bob"])
def test_a_malformed_user_map_is_an_error(spec):
    with pytest.raises(ValueError, match="is not slack_user_id:user"):
        parse_users(spec)


def test_a_slack_user_maps_to_one_user():
    with pytest.raises(ValueError, match="twice"):
        parse_users("U0BOB:bob,U0BOB:carol")


def test_slack_is_off_without_a_signing_secret(monkeypatch):
    monkeypatch.delenv("HITL_SLACK_SIGNING_SECRET", raising=False)
    assert Settings.from_env() is None
    monkeypatch.setenv("HITL_SLACK_SIGNING_SECRET", "  ")
    assert Settings.from_env() is None
    monkeypatch.setenv("HITL_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("HITL_SLACK_USERS", "U0BOB:bob")
    monkeypatch.delenv("HITL_SLACK_RESPONSE_HOSTS", raising=False)
    on = Settings.from_env()
    assert on is not None and on.users == {"U0BOB": "bob"}
    assert on.hosts == frozenset({"hooks.slack.com"})  # Slack's own, by default
    monkeypatch.setenv("HITL_SLACK_USERS", "U0BOB")
    with pytest.raises(ValueError):
        Settings.from_env()


SLACK = parse_hosts("hooks.slack.com")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/actions/T1/2/abc",
        "https://HOOKS.slack.com/actions/T1/2/abc",
        "https://hooks.slack.com:443/actions/T1/2/abc",
    ],
)
def test_slack_response_urls_are_called(url):
    assert why_not_callable(url, SLACK) is None


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://hooks.slack.com/actions/T1/2/abc", "not HTTPS"),
        ("https://evil.example/actions", "not in HITL_SLACK_RESPONSE_HOSTS"),
        ("https://hooks.slack.com.evil.example/x", "not in HITL_SLACK_RESPONSE_HOSTS"),
        ("https://evil.example/hooks.slack.com", "not in HITL_SLACK_RESPONSE_HOSTS"),
        ("https://hooks.slack.com@evil.example/x", "carries credentials"),
        ("https://me:pw@hooks.slack.com/x", "carries credentials"),
        ("https://hooks.slack.com:8443/x", "not in HITL_SLACK_RESPONSE_HOSTS"),
        ("https://127.0.0.1:9000/x", "not in HITL_SLACK_RESPONSE_HOSTS"),
        ("ftp://hooks.slack.com/x", "not an http(s) URL"),
        ("hooks.slack.com/x", "not an http(s) URL"),
        ("https://hooks.slack.com:99999/x", "not a URL"),
    ],
)
def test_anything_else_is_never_called(url, why):
    assert why in str(why_not_callable(url, SLACK))


def test_a_listed_loopback_host_and_port_may_be_plain_http():
    hosts = parse_hosts("hooks.slack.com, 127.0.0.1:9000, 10.0.0.5:80")
    assert why_not_callable("http://127.0.0.1:9000/r/1", hosts) is None
    assert why_not_callable("https://127.0.0.1:9000/r/1", hosts) is None
    assert "not in" in str(why_not_callable("http://127.0.0.1:9001/r/1", hosts))  # other port
    assert "not in" in str(why_not_callable("http://localhost:9000/r/1", hosts))  # not listed
    assert "not HTTPS" in str(why_not_callable("http://10.0.0.5/r/1", hosts))  # not loopback


def test_an_approve_click_names_its_pause_user_and_response_url():
    read = Click.read(BODY)
    assert read == Click("approve", "U0BOB", "https://hooks.slack.com/actions/T1/2/abc", "t1", "p1")


def test_a_link_button_is_read_as_nothing_to_answer():
    read = Click.read(form(click("reject")))
    assert (read.action, read.thread_id, read.interrupt_id) == ("reject", None, None)


@pytest.mark.parametrize(
    "body, why",
    [
        (b"", "not a Slack interaction"),
        (b"payload=%7Bnot-json", "not a Slack interaction"),
        (urlencode({"payload": "[1]"}).encode(), "not a JSON object"),
        (form(click(value="approve")), "does not name a thread and a pause"),
        (form(click(value={"thread_id": "t1"})), "does not name a thread and a pause"),
        (form(click(value={"thread_id": "t1", "interrupt_id": "p1"}, user={})), "no user"),
    ],
)
def test_a_payload_that_names_no_pause_is_refused(body, why):
    with pytest.raises(ValueError, match=why):
        Click.read(body)


def test_a_replayed_request_is_known(offline):
    read = Click.read(BODY)
    assert record("v0=abc", int(time.time()), read, "pending", "bob") is True
    assert record("v0=abc", int(time.time()), read, "pending", "bob") is False
    assert record("v0=abd", int(time.time()), read, "pending", "bob") is True


def notified(options: list[str], editable: type[BaseModel] | None = TripChanges) -> dict:
    pause = Pause.about(
        Trip,
        {"destination": "Lisbon", "cost": 2500.0, "requester": "alice"},
        type="trip",
        action="Approve trip",
        options=options,
        editable=editable,
        role="manager",
    )
    return message(Notified("t1", "p1", "manager", pause.payload()), "https://inbox.example")


def buttons(body: dict) -> dict[str, dict]:
    actions = [b for b in body["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for a in actions for e in a["elements"]}


def test_approve_names_the_thread_and_the_pause_never_a_decision():
    approve = buttons(notified(["approve", "edit", "reject"]))["approve"]
    assert json.loads(approve["value"]) == {"thread_id": "t1", "interrupt_id": "p1"}
    assert "url" not in approve and approve["text"]["text"] == "Approve"


def test_reject_and_edit_open_the_item_in_the_inbox_where_the_pause_offers_them():
    link = "https://inbox.example/inbox#item-p1"
    every = buttons(notified(["approve", "edit", "reject"]))
    assert list(every) == ["approve", "reject", "edit"]
    assert every["reject"]["url"] == link and every["edit"]["url"] == link
    assert "value" not in every["reject"] and "value" not in every["edit"]
    assert list(buttons(notified(["approve", "reject"]))) == ["approve", "reject"]
    assert list(buttons(notified(["approve", "edit", "reject"], editable=None))) == [
        "approve",
        "reject",
    ]
    assert list(buttons(notified(["approve"], editable=None))) == ["approve"]


def test_a_pause_without_these_answers_has_no_buttons():
    assert buttons(notified(["retry", "cancel"], editable=None)) == {}
    unreadable = message(Notified("t1", "p1", None, {"options": "none"}), "https://x.example")
    assert [b["type"] for b in unreadable["blocks"]] == ["section"]


def applied() -> Outcome:
    return Outcome(status=200, kind="applied", thread_id="t1", state="finished")


def stale(approver: str, channel: str, decision: str = "approve") -> Outcome:
    last = {
        "approver": approver,
        "channel": channel,
        "decision": decision,
        "at": "2025-05-01T14:02:09+00:00",
    }
    return Outcome(status=409, kind="stale", thread_id="t1", error="stale", last=last)


def test_the_outcome_replaces_the_buttons_with_who_and_when():
    from datetime import UTC, datetime

    at = datetime(2025, 5, 1, 9, 7, tzinfo=UTC)
    assert outcome_text(applied(), "bob", at) == "Approved by bob at 09:07 UTC"
    # This click's own approval, applied before a crash: said as approved, at its time.
    assert outcome_text(stale("bob", "slack"), "bob") == "Approved by bob at 14:02 UTC"
    assert outcome_text(stale("carol", "inbox", "reject"), "bob") == (
        "Not applied: already decided, rejected by carol at 14:02 UTC"
    )
    assert outcome_text(stale("bob", "inbox"), "bob") == (
        "Not applied: already decided, approved by bob at 14:02 UTC"
    )
    refused = Outcome(
        status=403,
        kind="auth",
        thread_id="t1",
        error="you cannot approve your own request; nothing was applied",
    )
    assert outcome_text(refused, "bob") == (
        "Not applied: you cannot approve your own request; nothing was applied"
    )
