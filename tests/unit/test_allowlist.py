"""The door's allowlist (server.allowlist), in process: routes, roles, fields, values."""

from __future__ import annotations

import pytest

from server import allowlist


def check(method, path, role="employee", body=None, query=()):
    return allowlist.check(method, path, role, body, list(query))


def test_a_route_that_is_not_listed_is_not_served():
    refused = check("POST", "/threads/1/commands")
    assert (refused.status, refused.detail) == (
        404,
        "POST /threads/1/commands is not part of this server's API",
    )
    assert check("GET", "/threads/1") is None  # listed: templates match ids


def test_public_routes_answer_anyone_and_the_rest_needs_a_token():
    assert check("GET", "/ok", role="anonymous") is None
    assert check("GET", "/inbox/static/inbox.js", role="anonymous") is None
    assert check("GET", "/threads/1", role="anonymous").status == 401


@pytest.mark.parametrize("role", ["employee", "manager", "finance", "director"])
def test_admin_routes_name_the_role_and_the_reason(role):
    refused = check("GET", "/info", role=role)
    assert refused.status == 403 and f"not allowed for {role}: server details are for admins" in (
        refused.detail
    )
    assert check("GET", "/info", role="admin") is None


def test_a_field_not_named_is_refused_with_its_name_and_why():
    refused = check("POST", "/threads", body={"metadata": {}, "supersteps": []})
    assert refused.status == 403
    assert "body field 'supersteps' is not accepted (thread state is written" in refused.detail
    refused = check("POST", "/threads", body={"metadata": {}, "a_future_field": 1})
    assert "'a_future_field' is not accepted (accepted: if_exists, metadata, thread_id)" in (
        refused.detail
    )
    assert check("POST", "/threads", body={"metadata": {}, "if_exists": "do_nothing"}) is None


def test_values_are_named_too():
    run = {"assistant_id": "expense_approval", "input": {}}
    for field, value in [("multitask_strategy", "rollback"), ("durability", "exit")]:
        refused = check("POST", "/threads/1/runs/wait", body={**run, field: value})
        assert refused.status == 403 and field in refused.detail and repr(value) in refused.detail
    refused = check("POST", "/threads/1/runs/1/cancel", query=[("action", "rollback")])
    assert refused.status == 403 and "deletes the run and its checkpoints" in refused.detail
    refused = check("GET", "/threads/1/runs/1/join", query=[("cancel_on_disconnect", "true")])
    assert refused.status == 403 and "never cancels" in refused.detail
    assert check("GET", "/threads/1/runs/1/join", query=[("cancel_on_disconnect", "false")]) is None


def test_bulk_cancels_are_an_admins():
    refused = check("POST", "/runs/cancel", body={"status": "all"})
    assert refused.status == 403 and "admins only" in refused.detail
    assert check("POST", "/runs/cancel", role="admin", body={"status": "all"}) is None
    refused = check("POST", "/runs/cancel", body={"thread_id": "t"})
    assert refused.status == 422 and "run_ids" in refused.detail
    assert check("POST", "/runs/cancel", body={"thread_id": "t", "run_ids": ["r"]}) is None


def test_nobody_uses_a_closed_route_whatever_their_role():
    for role in ("employee", "admin"):
        refused = check("POST", "/threads/1/state", role=role, body={"values": {}})
        assert refused.status == 403 and "written by the workflows only" in refused.detail
