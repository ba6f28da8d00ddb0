"""structlog's async log calls below their level are answered without a thread (server/logs.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import structlog
from structlog.stdlib import BoundLogger, filter_by_level

from server import logs

LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.fixture
def stock(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """structlog's own async methods; whatever the test wraps is put back after it."""
    methods = {}
    for name in logs.ASYNC_LEVELS:
        method = getattr(BoundLogger, name)
        methods[name] = getattr(method, "__wrapped__", method)
        monkeypatch.setattr(BoundLogger, name, methods[name])
    return methods


def bound(name: str, seen: list[str], first: Any = filter_by_level) -> Any:
    """A stdlib-backed structlog logger as langgraph-api configures it; events land in ``seen``."""

    def collect(_logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(f"{method}:{event['event']}")
        raise structlog.DropEvent

    return structlog.wrap_logger(
        logging.getLogger(name), processors=[first, collect], wrapper_class=BoundLogger
    )


def run(calls: Any) -> int:
    """Await ``calls()`` on a fresh loop; return how many calls went to its executor."""
    executor = CountingExecutor()

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(executor)
        await calls()

    asyncio.run(main())
    return executor.submitted


@pytest.mark.parametrize(("level", "disabled"), list(itertools.product(LEVELS, (False, True))))
def test_the_wrapped_methods_log_exactly_what_the_stock_ones_do(
    stock: dict[str, Any], level: int, disabled: bool
) -> None:
    name = f"test_logs.matrix.{level}.{disabled}"
    std = logging.getLogger(name)
    std.setLevel(level)
    std.disabled = disabled
    stock_seen: list[str] = []
    wrapped_seen: list[str] = []
    stock_logger, wrapped_logger = bound(name, stock_seen), bound(name, wrapped_seen)

    async def stock_calls() -> None:
        for method in logs.ASYNC_LEVELS:
            await stock[method](stock_logger, method)

    async def wrapped_calls() -> None:
        for method in logs.ASYNC_LEVELS:
            await getattr(wrapped_logger, method)(method)

    handed_stock = run(stock_calls)
    assert logs.skip_dropped_async_logs()
    handed_wrapped = run(wrapped_calls)

    assert wrapped_seen == stock_seen
    assert handed_stock == len(logs.ASYNC_LEVELS)  # the stock path hands every call over
    assert handed_wrapped == len(wrapped_seen)  # only the calls that are logged
    expected = [m for m, lv in logs.ASYNC_LEVELS.items() if not disabled and lv >= level]
    assert wrapped_seen == [f"{m[1:]}:{m}" for m in expected]


def test_a_dropped_call_takes_no_thread_and_a_logged_one_takes_the_stock_path(
    stock: dict[str, Any],
) -> None:
    logging.getLogger("test_logs.quiet").setLevel(logging.WARNING)
    seen: list[str] = []
    log = bound("test_logs.quiet", seen)
    assert logs.skip_dropped_async_logs()

    async def calls() -> None:
        for _ in range(50):
            await log.ainfo("request served")
            await log.adebug("event streamed")
        await log.awarning("kept")

    assert run(calls) == 1
    assert seen == ["warning:kept"]


def test_without_filter_by_level_first_every_call_takes_the_stock_path(
    stock: dict[str, Any],
) -> None:
    """Another first processor may do anything (count, sample): nothing is skipped then."""
    logging.getLogger("test_logs.other").setLevel(logging.WARNING)
    passed: list[str] = []

    def first(_logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        passed.append(method)
        return event

    seen: list[str] = []
    log = bound("test_logs.other", seen, first=first)
    assert logs.skip_dropped_async_logs()

    async def calls() -> None:
        await log.ainfo("one")
        await log.adebug("two")

    assert run(calls) == 2
    assert passed == ["info", "debug"]
    assert seen == ["info:one", "debug:two"]


def test_wrapping_twice_wraps_once(stock: dict[str, Any]) -> None:
    assert logs.skip_dropped_async_logs()
    first = BoundLogger.ainfo
    assert logs.skip_dropped_async_logs()
    assert BoundLogger.ainfo is first
    assert first.__wrapped__ is stock["ainfo"]
