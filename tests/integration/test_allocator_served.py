"""A bad ``HITL_MALLOC_MMAP_THRESHOLD`` or ``HITL_GC_THRESHOLD`` stops a real server, naming it.

Both being set on a good server is checked by the served suite's log
(``tests/integration/test_wake.py``); what they do, by ``tests/unit/test_allocator.py``.
"""

from __future__ import annotations

import pytest

from scripts.devserver import DevServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("HITL_MALLOC_MMAP_THRESHOLD", "is not 0 (glibc's dynamic threshold)"),
        ("HITL_GC_THRESHOLD", "is not 0 (the collector as the interpreter sets it)"),
    ],
)
def test_a_bad_threshold_stops_the_server_naming_the_setting(setting, expected):
    server = DevServer(env={setting: "lots"})
    try:
        said = server.refusal()
        assert f"{setting}='lots' {expected}" in said, said
        assert "Traceback" not in said, said
    finally:
        server.cleanup()
