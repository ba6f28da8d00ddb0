"""The pause contract: what a pause shows, the payload it raises, and reading it back."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from graphs.common.contract import Pause, Shown, fields_of
from graphs.common.fields import Amount
from graphs.common.pause_view import PauseRow


class Purchase(BaseModel):
    """A request model no display knows by name."""

    vendor: str
    total: Amount
    cost_centre: str | None = Field(default=None, title="Charged to")
    parts: list[str] | None = None
    requester: str | None = None
    status: str | None = Field(default=None, exclude=True)


class PurchaseChanges(BaseModel):
    total: float | None = None
    vendor: str | None = None


VALUES = {
    "vendor": "Acme",
    "total": 12_345.5,
    "cost_centre": "R&D",
    "parts": ["bolt", "nut"],
    "requester": "alice",
    "status": "pending",
    "audit": [],
}


def purchase(**rest: Any) -> Pause:
    options = rest.pop("options", ["approve", "edit", "reject"])
    return Pause.about(
        Purchase,
        VALUES,
        type="purchase",
        action="Approve purchase",
        options=options,
        role="finance",
        **rest,
    )


# -- Pause.about --------------------------------------------------------------------------


def test_about_labels_fields_from_titles_and_names_and_marks_money():
    pause = purchase()
    assert [(f.name, f.label, f.money) for f in pause.fields] == [
        ("vendor", "Vendor", False),
        ("total", "Total", True),
        ("cost_centre", "Charged to", False),
        ("parts", "Parts", False),
    ]
    assert [f.text() for f in pause.fields] == ["Acme", "12,345.50", "R&D", '["bolt", "nut"]']
    assert (pause.amount, pause.summary) == (12_345.5, "Acme")


def test_about_hides_the_requester_and_excluded_fields_but_keeps_the_request():
    pause = purchase()
    assert "requester" not in {f.name for f in pause.fields}
    assert "status" not in {f.name for f in pause.fields}
    assert pause.requester == "alice"
    assert pause.request == {k: VALUES[k] for k in Purchase.model_fields if k != "status"}


def test_about_leaves_out_empty_values_and_writes_a_plain_headline():
    values = {"vendor": "Acme", "total": 80, "cost_centre": "", "requester": None}
    pause = Pause.about(Purchase, values, type="p", action="a", options=["approve"])
    assert [f.name for f in pause.fields] == ["vendor", "total"]
    assert pause.headline == "Someone asks for 80.00: Acme"
    assert purchase().headline == "alice asks for 12,345.50: Acme"
    assert purchase(headline="Acme wants paying").headline == "Acme wants paying"


def test_about_takes_the_editable_fields_from_the_changes_model():
    assert purchase(editable=PurchaseChanges).editable == ["total", "vendor"]
    assert purchase().editable == []


def test_fields_of_hides_what_it_is_told_to():
    shown = fields_of(Purchase, VALUES, hide=("requester", "parts"))
    assert [f.name for f in shown] == ["vendor", "total", "cost_centre"]


@pytest.mark.parametrize(
    ("value", "money", "text"),
    [
        (1234.5, True, "1,234.50"),
        (1234, True, "1,234.00"),
        (1234.5, False, "1234.5"),
        (True, True, "True"),
        ("12", True, "12"),
        ({"a": 1}, False, '{"a": 1}'),
    ],
)
def test_shown_text_formats_money_only_where_the_pause_says_so(value, money, text):
    assert Shown(name="x", label="X", value=value, money=money).text() == text


# -- the payload ----------------------------------------------------------------------------


def test_payload_carries_agent_inbox_keys_built_from_the_pause():
    payload = purchase(editable=PurchaseChanges).payload()
    assert payload["action_request"] == {
        "action": "Approve purchase",
        "args": {
            "vendor": "Acme",
            "total": "12345.5",
            "cost_centre": "R&D",
            "parts": '["bolt", "nut"]',
            "requester": "alice",
        },
    }
    assert all(isinstance(v, str) for v in payload["action_request"]["args"].values())
    assert payload["config"] == {
        "allow_accept": True,
        "allow_edit": True,
        "allow_respond": True,
        "allow_ignore": False,
    }


@pytest.mark.parametrize(
    ("options", "editable", "edit", "respond"),
    [
        (["approve", "edit", "reject"], PurchaseChanges, True, True),
        (["approve", "reject"], None, False, True),
        (["retry", "cancel"], None, False, True),
        (["approve"], None, False, False),
    ],
)
def test_payload_config_follows_the_options_and_the_editable_fields(
    options, editable, edit, respond
):
    config = purchase(options=options, editable=editable).payload()["config"]
    assert (config["allow_edit"], config["allow_respond"]) == (edit, respond)
    assert config["allow_accept"] is True and config["allow_ignore"] is False


def test_description_opens_with_the_plain_headline():
    pause = purchase()
    first, blank, *rest = pause.payload()["description"].splitlines()
    assert first == pause.headline == "alice asks for 12,345.50: Acme"
    assert "**" not in first and blank == ""
    assert "- **Total:** 12,345.50" in rest


def test_extras_never_override_the_contracts_keys():
    pause = purchase(error="invalid answer: x")
    payload = pause.payload(
        type="forged",
        role="employee",
        requester="mallory",
        headline="approved!",
        error=None,
        options=["approve"],
        threshold=1_000,
        vendor="Acme",
    )
    own = pause.model_dump(mode="json", exclude={"action"})
    assert {k: payload[k] for k in own} == own
    assert (payload["threshold"], payload["vendor"]) == (1_000, "Acme")  # a workflow's own keys


# -- reading it back ---------------------------------------------------------------------------


def test_read_gives_back_the_pause_that_was_raised():
    pause = purchase(
        editable=PurchaseChanges,
        why="over 10,000",
        due_at="2030-01-01T00:00:00+00:00",
        step=2,
        levels=["manager", "finance"],
        history=[{"role": "manager", "decision": "approve", "approver": "bob", "at": "t"}],
        error="you cannot approve your own request",
    )
    assert Pause.read(pause.payload(threshold=1_000, vendor="Acme")) == pause


@pytest.mark.parametrize("value", [None, "approve", ["approve"], 3])
def test_read_of_something_that_is_not_a_payload_is_none(value):
    assert Pause.read(value) is None


def test_read_of_an_older_payload_uses_its_agent_inbox_keys_and_typed_values():
    older = {  # an expense pause raised before the contract existed
        "action_request": {
            "action": "Approve expense",
            "args": {"amount": "1500", "description": "Trade fair", "requester": "alice"},
        },
        "config": {"allow_accept": True, "allow_edit": False, "allow_respond": True},
        "description": "Trade fair",
        "editable": [],
        "type": "expense_approval",
        "amount": 1500.0,
        "requester": "alice",
        "options": ["approve", "reject"],
        "role": "manager",
        "threshold": 100.0,
    }
    pause = Pause.read(older)
    assert pause is not None
    assert (pause.type, pause.action, pause.role, pause.requester) == (
        "expense_approval",
        "Approve expense",
        "manager",
        "alice",
    )
    assert pause.headline == "Trade fair"
    assert [(f.label, f.value, f.text(), f.money) for f in pause.fields] == [
        ("Amount", 1500.0, "1,500.00", True),
        ("Description", "Trade fair", "Trade fair", False),
    ]
    assert pause.amount == 1500.0
    assert pause.request == {"amount": 1500.0, "description": "Trade fair", "requester": "alice"}


def test_read_of_an_older_payload_with_its_request_and_a_markdown_description():
    older = {
        "action_request": {"action": "Approve request", "args": {"amount": "5000"}},
        "description": "**alice** asks for **5,000.00**: Racks\n\n- **Why:** step 1",
        "request": {"amount": 5000, "description": "Racks", "requester": "alice"},
        "options": ["approve", "edit", "reject"],
        "role": "manager",
        "step": 1,
    }
    pause = Pause.read(older)
    assert pause is not None
    assert pause.headline == "alice asks for 5,000.00: Racks"
    assert [(f.name, f.value, f.money) for f in pause.fields] == [("amount", 5000, True)]


def row_of(pause: Pause | None) -> PauseRow | None:
    """What a list row shows of a pause read with pydantic."""
    if pause is None:
        return None
    return PauseRow(
        headline=pause.headline,
        role=pause.role,
        user=pause.user,
        step=pause.step,
        levels=pause.levels,
        due_at=pause.due_at,
        amount=pause.amount,
        summary=pause.summary,
    )


OLDER = {
    "action_request": {"action": "Approve expense", "args": {"amount": "1500", "memo": "Fair"}},
    "description": "**alice** asks for 1,500.00: Fair",
    "amount": 1500.0,
    "options": ["approve", "reject"],
    "role": "manager",
}


@pytest.mark.parametrize(
    "payload",
    [
        purchase().payload(),
        Pause.about(
            Purchase, VALUES, type="p", action="A", options=["approve"], user="dave", due_at="t"
        ).payload(),
        purchase(step=2, levels=["manager", "finance"], editable=PurchaseChanges).payload(),
        Pause.about(Purchase, {"vendor": "Acme"}, type="p", action="A", options=[]).payload(),
        OLDER,
        {**OLDER, "request": {"amount": 1500, "memo": "Fair"}, "step": 2},
        {k: v for k, v in purchase().payload().items() if k != "options"},
        {**purchase().payload(), "action_request": None},
        {**purchase().payload(), "fields": [{"name": "x"}]},
        {**purchase().payload(), "step": None},
        None,
        "approve",
        ["approve"],
    ],
)
def test_a_list_row_reads_what_the_contract_reads(payload):
    """``PauseRow`` (no pydantic, for ``hitl pending``) agrees with ``Pause.read``."""
    assert PauseRow.read(payload) == row_of(Pause.read(payload))


# -- the markdown ------------------------------------------------------------------------------


def test_markdown_lists_why_fields_due_answers_history_and_the_last_error():
    pause = purchase(
        why="over the 10,000.00 limit",
        due_at="2030-01-01T00:00:00+00:00",
        history=[
            {"role": "manager", "decision": "approve", "approver": "bob", "at": "t1", "note": ""},
            {"role": "finance", "decision": "edit", "approver": "carol", "at": "t2", "note": "VAT"},
        ],
        error="you cannot approve your own request",
    )
    assert pause.markdown().splitlines() == [
        "alice asks for 12,345.50: Acme",
        "",
        "- **Why:** over the 10,000.00 limit",
        "- **Vendor:** Acme",
        "- **Total:** 12,345.50",
        "- **Charged to:** R&D",
        '- **Parts:** ["bolt", "nut"]',
        "- **Due:** 2030-01-01T00:00:00+00:00 (UTC)",
        "- **Answers:** approve approves; edit changes the fields and approves; "
        "reject rejects (say why)",
        "- **In Agent Inbox:** Accept = approve; a response = reject (its text is the note)",
        "- **Earlier:** manager approve by bob at t1",
        "- **Earlier:** finance edit by carol at t2: VAT",
        "- **Last answer refused:** you cannot approve your own request",
    ]


def test_markdown_leaves_out_what_the_pause_does_not_have():
    pause = Pause.about(
        Purchase, {"vendor": "Acme", "total": 5}, type="p", action="a", options=["go"]
    )
    assert pause.markdown().splitlines() == [
        "Someone asks for 5.00: Acme",
        "",
        "- **Vendor:** Acme",
        "- **Total:** 5.00",
        "- **In Agent Inbox:** Accept = go",
    ]
