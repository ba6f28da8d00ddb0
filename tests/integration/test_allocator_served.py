"""A bad ``HITL_MALLOC_MMAP_THRESHOLD`` stops a real server before it serves, naming it.

The threshold being set on a good server is checked by the served suite's log
(``tests/integration/test_wake.py``); what it does, by ``tests/unit/test_allocator.py``.
"""

from __future__ import annotations

import pytest

from scripts.devserver import DevServer

pytestmark = pytest.mark.integration


def test_a_bad_threshold_stops_the_server_naming_the_setting():
    server = DevServer(env={"HITL_MALLOC_MMAP_THRESHOLD": "lots"})
    try:
        said = server.refusal()
        expected = "HITL_MALLOC_MMAP_THRESHOLD='lots' is not 0 (glibc's dynamic threshold)"
        assert expected in said, said
    finally:
        server.cleanup()
