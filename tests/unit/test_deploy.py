"""Deployment: the embedded vs deployed persistence switch, the Dockerfile and compose files.

No Docker daemon is needed: the Dockerfiles come from ``langgraph dockerfile``, the
compose file ``langgraph up`` would run from the CLI's own generator, and every
compose file is validated against the Compose Specification (``compose-spec``)
after interpolating its variables the way ``docker compose`` does.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose
from dotenv import dotenv_values
from langgraph_cli.cli import prepare_args_and_stdin
from langgraph_cli.config import validate_config_file
from langgraph_cli.docker import DEFAULT_POSTGRES_URI, DockerCapabilities, Version, compose_as_dict
from sqlalchemy import make_url

from graphs.common import fence, store
from scripts.devserver import LANGGRAPH, ROOT

DEV_CONFIG = ROOT / "langgraph.json"
DEPLOY_CONFIG = ROOT / "langgraph.deploy.json"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
UP_OVERRIDE = ROOT / "deploy" / "up.override.yml"
IMAGE = "hitl-workflows"
BUILD = f"langgraph build -t {IMAGE} -c langgraph.deploy.json"
DOCKER = DockerCapabilities(Version(27, 3, 1), Version(2, 29, 7), healthcheck_start_interval=True)
SERVICES = {"langgraph-postgres", "langgraph-redis", "langgraph-api"}
PINNED_IMAGE = f"langchain/langgraph-api:{fence.SUPPORTED['langgraph-api']}-py3.11"
"""The server image: the langgraph-api version graphs/common/fence.py supports."""


# -- the persistence switch ---------------------------------------------------------


def test_deploy_config_is_the_dev_config_without_the_checkpointer():
    dev = json.loads(DEV_CONFIG.read_text())
    deploy = json.loads(DEPLOY_CONFIG.read_text())
    assert dev["checkpointer"] == {"path": "./server/checkpointer.py:sqlite_checkpointer"}
    pins = {"api_version"}  # the image pin (`langgraph dev` ignores it)
    assert {k: v for k, v in dev.items() if k != "checkpointer"} == {
        k: v for k, v in deploy.items() if k not in pins
    }
    assert "checkpointer" not in deploy and "store" not in deploy
    validate_config_file(DEPLOY_CONFIG)
    validate_config_file(DEV_CONFIG)


def dockerfile(config: Path, tmp_path: Path) -> str:
    out = tmp_path / f"{config.stem}.Dockerfile"
    proc = subprocess.run(
        [str(LANGGRAPH), "dockerfile", "-c", str(config), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


def env_lines(text: str) -> dict[str, dict]:
    """The ``ENV NAME='<json>'`` lines of a generated Dockerfile."""
    return {m[1]: json.loads(m[2]) for m in re.finditer(r"^ENV (\w+)='(.*)'$", text, re.M)}


def test_only_the_dev_config_bakes_the_sqlite_checkpointer_into_an_image(tmp_path):
    dev = dockerfile(DEV_CONFIG, tmp_path)
    deploy = dockerfile(DEPLOY_CONFIG, tmp_path)
    assert "LANGGRAPH_CHECKPOINTER" in dev
    assert env_lines(dev)["LANGGRAPH_CHECKPOINTER"]["path"].endswith(
        "server/checkpointer.py:sqlite_checkpointer"
    )
    assert "LANGGRAPH_CHECKPOINTER" not in deploy and "sqlite" not in deploy.lower()
    dev_env, deploy_env = env_lines(dev), env_lines(deploy)
    dev_env.pop("LANGGRAPH_CHECKPOINTER")
    assert dev_env == deploy_env  # everything else identical


def test_deploy_dockerfile_serves_every_graph_auth_and_app_from_the_project(tmp_path):
    text = dockerfile(DEPLOY_CONFIG, tmp_path)
    deps = f"/deps/{ROOT.name}"  # the CLI names the package after the project folder
    assert text.startswith(f"FROM {PINNED_IMAGE}\n")
    assert f"ADD . {deps}" in text
    assert "uv pip install --system --no-cache-dir -c /api/constraints.txt -e ." in text
    assert text.rstrip().endswith(f"WORKDIR {deps}")
    env = env_lines(text)
    assert set(env) == {"LANGSERVE_GRAPHS", "LANGGRAPH_AUTH", "LANGGRAPH_HTTP"}
    config = json.loads(DEPLOY_CONFIG.read_text())
    assert set(env["LANGSERVE_GRAPHS"]) == set(config["graphs"])
    targets = [*env["LANGSERVE_GRAPHS"].values(), env["LANGGRAPH_AUTH"]["path"]]
    targets.append(env["LANGGRAPH_HTTP"]["app"])
    for target in targets:
        path, attr = target.split(":")
        assert path.startswith(f"{deps}/")
        source = ROOT / path.removeprefix(f"{deps}/")
        assert re.search(rf"^{attr}\b.*=", source.read_text(), re.M), target
    assert env["LANGGRAPH_HTTP"]["enable_custom_route_auth"] is True


def test_the_server_image_is_pinned_to_the_langgraph_api_the_fence_supports(tmp_path):
    deploy = json.loads(DEPLOY_CONFIG.read_text())
    assert deploy["api_version"] == fence.SUPPORTED["langgraph-api"]
    assert ":" not in deploy.get("base_image", "")  # the CLI appends the tag itself
    text = dockerfile(DEPLOY_CONFIG, tmp_path)
    assert text.splitlines()[0] == f"FROM {PINNED_IMAGE}"
    assert ":3.11\n" not in text  # not the floating tag
    # The project installs with the fence's pins, into the image too (`-e .`).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for package, version in fence.SUPPORTED.items():
        assert f"{package}=={version}" in project["dependencies"], package


def test_deploy_docs_name_the_pin():
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert '"api_version"' in text and "graphs/common/fence.py" in text
    assert fence.SUPPORTED["langgraph-api"] in text


@pytest.mark.parametrize(
    ("edition", "checkpointer", "embedded"),
    [
        ("inmem", "dev", True),  # langgraph dev on langgraph.json
        ("inmem", None, False),  # langgraph dev -c langgraph.deploy.json: in-memory, no recovery
        ("postgres", None, False),  # the deploy image on LangGraph Server
        ("postgres", "dev", False),  # even the wrong config never runs SQLite recovery there
    ],
)
def test_start_up_recovery_runs_only_on_the_embedded_sqlite_checkpointer(
    tmp_path, monkeypatch, edition, checkpointer, embedded
):
    from graphs.common.fence import embedded as fence_embedded

    monkeypatch.setenv("LANGGRAPH_RUNTIME_EDITION", edition)
    if checkpointer:
        value = json.dumps(json.loads(DEV_CONFIG.read_text())["checkpointer"])
        monkeypatch.setenv("LANGGRAPH_CHECKPOINTER", value)
    else:
        monkeypatch.delenv("LANGGRAPH_CHECKPOINTER", raising=False)
    assert fence_embedded() is embedded


def test_the_repair_sweep_skips_threads_listing_no_interrupts_only_on_the_embedded_server(
    monkeypatch,
):
    """The in-memory runtime keeps a cut-short run's interrupts; a deployed one is not known to."""
    from server.repair import cut_short

    value = json.dumps(json.loads(DEV_CONFIG.read_text())["checkpointer"])
    monkeypatch.setenv("LANGGRAPH_RUNTIME_EDITION", "inmem")
    monkeypatch.setenv("LANGGRAPH_CHECKPOINTER", value)
    assert [cut_short({"interrupts": i}) for i in ({}, {"t": [{}]})] == [False, True]
    monkeypatch.setenv("LANGGRAPH_RUNTIME_EDITION", "postgres")
    assert [cut_short({"interrupts": i}) for i in ({}, {"t": [{}]})] == [True, True]


# -- project-owned state: SQLite by default, Postgres by URL, one code path -------------


def test_ledger_is_sqlite_by_default_and_any_url_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HITL_LEDGER_URL", raising=False)
    assert store.store_url() == f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert store.engine().dialect.name == "sqlite"
    monkeypatch.setenv("HITL_LEDGER_URL", "postgresql+psycopg://u:p@db:5432/x")
    assert store.store_url() == "postgresql+psycopg://u:p@db:5432/x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            DEFAULT_POSTGRES_URI,
            DEFAULT_POSTGRES_URI.replace("postgres://", "postgresql+psycopg://"),
        ),
        ("postgresql://u:p%40ss@h/db", "postgresql+psycopg://u:p%40ss@h/db"),
        ("postgresql+psycopg://u@h:6543/db", "postgresql+psycopg://u@h:6543/db"),
        ("sqlite:////tmp/a b/ledger.sqlite", "sqlite:////tmp/a b/ledger.sqlite"),
    ],
)
def test_libpq_urls_get_the_psycopg3_driver(url, expected):
    assert store.engine_url(url) == expected


# -- the self-hosted compose file ---------------------------------------------------------

VAR = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""

    def sub(m: re.Match) -> str:
        if m[0] == "$$":
            return "$"
        name = m[1] or m[4]
        value = env.get(name)
        op, arg = m[2], m[3]
        unset = value is None or (value == "" and op and op.startswith(":"))
        if op and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return value or ""

    return VAR.sub(sub, text)


def example_env() -> dict[str, str]:
    return {k: v or "" for k, v in dotenv_values(ENV_EXAMPLE).items()}


@pytest.fixture
def compose() -> dict:
    """deploy/docker-compose.yml as docker compose sees it, with deploy/.env.example."""
    text = interpolate(COMPOSE.read_text(), example_env())
    PyCompose.from_yaml(text)  # raises ValueError when not valid Compose
    return yaml.safe_load(text)


def test_compose_is_valid_compose_and_has_the_three_services(compose):
    assert set(compose["services"]) == SERVICES
    assert compose["volumes"] == {"langgraph-data": {}}
    postgres = compose["services"]["langgraph-postgres"]
    assert postgres["volumes"] == ["langgraph-data:/var/lib/postgresql/data"]
    assert "ports" not in postgres  # only the API reaches it


def test_the_services_and_images_match_what_langgraph_up_generates(compose):
    generated = compose_as_dict(DOCKER, port=8123)
    assert set(generated["services"]) == SERVICES
    for name in ("langgraph-postgres", "langgraph-redis"):
        assert compose["services"][name]["image"] == generated["services"][name]["image"]
    assert (
        compose["services"]["langgraph-postgres"]["command"]
        == generated["services"]["langgraph-postgres"]["command"]
    )
    api, gen_api = compose["services"]["langgraph-api"], generated["services"]["langgraph-api"]
    assert api["environment"]["REDIS_URI"] == gen_api["environment"]["REDIS_URI"]
    assert api["ports"] == [p.strip('"') for p in gen_api["ports"]] == ["8123:8000"]
    assert set(api["depends_on"]) == set(gen_api["depends_on"])


def test_every_service_is_healthchecked_and_the_api_waits_for_healthy_stores(compose):
    services = compose["services"]
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"] and check["interval"] and check["retries"] >= 3, name
    assert services["langgraph-redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "pg_isready" in services["langgraph-postgres"]["healthcheck"]["test"][1]
    api = services["langgraph-api"]
    assert api["depends_on"] == {
        "langgraph-redis": {"condition": "service_healthy"},
        "langgraph-postgres": {"condition": "service_healthy"},
    }
    probe = " ".join(api["healthcheck"]["test"])
    assert "http://localhost:8000/ok" in probe  # the server's own health endpoint
    assert api["restart"] == "unless-stopped"


def test_api_runs_the_built_image_with_server_licence_users_and_shared_stores(compose):
    api = compose["services"]["langgraph-api"]
    assert api["image"] == IMAGE
    assert BUILD in COMPOSE.read_text()
    env = api["environment"]
    for name in (
        "DATABASE_URI",
        "REDIS_URI",
        "LANGSMITH_API_KEY",
        "LANGGRAPH_CLOUD_LICENSE_KEY",
        "HITL_USERS",
        "HITL_LEDGER_URL",
    ):
        assert name in env, name
    assert "LANGGRAPH_CHECKPOINTER" not in env
    pg_env = compose["services"]["langgraph-postgres"]["environment"]
    server_db = make_url(env["DATABASE_URI"])
    ledger_db = make_url(store.engine_url(env["HITL_LEDGER_URL"]))
    for url in (server_db, ledger_db):  # the ledger lives in the server's own Postgres
        assert (url.host, url.port) == ("langgraph-postgres", 5432)
        assert (url.username, url.password) == (
            pg_env["POSTGRES_USER"],
            pg_env["POSTGRES_PASSWORD"],
        )
        assert url.database == pg_env["POSTGRES_DB"]
    assert ledger_db.drivername == "postgresql+psycopg"
    assert server_db.query == {"sslmode": "disable"}
    assert env["REDIS_URI"] == "redis://langgraph-redis:6379"
    assert api["env_file"] == ".env"


def test_required_secrets_have_no_default():
    env = example_env()
    for name in ("POSTGRES_PASSWORD", "HITL_USERS"):
        with pytest.raises(KeyError, match=name):
            interpolate(COMPOSE.read_text(), {k: v for k, v in env.items() if k != name})


def test_env_example_documents_every_variable_and_ships_no_dev_tokens():
    used = {m[1] or m[4] for m in VAR.finditer(COMPOSE.read_text()) if m[0] != "$$"}
    env = example_env()
    assert used <= set(env), used - set(env)
    for name in ("LANGSMITH_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY", "HITL_USERS"):
        assert name in env
    assert "dev-alice" not in ENV_EXAMPLE.read_text()
    assert BUILD in ENV_EXAMPLE.read_text()


# -- what `langgraph up -c langgraph.deploy.json -d deploy/up.override.yml` runs -----------


def merge(base: dict, extra: dict) -> dict:
    """Merge compose files as docker compose does for mappings (later wins)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def langgraph_up(config: Path) -> tuple[list[str], dict]:
    args, stdin = prepare_args_and_stdin(
        capabilities=DOCKER,
        config_path=config,
        config=validate_config_file(config),
        docker_compose=UP_OVERRIDE,
        port=8123,
        watch=False,
    )
    return args, yaml.safe_load(stdin)


def test_langgraph_up_puts_the_ledger_in_its_postgres_and_no_sqlite_checkpointer():
    args, generated = langgraph_up(DEPLOY_CONFIG)
    assert args == ["--project-directory", str(ROOT), "-f", str(UP_OVERRIDE), "-f", "-"]
    merged = merge(yaml.safe_load(UP_OVERRIDE.read_text()), generated)
    PyCompose.from_json(json.dumps(merged))
    assert set(merged["services"]) == SERVICES
    api = merged["services"]["langgraph-api"]
    assert api["environment"]["HITL_LEDGER_URL"] == api["environment"]["POSTGRES_URI"]
    assert api["environment"]["POSTGRES_URI"] == DEFAULT_POSTGRES_URI
    assert api["env_file"] == ".env"  # licence key and users, from langgraph.deploy.json
    assert "LANGGRAPH_CHECKPOINTER" not in api["build"]["dockerfile_inline"]
    _, with_dev_config = langgraph_up(DEV_CONFIG)
    inline = with_dev_config["services"]["langgraph-api"]["build"]["dockerfile_inline"]
    assert "LANGGRAPH_CHECKPOINTER" in inline  # why `langgraph up` must get the deploy config


# -- CI and docs -----------------------------------------------------------------------------


def test_the_test_command_installs_postgres_and_chromium_first():
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "bash scripts/test.sh"
    lines = (ROOT / "scripts" / "test.sh").read_text().splitlines()
    assert lines.index("bash scripts/system-packages.sh") < len(lines) - 1  # before pytest
    packages = (ROOT / "scripts" / "system-packages.sh").read_text()
    assert "/usr/lib/postgresql/*/bin/initdb" in packages
    assert "/usr/lib/chromium/chromium" in packages
    assert 'apt-get install -y -qq "${missing[@]}"' in packages


def test_deploy_docs_give_the_commands_and_variables():
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert text.startswith("# Deployment")
    for needle in (
        "langgraph dev",
        BUILD,
        "langgraph up -c langgraph.deploy.json -d deploy/up.override.yml",
        "docker compose -f deploy/docker-compose.yml",
        "LANGSMITH_API_KEY",
        "LANGGRAPH_CLOUD_LICENSE_KEY",
        "HITL_LEDGER_URL",
        "HITL_USERS",
        "replicas",
    ):
        assert needle in text, needle
