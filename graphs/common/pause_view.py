"""A pause as a list row shows it, read with the standard library alone.

:class:`graphs.common.contract.Pause` is the contract, and reading a payload back
with :meth:`Pause.read` is right wherever pydantic is loaded anyway (the server,
the inbox, ``hitl status``). A listing that must answer at once (``hitl pending``:
0.3 s on two cores, issue 24) cannot pay for importing pydantic and building the
contract's models (about 0.25 s of CPU). :class:`PauseRow` reads the same payload
keys for what a row shows: whom it waits for, the amount, what it is about, when it
is due. The text helpers live here so both readers format values one way, and
``tests/unit/test_contract.py`` checks the two readers agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def as_text(value: Any, money: bool = False) -> str:
    """A value as people read it."""
    if money and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def label_of(name: str) -> str:
    """A field's label: ``payment_error`` -> "Payment error"."""
    return name.replace("_", " ").capitalize()


def from_older(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload raised before the contract existed (no ``headline``), in the contract's keys."""
    args = (payload.get("action_request") or {}).get("args") or payload.get("args") or {}
    given = payload.get("request")
    request: dict[str, Any] = given if isinstance(given, dict) else _typed(args, payload)
    fields = [
        {"name": k, "label": label_of(k), "value": request.get(k, v), "money": k == "amount"}
        for k, v in args.items()
        if k != "requester"
    ]
    first = str(payload.get("description") or "").splitlines() or [""]
    return {
        **payload,
        "type": payload.get("type") or "pause",
        "action": (payload.get("action_request") or {}).get("action") or "Decide",
        "headline": first[0].replace("**", ""),
        "request": request,
        "fields": fields,
        "options": payload.get("options") or [],
        "step": payload.get("step") or 1,
    }


def _typed(args: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """A request's values from Agent Inbox's text ``args``, typed where they can be.

    A seed-style payload also carries the request's keys flat: where one shows as
    the same text, it is the typed value.
    """
    return {
        k: payload[k] if k in payload and as_text(payload[k]) == v else v for k, v in args.items()
    }


@dataclass(frozen=True)
class PauseRow:
    """What a list row shows of a pause (the names and meanings of :class:`Pause`'s)."""

    headline: str
    role: str | None = None
    user: str | None = None
    step: int = 1
    levels: list[str] | None = None
    due_at: str | None = None
    amount: float | None = None
    """The first field marked as money, if any."""
    summary: str = ""
    """What it is about, after the amount: the first other field, as text."""

    @classmethod
    def read(cls, payload: Any) -> PauseRow | None:
        """The row of an interrupt's value (None where :meth:`Pause.read` gives None)."""
        if not isinstance(payload, dict):
            return None
        if "headline" not in payload:
            payload = from_older(payload)
        elif not isinstance((payload.get("action_request") or {}).get("action"), str):
            return None
        fields = payload.get("fields", [])
        required = all(isinstance(payload.get(k), str) for k in ("type", "headline"))
        if not (required and isinstance(payload.get("options"), list)):
            return None
        if not isinstance(fields, list) or not all(_is_field(f) for f in fields):
            return None
        step, levels = payload.get("step", 1), payload.get("levels")
        if not isinstance(step, int) or not (levels is None or isinstance(levels, list)):
            return None
        money = [f["value"] for f in fields if f.get("money")]
        return cls(
            headline=payload["headline"],
            role=_text(payload.get("role")),
            user=_text(payload.get("user")),
            step=step,
            levels=levels,
            due_at=_text(payload.get("due_at")),
            amount=money[0] if money else None,
            summary=next((as_text(f["value"], False) for f in fields if not f.get("money")), ""),
        )


def _is_field(field: Any) -> bool:
    """Whether ``field`` is a shown field (name, label, value; money a bool if given)."""
    return (
        isinstance(field, dict)
        and isinstance(field.get("name"), str)
        and isinstance(field.get("label"), str)
        and "value" in field
        and isinstance(field.get("money", False), bool)
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
