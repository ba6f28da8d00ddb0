"""The deployment configuration stays valid (no Docker daemon needed)."""

import json
import subprocess
import sys
from pathlib import Path

from tests.devserver import LANGGRAPH, ROOT


def test_langgraph_json_exports_every_graph_module():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    assert config["env"] == ".env"
    for graph_id, target in config["graphs"].items():
        assert target == f"./graphs/{graph_id}.py:graph"


def test_langgraph_dockerfile_generates(tmp_path: Path):
    out = tmp_path / "Dockerfile"
    proc = subprocess.run(
        [str(LANGGRAPH), "dockerfile", "-c", str(ROOT / "langgraph.json"), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("FROM langchain/langgraph-api")
    assert '"expense_approval": "/deps/' in text.replace("\\", "")
    assert sys.version_info >= (3, 11)
