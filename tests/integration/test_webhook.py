"""Webhook notifications, received by a real local HTTP server started by the test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.devserver import DevServer, free_port
from tests.conftest import eventually, run_cli, submit_cli

pytestmark = pytest.mark.integration


class Receiver:
    """Records every POST; answers 500 to the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.posts: list[tuple[int, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if len(receiver.posts) < receiver.failures else 200
                receiver.posts.append((status, body))
                self.send_response(status)
                self.end_headers()

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, interrupt_id):
        return [b for s, b in self.posts if s == 200 and b["interrupt_id"] == interrupt_id]

    def attempts(self, interrupt_id):
        return [s for s, b in self.posts if b["interrupt_id"] == interrupt_id]


@pytest.fixture
def receiver():
    r = Receiver(failures=2)
    yield r
    r.server.shutdown()


@pytest.fixture
def notifying_server(receiver):
    env = {
        "HITL_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook",
        "HITL_PUBLIC_URL": "https://approvals.example",
    }
    with DevServer(env=env) as server:
        yield server


def test_one_notification_per_pause_with_retries(notifying_server, receiver):
    server = notifying_server
    chain = submit_cli(server.url, "approval_chain", 5000, "Hooked racks").data
    first = chain["interrupts"][0]["id"]
    eventually(lambda: receiver.delivered(first))
    assert receiver.attempts(first) == [500, 500, 200]  # retried after two failures
    (message,) = receiver.delivered(first)
    assert message["link"] == f"https://approvals.example/inbox#item-{first}"
    assert message["text"].startswith(  # the pause's headline and fields, money formatted
        "alice asks for 5,000.00: Hooked racks — waits for manager: "
        "Amount: 5,000.00, Description: Hooked racks <https://approvals.example/inbox#item-"
    )
    assert message["blocks"][0]["text"]["text"] == message["text"]  # Slack-compatible

    # A refused answer re-raises a pause: a new pause id, a new notification; the next
    # level is another pause again. Re-raising the same pause never notifies twice.
    answered = run_cli(
        server.url,
        "resume",
        chain["thread_id"],
        "approve",
        "--note",
        "ok",
        json_output=True,
        user="bob",
    ).data
    second = answered["interrupts"][0]["id"]
    eventually(lambda: receiver.delivered(second))
    assert "waits for finance" in receiver.delivered(second)[0]["text"]
    time.sleep(2)
    assert len(receiver.delivered(first)) == 1 and len(receiver.delivered(second)) == 1


def test_nothing_is_sent_for_a_pause_already_answered(notifying_server, receiver):
    receiver.failures = 10**6  # the receiver is down ...
    server = notifying_server
    expense = run_cli(
        server.url, "submit", "--amount", "300", "--description", "Hooked", json_output=True
    ).data
    pause = expense["interrupts"][0]["id"]
    eventually(lambda: receiver.attempts(pause))
    run_cli(server.url, "resume", expense["thread_id"], "approve", user="bob")  # ... answered
    receiver.failures = 0  # the receiver is back
    time.sleep(6)  # longer than the remaining back-off
    assert not receiver.delivered(pause)


def test_dead_letters_are_listed_resent_and_retried_after_a_restart(receiver):
    """The receiver is down for longer than the retry window, then the server restarts."""
    receiver.failures = 10**6
    env = {
        "HITL_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook",
        "HITL_WEBHOOK_ATTEMPTS": "3",
        "HITL_WEBHOOK_BACKOFF": "0.2",
    }
    with DevServer(env=env) as server:
        pauses = []
        for amount in (300, 400, 500):
            expense = run_cli(
                server.url,
                "submit",
                "--amount",
                str(amount),
                "--description",
                "Outbox",
                json_output=True,
            ).data
            pauses.append(expense["interrupts"][0]["id"])

        def dead():
            proc = run_cli(
                server.url, "notifications", "--status", "dead", json_output=True, user="erin"
            )
            return {row["id"] for row in proc.data} >= set(pauses) and proc.data

        rows = eventually(dead, timeout=30)
        assert all(row["attempts"] == 3 and "HTTP 500" in row["last_error"] for row in rows)
        assert all(receiver.attempts(p) == [500, 500, 500] for p in pauses)
        listed = run_cli(server.url, "notifications", "--status", "dead", user="erin")
        assert all(p in listed.stdout for p in pauses) and "dead" in listed.stdout
        refused = run_cli(server.url, "notifications", user="bob")
        assert refused.returncode == 1 and "for admins" in refused.stderr

        receiver.failures = 0  # the receiver is back: one by hand, the rest after a restart
        resent = run_cli(server.url, "notifications", "resend", pauses[0], user="erin")
        assert resent.returncode == 0, resent.stderr
        eventually(lambda: receiver.delivered(pauses[0]))
        server.stop()
        server.start()
        eventually(lambda: all(receiver.delivered(p) for p in pauses), timeout=30)
        time.sleep(2)
        for pause in pauses:  # each delivered once, with its stable id
            (body,) = receiver.delivered(pause)
            assert body["id"] == pause
        sent = run_cli(
            server.url, "notifications", "--status", "sent", json_output=True, user="erin"
        ).data
        assert set(pauses) <= {row["id"] for row in sent}
