"""The fence (graphs/common/fence.py): one table of private APIs and the versions they need.

Each entry exists at the installed versions, and is reported degraded (optional) or
refused (required) when its package's version is faked as unsupported or the private
thing is gone. The served start-up behaviour is in
tests/integration/test_fence_served.py.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import subprocess
import sys
import tomllib

import pytest

from graphs.common import fence
from scripts.devserver import ROOT

NAMES = [entry.name for entry in fence.ENTRIES]
OPTIONAL = {
    "debug-interrupts",
    "openapi-custom-spec",
    "run-queue-wake",
    "private-network-header",
    "runtime-index",
    "runtime-leftovers",
}
EMBEDDED_ONLY = {
    "run-queue-wake",
    "runtime-index",
    "runtime-leftovers",
    "recovery-runtime-records",
    "sqlite-checkpoint-tables",
}


pytestmark = pytest.mark.usefixtures("inside_a_server")


# -- the tables ----------------------------------------------------------------------------


def test_the_table_is_the_installed_versions():
    installed = {name: importlib.metadata.version(name) for name in fence.SUPPORTED}
    assert installed == fence.SUPPORTED, (
        "an installed version moved away from graphs/common/fence.py's SUPPORTED: check each "
        "entry of ENTRIES that depends on it (docs/operations.md, The fence), then update "
        "SUPPORTED, pyproject.toml and langgraph.deploy.json together"
    )


def test_every_entry_names_supported_packages_and_every_package_has_an_entry():
    used = {package for entry in fence.ENTRIES for package in entry.packages}
    assert used == set(fence.SUPPORTED)
    assert len(set(NAMES)) == len(NAMES)
    for entry in fence.ENTRIES:
        assert entry.uses and entry.used_by and entry.degrades, entry.name
        for path in re.findall(r"[\w/]+\.py", entry.used_by):
            assert (ROOT / path).exists(), (entry.name, path)
    assert {e.name for e in fence.ENTRIES if not e.required} == OPTIONAL
    assert {e.name for e in fence.ENTRIES if e.embedded_only} == EMBEDDED_ONLY


def test_pyproject_pins_exactly_the_supported_versions_for_production_too():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(r.split("==") for r in project["dependencies"] if "==" in r)
    assert {name: pins.get(name) for name in fence.SUPPORTED} == fence.SUPPORTED
    for extra in project.get("optional-dependencies", {}).values():
        names = {re.split(r"[<>=!~\[;\s]", r)[0] for r in extra}
        assert not names & set(fence.SUPPORTED), extra  # a cap in an extra misses production


# -- one test per entry ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_entry_exists_at_the_installed_version(name):
    found = fence.finding(name)
    assert found.status == "ok", found.line()


@pytest.mark.parametrize("name", NAMES)
def test_entry_on_a_faked_unsupported_version(name):
    entry = next(e for e in fence.ENTRIES if e.name == name)
    package = entry.packages[0]
    found = fence.finding(name, versions={package: "0.0.1"})
    assert found.status == ("refused" if entry.required else "degraded")
    assert f"{package} is 0.0.1, supported: {fence.SUPPORTED[package]}" in found.reason
    assert entry.degrades in found.line()
    missing = fence.finding(name, versions={package: None})
    assert missing.status == found.status and f"{package} is not installed" in missing.reason


@pytest.mark.parametrize("name", NAMES)
def test_entry_whose_private_thing_is_gone(name, monkeypatch):
    entry = next(e for e in fence.ENTRIES if e.name == name)
    if entry.probe is None:
        pytest.skip("behaviour, not a symbol: only the version is checked")

    def gone() -> None:
        raise AttributeError("renamed upstream")

    replaced = tuple(dataclasses.replace(e, probe=gone) if e is entry else e for e in fence.ENTRIES)
    monkeypatch.setattr(fence, "ENTRIES", replaced)
    found = fence.finding(name)
    assert found.status == ("refused" if entry.required else "degraded")
    assert "renamed upstream" in found.reason


@pytest.mark.parametrize("name", sorted(EMBEDDED_ONLY))
def test_embedded_only_entries_are_unused_on_a_deployed_server(name):
    found = fence.finding(name, embedded=False, versions={"langgraph-runtime-inmem": "0.0.1"})
    assert found.status == "unused"


# -- the report and the refusal ------------------------------------------------------------


def test_a_required_mismatch_is_refused_naming_package_installed_and_supported():
    findings = fence.check(versions={"langgraph-checkpoint-sqlite": "9.9.9"})
    message = fence.unsupported_message(findings)
    assert message.startswith("refusing to start")
    assert "sqlite-checkpoint-tables" in message
    assert "langgraph-checkpoint-sqlite is 9.9.9, supported: 3.1.2" in message
    assert "graphs/common/fence.py" in message
    assert fence.unsupported_message(fence.check()) == ""
    # An optional entry alone never refuses.
    wake_only = fence.check(names=["run-queue-wake"], versions={"langgraph-runtime-inmem": "0"})
    assert wake_only[0].status == "degraded" and fence.unsupported_message(wake_only) == ""


def test_require_raises_on_a_refused_entry(monkeypatch):
    fence.require("sqlite-checkpoint-tables")
    real = fence.installed
    monkeypatch.setattr(fence, "installed", lambda p: "0.0.1" if "sqlite" in p else real(p))
    with pytest.raises(fence.Unsupported, match="langgraph-checkpoint-sqlite is 0.0.1"):
        fence.require("sqlite-checkpoint-tables")
    # An optional entry is not a reason to refuse to start, but require() still says why.
    monkeypatch.setattr(fence, "installed", lambda p: "0.0.1" if "inmem" in p else real(p))
    with pytest.raises(fence.Unsupported, match="run-queue-wake degraded: .*is 0.0.1"):
        fence.require("run-queue-wake")


# -- the accessors ---------------------------------------------------------------------------


def test_accessors_reach_the_private_things():
    from langchain.agents.middleware import human_in_the_loop
    from langgraph._internal._constants import CONFIG_KEY_CHECKPOINT_NS
    from langgraph.types import _interrupt_id
    from langgraph_runtime_inmem import ops

    connect, threads = fence.runtime_threads()
    assert threads is ops.Threads and callable(connect)
    assert fence.inmem_ops() is ops
    assert hasattr(fence.openapi_module(), "set_custom_spec")
    assert fence.CONFIG_KEY_CHECKPOINT_NS == CONFIG_KEY_CHECKPOINT_NS
    assert fence.interrupt_id("a:b", 0) == _interrupt_id("a:b", 0)
    schema = fence.decision_schema(["approve", "reject"], "pay", None)
    expected = human_in_the_loop._decision_schema(["approve", "reject"], "pay", None)
    assert repr(schema) == repr(expected)
    assert hasattr(fence.with_user(None, None), "__aenter__")
    with pytest.raises(AttributeError):
        _ = fence.NOT_THERE


def test_importing_the_fence_loads_none_of_what_it_fences():
    code = (
        "import sys, graphs.common.fence; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'langgraph_api', 'langgraph_runtime', 'langgraph_runtime_inmem', 'langgraph', "
        "'langchain', 'sqlite3'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


PRIVATE = re.compile(
    r"^\s*(?:from|import)\s+(?:langgraph_api|langgraph_runtime|langgraph_runtime_inmem)\b"
    # a private name of another project (the project's own modules may share theirs)
    r"|^\s*from\s+(?!(?:graphs|server|sdk_client|scripts|benchmarks)\b)[\w.]+\s+import\s+"
    r"(?:\(?\s*)?(?:[\w ,]*,\s*)?_[a-zA-Z]"
    r"|\._internal\b"
    r"|import_module\(\s*[\"'](?:langgraph_api|langgraph_runtime)",
    re.M,
)


def test_no_private_api_is_reached_around_the_fence():
    found = []
    for folder in ("graphs", "server", "sdk_client", "scripts", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "graphs" / "common" / "fence.py":
                continue
            for match in PRIVATE.finditer(path.read_text()):
                found.append(f"{path.relative_to(ROOT)}: {match[0].strip()}")
    assert not found, "private APIs outside graphs/common/fence.py:\n" + "\n".join(found)
