"""The answers people give, in every format, and the decisions the audit trail records.

Decisions are ``approve | edit | reject | expire | retry | cancel``. The seed's
``approved`` / ``rejected`` stay accepted as answers and are recorded as
``approve`` / ``reject``. Agent Inbox's answers (a list of one HumanResponse) are
turned into the pause's own answer by :func:`native_answer`; the CLI and the inbox
build theirs with :func:`build_answer`.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from graphs.common.fields import Approver, Channel, Note, StrictModel

SPELLINGS = {"approved": "approve", "rejected": "reject", "expired": "expire"}


def recorded(word: str) -> str:
    """The audit trail's word for a decision (``approved`` is recorded as ``approve``)."""
    return SPELLINGS.get(word, word)


REJECTING = ("reject", "rejected")

NOTE_RULE: JsonDict = {
    "if": {"properties": {"decision": {"enum": list(REJECTING)}}, "required": ["decision"]},
    "then": {"required": ["note"], "properties": {"note": {"pattern": "\\S"}}},
}
"""A reject says why, in the schema too, so clients and the server check it before sending."""


class NotedModel(StrictModel):
    """An answer whose reject needs a note (the requester reads why), everywhere."""

    model_config = ConfigDict(json_schema_extra=NOTE_RULE)

    channel: Channel = None

    if TYPE_CHECKING:
        note: str  # declared by each answer model, as its own field

    @model_validator(mode="after")
    def _reject_says_why(self) -> Any:
        if getattr(self, "decision", None) in REJECTING and not str(self.note).strip():
            raise ValueError("a reject needs a note: say why (the requester reads it)")
        return self


class Decision(NotedModel):
    """An answer to an approve / reject question (an expense, an order).

    The seed notebook answers with approved / rejected; the pause offers the option
    words approve / reject. Both spellings are accepted. A reject needs a note.
    """

    decision: Literal["approve", "reject", "approved", "rejected"] = Field(
        description="approve (or approved), or reject (or rejected, with a note)"
    )
    note: Note = ""
    approver: Approver = None

    @property
    def approved(self) -> bool:
        """Whether this answer approves."""
        return self.decision in ("approve", "approved")


ChangesT = TypeVar("ChangesT", bound=BaseModel)


class EditDecision(NotedModel, Generic[ChangesT]):
    """An answer to a pause that offers approve, edit and reject, given its ``Changes`` model.

    An edit carries changes (and only an edit does) and approves the step with them;
    a reject needs a note. ``EditDecision[Changes]`` is a workflow's answer model.
    """

    decision: Literal["approve", "edit", "reject"] = Field(
        description="approve; edit (with changes: approves the step); reject (with a note)"
    )
    note: Note = ""
    approver: Approver = None
    changes: ChangesT | None = Field(default=None, description="Required for edit, only for edit")

    @model_validator(mode="after")
    def _changes_only_with_edit(self) -> Any:
        has_changes = self.changes is not None and bool(self.changes.model_dump(exclude_none=True))
        if self.decision == "edit" and not has_changes:
            raise ValueError("edit needs changes: at least one field to change")
        if self.decision != "edit" and self.changes is not None:
            raise ValueError(f"changes are only allowed with edit, not {self.decision}")
        return self


APPROVING = frozenset({"approve", "approved", "edit", "retry", "accept"})
"""Answers that let the request go ahead (Agent Inbox's ``accept`` included)."""


def approves(decision: str | None) -> bool:
    """Whether an answer lets the request go ahead: the one rule for "not your own request"."""
    return decision in APPROVING


def decision_word(answer: Any) -> str | None:
    """The decision an answer makes, whatever its format (``decision``, ``type``, Agent Inbox)."""
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, dict):
        return None
    word = answer.get("decision", answer.get("type"))
    return word if isinstance(word, str) else None


HUMAN_RESPONSES = ("accept", "edit", "response", "ignore")


def native_answer(answer: Any, payload: dict[str, Any]) -> Any:
    """Turn Agent Inbox's answer (a list of one HumanResponse) into the pause's own.

    Any other answer is returned as it is.

    Raises:
        ValueError: The response type is not offered, or its args do not fit it.
    """
    if not (
        isinstance(answer, list)
        and len(answer) == 1
        and isinstance(answer[0], dict)
        and answer[0].get("type") in HUMAN_RESPONSES
    ):
        return answer
    kind, args = answer[0]["type"], answer[0].get("args")
    config, options = payload.get("config") or {}, payload.get("options") or []
    allowed = {"accept": "allow_accept", "edit": "allow_edit", "response": "allow_respond"}
    if kind not in allowed or not config.get(allowed[kind]) or not options:
        return _not_offered(kind)
    tool = payload.get("type") == "tool_approval"
    if kind == "accept":
        return {"type": "approve"} if tool else {"decision": options[0]}
    if kind == "response":
        if not isinstance(args, str) or not args.strip():
            raise ValueError("a response needs its text (the reason, shown to the requester)")
        return (
            {"type": "reject", "message": args} if tool else {"decision": options[-1], "note": args}
        )
    edited = args.get("args") if isinstance(args, dict) else None
    if not isinstance(edited, dict):
        raise ValueError("an edit needs args: {action, args: {field: value}}")
    # The form shows every field as text: compare with the pause's own typed values.
    own: dict[str, Any] = payload["args"] if tool else payload.get("request") or payload
    editable, shown = payload.get("editable", []), (payload.get("action_request") or {}).get("args")
    typed = {k: _like(own.get(k), v) for k, v in edited.items()}
    changed = {
        k: v for k, v in typed.items() if v != own.get(k) and edited[k] != (shown or {}).get(k)
    }
    if fixed := sorted(set(changed) - set(editable)):
        raise ValueError(f"{', '.join(fixed)} cannot be changed here; only {', '.join(editable)}")
    if tool:
        return {
            "type": "edit",
            "edited_action": {"name": payload.get("name"), "args": {**own, **changed}},
        }
    if not changed:
        raise ValueError(f"the edit changes none of {', '.join(editable)}")
    return {"decision": "edit", "changes": changed}


def _not_offered(kind: str) -> Any:
    raise ValueError(f"{kind} is not offered by this pause (see its config)")


def _like(current: Any, value: Any) -> Any:
    """An edited value in its field's type (form fields send numbers as text)."""
    if isinstance(current, int | float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def build_answer(
    decision: str,
    *,
    payload: dict[str, Any] | None = None,
    note: str | None = None,
    approver: str | None = None,
    changes: dict[str, Any] | None = None,
    args: dict[str, Any] | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """Build the resume value for ``decision`` on the pause showing ``payload``.

    ``channel`` says where it comes from (a client: ``cli`` or ``api``; the server
    records its own routes' channels itself).
    """
    if (payload or {}).get("type") == "tool_approval":
        return _tool_answer(payload or {}, decision, note, args)
    if args is not None:
        raise ValueError("--args only goes with a tool review (the assistant's pauses)")
    if decision in REJECTING and not (note or "").strip():
        raise ValueError("a reject needs a note: say why (--note), the requester reads it")
    answer: dict[str, Any] = {"decision": decision}
    if note is not None:
        answer["note"] = note
    if approver is not None:
        answer["approver"] = approver
    if channel is not None:
        answer["channel"] = channel
    if decision == "edit":
        if not changes:
            raise ValueError("edit needs at least one change (the fields the pause lets you edit)")
        answer["changes"] = changes
    elif changes:
        raise ValueError(f"changes only go with edit, not {decision}")
    return answer


def _tool_answer(
    payload: dict[str, Any], decision: str, message: str | None, args: dict[str, Any] | None
) -> dict[str, Any]:
    if decision == "approve":
        return {"type": "approve"}
    if decision == "reject":
        return {"type": "reject", **({"message": message} if message else {})}
    if decision == "edit":
        if args is None:
            raise ValueError("edit of a tool call needs --args '{...}' (a JSON object)")
        return {"type": "edit", "edited_action": {"name": payload.get("name"), "args": args}}
    raise ValueError(f"a tool review takes approve, edit or reject, not {decision}")


def schema_error(schema: dict[str, Any] | None, answer: Any) -> str | None:
    """Why ``answer`` does not fit a pause's ``response_schema`` (None: it fits, or no schema).

    The message names the field, e.g. ``changes.amount: 'a lot' is not of type 'number'``.
    """
    if not schema:
        return None
    errors = [
        _deepest(e) for e in _validator(json.dumps(schema, sort_keys=True)).iter_errors(answer)
    ]
    if not errors:
        return None
    if any(
        e.validator in ("if", "then", "required", "pattern")
        and "note" in (e.message + "".join(map(str, e.absolute_path)))
        for e in errors
    ):
        return "a reject needs a note: say why (the requester reads it)"
    return "; ".join(
        f"{'.'.join(str(p) for p in e.absolute_path) or 'answer'}: {e.message}" for e in errors[:3]
    )


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema))


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Descend into ``anyOf`` / ``oneOf`` failures to the error that names the field."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def answer_errors(raised: list[dict[str, Any]] | None, waiting: list[dict[str, Any]]) -> list[str]:
    """Why the workflow refused an answer: the ``error`` of each pause its run raised anew.

    ``raised`` is the run's ``__interrupt__`` (what the server answered), ``waiting``
    the pauses pending before; a refused answer comes back as a fresh pause (or the
    same one, changed) carrying an ``error``.
    """
    seen = [(p.get("id"), p.get("value")) for p in waiting]
    return [
        p["value"]["error"]
        for p in raised or []
        if isinstance(p.get("value"), dict)
        and p["value"].get("error")
        and (p.get("id"), p["value"]) not in seen
    ]
