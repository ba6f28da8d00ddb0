"""The inbox and notifications, as pure functions: settings, and what they show of a pause."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from graphs.common.contract import Pause
from server.inbox import currency, finished, item_of
from server.notify import Pause as Notified
from server.notify import message
from tests.unit.trip import Trip, TripChanges


@pytest.mark.parametrize(
    "setting, shown",
    [(None, "USD"), ("", "USD"), ("eur", "EUR"), (" GBP ", "GBP"), ("EURO", None), ("$", None)],
)
def test_the_currency_is_a_code_or_amounts_are_plain(monkeypatch, setting, shown):
    if setting is None:
        monkeypatch.delenv("HITL_CURRENCY", raising=False)
    else:
        monkeypatch.setenv("HITL_CURRENCY", setting)
    assert currency() == shown


TRIP = {"destination": "Lisbon <!channel>", "cost": 2500.0, "requester": "alice", "nights": 3}


def trip_pause() -> Pause:
    return Pause.about(
        Trip,
        TRIP,
        type="trip",
        action="Approve trip",
        options=["approve", "reject"],
        editable=TripChanges,
        role="manager",
    )


def thread(values=None) -> dict:
    return {
        "thread_id": "t1",
        "metadata": {"graph_id": "trip_request"},
        "updated_at": "2025-01-01T00:00:00+00:00",
        "values": values or {},
    }


def test_an_item_shows_the_fields_its_pause_names():
    item = item_of(thread(), {"id": "p1", "value": trip_pause().payload()})
    assert item["headline"] == "alice asks for 2,500.00: Lisbon <!channel>"
    assert [(f["label"], f["text"], f["money"]) for f in item["fields"]] == [
        ("Destination", "Lisbon <!channel>", False),
        ("Cost", "2,500.00", True),
    ]
    assert (item["amount"], item["summary"], item["requester"]) == (
        2500.0,
        "Lisbon <!channel>",
        "alice",
    )
    assert item["editable"] == {"cost": 2500.0}
    assert item["waiting_for"] == "manager" and item["title"] == "Trip request"
    assert item["request"] == {
        "destination": "Lisbon <!channel>",
        "cost": 2500.0,
        "requester": "alice",
    }


def test_an_item_says_a_failed_payment_and_skips_what_is_no_pause():
    failed = trip_pause().model_copy(update={"type": "payment_failed"})
    item = item_of(thread(), {"id": "p1", "value": failed.payload()})
    assert item["summary"] == "Payment failed: Lisbon <!channel>"
    assert item_of(thread(), {"id": "p2", "value": "not a pause"}) is None


def test_a_pause_from_before_the_contract_still_shows():
    older = {
        "type": "expense_approval",
        "role": "manager",
        "action_request": {"action": "Approve", "args": {"amount": "12", "description": "Pens"}},
        "description": "**alice** asks for **12.00**: Pens",
        "request": {"amount": 12.0, "description": "Pens", "requester": "alice"},
        "options": ["approve", "reject"],
    }
    item = item_of(thread(), {"id": "p1", "value": older})
    assert item["headline"] == "alice asks for 12.00: Pens" and item["amount"] == 12.0
    assert [f["text"] for f in item["fields"]] == ["12.00", "Pens"]


def test_history_shows_the_request_models_fields():
    done = finished(thread({**TRIP, "status": "approved"}), Trip)
    assert done["headline"] == "alice asks for 2,500.00: Lisbon <!channel>"
    assert [(f["label"], f["text"]) for f in done["fields"]] == [
        ("Destination", "Lisbon <!channel>"),
        ("Cost", "2,500.00"),
    ]
    assert done["outcome"] == "approved" and done["amount"] == 2500.0
    assert "nights" not in done["request"]  # not a field of the request


def test_history_without_a_request_model_shows_only_the_title():
    done = finished(thread({**TRIP, "status": "approved"}), None)
    assert (done["headline"], done["fields"], done["amount"]) == ("Trip request", [], None)


def test_history_leaves_out_what_does_not_read_on_one_line():
    class Chat(BaseModel):
        messages: list

    done = finished(thread({"messages": [{"type": "human", "content": "hi"}]}), Chat)
    assert (done["headline"], done["fields"]) == ("Trip request", [])


def test_a_notification_says_the_pause_headline_and_fields_escaped():
    body = message(Notified("t1", "p1", "manager", trip_pause().payload()), "http://inbox.example")
    assert body["text"] == (
        "alice asks for 2,500.00: Lisbon &lt;!channel&gt; — waits for manager: "
        "Destination: Lisbon &lt;!channel&gt;, Cost: 2,500.00 "
        "<http://inbox.example/inbox#item-p1|Open in the inbox>"
    )


def test_a_notification_of_something_unreadable_still_links_to_the_inbox():
    body = message(Notified("t1", "p1", None, {"options": "none"}), "http://inbox.example")
    assert (
        body["text"]
        == "A workflow — waits for someone <http://inbox.example/inbox#item-p1|Open in the inbox>"
    )
