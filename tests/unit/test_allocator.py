"""The fixed mmap threshold (``server/allocator.py``), in fresh processes on this glibc.

glibc's dynamic threshold is observable: once a large block is freed, a smaller
large block comes from the heap (``mallinfo2().hblks``, the count of mmapped
blocks, does not grow); with the threshold fixed it is mmapped again, so freeing
it gives it back. The served suite runs with it (``malloc mmap threshold fixed``
in its log, ``tests/integration/test_wake.py``).
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from server import allocator
from server.allocator import MAX, SWITCH

ROOT = Path(__file__).resolve().parents[2]

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
if sys.argv[1] == "fixed":
    assert allocator.install(), "not installed"
before = libc.mallinfo2().hblks
block = bytearray(1 << 20)
print(libc.mallinfo2().hblks - before)
"""


def mmapped_blocks_for_one_mib(mode: str) -> int:
    """How many mmapped blocks a 1-MiB allocation adds after an 8-MiB one was freed."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(done.stdout.strip())


@pytest.fixture
def glibc() -> None:
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("this C library is not glibc >= 2.33 (no mallinfo2): nothing to observe")


def test_glibc_alone_serves_large_blocks_from_the_heap_after_a_larger_one_is_freed(glibc):
    assert mmapped_blocks_for_one_mib("stock") == 0


def test_the_fixed_threshold_mmaps_them_again(glibc):
    assert mmapped_blocks_for_one_mib("fixed") == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 128 * 1024), ("", 128 * 1024), ("0", 0), ("262144", 262144), (str(MAX), MAX)],
)
def test_the_threshold_the_environment_asks_for(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv(SWITCH, raising=False)
    else:
        monkeypatch.setenv(SWITCH, raw)
    assert allocator.threshold() == expected


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("lots", "is not a whole number"),
        ("1.5", "is not"),
        ("-1", "is refused"),
        (str(MAX + 1), "is refused"),
    ],
)
def test_a_bad_threshold_is_refused_naming_the_setting(monkeypatch, raw, said):
    monkeypatch.setenv(SWITCH, raw)
    with pytest.raises(ValueError, match=f"{SWITCH}='{raw}' {said}"):
        allocator.install()


def test_zero_leaves_glibc_alone(monkeypatch):
    monkeypatch.setenv(SWITCH, "0")
    assert allocator.install() is False
