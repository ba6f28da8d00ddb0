"""How the server gives memory back: glibc's mmap threshold fixed, the collector tuned.

A fixed mmap threshold for glibc's malloc (every server on glibc).

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

The interpreter's cyclic garbage collector (every server). CPython collects its
youngest generation after every 700 net allocations of container objects, and each
collection of its oldest generation traverses every object the process holds,
most of them the modules, classes and functions loaded at start-up, which are
never garbage. Under load (100 clients) that took 2.4 ms of the server's 22-26 ms
of CPU per approval cycle, most of it in the oldest generation's collections (one
every ~100 cycles, ~140 ms each). :func:`tune_collector`, once start-up is done,
collects, then moves everything that survived out of the collector's reach
(``gc.freeze``: reference counting still frees those objects, only cycles among
them are no longer looked for), and collects the youngest generation every
20,000 allocations: 0.45 ms of collection per cycle, and about 8 % less server CPU
per cycle (``docs/performance.md``, "Flame graph"). ``HITL_GC_THRESHOLD`` sets
another count; ``0`` leaves the collector as the interpreter sets it.
"""

from __future__ import annotations

import ctypes
import gc
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
GC_SETTING = "HITL_GC_THRESHOLD"
GC_DEFAULT = 20_000
GC_LOWEST = 700  # the interpreter's own
GC_HIGHEST = 1_000_000
GC_OLDER = (20, 20)  # collections of the generation below that trigger the next one's


def _count(
    env: Mapping[str, str], name: str, *, default: int, within: range, unit: str, zero: str
) -> int:
    """The setting ``name``: unset (``default``), 0 (what ``zero`` says) or ``unit`` ``within``."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    rule = f"0 ({zero}) or a number of {unit} (digits only) from {within[0]} to {within[-1]}"
    if not (raw.isascii() and raw.isdigit()):  # '²' is a digit to isdigit, not to int
        raise ValueError(f"{name}={raw!r} is not {rule}")
    value = int(raw)
    if value and value not in within:
        raise ValueError(f"{name}={raw!r} is refused: it must be {rule}")
    return value


def threshold(env: Mapping[str, str] | None = None) -> int:
    """The threshold in bytes ``HITL_MALLOC_MMAP_THRESHOLD`` asks for (``0``: glibc's dynamic one).

    Raises:
        ValueError: It is neither 0 nor a number of bytes (digits only) from
            131072 to 33554432; the message names the setting. The server refuses
            to start.
    """
    env = os.environ if env is None else env
    within = range(LOWEST, HIGHEST + 1)
    zero = "glibc's dynamic threshold"
    return _count(env, SETTING, default=DEFAULT, within=within, unit="bytes", zero=zero)


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


def collector_threshold(env: Mapping[str, str] | None = None) -> int:
    """The youngest generation's threshold ``HITL_GC_THRESHOLD`` asks for (``0``: leave it).

    Raises:
        ValueError: It is neither 0 nor a number of allocations (digits only) from
            700 to 1000000; the message names the setting. The server refuses to start.
    """
    env = os.environ if env is None else env
    within = range(GC_LOWEST, GC_HIGHEST + 1)
    zero = "the collector as the interpreter sets it"
    return _count(env, GC_SETTING, default=GC_DEFAULT, within=within, unit="allocations", zero=zero)


def tune_collector(threshold: int) -> bool:
    """Freeze what start-up left and collect every ``threshold`` allocations (0: nothing).

    Call it once start-up is done (everything loaded, recovery run): what is alive
    then stays out of every later collection.
    """
    if threshold == 0:
        logger.info("garbage collector left as the interpreter sets it (%s=0)", GC_SETTING)
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *GC_OLDER)
    logger.info(
        "garbage collector tuned: %d objects from start-up frozen, the youngest generation "
        "collected every %d allocations; %s=0 leaves it as the interpreter sets it",
        gc.get_freeze_count(),
        threshold,
        GC_SETTING,
    )
    return True
