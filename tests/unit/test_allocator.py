"""The fixed mmap threshold and the tuned collector (``server/allocator.py``), in fresh processes.

glibc's dynamic threshold is observable: once an 8-MiB block is freed, a 1-MiB
block comes from the heap (``mallinfo2().hblks``, the count of mmapped blocks,
does not grow); with the threshold fixed below 1 MiB it is mmapped again, so
freeing it gives it back. The served suite runs with it (``malloc mmap threshold
fixed`` in its log, ``tests/integration/test_wake.py``).

The collector is observed the same way, in a fresh process: after tuning, what
start-up made is frozen, and cycles made later are still found and freed by the
collector's own runs, with no ``gc.collect()`` call.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server import allocator
from server.allocator import GC_HIGHEST, GC_LOWEST, GC_SETTING, HIGHEST, LOWEST, SETTING

ROOT = Path(__file__).resolve().parents[2]
GLIBC = hasattr(ctypes.CDLL(None), "mallinfo2")
needs_glibc = pytest.mark.skipif(
    not GLIBC, reason="this C library is not glibc >= 2.33 (no mallinfo2): nothing to observe"
)

PROBE = """
import ctypes, sys
from server import allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
freed = bytearray(8 << 20)  # mmapped, and freed: glibc raises its threshold to 8 MiB
del freed
installed = allocator.install() if sys.argv[1] == "install" else None
before = libc.mallinfo2().hblks
block = bytearray(1 << 20)
print(installed, libc.mallinfo2().hblks - before)
"""


def probe(mode: str, setting: str | None = None) -> tuple[str, int]:
    """What ``install()`` returned (``None``: not called) and the mmapped blocks a 1-MiB block adds.

    The probe's environment has none of glibc's own malloc settings, whatever the
    caller's shell has.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD", SETTING))
    }
    if setting is not None:
        env[SETTING] = setting
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    installed, added = done.stdout.split()
    return installed, int(added)


@needs_glibc
def test_glibc_alone_serves_a_large_block_from_the_heap_after_a_larger_one_is_freed():
    assert probe("stock") == ("None", 0)


@needs_glibc
def test_the_fixed_threshold_mmaps_it_again():
    assert probe("install") == ("True", 1)


@needs_glibc
@pytest.mark.parametrize(
    ("setting", "expected"), [("524288", ("True", 1)), ("2097152", ("True", 0))]
)
def test_the_threshold_is_the_size_the_setting_names(setting, expected):
    assert probe("install", setting) == expected


@needs_glibc
def test_zero_leaves_glibc_dynamic():
    assert probe("install", "0") == ("False", 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 128 * 1024), ("", 128 * 1024), ("0", 0), ("262144", 262144), (str(HIGHEST), HIGHEST)],
)
def test_the_threshold_the_setting_asks_for(raw, expected):
    assert allocator.threshold({} if raw is None else {SETTING: raw}) == expected


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("lots", "is not 0"),
        ("1e6", "is not 0"),
        ("²", "is not 0"),
        ("-1", "is not 0"),
        ("4096", "is refused"),
        (str(LOWEST - 1), "is refused"),
        (str(HIGHEST + 1), "is refused"),
    ],
)
def test_a_bad_threshold_is_refused_naming_the_setting(raw, said):
    with pytest.raises(ValueError, match=f"{SETTING}='{raw}' {said}"):
        allocator.install({SETTING: raw})


@pytest.mark.parametrize(
    "env",
    [
        {"MALLOC_MMAP_THRESHOLD_": "65536"},
        {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=65536"},
    ],
)
def test_a_threshold_the_operator_gave_glibc_is_left_alone(monkeypatch, caplog, env):
    called = []
    monkeypatch.setattr(allocator, "_mallopt", lambda: lambda *args: called.append(args) or 1)
    with caplog.at_level(logging.INFO, logger="server.allocator"):
        assert allocator.install(env) is False
    assert called == []
    assert "left as" in caplog.text


@pytest.mark.parametrize(
    ("mallopt", "said"),
    [(None, "the C library has no mallopt"), (lambda *args: 0, "mallopt refused 131072 bytes")],
)
def test_without_a_working_mallopt_the_log_says_not_set(monkeypatch, caplog, mallopt, said):
    monkeypatch.setattr(allocator, "_mallopt", lambda: mallopt)
    with caplog.at_level(logging.INFO, logger="server.allocator"):
        assert allocator.install({}) is False
    assert f"malloc mmap threshold not set: {said}" in caplog.text
    assert "fixed" not in caplog.text


COLLECTOR = """
import gc, json, sys, weakref
from server import allocator

class Node:
    pass

started = [Node() for _ in range(1000)]  # what start-up made, alive
tuned = allocator.tune_collector(int(sys.argv[1]))
frozen = gc.get_freeze_count()
first = Node()
first.me = first  # a cycle, garbage as soon as the name goes
gone = weakref.ref(first)
del first
for _ in range(200_000):  # cycles made while serving: the collector's own runs free them
    node = Node()
    node.me = node
print(json.dumps({"tuned": tuned, "frozen": frozen, "threshold": gc.get_threshold(),
                  "freed": gone() is None, "started": all(gc.is_tracked(n) for n in started)}))
"""


def collector(threshold: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", COLLECTOR, str(threshold)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_tuned_collector_freezes_start_up_and_still_frees_later_cycles():
    seen = collector(20_000)
    assert seen["tuned"] is True
    assert seen["frozen"] > 1000  # start-up's objects (the 1,000 nodes and the modules')
    assert seen["threshold"] == [20_000, *allocator.GC_OLDER]
    assert seen["freed"] is True  # no gc.collect(): the youngest generation's runs found it
    assert seen["started"] is True  # frozen objects stay alive and tracked


def test_zero_leaves_the_collector_as_the_interpreter_sets_it():
    seen = collector(0)
    assert seen["tuned"] is False
    assert seen["frozen"] == 0
    assert seen["threshold"] == list(gc.get_threshold())  # the interpreter's, as here
    assert seen["freed"] is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 20_000), ("", 20_000), ("0", 0), ("5000", 5000), (str(GC_HIGHEST), GC_HIGHEST)],
)
def test_the_collector_threshold_the_setting_asks_for(raw, expected):
    assert allocator.collector_threshold({} if raw is None else {GC_SETTING: raw}) == expected


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("often", "is not 0 (the collector as the interpreter sets it) or a number of allocations"),
        ("2e4", "is not 0"),
        ("-700", "is not 0"),
        (str(GC_LOWEST - 1), "is refused: it must be 0"),
        (str(GC_HIGHEST + 1), "is refused"),
    ],
)
def test_a_bad_collector_threshold_is_refused_naming_the_setting(raw, said):
    with pytest.raises(ValueError, match=re.escape(f"{GC_SETTING}='{raw}' {said}")):
        allocator.collector_threshold({GC_SETTING: raw})
