"""The README stays true: its two commands, its Files table, and the workflow diagrams."""

import re
import subprocess

from scripts.devserver import ROOT
from scripts.diagrams import BLOCK, README, graph_ids, render

MAIN = ROOT / "README.md"


def test_every_graph_has_a_current_diagram():
    text = README.read_text()
    documented = [m.group(2) for m in BLOCK.finditer(text)]
    assert sorted(documented) == sorted(graph_ids()), "each exported graph needs a diagram"
    assert render(text) == text, "docs/workflows.md diagrams are stale: run `make diagrams`"


def test_readme_names_the_two_commands():
    text = MAIN.read_text()
    assert "bash scripts/demo.sh" in text
    assert "bash scripts/test.sh" in text
    assert re.search(r"bash scripts/test\.sh", (ROOT / ".ci" / "run").read_text())


def files_table() -> list[str]:
    """Every path the README's Files table names."""
    section = MAIN.read_text().split("## Files", 1)[1]
    return [
        p
        for row in section.splitlines()
        if row.startswith("| `")
        for p in re.findall(r"`([^`]+)`", row.split("|")[1])
    ]


def test_the_files_table_lists_what_exists_and_every_module():
    listed = files_table()
    assert [p for p in listed if not (ROOT / p).exists()] == []
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    modules = [
        p
        for p in tracked
        if p.endswith(".py")
        and p.split("/")[0] in ("graphs", "server", "sdk_client", "scripts", "benchmarks")
    ]
    covered = [
        m for m in modules if any(m == p or m.startswith(p.rstrip("/") + "/") for p in listed)
    ]
    assert sorted(set(modules) - set(covered)) == [], "add these to the README's Files table"
    pages = [p for p in tracked if p.startswith("docs/") and p.endswith(".md")]
    text = MAIN.read_text()
    assert [p for p in pages if p not in text] == [], "link every docs/ page from the README"
