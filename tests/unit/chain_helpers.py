"""Driving a multi-level workflow in process: its pause, an answer to it."""

from __future__ import annotations

from langgraph.types import Command


def pause(result):
    (interrupt,) = result["__interrupt__"]
    return interrupt.value


def answer(app, thread, decision, approver, **extra):
    return app.invoke(Command(resume={"decision": decision, "approver": approver, **extra}), thread)
