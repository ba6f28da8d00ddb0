"""Print or rewrite the Mermaid diagrams of docs/workflows.md from the compiled graphs.

Each diagram sits between ``<!-- diagram:<graph id> -->`` and ``<!-- /diagram -->``.
``--write`` updates the page in place; without it, exit 1 if any is stale.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "docs" / "workflows.md"
BLOCK = re.compile(r"(<!-- diagram:(\w+) -->\n)(.*?)(<!-- /diagram -->)", re.S)


def mermaid(graph_id: str) -> str:
    """Return the fenced Mermaid diagram of one exported graph (loaded as langgraph.json says)."""
    path, _, name = json.loads((ROOT / "langgraph.json").read_text())["graphs"][graph_id].partition(
        ":"
    )
    module = path.removeprefix("./").removesuffix(".py").replace("/", ".")
    graph = getattr(importlib.import_module(module), name)
    return "```mermaid\n" + graph.get_graph().draw_mermaid().strip() + "\n```\n"


def render(text: str) -> str:
    """Return ``text`` with every diagram block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + mermaid(m.group(2)) + m.group(4), text)


def graph_ids() -> list[str]:
    """The graph ids exported in langgraph.json."""
    return list(json.loads((ROOT / "langgraph.json").read_text())["graphs"])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    current = README.read_text()
    fresh = render(current)
    if "--write" in sys.argv:
        README.write_text(fresh)
    elif fresh != current:
        print("docs/workflows.md diagrams are stale: run `make diagrams`")
        sys.exit(1)
