"""A fixed mmap threshold for glibc's malloc (every server on glibc).

glibc serves an allocation of 128 KiB or more with its own ``mmap`` and gives it
back to the system when it is freed. But its threshold is dynamic: every such
block freed raises the threshold to the block's size (up to 32 MiB), and from
then on blocks that size come from the heap, where freeing them leaves holes the
process keeps. A server makes such blocks all the time (among them the in-memory
runtime's pickle of all it holds, every 10 s, which grows with the data), so its
heap grew with the data it held and did not shrink: with 3,000 approvals waiting,
26.1 KB per waiting approval with the dynamic threshold and 12.7 KB with it fixed
(``docs/performance.md``, "Memory").

:func:`install` fixes the threshold at 128 KiB (glibc's default, made static) with
``mallopt(M_MMAP_THRESHOLD)``: large blocks keep going back to the system when
freed. ``HITL_MALLOC_MMAP_THRESHOLD`` sets another size in bytes; ``0`` keeps
glibc's dynamic threshold. On a C library whose ``mallopt`` does not take it
(musl's does nothing; macOS has none) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)

SWITCH = "HITL_MALLOC_MMAP_THRESHOLD"
DEFAULT = 128 * 1024
M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MAX = 32 * 1024 * 1024  # glibc's HEAP_MAX_SIZE / 2 on 64-bit: mallopt refuses more


def threshold() -> int:
    """The threshold in bytes the environment asks for (``0``: glibc's dynamic one).

    Raises:
        ValueError: ``HITL_MALLOC_MMAP_THRESHOLD`` is not a whole number of bytes
            from 0 to 32 MiB.
    """
    raw = os.environ.get(SWITCH, "").strip()
    if not raw:
        return DEFAULT
    rule = f"a whole number of bytes from 0 (glibc's dynamic threshold) to {MAX}"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{SWITCH}={raw!r} is not {rule}") from None
    if not 0 <= value <= MAX:
        raise ValueError(f"{SWITCH}={raw!r} is refused: it must be {rule}")
    return value


def _mallopt() -> Callable[[int, int], int] | None:
    """The C library's ``mallopt``, if the process has one (the symbols it has loaded)."""
    try:
        return getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no loaded C library to look in (Windows)
        return None


def install(size: int | None = None) -> bool:
    """Fix malloc's mmap threshold at ``size`` (default: :func:`threshold`); return whether set.

    Raises:
        ValueError: The environment's threshold is not one (see :func:`threshold`).
    """
    size = threshold() if size is None else size
    if size == 0:
        logger.info("malloc mmap threshold left dynamic (%s=0)", SWITCH)
        return False
    mallopt = _mallopt()
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, size):
        logger.info("malloc mmap threshold not set: the C library has no glibc mallopt")
        return False
    logger.info(
        "malloc mmap threshold fixed at %d bytes: large blocks go back to the system when "
        "freed; %s=0 leaves glibc's dynamic threshold",
        size,
        SWITCH,
    )
    return True
