"""The type checker, strict on ``graphs/`` and ``server/`` (``[tool.mypy]`` in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from scripts.devserver import ROOT


def test_graphs_and_server_type_check_strictly():
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert found.returncode == 0, found.stdout + found.stderr
