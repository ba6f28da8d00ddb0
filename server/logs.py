"""The server's log levels, and log calls that cost nothing when nothing is written.

langgraph-api logs through structlog's stdlib ``BoundLogger`` and awaits its async
methods (``await logger.ainfo(...)``) several times per request and per run. Each of
those hands the call to a thread of the event loop's default executor (a future, a
copied context, two thread switches), and only there does the first processor,
``filter_by_level``, drop it. At ``LOG_LEVEL=WARNING`` (what ``make dev`` and the test
servers run) every one is dropped: about 6 % of the server's CPU under load went to
handing them over (docs/performance.md, "Flame graph").
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

logger = logging.getLogger("server.logs")

PROJECT_LOGGERS = ("server", "graphs")

ASYNC_LEVELS = {"adebug": logging.DEBUG, "ainfo": logging.INFO, "awarning": logging.WARNING}
"""structlog's async methods that are skipped below their stdlib logger's level."""

AsyncLog = Callable[..., Awaitable[None]]


def keep_project_logs() -> None:
    """Keep the project's own INFO events when ``LOG_LEVEL`` quiets langgraph-api's.

    ``make dev`` and the test servers run with ``LOG_LEVEL=WARNING`` (``.env`` may say
    otherwise): langgraph-api writes nine INFO lines per approval cycle, which cost a
    fifth of the server's CPU per cycle under a burst of 100 clients
    (docs/performance.md). The project's own loggers write none per request, only what
    operators need (the run-queue wake, recovery, sweeps): they log INFO whatever
    ``LOG_LEVEL`` says, and more when it is DEBUG.
    """
    level = min(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)


def drops(bound: Any, level: int) -> bool:
    """Whether ``bound`` (a structlog stdlib ``BoundLogger``) would drop a ``level`` event.

    Exactly the decision of ``structlog.stdlib.filter_by_level`` when it is the bound
    logger's first processor (as langgraph-api configures structlog); with any other
    first processor, False: the event goes through the stock path.
    """
    processors = bound._processors  # noqa: SLF001 - BoundLoggerBase's documented attributes
    if not processors or processors[0] is not structlog.stdlib.filter_by_level:
        return False
    stdlib = bound._logger  # noqa: SLF001
    return bool(stdlib.disabled or level < stdlib.getEffectiveLevel())


def _unless_dropped(method: AsyncLog, level: int) -> AsyncLog:
    @functools.wraps(method)
    async def logged(self: Any, event: str, *args: Any, **kw: Any) -> None:
        if drops(self, level):
            return
        await method(self, event, *args, **kw)

    logged.skips_dropped = True  # type: ignore[attr-defined]
    return logged


def skip_dropped_async_logs() -> bool:
    """Answer structlog's async log calls that ``filter_by_level`` drops at once.

    Wraps ``adebug``, ``ainfo`` and ``awarning`` of ``structlog.stdlib.BoundLogger``
    (for this process, idempotent). A call its level lets through takes the stock path
    unchanged: the thread, the processors, the handlers. Returns whether they are
    wrapped (False: this structlog's class is not the one this was written for).
    """
    cls = structlog.stdlib.BoundLogger
    if not all(callable(getattr(cls, name, None)) for name in ASYNC_LEVELS):
        logger.warning("structlog's async log methods not found: each is handed to a thread")
        return False
    for name, level in ASYNC_LEVELS.items():
        method = getattr(cls, name)
        if not getattr(method, "skips_dropped", False):
            setattr(cls, name, _unless_dropped(method, level))
    return True
