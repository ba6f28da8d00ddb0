"""Authentication and authorization over a real ``langgraph dev``."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import refused

pytestmark = pytest.mark.integration

GRAPH = "expense_approval"


@pytest.fixture
def waiting_expense(sdk_as):
    alice = sdk_as("alice")
    thread_id = alice.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
    alice.runs.wait(thread_id, GRAPH, input={"amount": 400, "description": "Trade fair"})
    return thread_id


def client_calls(sdk, thread_id):
    """Every call the project's client makes, against ``thread_id``."""
    return {
        "threads.create": lambda: sdk.threads.create(),
        "threads.get": lambda: sdk.threads.get(thread_id),
        "threads.search": lambda: sdk.threads.search(status="interrupted"),
        "threads.get_state": lambda: sdk.threads.get_state(thread_id),
        "threads.get_history": lambda: sdk.threads.get_history(thread_id, limit=1),
        "runs.list": lambda: sdk.runs.list(thread_id),
        "runs.wait (resume)": lambda: sdk.runs.wait(
            thread_id, GRAPH, command={"resume": {"decision": "approve"}}
        ),
        "runs.create (input)": lambda: sdk.runs.create(
            thread_id, GRAPH, input={"amount": 1, "description": "x"}
        ),
        "assistants.search": lambda: sdk.assistants.search(),
    }


def status_of(call):
    try:
        call()
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    except Exception as exc:  # langgraph_sdk.errors.APIStatusError
        return getattr(exc, "status_code", repr(exc))
    return 200


@pytest.mark.parametrize("token", [None, "not-a-token", "dev-alice-but-longer", ""])
def test_every_endpoint_refuses_missing_or_unknown_tokens(sdk_as, waiting_expense, token):
    sdk = sdk_as(None, token=token)
    statuses = {name: status_of(call) for name, call in client_calls(sdk, waiting_expense).items()}
    assert set(statuses.values()) == {401}, statuses


def test_custom_routes_need_a_token_too(server):
    assert httpx.get(f"{server.url}/me").status_code == 401
    ok = httpx.get(f"{server.url}/me", headers={"Authorization": "Bearer dev-carol"})
    assert ok.json() == {"identity": "carol", "role": "finance"}


def test_studio_header_is_no_bypass(server):
    response = httpx.post(
        f"{server.url}/threads/search", json={}, headers={"x-auth-scheme": "langsmith"}
    )
    assert response.status_code == 401


def test_wrong_role_and_other_users_threads_leak_nothing(sdk_as, waiting_expense):
    for user in ("carol", "dave"):  # finance and director: the pause is for a manager
        sdk = sdk_as(user)
        statuses = {
            name: status_of(call)
            for name, call in client_calls(sdk, waiting_expense).items()
            if name not in ("threads.create", "threads.search", "assistants.search")
        }
        assert set(statuses.values()) <= {403, 404}, (user, statuses)
        assert waiting_expense not in [t["thread_id"] for t in sdk.threads.search()]
    # A manager's own thread is invisible to alice.
    bob = sdk_as("bob")
    bobs = bob.threads.create()["thread_id"]
    assert status_of(lambda: sdk_as("alice").threads.get(bobs)) == 404
    # The pause is still there, untouched, for the manager.
    thread = bob.threads.get(waiting_expense)
    assert thread["status"] == "interrupted" and thread["metadata"]["waiting_for"] == "manager"


def test_the_owner_cannot_answer_their_own_pause(sdk_as, waiting_expense):
    alice = sdk_as("alice")
    resume = {"resume": {"decision": "approve", "note": "mine"}}
    assert status_of(lambda: alice.runs.wait(waiting_expense, GRAPH, command=resume)) == 403
    assert alice.threads.get(waiting_expense)["status"] == "interrupted"


def test_clients_cannot_forge_server_owned_metadata(sdk_as, waiting_expense):
    alice = sdk_as("alice")
    for key, value in {"owner": "bob", "waiting_for": "employee", "answered_by": ["alice"]}.items():
        for write in (
            lambda k=key, v=value: alice.threads.create(metadata={"graph_id": GRAPH, k: v}),
            lambda k=key, v=value: alice.threads.update(waiting_expense, metadata={k: v}),
        ):
            status, detail = refused(write)
            assert status == 403 and f"metadata.{key} is written by the server only" in detail
    metadata = sdk_as("bob").threads.get(waiting_expense)["metadata"]
    assert (metadata["owner"], metadata["waiting_for"]) == ("alice", "manager")
    assert "answered_by" not in metadata
    assert alice.threads.create(metadata={"graph_id": GRAPH})["metadata"]["owner"] == "alice"


def test_forged_approver_is_refused(sdk_as, waiting_expense):
    bob = sdk_as("bob")
    forged = {"resume": {"decision": "approve", "approver": "dave"}}
    assert status_of(lambda: bob.runs.wait(waiting_expense, GRAPH, command=forged)) == 403
    assert bob.threads.get(waiting_expense)["status"] == "interrupted"
    result = bob.runs.wait(waiting_expense, GRAPH, command={"resume": {"decision": "approve"}})
    assert result["status"] == "approved"
    assert result["audit"][-1]["approver"] == "bob"
    # bob answered it: he can still read it, though it no longer waits for managers.
    assert bob.threads.get(waiting_expense)["metadata"]["answered_by"] == ["bob"]


def test_cli_says_when_the_token_is_missing_or_refused(cli):
    missing = cli("pending", user=None)
    assert missing.returncode == 1 and "no token given" in missing.stderr
    refused = cli("--token", "wrong", "pending", user=None)
    assert refused.returncode == 1 and "token was refused" in refused.stderr
    assert "Traceback" not in missing.stderr + refused.stderr
