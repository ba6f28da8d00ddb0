"""Answering from Slack over a real ``langgraph dev``: requests built and signed as Slack does.

A local receiver stands in for Slack twice: it takes the pause notifications (the
webhook, whose Approve button the tests click) and the outcomes posted to each
interaction's ``response_url``, which ``HITL_SLACK_RESPONSE_HOSTS`` allows for this
receiver's host and port only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import TOKENS, DevServer, free_port
from tests.conftest import eventually, submit_cli

pytestmark = pytest.mark.integration

SECRET = "test-slack-signing-secret"
USERS = "U0BOB:bob,U0ALICE:alice,U0CAROL:carol"
APPROVED = re.compile(r"^Approved by bob at \d\d:\d\d UTC$")


class Receiver:
    """Records every POST as ``(path, JSON body)``; answers the ``slow`` paths 10 s late."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.slow: set[str] = set()
        posts, slow = self.posts, self.slow

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                posts.append((self.path, body))
                if self.path in slow:
                    time.sleep(10)
                self.send_response(200)
                self.end_headers()

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        return [body for p, body in self.posts if p == path]

    def response_url(self) -> tuple[str, str]:
        """A fresh ``response_url`` on this receiver: ``(url, path)``."""
        path = f"/actions/T0TEST/{uuid.uuid4().hex}"
        return f"http://127.0.0.1:{self.port}{path}", path


@pytest.fixture(scope="module")
def slack():
    """The receiver Slack's answers go to, and another one nothing may call."""
    allowed, outsider = Receiver(), Receiver()
    yield allowed, outsider
    allowed.server.shutdown()
    outsider.server.shutdown()


def slack_env(receiver: Receiver) -> dict[str, str]:
    return {
        "HITL_SLACK_SIGNING_SECRET": SECRET,
        "HITL_SLACK_USERS": USERS,
        "HITL_SLACK_RESPONSE_HOSTS": f"hooks.slack.com,127.0.0.1:{receiver.port}",
        "HITL_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook",
        "HITL_PUBLIC_URL": "https://approvals.example",
    }


@pytest.fixture(scope="module")
def served(slack):
    with DevServer(env=slack_env(slack[0])) as server:
        yield server


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's headers: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def interaction(button: dict, slack_user: str, response_url: str) -> bytes:
    """A ``block_actions`` payload for a click on ``button``, form-encoded as Slack sends it."""
    payload = {
        "type": "block_actions",
        "user": {"id": slack_user, "username": slack_user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "team": {"id": "T0TEST", "domain": "example"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [{**button, "block_id": "hitl-answer", "action_ts": str(time.time())}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def approve_button(thread_id: str, interrupt_id: str) -> dict:
    value = json.dumps({"thread_id": thread_id, "interrupt_id": interrupt_id})
    return {"action_id": "approve", "type": "button", "value": value}


def click(server, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/slack/interactions", content=body, headers=headers or signed(body)
    )


def waiting(server, user: str = "alice") -> tuple[str, str]:
    """An approval chain of ``user``'s, waiting for a manager: ``(thread_id, pause id)``."""
    data = submit_cli(
        server.url, "approval_chain", 5000, f"Slack {uuid.uuid4().hex[:6]}", user=user
    )
    return data.data["thread_id"], data.data["interrupts"][0]["id"]


def thread(server, thread_id: str, user: str = "bob") -> dict:
    headers = {"Authorization": f"Bearer {TOKENS[user]}"}
    return get_sync_client(url=server.url, headers=headers).threads.get(thread_id)


def still_waiting(server, thread_id: str, pause: str, owner: str = "alice") -> bool:
    found = thread(server, thread_id, owner)
    pending = [i["id"] for group in (found.get("interrupts") or {}).values() for i in group]
    return (
        found["status"] == "interrupted" and pending == [pause] and not found["values"].get("audit")
    )


def test_approve_from_the_notification_applies_as_the_mapped_user(served, slack):
    receiver = slack[0]
    thread_id, pause = waiting(served)
    notified = eventually(lambda: [b for p, b in receiver.posts if b.get("interrupt_id") == pause])
    blocks = {block["type"]: block for block in notified[0]["blocks"]}
    buttons = {b["action_id"]: b for b in blocks["actions"]["elements"]}
    assert json.loads(buttons["approve"]["value"]) == {
        "thread_id": thread_id,
        "interrupt_id": pause,
    }
    assert (
        buttons["reject"]["url"]
        == buttons["edit"]["url"]
        == (f"https://approvals.example/inbox#item-{pause}")
    )

    url, path = receiver.response_url()
    started = time.monotonic()
    answered = click(served, interaction(buttons["approve"], "U0BOB", url))
    assert answered.status_code == 200, answered.text
    assert time.monotonic() - started < 3  # Slack's budget

    (update,) = eventually(lambda: receiver.at(path))
    assert update["replace_original"] is True and APPROVED.match(update["text"]), update
    after = thread(served, thread_id)
    (entry,) = after["values"]["audit"]
    assert (entry["decision"], entry["approver"], entry["channel"]) == ("approve", "bob", "slack")
    assert after["metadata"]["waiting_for"] == "finance"  # the chain's next level

    # A Reject or Edit click (a link button) reaches the Request URL too: answered, ignored.
    other, path = receiver.response_url()
    link = click(served, interaction(buttons["reject"], "U0BOB", other))
    assert link.status_code == 200
    time.sleep(1)
    assert receiver.at(path) == [] and len(thread(served, thread_id)["values"]["audit"]) == 1


def test_a_bad_signature_a_stale_timestamp_and_a_replay_are_refused(served, slack):
    receiver = slack[0]
    thread_id, pause = waiting(served)
    url, path = receiver.response_url()
    body = interaction(approve_button(thread_id, pause), "U0BOB", url)

    forged = click(served, body, signed(body, secret="not-the-secret"))
    assert forged.status_code == 401 and "bad signature" in forged.json()["detail"]
    tampered = click(served, body.replace(b"U0BOB", b"U0BOX"), signed(body))
    assert tampered.status_code == 401 and "bad signature" in tampered.json()["detail"]
    stale = click(served, body, signed(body, timestamp=int(time.time()) - 6 * 60))
    assert stale.status_code == 401 and "stale" in stale.json()["detail"]
    unsigned = httpx.post(
        f"{served.url}/slack/interactions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    time.sleep(1)
    assert still_waiting(served, thread_id, pause) and receiver.at(path) == []

    headers = signed(body)
    assert click(served, body, headers).status_code == 200  # Slack's own: applied
    eventually(lambda: receiver.at(path))
    replayed = click(served, body, headers)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["detail"]
    time.sleep(1)
    assert len(receiver.at(path)) == 1
    assert [e["channel"] for e in thread(served, thread_id)["values"]["audit"]] == ["slack"]


def refusal(served, receiver, thread_id, pause, slack_user, owner="alice") -> str:
    """Click Approve as ``slack_user``: Slack gets its 200, the outcome says why not."""
    url, path = receiver.response_url()
    answered = click(served, interaction(approve_button(thread_id, pause), slack_user, url))
    assert answered.status_code == 200, answered.text
    (update,) = eventually(lambda: receiver.at(path))
    assert update["replace_original"] is True
    assert still_waiting(served, thread_id, pause, owner)  # nothing applied
    return update["text"]


def test_unmapped_users_own_requests_and_other_roles_are_refused_with_reasons(served, slack):
    receiver = slack[0]
    thread_id, pause = waiting(served)
    assert refusal(served, receiver, thread_id, pause, "U0NOBODY") == (
        "Not applied: Slack user U0NOBODY is not mapped to a user of this server (HITL_SLACK_USERS)"
    )
    assert refusal(served, receiver, thread_id, pause, "U0ALICE") == (
        "Not applied: waits for manager; you are alice (employee); nothing was applied"
    )
    carol = refusal(served, receiver, thread_id, pause, "U0CAROL")  # finance: not hers to see
    assert carol.startswith("Not applied: ") and "not found" in carol

    bobs, bobs_pause = waiting(served, user="bob")
    assert refusal(served, receiver, bobs, bobs_pause, "U0BOB", owner="bob") == (
        "Not applied: you cannot approve your own request; nothing was applied"
    )

    url, path = receiver.response_url()  # still answerable: bob approves alice's
    assert click(served, interaction(approve_button(thread_id, pause), "U0BOB", url)).is_success
    assert APPROVED.match(eventually(lambda: receiver.at(path))[0]["text"])


def test_a_pause_answered_elsewhere_says_who_decided(served, slack):
    receiver = slack[0]
    thread_id, pause = waiting(served)
    inbox = httpx.post(
        f"{served.url}/inbox/api/answer",
        headers={"Authorization": f"Bearer {TOKENS['bob']}"},
        json={"thread_id": thread_id, "interrupt_id": pause, "decision": "approve"},
        timeout=60,
    )
    assert inbox.status_code == 200, inbox.text
    url, path = receiver.response_url()
    assert click(served, interaction(approve_button(thread_id, pause), "U0BOB", url)).is_success
    (update,) = eventually(lambda: receiver.at(path))
    assert re.fullmatch(
        r"Not applied: already decided, approved by bob at \d\d:\d\d UTC", update["text"]
    )
    assert [e["channel"] for e in thread(served, thread_id)["values"]["audit"]] == ["inbox"]


def test_a_response_url_off_the_allowlist_is_never_called(served, slack):
    receiver, outsider = slack
    thread_id, pause = waiting(served)
    for url in (
        f"http://127.0.0.1:{outsider.port}/actions/T0TEST/1",
        f"http://localhost:{receiver.port}/actions/T0TEST/off-list",  # the right port, not listed
        "https://hooks.slack.com.evil.example/actions/T0TEST/3",
    ):
        answered = click(served, interaction(approve_button(thread_id, pause), "U0BOB", url))
        assert answered.status_code == 403, answered.text
        assert "HITL_SLACK_RESPONSE_HOSTS" in answered.json()["detail"]
    time.sleep(2)
    assert outsider.posts == [] and "/actions/T0TEST/off-list" not in [p for p, _ in receiver.posts]
    assert still_waiting(served, thread_id, pause)


def test_a_click_accepted_just_before_kill_9_is_applied_once_after_the_restart(slack):
    receiver = slack[0]
    with DevServer(env=slack_env(receiver)) as server:
        thread_id, pause = waiting(server)
        url, path = receiver.response_url()
        body = interaction(approve_button(thread_id, pause), "U0BOB", url)
        headers = signed(body)
        answered = click(server, body, headers)
        server.kill()  # right after Slack got its 200: the answer may be under way
        assert answered.status_code == 200, answered.text

        server.start()
        updates = eventually(lambda: receiver.at(path), timeout=60)
        after = eventually(
            lambda: (t := thread(server, thread_id))["values"].get("audit") and t, timeout=60
        )
        slack_entries = [e for e in after["values"]["audit"] if e["channel"] == "slack"]
        assert [(e["approver"], e["decision"]) for e in slack_entries] == [("bob", "approve")]
        assert after["metadata"]["waiting_for"] == "finance"
        time.sleep(2)  # a second post (applied before the kill, posted again) says the same
        assert all(APPROVED.match(u["text"]) for u in receiver.at(path)), updates
        replayed = click(server, body, headers)  # remembered across the crash
        assert replayed.status_code == 401 and "replayed" in replayed.json()["detail"]


def test_a_click_applied_but_not_finished_before_kill_9_is_not_applied_twice(slack):
    """The server dies while posting the outcome of an applied click: the click is still
    pending in the store. After the restart it is tried again: the pause is answered (stale),
    by this click itself, so nothing more is applied and the message says approved."""
    receiver = slack[0]
    with DevServer(env=slack_env(receiver)) as server:
        thread_id, pause = waiting(server)
        url, path = receiver.response_url()
        receiver.slow.add(path)
        assert click(server, interaction(approve_button(thread_id, pause), "U0BOB", url)).is_success
        eventually(lambda: receiver.at(path))  # applied, and the post under way ...
        server.kill()  # ... when the server dies
        receiver.slow.discard(path)

        server.start()
        updates = eventually(lambda: len(receiver.at(path)) == 2 and receiver.at(path), timeout=60)
        assert all(APPROVED.match(u["text"]) for u in updates), updates
        after = thread(server, thread_id)
        assert [(e["approver"], e["channel"]) for e in after["values"]["audit"]] == [
            ("bob", "slack")
        ]
        assert after["metadata"]["waiting_for"] == "finance"
