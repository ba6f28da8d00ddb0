"""A thin client for the project's workflows, built on ``langgraph_sdk``.

The client's names are imported on first use, so ``hitl --help`` (``sdk_client.cli``)
loads nothing it does not need; ``langgraph_sdk`` itself, which takes most of a second
to import, is imported only when a :class:`HitlClient` is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdk_client.transport import AnswerNotApplied, ClientError, HitlClient, Outcome

__all__ = ["AnswerNotApplied", "ClientError", "HitlClient", "Outcome"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("sdk_client.transport"), name)
    raise AttributeError(f"module 'sdk_client' has no attribute {name!r}")
