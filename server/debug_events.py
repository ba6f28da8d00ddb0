"""Debug events that share a pause's payload instead of copying it (every server).

langgraph-api adds langgraph's ``debug`` stream mode to every run, whatever the
client asked for: it follows the run's checkpoints and task results through it.
langgraph builds the interrupts of those events with ``dataclasses.asdict``
(``langgraph.pregel.debug``), which rebuilds a pause's whole payload (its
description, response schema and Agent Inbox settings) value by value and
deep-copies every leaf: about 0.2 ms per pause, several times per approval cycle,
4-5 % of the server's CPU under load (``docs/performance.md``, "Flame graph").

:func:`install` gives that module an ``asdict`` that, for a dataclass whose fields
hold plain JSON data only (dicts, lists, tuples, strings, numbers, booleans and
None: every pause the project's graphs raise), makes the same dictionary without
the copy: the payload is shared, not rebuilt. Anything else (a dataclass or any
other object inside a payload) goes through ``dataclasses.asdict`` as before.
The events are encoded to JSON and the last checkpoint's interrupts become the
thread record's; nothing in langgraph, langgraph-api, the in-memory runtime or
the project changes a raised pause's payload in place (a deployed server's
runtime stores it as JSON), so sharing it changes no answer.

The patch is the fence's ``debug-interrupts`` entry (``graphs/common/fence.py``);
on another langgraph version the fence reports it degraded and the copies stay.
``HITL_LEAN_DEBUG_EVENTS=0`` keeps them too.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

from graphs.common import fence
from server import inmem_patch

logger = logging.getLogger(__name__)

MARK = "__hitl_lean_debug__"

_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> bool:
    """Whether ``value`` is JSON-like data of the built-in types only (exactly those types)."""
    kind = type(value)
    if kind in _LEAVES:
        return True
    if kind is dict:
        return all(type(key) in _LEAVES and plain(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(plain(item) for item in value)
    return False


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(kind))


def lean_asdict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)``, sharing its fields' values when they are :func:`plain`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        values = {name: getattr(obj, name) for name in _field_names(type(obj))}
        if all(plain(value) for value in values.values()):
            return values
    return dataclasses.asdict(obj)


setattr(lean_asdict, MARK, True)


def _debug_module() -> Any:
    from langgraph.pregel import debug  # noqa: PLC0415

    return debug


def active() -> bool:
    """Whether langgraph's debug events share plain payloads."""
    return getattr(_debug_module().asdict, MARK, False)


def install() -> bool:
    """Make langgraph's debug events share plain pause payloads; return whether they do.

    Does nothing, with a log line, when ``HITL_LEAN_DEBUG_EVENTS=0`` or unless the
    fence finds its ``debug-interrupts`` entry ok. Safe to call more than once.
    """
    if active():
        return True
    if not inmem_patch.wanted(
        logger,
        "lean debug events",
        "HITL_LEAN_DEBUG_EVENTS",
        "debug-interrupts",
        "debug events copy every pause payload",
    ):
        return False
    _debug_module().asdict = lean_asdict
    logger.info(
        "lean debug events installed (langgraph %s): pause payloads shared, not copied; "
        "HITL_LEAN_DEBUG_EVENTS=0 copies them",
        fence.SUPPORTED["langgraph"],
    )
    return True


def uninstall() -> None:
    """Give langgraph's debug events ``dataclasses.asdict`` back (for tests)."""
    _debug_module().asdict = dataclasses.asdict
