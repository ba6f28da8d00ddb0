"""A newcomer's first hour (issue 25): a quiet start, pointers where people land."""

from __future__ import annotations

import re

import httpx
import pytest

from scripts.devserver import DevServer

pytestmark = pytest.mark.integration

ALARMING = re.compile(r"traceback|\bwarning\b|\berror\b|exception", re.I)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def test_a_clean_start_prints_no_traceback_and_no_warning():
    with DevServer() as dev:
        assert httpx.get(f"{dev.url}/ok").status_code == 200
        said = COLOUR.sub("", dev.log_path.read_text(errors="replace"))
    alarming = [line for line in said.splitlines() if ALARMING.search(line)]
    assert not alarming, "\n".join(alarming)


def test_the_root_points_to_the_inbox_and_the_docs(server):
    answer = httpx.get(f"{server.url}/").json()
    assert answer == {"ok": True, "inbox": "/inbox", "docs": "/docs"}


def test_the_sign_in_page_names_the_development_tokens(server):
    page = httpx.get(f"{server.url}/inbox").text
    assert 'id="dev-users"' in page
    for user, token in (("bob (manager)", "dev-bob"), ("erin (admin)", "dev-erin")):
        assert f"{user}: <code>{token}</code>" in page
