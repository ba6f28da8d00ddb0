"""The README's diagrams are generated from the graphs and kept current."""

import re

from scripts.diagrams import BLOCK, README, graph_ids, render


def test_every_graph_has_a_current_diagram():
    text = README.read_text()
    documented = [m.group(2) for m in BLOCK.finditer(text)]
    assert sorted(documented) == sorted(graph_ids()), "each exported graph needs a diagram"
    assert render(text) == text, "README diagrams are stale: run `make diagrams`"


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "bash scripts/demo.sh" in text
    assert "bash scripts/test.sh" in text
    assert re.search(r"bash scripts/test\.sh", (README.parent / ".ci" / "run").read_text())
