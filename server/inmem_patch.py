"""What the embedded server's patches of the in-memory runtime share.

``server/wake.py`` (the run-queue wake), ``server/runtime_index.py`` (the
runtime index) and ``server/leftovers.py`` (the runtime tidy) each wrap a few
static methods of the runtime's ``Runs`` and ``Threads``: each may be switched
off, installs only when the fence finds its entry ok, marks its wrappers so that
it installs once, and can be undone (tests). ``server/debug_events.py`` (a patch
of langgraph, not of the runtime) uses :func:`wanted` too.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from graphs.common import fence

Originals = dict[tuple[type, str], Any]
"""What a patch replaced: ``(class, method name) -> the class attribute it was``."""


def function(method: Any) -> Any:
    """The function of a class attribute (unwrapping a ``staticmethod``)."""
    return method.__func__ if isinstance(method, staticmethod) else method


def marked(cls: type, name: str, mark: str) -> bool:
    """Whether ``cls.name`` is a wrapper carrying ``mark``."""
    return bool(getattr(function(cls.__dict__.get(name)), mark, False))


def active(name: str, mark: str) -> bool:
    """Whether the loaded runtime's ``Runs.name`` is a wrapper carrying ``mark``."""
    ops = sys.modules.get("langgraph_runtime_inmem.ops")
    return ops is not None and marked(ops.Runs, name, mark)


def replace(originals: Originals, cls: type, name: str, wrapped: Any) -> None:
    """Make ``wrapped`` the static method ``cls.name``, keeping the first original."""
    originals.setdefault((cls, name), cls.__dict__[name])
    setattr(cls, name, staticmethod(wrapped))


def wrap(originals: Originals, cls: type, name: str, mark: str, wrapper: Any) -> None:
    """Make ``cls.name`` ``wrapper(its function)``, unless it is already a wrapper with ``mark``."""
    if not marked(cls, name, mark):
        replace(originals, cls, name, wrapper(function(cls.__dict__[name])))


def restore(originals: Originals) -> None:
    """Put back every method a patch replaced."""
    while originals:
        (cls, name), original = originals.popitem()
        setattr(cls, name, original)


def wanted(log: logging.Logger, what: str, switch: str, entry: str, otherwise: str) -> bool:
    """Whether the patch ``what`` may be installed, saying why not in ``log``.

    Not when its ``switch`` variable is ``0``, nor when the fence does not find its
    ``entry`` ok (the start-up check has logged that it is degraded).
    """
    if os.environ.get(switch, "1") == "0":
        log.info("%s off (%s=0): %s", what, switch, otherwise)
        return False
    found = fence.finding(entry)
    if found.status != "ok":
        log.info("%s not installed (%s): %s", what, found.reason, otherwise)
        return False
    return True
