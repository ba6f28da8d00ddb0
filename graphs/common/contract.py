"""The pause as a typed contract: what a workflow asks, and everything that shows it reads.

A workflow builds one :class:`Pause` per question (:meth:`Pause.about` takes the
request's own model, so a new workflow's fields show everywhere with their labels
and the amount marked as money) and :func:`graphs.common.pauses.decide` asks it.
The pause renders itself into the interrupt payload (:meth:`Pause.payload`): its
own keys, Agent Inbox's ``HumanInterrupt`` keys, and a plain first line for list
rows. The inbox, ``hitl``, notifications and Agent Inbox read it back with
:meth:`Pause.read`, never a workflow's field names.

This module imports pydantic only. A list that must answer at once (``hitl pending``)
reads the same keys with :class:`graphs.common.pause_view.PauseRow`, no pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from graphs.common.pause_view import as_text, from_older, label_of

__all__ = ["MONEY", "Pause", "Shown", "as_text", "fields_of", "label_of"]

Model = type[BaseModel]
"""A workflow's request model (or its changes')."""

MONEY = "money"
"""Marks a request field as an amount of money (``Annotated[float, ..., MONEY]``)."""

ANSWERS = {
    "approve": "approves",
    "edit": "changes the fields and approves",
    "reject": "rejects (say why)",
    "retry": "retries",
    "cancel": "cancels",
}


class Shown(BaseModel):
    """One field of a request, as people see it."""

    name: str
    label: str
    value: Any
    money: bool = False

    def text(self) -> str:
        """The value as text (money with separators and two decimals)."""
        return as_text(self.value, self.money)


def fields_of(
    model: type[BaseModel], values: Mapping[str, Any], hide: tuple[str, ...] = ("requester",)
) -> list[Shown]:
    """The fields of ``model`` that ``values`` holds, labelled, money marked.

    A field's label is its ``title``, else its name; fields excluded from the
    model's dump (seed placeholders) and empty values are left out.
    """
    shown = []
    for name, info in model.model_fields.items():
        value = values.get(name)
        if name in hide or info.exclude or value is None or value == "":
            continue
        label = info.title or label_of(name)
        shown.append(Shown(name=name, label=label, value=value, money=MONEY in info.metadata))
    return shown


class Pause(BaseModel):
    """One question to a human: whom it waits for, what it shows, what may be answered."""

    model_config = ConfigDict(extra="ignore")

    type: str
    """What kind of question (the workflow's name, or its step's)."""
    action: str
    """What the approver is asked, in a few words ("Approve expense")."""
    headline: str
    """The plain first line: who asks for what."""
    why: str = ""
    """Why it waits for this person (the rule, the limit, the step)."""
    role: str | None = None
    """The role it waits for, or None when it waits for one ``user``."""
    user: str | None = None
    requester: str | None = None
    """Who asked; they never approve it themselves."""
    request: dict[str, Any] = {}
    """The request's own values (an edit is compared with them)."""
    fields: list[Shown] = []
    """What to show, in order."""
    options: list[str]
    """The answers offered, the approving one first and the refusing one last."""
    editable: list[str] = []
    due_at: str | None = None
    step: int = 1
    levels: list[str] | None = None
    history: list[dict[str, Any]] = []
    """Decisions made before this one."""
    error: str | None = None
    """Why the last answer was refused."""

    @classmethod
    def about(
        cls,
        model: Model,
        values: Mapping[str, Any],
        *,
        type: str,
        action: str,
        options: list[str],
        headline: str | None = None,
        editable: Model | None = None,
        **rest: Any,
    ) -> Pause:
        """The pause about a request of ``model`` holding ``values``.

        Args:
            model: The workflow's request model: its fields are what people see.
            values: The request's current values (the workflow's state).
            type: What kind of question.
            action: What the approver is asked.
            options: The answers offered.
            headline: The first line; by default "<requester> asks for <amount>: <text>".
            editable: The model of an edit's changes: its fields may be edited.
            **rest: The other fields of :class:`Pause` (role, why, due_at, ...).
        """
        fields = fields_of(model, values)
        kept = [name for name, info in model.model_fields.items() if not info.exclude]
        request = {name: values.get(name) for name in kept}
        requester = values.get("requester")
        return cls(
            type=type,
            action=action,
            headline=headline or default_headline(requester, fields),
            requester=requester,
            request=request,
            fields=fields,
            options=options,
            editable=list(editable.model_fields) if editable else [],
            **rest,
        )

    @property
    def waiting_for(self) -> str | None:
        """Whom it waits for: its ``role``, or ``user:<name>``."""
        return self.role or (f"user:{self.user}" if self.user else None)

    @property
    def amount(self) -> float | None:
        """The request's amount of money, if it has one."""
        return next((f.value for f in self.fields if f.money), None)

    @property
    def summary(self) -> str:
        """What it is about, after the amount: the first text field."""
        return next((f.text() for f in self.fields if not f.money), "")

    def markdown(self) -> str:
        """The description for Agent Inbox: the plain headline first, then the details."""
        lines = [self.headline, ""]
        if self.why:
            lines.append(f"- **Why:** {self.why}")
        lines += [f"- **{f.label}:** {f.text()}" for f in self.fields]
        if self.due_at:
            lines.append(f"- **Due:** {self.due_at} (UTC)")
        answers = [f"{o} {ANSWERS[o]}" for o in self.options if o in ANSWERS]
        if answers:
            lines.append(f"- **Answers:** {'; '.join(answers)}")
        if self.options:
            lines.append(f"- **In Agent Inbox:** {self.agent_inbox_answers()}")
        for entry in self.history:
            note = f": {entry['note']}" if entry.get("note") else ""
            lines.append(
                f"- **Earlier:** {entry.get('role')} {entry.get('decision')} by "
                f"{entry.get('approver')} at {entry.get('at')}{note}"
            )
        if self.error:
            lines.append(f"- **Last answer refused:** {self.error}")
        return "\n".join(lines)

    def agent_inbox_answers(self) -> str:
        """What Agent Inbox's buttons answer (see ``decisions.native_answer``)."""
        said = [f"Accept = {self.options[0]}"]
        if self.editable:
            said.append("Edit = edit")
        if len(self.options) > 1:
            said.append(f"a response = {self.options[-1]} (its text is the note)")
        return "; ".join(said)

    def payload(self, **extra: Any) -> dict[str, Any]:
        """The interrupt's value: this pause, Agent Inbox's keys, then ``extra``.

        ``extra`` carries a workflow's own keys (the seed notebook's flat request
        keys, a threshold); it never overrides the contract's own keys.
        """
        own = self.model_dump(mode="json", exclude={"action"})
        inbox = {
            "action_request": {"action": self.action, "args": shown_args(self.request)},
            "config": {
                "allow_accept": True,
                "allow_edit": bool(self.editable),
                "allow_respond": len(self.options) > 1,
                "allow_ignore": False,
            },
            "description": self.markdown(),
        }
        return {**inbox, **extra, **own}

    @classmethod
    def read(cls, payload: Any) -> Pause | None:
        """The pause an interrupt's value shows (None: it is not a pause of this project).

        A pause raised before the contract existed (no ``headline``) is read from
        what it has: its Agent Inbox fields and the first line of its description.
        """
        if not isinstance(payload, dict):
            return None
        if "headline" not in payload:
            payload = from_older(payload)
        else:  # the payload carries the action once, as Agent Inbox's
            payload = {**payload, "action": (payload.get("action_request") or {}).get("action")}
        try:
            return cls.model_validate(payload)
        except ValidationError:
            return None


def default_headline(requester: str | None, fields: list[Shown]) -> str:
    """The first line people read: who asks, for how much, and what for."""
    money = next((f.text() for f in fields if f.money), None)
    text = next((f.text() for f in fields if not f.money), None)
    asks = f"{requester or 'Someone'} asks" + (f" for {money}" if money else "")
    return asks + (f": {text}" if text else "")


def shown_args(values: Mapping[str, Any]) -> dict[str, str]:
    """A request's fields as text, as Agent Inbox shows and edits them (empty ones left out)."""
    return {k: as_text(v) for k, v in values.items() if v is not None}
