"""The README, followed as a newcomer would: a fresh clone, then its commands as written.

The project is cloned (its committed state) into a temporary directory. In a fresh
shell each time (no venv activated: the inherited ``PATH`` without the test's
``.venv``), the README's first command (``bash scripts/demo.sh``: set-up and the
seed demo) runs, then ``make dev`` starts the server on the port ``HITL_PORT`` in
``.env`` names, and each ``$ ...`` line of the walk-through runs in order.
``<thread>`` and the elided ids (``01a230c0-…``) stand for the thread the block's
first command created. A command whose shown output is an ``error:`` must fail
(exit 1) with that message; any other must succeed and print what is shown (``…``
stands for anything; lines with dates are not compared). The README's second
command (``bash scripts/test.sh``) is the run this test is part of.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from scripts.devserver import ROOT, free_port

pytestmark = pytest.mark.integration

BLOCK = re.compile(r"```console\n(.*?)```", re.S)
ELIDED_ID = re.compile(r"<thread>|\b[0-9a-f]{8}-…")
DATED = re.compile(r"\d{4}-\d\d-\d\d")


def examples(readme: Path) -> list[list[tuple[str, list[str]]]]:
    """Each console block of the README: its command lines, each with the output shown."""
    blocks = []
    for block in BLOCK.findall(readme.read_text()):
        steps: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def shown(line: str) -> re.Pattern[str]:
    """An output line as a pattern: ``…`` matches anything, spacing is loose."""
    line = re.sub(r"\b[0-9a-f]{8}-?…", "…", line)  # ids differ from run to run
    parts = [re.escape(p.strip()) for p in line.split("…")]
    return re.compile(r"\s+".join(".*".join(parts).split(r"\ ")))


def fresh_shell(home: Path) -> dict[str, str]:
    """A new login's environment: no venv, nothing this test process set."""
    path = [p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p]
    return {
        "PATH": os.pathsep.join(path),
        "HOME": os.environ.get("HOME", str(home)),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }


def run(command: str, cwd: Path, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_readme_runs_as_written_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "hitl"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    shell = fresh_shell(tmp_path)
    demo = run("bash scripts/demo.sh", clone, shell, timeout=1200)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "approved" in demo.stdout and "rejected" in demo.stdout, demo.stdout[-2000:]
    assert "Traceback" not in demo.stdout + demo.stderr

    port = free_port()
    with (clone / ".env").open("a") as env_file:
        env_file.write(f"\nHITL_PORT={port}\n")  # the one setting, for make dev and hitl
    log = (tmp_path / "make-dev.log").open("wb")
    dev = subprocess.Popen(
        ["make", "dev"],
        cwd=clone,
        env=shell,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert dev.poll() is None, (tmp_path / "make-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "make dev did not serve on HITL_PORT"
            time.sleep(0.5)
        blocks = examples(clone / "README.md")
        assert len(blocks) >= 2 and all(blocks), "the README lost its console examples"
        for steps in blocks:
            thread = None
            for command, output in steps:
                assert shlex.split(command)[0] == ".venv/bin/hitl", command
                if thread:
                    command = ELIDED_ID.sub(thread, command)
                proc = run(command, clone, shell)
                said = proc.stdout + proc.stderr
                thread = thread or re.match(r"thread (\S+) \[", proc.stdout).group(1)
                failing = any(line.startswith("error:") for line in output)
                assert proc.returncode == (1 if failing else 0), (command, said)
                for line in output:
                    if line.strip() and not DATED.search(line) and "WORKFLOW" not in line:
                        assert shown(line).search(said), (command, line, said)
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(timeout=60)
        log.close()
