"""The README's console examples, run as written against a fresh server.

Each ``$ hitl ...`` line runs in order; ``<thread>`` and the elided ids (``01a230c0-…``)
stand for the thread the block's first command created. A command whose shown output
is an ``error:`` must fail (exit 1) with that message; any other must succeed and
print what is shown (``…`` stands for anything; lines with dates are not compared).
"""

from __future__ import annotations

import re
import shlex

import pytest

from scripts.devserver import ROOT, DevServer
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

BLOCK = re.compile(r"```console\n(.*?)```", re.S)
ELIDED_ID = re.compile(r"<thread>|\b[0-9a-f]{8}-…")
DATED = re.compile(r"\d{4}-\d\d-\d\d")


def examples() -> list[list[tuple[list[str], list[str]]]]:
    """Each console block of the README: its commands, each with the output shown."""
    blocks = []
    for block in BLOCK.findall((ROOT / "README.md").read_text()):
        steps: list[tuple[list[str], list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((shlex.split(line[2:], comments=True), []))
            elif steps:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def shown(line: str) -> re.Pattern[str]:
    """An output line as a pattern: ``…`` matches anything, spacing is loose."""
    line = re.sub(r"\b[0-9a-f]{8}-?…", "…", line)  # ids differ from run to run
    parts = [re.escape(p.strip()) for p in line.split("…")]
    return re.compile(r"\s+".join(".*".join(parts).split(r"\ ")))


def test_the_readme_examples_run_as_written():
    blocks = examples()
    assert len(blocks) >= 2 and all(blocks), "the README lost its console examples"
    with DevServer() as server:
        for steps in blocks:
            thread = None
            for argv, output in steps:
                assert argv[0] == "hitl", argv
                args = [thread if ELIDED_ID.fullmatch(a) else a for a in argv[1:]]
                proc = run_cli(server.url, *args, user=None)
                said = proc.stdout + proc.stderr
                thread = thread or re.match(r"thread (\S+) \[", proc.stdout).group(1)
                failing = any(line.startswith("error:") for line in output)
                assert proc.returncode == (1 if failing else 0), (argv, said)
                for line in output:
                    if line.strip() and not DATED.search(line) and "WORKFLOW" not in line:
                        assert shown(line).search(said), (argv, line, said)
