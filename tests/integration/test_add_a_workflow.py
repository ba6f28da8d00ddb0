"""docs/add-a-workflow.md, followed step by step with the code the page shows.

The example module and its ``langgraph.json`` line are taken from the page as
they are; the module goes into a copy of the project's view (never into the
project), then runs in process and on a real ``langgraph dev``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

import graphs
from scripts.devserver import ROOT, TOKENS, DevServer

pytestmark = pytest.mark.integration

GUIDE = ROOT / "docs" / "add-a-workflow.md"


def example(name: str) -> str:
    """The code block the guide marks with ``<!-- example:<name> -->``."""
    found = re.search(rf"<!-- example:{re.escape(name)} -->\n```\w+\n(.*?)```", GUIDE.read_text(),
                      re.S)  # fmt: skip
    assert found, f"the guide has no example {name!r}"
    return found.group(1)


@pytest.fixture(scope="module")
def view() -> Path:
    """A server view whose graphs/ holds the project's graphs plus the guide's module."""
    root = Path(tempfile.mkdtemp(prefix="hitl-guide-"))
    (root / "graphs").mkdir()
    for entry in (ROOT / "graphs").iterdir():
        (root / "graphs" / entry.name).symlink_to(entry)
    (root / "graphs" / "purchase_request.py").write_text(example("purchase_request.py"))
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["graphs"].update(json.loads(example("langgraph.json"))["graphs"])
    (root / "langgraph.json").write_text(json.dumps(config, indent=2))
    return root


def test_the_guides_workflow_in_process(view, monkeypatch):
    monkeypatch.setattr(graphs, "__path__", [str(view / "graphs"), *graphs.__path__])
    monkeypatch.delitem(sys.modules, "graphs.purchase_request", raising=False)
    exec(compile(example("in-process"), "add-a-workflow.md", "exec"), {})  # noqa: S102
    module = sys.modules["graphs.purchase_request"]
    assert "review" in module.graph.get_graph().draw_mermaid()  # step 3 can draw it


def test_the_guides_workflow_on_a_real_server(view):
    with DevServer(root=view) as server:

        def sdk_as(user):
            headers = {"Authorization": f"Bearer {TOKENS[user]}"}
            return get_sync_client(url=server.url, headers=headers)

        exec(compile(example("served"), "add-a-workflow.md", "exec"), {"sdk_as": sdk_as})  # noqa: S102
        alice = sdk_as("alice")
        thread = alice.threads.create(metadata={"graph_id": "purchase_request"})["thread_id"]
        alice.runs.wait(thread, "purchase_request", input={"amount": 900, "item": "Desk"})
        refused = alice.runs.wait  # the requester may not answer her own pause
        with pytest.raises(Exception, match="403"):
            refused(thread, "purchase_request", command={"resume": {"decision": "approve"}})
        with pytest.raises(Exception, match="422"):  # its Request checks input at the door
            alice.runs.wait(alice.threads.create()["thread_id"], "purchase_request",
                            input={"amount": -1, "item": "x"})  # fmt: skip
