"""What workflows tell the server: a step paused, an answer was accepted.

Workflows emit typed events; the server subscribes (``server.pauses``) and keeps
thread metadata and notifications in step. With no subscriber (in-process runs)
nothing happens, so nothing in ``graphs/`` depends on the server.

Subscribers are called inside the emitting node (often while its pause is being
raised), so they must return at once and never raise: a subscriber schedules its
work elsewhere, and a node never waits on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config


@dataclass(frozen=True)
class Paused:
    """A step paused for a human."""

    interrupt_id: str
    waiting_for: str | None
    """The pause's addressee: a role, or ``user:<name>``."""
    payload: dict[str, Any]


@dataclass(frozen=True)
class Decided:
    """A human's (or the workflow's own) answer was accepted."""

    approver: str | None


Event = Paused | Decided
Listener = Callable[[RunnableConfig, Event], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Be told of every event, with the config of the run that emitted it."""
    _listeners.append(listener)


def emit(event: Event, config: RunnableConfig | None = None) -> None:
    """Tell every subscriber (``config``: the emitting run's, by default the current one)."""
    if not _listeners:
        return
    config = config if config is not None else get_config()
    for listener in _listeners:
        listener(config, event)
