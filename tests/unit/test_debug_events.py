"""Debug events share plain pause payloads instead of copying them (``server/debug_events.py``).

What a debug event holds is checked against ``dataclasses.asdict``, the copy it
replaces: equal for every plain payload, and the copy itself for anything else.
The served suite runs with it (``lean debug events installed`` in its log,
``tests/integration/test_wake.py``), so every served pause goes through it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.pregel import debug
from langgraph.types import Interrupt

from graphs.common import fence
from server import debug_events
from server.debug_events import lean_asdict, plain

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
json_like = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
    ),
    max_leaves=20,
)


@dataclasses.dataclass
class Note:
    text: str


@settings(max_examples=300, deadline=None)
@given(json_like, st.text(max_size=8))
def test_a_plain_payload_is_shared_and_equals_the_copy(value, interrupt_id):
    pause = Interrupt(value=value, id=interrupt_id)
    lean, copied = lean_asdict(pause), dataclasses.asdict(pause)
    assert plain(value)
    assert repr(lean) == repr(copied)  # equal, types and nan included
    assert lean["value"] is value  # shared, not rebuilt


@settings(max_examples=100, deadline=None)
@given(json_like)
def test_anything_else_inside_a_payload_gets_the_copy(value):
    payload: dict[str, Any] = {"note": Note("why"), "rest": value}
    pause = Interrupt(value=payload, id="i")
    lean = lean_asdict(pause)
    assert not plain(payload)
    assert lean == dataclasses.asdict(pause)
    assert lean["value"]["note"] == {"text": "why"} and lean["value"] is not payload
    assert lean_asdict(Note("x")) == {"text": "x"}  # a dataclass with a plain field


def test_a_dict_subclass_or_a_set_is_not_plain():
    class Tagged(dict[str, Any]):
        pass

    assert not plain(Tagged(a=1)) and not plain({"a": {1, 2}}) and not plain([b"x"])
    assert plain({"a": [1, 2.5, None, True, ("x",)]})


def test_installs_behind_the_fence_once_and_can_be_switched_off(monkeypatch):
    try:
        monkeypatch.setenv("HITL_LEAN_DEBUG_EVENTS", "0")
        assert debug_events.install() is False and debug.asdict is dataclasses.asdict
        monkeypatch.delenv("HITL_LEAN_DEBUG_EVENTS")
        real = fence.installed
        monkeypatch.setattr(fence, "installed", lambda p: "0.9" if p == "langgraph" else real(p))
        assert debug_events.install() is False and debug.asdict is dataclasses.asdict
        monkeypatch.setattr(fence, "installed", real)
        assert debug_events.install() is True and debug.asdict is lean_asdict
        assert debug_events.install() is True and debug_events.active()  # once
        assert fence.finding("debug-interrupts").status == "ok"  # its own patch in place
        pause = Interrupt(value={"a": [1]}, id="i")
        task_result = next(
            debug.map_debug_task_results((_Task(), [("__interrupt__", (pause,))]), [])
        )
        assert task_result["interrupts"] == [dataclasses.asdict(pause)]
        assert task_result["interrupts"][0]["value"] is pause.value
    finally:
        debug_events.uninstall()
    assert debug.asdict is dataclasses.asdict and not debug_events.active()


@dataclasses.dataclass
class _Task:
    id: str = "t"
    name: str = "ask"
