"""The user table comes from configuration and is checked strictly."""

import logging

import pytest

from server import auth


def test_parse_users():
    users = auth.parse_users("alice:employee:t1, bob:manager:t2")
    assert [(u.identity, u.role, u.token) for u in users] == [
        ("alice", "employee", "t1"),
        ("bob", "manager", "t2"),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("alice:employee", "not name:role:token"),
        ("alice:boss:t1", "unknown role"),
        ("alice:employee:t1,alice:manager:t2", "repeats"),
        ("alice:employee:t1,bob:manager:t1", "repeats"),
        ("alice::t1", "not name:role:token"),
    ],
)
def test_bad_user_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        auth.parse_users(spec)


def test_example_tokens_outside_dev_warn_loudly(monkeypatch, caplog):
    monkeypatch.setenv("HITL_USERS", "alice:employee:dev-alice")
    monkeypatch.delenv("LANGSMITH_LANGGRAPH_API_VARIANT", raising=False)
    with caplog.at_level(logging.WARNING):
        auth.load_users()
    assert "INSECURE" in caplog.text


def test_example_tokens_under_langgraph_dev_do_not_warn(monkeypatch, caplog):
    monkeypatch.setenv("HITL_USERS", "alice:employee:dev-alice")
    monkeypatch.setenv("LANGSMITH_LANGGRAPH_API_VARIANT", "local_dev")
    with caplog.at_level(logging.WARNING):
        auth.load_users()
    assert "INSECURE" not in caplog.text


def test_find_user_matches_whole_tokens_only(monkeypatch):
    monkeypatch.setattr(auth, "USERS", auth.parse_users("alice:employee:secret"))
    assert auth.find_user("secret").identity == "alice"
    assert auth.find_user("secre") is None
    assert auth.find_user("secret2") is None
