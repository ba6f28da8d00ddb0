"""The JS SDK (``@langchain/langgraph-sdk`` under node) against a real server.

``tests/js/seed_flow.mjs`` runs the seed's expense flow with ``apiKey`` as the only
credential: ``runs.wait`` on a thread the run creates, streaming with
``__interrupt__`` in ``values`` and ``updates``, the requester's own answer
refused, and the manager's resume. The test set-up (``scripts/test.sh``) installs
node and the package (``tests/js/package-lock.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from scripts.devserver import ROOT
from tests.conftest import TOKENS

pytestmark = pytest.mark.integration

JS = ROOT / "tests" / "js"


def test_seed_flow_through_the_js_sdk(server):
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@langchain" / "langgraph-sdk").exists():
        pytest.skip(
            "node or tests/js/node_modules is missing: run scripts/test.sh (it installs both)"
        )
    env = {
        **os.environ,
        "LANGGRAPH_URL": server.url,
        "REQUESTER_KEY": TOKENS["alice"],
        "MANAGER_KEY": TOKENS["bob"],
    }
    env = {k: v for k, v in env.items() if k not in ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY")}
    proc = subprocess.run(
        [node, "seed_flow.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["small"] == "approved"
    assert seen["owner"] == "alice"
    assert seen["streamed"] == {
        "values": {"amount": 500, "role": "manager"},
        "updates": {"amount": 500, "role": "manager"},
    }
    assert seen["waiting"] == {"status": "interrupted", "waiting_for": "manager"}
    assert seen["own_answer"] is not None and "403" in seen["own_answer"]
    assert seen["final"] == {
        "status": "approved",
        "note": "Approved for Q4 conference",
        "by": "bob",
    }
    assert seen["unknown_key"] is not None and "401" in seen["unknown_key"]
