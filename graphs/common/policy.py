"""The deployment's approval rules: each workflow's ``Context``, pinned at submission.

Thresholds, levels, limits, roles and deadlines are the graphs' context. On a
served graph it comes from the assistant the run picks, which only an admin
configures (``server.guard`` refuses context from anyone else).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from graphs.common.fields import describe_error

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

ContextT = TypeVar("ContextT", bound="DataclassInstance")


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def pin_context(context: Any, default: type[ContextT], workflow: str) -> dict[str, Any]:
    """Snapshot a run's context for the state, at submission.

    A resume is a new run with a context of its own (usually the default), and a
    resumed node runs again from its start: rules read from the live context could
    change mid-flight (a lower threshold on resume would skip the pause and drop
    the human's answer). Workflows therefore read their rules from this snapshot.
    """
    raw = dataclasses.asdict(context if context is not None else default())
    try:
        _adapter(default).validate_python(raw)
    except ValidationError as exc:
        raise ValueError(f"invalid {workflow} context: {describe_error(exc)}") from None
    return raw


def pinned(state: Mapping[str, Any], cls: type[ContextT]) -> ContextT:
    """Return the context pinned at submission."""
    return cls(**state["settings"])
