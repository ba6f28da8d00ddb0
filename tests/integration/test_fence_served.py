"""The fence at start-up, on a real server with a faked unsupported version.

The version is faked without any switch in the product: the server runs with a
``sitecustomize.py`` of this test's own on ``PYTHONPATH``, which wraps
``graphs.common.fence.check`` so that the named entries (all, or one) see the fake
versions, exactly as the unit tests call ``check(versions=...)``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from scripts.devserver import ROOT, DevServer

pytestmark = pytest.mark.integration


def faking(tmp_path: Path, versions: dict[str, str], entries: list[str] | None = None) -> dict:
    """The environment of a server whose fence sees ``versions`` (for ``entries``, or all)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""\
            from graphs.common import fence

            _check = fence.check


            def check(**kwargs):
                kwargs.pop("versions", None)
                real = _check(**kwargs)
                fake = _check(**kwargs, versions={versions!r})
                return [
                    b if {entries!r} is None or a.entry.name in {entries!r} else a
                    for a, b in zip(real, fake)
                ]


            fence.check = check
            """
        )
    )
    return {"PYTHONPATH": f"{shim}:{ROOT}"}


def test_a_required_entry_on_an_unsupported_version_refuses_to_start_and_says_why(tmp_path):
    server = DevServer(env=faking(tmp_path, {"langgraph-checkpoint-sqlite": "0.0.1"}))
    try:
        said = server.refusal()
    finally:
        server.cleanup()
    assert server.proc.returncode == 1, said[-3000:]
    assert "error: refusing to start" in said, said[-3000:]
    assert "sqlite-checkpoint-tables" in said
    assert "langgraph-checkpoint-sqlite is 0.0.1, supported: 3.1.2" in said
    assert "graphs/common/fence.py" in said
    assert "recovering" not in said.lower() and "reconciling" not in said  # never reached


def test_an_optional_entry_on_an_unsupported_version_degrades_and_serves(tmp_path):
    env = faking(tmp_path, {"langgraph-runtime-inmem": "0.0.1"}, entries=["run-queue-wake"])
    with DevServer(env=env) as server:
        assert httpx.get(f"{server.url}/ok", timeout=10).status_code == 200
        assert httpx.get(f"{server.url}/", timeout=10).json()["ok"] is True
        said = server.log_path.read_text(errors="replace")
    assert "fence: run-queue-wake degraded" in said, said[-3000:]
    assert "langgraph-runtime-inmem is 0.0.1, supported: 0.36.7" in said
    assert "0.5 s queue poll" in said
    assert "run-queue wake installed" not in said  # the stock queue serves
    assert "refusing to start" not in said
