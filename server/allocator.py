"""A fixed mmap threshold for glibc's malloc (every server on glibc).

glibc serves a request of 128 KiB or more that its free lists cannot serve with
an ``mmap`` of its own, and gives it back to the system when it is freed. But its
threshold is dynamic: freeing such a block of up to 32 MiB raises the threshold
to the block's size (and the heap's trim threshold to twice that), and from then
on blocks below it come from the heap, whose free space the process keeps. A
server makes such blocks all the time (among them the in-memory runtime's pickle
of all it holds, every 10 s, which grows with the data), so its heap grew with
the data it held: with 3,000 approvals waiting, 26.1 KB per waiting approval with
the dynamic threshold and 12.7 KB with it fixed (``docs/performance.md``, "Memory").

:func:`install` fixes the threshold at 128 KiB (glibc's default, made static) with
``mallopt(M_MMAP_THRESHOLD)``, and the trim threshold at twice it (glibc's own
ratio; the server's start-up, which loads the runtime's data, may have raised
it): large blocks go back to the system when freed. ``HITL_MALLOC_MMAP_THRESHOLD``
sets another size in bytes; ``0`` keeps glibc's dynamic threshold. A threshold
the operator gave glibc itself (``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES``)
is left as it is. musl and macOS have no ``mallopt``: nothing is done, and the
log says so.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)

SETTING = "HITL_MALLOC_MMAP_THRESHOLD"
DEFAULT = 128 * 1024
LOWEST = 128 * 1024  # glibc's own floor for its dynamic threshold
HIGHEST = 32 * 1024 * 1024  # its ceiling on 64-bit (glibc before 2.35 refuses more)
M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
GLIBC_OWN = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def threshold(env: Mapping[str, str] | None = None) -> int:
    """The threshold in bytes ``HITL_MALLOC_MMAP_THRESHOLD`` asks for (``0``: glibc's dynamic one).

    Raises:
        ValueError: It is neither 0 nor a number of bytes (digits only) from
            131072 to 33554432; the message names the setting. The server refuses
            to start.
    """
    env = os.environ if env is None else env
    raw = (env.get(SETTING) or "").strip()
    if not raw:
        return DEFAULT
    rule = (
        f"0 (glibc's dynamic threshold) or a number of bytes (digits only) "
        f"from {LOWEST} to {HIGHEST}"
    )
    if not raw.isdigit():
        raise ValueError(f"{SETTING}={raw!r} is not {rule}")
    value = int(raw)
    if value and not LOWEST <= value <= HIGHEST:
        raise ValueError(f"{SETTING}={raw!r} is refused: it must be {rule}")
    return value


def glibc_setting(env: Mapping[str, str]) -> str | None:
    """The variable through which the operator set glibc's thresholds, if any."""
    for name in GLIBC_OWN:
        if env.get(name):
            return name
    tunables = env.get("GLIBC_TUNABLES", "")
    return "GLIBC_TUNABLES" if "_threshold" in tunables else None


def _mallopt() -> Callable[[int, int], int] | None:
    """The C library's ``mallopt``, if the process has one (the symbols it has loaded)."""
    try:
        return getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no loaded C library to look in (Windows)
        return None


def install(env: Mapping[str, str] | None = None) -> bool:
    """Fix malloc's mmap threshold at :func:`threshold`; return whether it was set.

    Raises:
        ValueError: The setting is not a threshold (see :func:`threshold`).
    """
    env = os.environ if env is None else env
    size = threshold(env)
    if size == 0:
        logger.info("malloc mmap threshold left dynamic (%s=0)", SETTING)
        return False
    if own := glibc_setting(env):
        logger.info("malloc mmap threshold left as %s sets it", own)
        return False
    mallopt = _mallopt()
    if mallopt is None:
        logger.info("malloc mmap threshold not set: the C library has no mallopt")
        return False
    if not mallopt(M_MMAP_THRESHOLD, size):
        logger.warning("malloc mmap threshold not set: mallopt refused %d bytes", size)
        return False
    if not mallopt(M_TRIM_THRESHOLD, 2 * size):
        logger.warning("malloc trim threshold not set: mallopt refused %d bytes", 2 * size)
    logger.info(
        "malloc mmap threshold fixed at %d bytes: large blocks go back to the system when "
        "freed; %s=0 leaves glibc's dynamic threshold",
        size,
        SETTING,
    )
    return True
