"""The trust boundary over a real ``langgraph dev``: every way around a pause, tried and refused.

Each test is a reproduction from the trust-boundary issue. It asserts the outcome
(not approved, not paid, owner unchanged) and then that the legitimate path still
works on the same thread.
"""

from __future__ import annotations

import http.server
import threading
import uuid

import httpx
import pytest

from tests.conftest import refused

pytestmark = pytest.mark.integration

EXPENSE, CHAIN, ORDER = "expense_approval", "approval_chain", "order_processing"


def submit(sdk, graph, values, assistant=None):
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    sdk.runs.wait(thread_id, assistant or graph, input=values)
    return thread_id


def state(sdk, thread_id):
    thread = sdk.threads.get(thread_id)
    pauses = [i for group in (thread.get("interrupts") or {}).values() for i in group]
    return thread["status"], thread.get("values") or {}, pauses, thread["metadata"]


@pytest.fixture
def expense(sdk):
    return submit(sdk, EXPENSE, {"amount": 5_000, "description": "Trade fair"})


def approve(sdk, thread_id, graph=EXPENSE, note="ok"):
    return sdk.runs.wait(
        thread_id, graph, command={"resume": {"decision": "approve", "note": note}}
    )


# 1. State writes


@pytest.mark.parametrize(
    "values, as_node",
    [
        ({"status": "approved"}, "approve"),
        ({"status": "approved"}, None),
        (
            {
                "audit": [
                    {
                        "step": 1,
                        "role": "manager",
                        "decision": "approved",
                        "approver": "bob",
                        "note": "",
                        "changes": None,
                        "at": "2026-01-01T00:00:00+00:00",
                    }
                ]
            },
            "approve",
        ),
    ],
)
def test_requester_cannot_write_state(sdk, sdk_as, expense, values, as_node):
    status, detail = refused(lambda: sdk.threads.update_state(expense, values, as_node=as_node))
    assert status == 403 and "written by the workflows only" in detail
    # A run with no input afterwards only re-raises the pause.
    sdk.runs.wait(expense, EXPENSE, input=None)
    status, values_now, pauses, meta = state(sdk, expense)
    assert (status, values_now["status"], meta["waiting_for"]) == (
        "interrupted",
        "pending",
        "manager",
    )
    assert not values_now.get("audit")
    bob = sdk_as("bob")
    assert approve(bob, expense)["audit"][-1]["approver"] == "bob"


def test_nobody_writes_state_not_even_the_approver_or_admin(sdk_as, expense):
    for user in ("bob", "erin"):
        status, _ = refused(
            lambda u=user: sdk_as(u).threads.update_state(expense, {"status": "approved"})
        )
        assert status in (403, 404)


def test_state_write_on_an_order_charges_nothing(sdk, sdk_as, ledger):
    thread_id = submit(sdk, ORDER, {"amount": 5_000})
    status, _ = refused(
        lambda: sdk.threads.update_state(thread_id, {"status": "approved"}, as_node="approve_order")
    )
    assert status == 403
    sdk.runs.wait(thread_id, ORDER, input=None)
    _, values, _, _ = state(sdk, thread_id)
    assert values["status"] == "created" and ledger(values["order_id"]) == 0
    result = approve(sdk_as("bob"), thread_id, ORDER)
    assert result["status"] == "paid" and ledger(result["order_id"]) == 1


def test_a_rejection_cannot_be_rewritten(sdk, sdk_as, expense):
    bob = sdk_as("bob")
    bob.runs.wait(expense, EXPENSE, command={"resume": {"decision": "reject", "note": "no"}})
    forged = {"audit": {"__overwrite__": []}, "status": "approved"}
    assert refused(lambda: sdk.threads.update_state(expense, forged, as_node="approve"))[0] == 403
    _, values, _, _ = state(sdk, expense)
    assert values["status"] == "rejected" and values["audit"][-1]["approver"] == "bob"


# 2. Commands


def test_owner_cannot_steer_with_update_and_goto(sdk, sdk_as, expense):
    command = {"update": {"status": "approved"}, "goto": "finalize"}
    status, detail = refused(lambda: sdk.runs.wait(expense, EXPENSE, command=command))
    assert status == 403 and "command.update is not allowed" in detail
    assert state(sdk, expense)[1]["status"] == "pending"
    assert approve(sdk_as("bob"), expense)["status"] == "approved"


def test_an_answer_cannot_carry_an_update(sdk, sdk_as):
    thread_id = submit(sdk, CHAIN, {"amount": 25_000, "description": "Racks"})
    bob = sdk_as("bob")
    forged = [
        {
            "step": s,
            "role": r,
            "decision": "approve",
            "approver": "x",
            "note": "",
            "changes": None,
            "at": "2026-01-01T00:00:00+00:00",
        }
        for s, r in ((2, "finance"), (3, "director"))
    ]
    command = {"resume": {"decision": "approve"}, "update": {"audit": forged}}
    assert refused(lambda: bob.runs.wait(thread_id, CHAIN, command=command))[0] == 403
    command = {"resume": {"decision": "approve"}, "goto": "finalize"}
    assert refused(lambda: bob.runs.wait(thread_id, CHAIN, command=command))[0] == 403
    status, values, _, meta = state(bob, thread_id)
    assert (status, meta["waiting_for"], values.get("audit") or []) == (
        "interrupted",
        "manager",
        [],
    )
    result = approve(bob, thread_id, CHAIN)
    assert result["status"] == "pending" and state(bob, thread_id)[3]["waiting_for"] == "finance"


def test_no_run_starts_from_an_earlier_checkpoint(sdk, sdk_as, expense):
    bob = sdk_as("bob")
    approve(bob, expense)
    first = sdk.threads.get_history(expense, limit=20)[-1]["checkpoint_id"]
    for who in (sdk, bob):
        status, detail = refused(
            lambda w=who: w.runs.wait(expense, EXPENSE, input=None, checkpoint_id=first)
        )
        assert status in (403, 404), detail
    assert state(sdk, expense)[1]["status"] == "approved"


# 3. Policy belongs to the deployment


@pytest.mark.parametrize(
    "graph, values, context",
    [
        (EXPENSE, {"amount": 50_000, "description": "Car"}, {"approval_threshold": 1e9}),
        (EXPENSE, {"amount": 50_000, "description": "Car"}, {"approver_role": "user:frank"}),
        (CHAIN, {"amount": 50_000, "description": "Car"}, {"policy": []}),
        (ORDER, {"amount": 50_000}, {"approval_limit": 1e12}),
        (ORDER, {"amount": 50}, {"gateway": {"decline": True}}),
    ],
)
@pytest.mark.parametrize("where", ["context", "configurable"])
def test_requesters_cannot_pass_policy(sdk, graph, values, context, where):
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    kwargs = {"context": context} if where == "context" else {"config": {"configurable": context}}
    status, detail = refused(lambda: sdk.runs.wait(thread_id, graph, input=values, **kwargs))
    assert status == 403 and "belong to the deployment" in detail
    assert not sdk.threads.get(thread_id).get("values")  # nothing stored
    result = sdk.runs.wait(thread_id, graph, input=values)  # the legitimate path: defaults
    expected = "paid" if values["amount"] <= 1_000 else {ORDER: "created"}.get(graph, "pending")
    assert result["status"] == expected


def test_only_admins_configure_assistants(sdk_as, assistant_for):
    for user in ("alice", "bob", "carol", "dave"):
        status, detail = refused(
            lambda u=user: sdk_as(u).assistants.create(EXPENSE, context={"approval_threshold": 1e9})
        )
        assert status == 403 and "admins configure them" in detail
    assistant_id = assistant_for(EXPENSE, approval_threshold=1_000)
    for user in ("alice", "bob"):
        assert (
            refused(lambda u=user: sdk_as(u).assistants.update(assistant_id, context={}))[0] == 403
        )
        assert refused(lambda u=user: sdk_as(u).assistants.delete(assistant_id))[0] == 403
    alice = sdk_as("alice")
    assert alice.assistants.get(assistant_id)["context"] == {"approval_threshold": 1_000}
    result = alice.runs.wait(
        submit(alice, EXPENSE, {"amount": 500, "description": "Hotel"}, assistant_id),
        assistant_id,
        input=None,
    )
    assert result["status"] == "approved" and result["audit"][-1]["approver"] == "system"


def test_an_admin_made_assistant_sends_approvals_where_the_admin_says(sdk, sdk_as, assistant_for):
    assistant_id = assistant_for(EXPENSE, approver_role="finance")
    thread_id = submit(sdk, EXPENSE, {"amount": 500, "description": "Hotel"}, assistant_id)
    assert state(sdk, thread_id)[3]["waiting_for"] == "finance"
    status, detail = refused(lambda: approve(sdk_as("bob"), thread_id))
    assert status == 404  # bob (manager) does not even see it
    assert approve(sdk_as("carol"), thread_id)["audit"][-1]["approver"] == "carol"


# 4. One order, one charge


def test_threads_cannot_be_copied(sdk, sdk_as, ledger):
    thread_id = submit(sdk, ORDER, {"amount": 5_000})
    bob = sdk_as("bob")
    result = approve(bob, thread_id, ORDER)
    for who in (sdk, bob):
        status, detail = refused(lambda w=who: w.threads.copy(thread_id))
        assert status == 403 and "a copy would carry the original's approvals" in detail
    assert ledger(result["order_id"]) == 1
    assert len(sdk.threads.search(metadata={"graph_id": ORDER}, limit=1000)) >= 1


# 5. Server-owned metadata


def test_run_metadata_cannot_forge_ownership(sdk, sdk_as):
    thread_id = sdk.threads.create(metadata={"graph_id": EXPENSE})["thread_id"]
    request = {"amount": 500, "description": "Hotel"}
    for key, value in {"owner": "bob", "waiting_for": "employee", "answered_by": ["frank"]}.items():
        for where in ({"metadata": {key: value}}, {"config": {"metadata": {key: value}}}):
            status, detail = refused(
                lambda w=where: sdk.runs.wait(thread_id, EXPENSE, input=request, **w)
            )
            assert status == 403 and f"metadata.{key} is written by the server only" in detail
        status, detail = refused(
            lambda k=key, v=value: sdk.threads.update(thread_id, metadata={k: v})
        )
        assert status == 403 and f"metadata.{key}" in detail
    assert state(sdk, thread_id)[:2] == ("idle", {})  # nothing was stored
    sdk.runs.wait(thread_id, EXPENSE, input=request, metadata={"note": "mine"})
    meta = state(sdk, thread_id)[3]
    assert (meta["owner"], meta["waiting_for"]) == ("alice", "manager")
    assert "answered_by" not in meta
    assert refused(lambda: sdk_as("frank").threads.get(thread_id))[0] == 404
    status, detail = refused(lambda: sdk.threads.update(thread_id, metadata={"graph_id": CHAIN}))
    assert status == 403 and "metadata.graph_id" in detail
    sdk.threads.update(thread_id, metadata={"note": "mine"})
    meta = state(sdk, thread_id)[3]
    assert (meta["owner"], meta["graph_id"], meta["note"]) == ("alice", EXPENSE, "mine")


def test_a_thread_created_by_a_run_belongs_to_the_caller(sdk, sdk_as):
    thread_id = str(uuid.uuid4())
    sdk.runs.wait(
        thread_id,
        EXPENSE,
        input={"amount": 500, "description": "Hotel"},
        if_not_exists="create",
        metadata={"note": "run-made"},
    )
    status, _, _, meta = state(sdk, thread_id)
    assert (status, meta["owner"], meta["waiting_for"]) == ("interrupted", "alice", "manager")
    assert refused(lambda: sdk_as("frank").threads.get(thread_id))[0] == 404
    # Someone else's thread id cannot be taken over by a run either.
    status, _ = refused(
        lambda: sdk_as("frank").runs.wait(
            thread_id, EXPENSE, input={"amount": 1, "description": "x"}, if_not_exists="create"
        )
    )
    assert status == 404
    assert approve(sdk_as("bob"), thread_id)["status"] == "approved"


def test_a_submitted_request_takes_no_new_input(sdk, sdk_as, expense):
    status, detail = refused(
        lambda: sdk.runs.wait(expense, EXPENSE, input={"amount": 1, "description": "x"})
    )
    assert status == 409 and "submit a new request on a new thread" in detail
    status, detail = refused(
        lambda: sdk.runs.wait(expense, CHAIN, input={"amount": 1, "description": "x"})
    )
    assert status == 409
    assert approve(sdk_as("bob"), expense)["amount"] == 5_000


# 6. The assistant's money rule

ASK = "assistant"


def chat(sdk, text):
    thread_id = sdk.threads.create(metadata={"graph_id": ASK})["thread_id"]
    sdk.runs.wait(thread_id, ASK, input={"messages": [{"role": "user", "content": text}]})
    return thread_id


def answer_tool(sdk, thread_id, pause_id, decision="approve"):
    return sdk.runs.wait(thread_id, ASK, command={"resume": {pause_id: {"type": decision}}})


def test_big_payments_wait_for_a_manager_not_the_requester(sdk, sdk_as, ledger):
    thread_id = chat(sdk, "pay 90000 to acme")
    status, _, [pause], meta = state(sdk, thread_id)
    assert pause["value"]["role"] == "manager" and pause["value"]["requester"] == "alice"
    assert meta["waiting_for"] == "manager"
    status, detail = refused(lambda: answer_tool(sdk, thread_id, pause["id"]))
    assert status == 403 and "waits for manager; you are alice (employee)" in detail
    before = ledger()
    bob = sdk_as("bob")
    answer_tool(bob, thread_id, pause["id"])
    assert ledger() == before + 1
    status, values, pauses, meta = state(sdk, thread_id)
    assert status == "idle" and not pauses
    assert values["reviews"][-1]["approver"] == "bob" and "bob" in meta["answered_by"]


def test_a_manager_cannot_approve_their_own_big_payment(sdk_as, ledger):
    bob = sdk_as("bob")
    thread_id = chat(bob, "pay 90000 to acme")
    [pause] = state(bob, thread_id)[2]
    status, detail = refused(lambda: answer_tool(bob, thread_id, pause["id"]))
    assert status == 403 and "you cannot approve your own request" in detail
    before = ledger()
    answer_tool(bob, thread_id, pause["id"], "reject")  # withdrawing is theirs to do
    assert ledger() == before and state(bob, thread_id)[0] == "idle"


def test_small_payments_are_still_the_owners_to_review(sdk, ledger):
    thread_id = chat(sdk, "pay 50 to acme")
    [pause] = state(sdk, thread_id)[2]
    assert pause["value"]["user"] == "alice"
    before = ledger()
    answer_tool(sdk, thread_id, pause["id"])
    assert ledger() == before + 1


def test_mixed_reviews_are_each_answered_by_their_reviewer(sdk, sdk_as):
    thread_id = chat(sdk, "pay 90000 to acme and refund 20 to bo")
    status, _, pauses, meta = state(sdk, thread_id)
    by_whom = {bool(p["value"].get("role")): p for p in pauses}  # a role, or one user
    assert meta["waiting_for"] == "manager" and len(pauses) == 2
    status, detail = refused(
        lambda: sdk.runs.wait(thread_id, ASK, command={"resume": {"type": "approve"}})
    )
    assert status == 409 and "2 pending pauses" in detail
    answer_tool(sdk, thread_id, by_whom[False]["id"])  # alice's own small refund
    assert state(sdk, thread_id)[3]["waiting_for"] == "manager"
    answer_tool(sdk_as("bob"), thread_id, by_whom[True]["id"])
    assert state(sdk, thread_id)[0] == "idle"


# 7. The inbox never calls a host a request names


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def test_inbox_api_ignores_the_host_header(server, expense):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        evil = f"127.0.0.1:{receiver.server_address[1]}"
        response = httpx.get(
            f"{server.url}/inbox/api/items",
            headers={"Authorization": "Bearer dev-bob", "Host": evil},
        )
        assert response.status_code == 200
        assert expense in [item["thread_id"] for item in response.json()]
        assert Recorder.seen == []
    finally:
        receiver.shutdown()


# 9. Sizes


@pytest.mark.parametrize(
    "graph, values, status, field",
    [
        (ORDER, {"amount": 50, "items": ["x" * 10_000_000]}, 413, "request body"),
        (EXPENSE, {"amount": 50, "description": "x" * 10_000_000}, 413, "request body"),
        (ORDER, {"amount": 50, "items": ["x" * 5_000]}, 413, "input.items[0]"),
        (ORDER, {"amount": 50, "items": list(range(1_001))}, 413, "input.items"),
        (EXPENSE, {"amount": 50, "description": "x" * 501}, 422, "description"),
        (EXPENSE, {"amount": -1, "description": "x"}, 422, "amount"),
    ],
)
def test_oversized_input_is_refused_before_it_is_stored(sdk, graph, values, status, field):
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    got, detail = refused(lambda: sdk.runs.wait(thread_id, graph, input=values))
    assert got == status and field in detail, detail
    thread = sdk.threads.get(thread_id)
    assert not thread.get("values") and not sdk.threads.get_history(thread_id)
    legit = {"amount": 50} if graph == ORDER else {"amount": 50, "description": "Pens"}
    assert sdk.runs.wait(thread_id, graph, input=legit)["status"] in ("approved", "paid")


def test_oversized_metadata_and_answers_are_refused(sdk, sdk_as, expense):
    assert refused(lambda: sdk.threads.create(metadata={"x": "y" * 5_000}))[0] == 413
    note = {"resume": {"decision": "approve", "note": "n" * 5_000}}
    assert refused(lambda: sdk_as("bob").runs.wait(expense, EXPENSE, command=note))[0] == 413
    assert state(sdk, expense)[0] == "interrupted"


# 10. Loose ends


def test_stateless_runs_are_refused_clearly(server):
    response = httpx.post(
        f"{server.url}/runs/wait",
        json={"assistant_id": EXPENSE, "input": {"amount": 50, "description": "Pens"}},
        headers={"Authorization": "Bearer dev-alice"},
    )
    assert response.status_code == 403 and "stateless runs" in response.text


@pytest.mark.parametrize("path", ["/metrics", "/info"])
def test_server_routes_are_for_admins(server, path):
    assert httpx.get(f"{server.url}{path}").status_code == 401
    assert httpx.get(f"{server.url}{path}", headers={"x-api-key": "nope"}).status_code == 401
    for user in ("alice", "bob", "dave"):
        answer = httpx.get(f"{server.url}{path}", headers={"x-api-key": f"dev-{user}"})
        assert answer.status_code == 403 and "for admins" in answer.json()["detail"]
    assert httpx.get(f"{server.url}{path}", headers={"x-api-key": "dev-erin"}).status_code == 200


def test_x_api_key_is_the_same_credential(server, expense):
    def search(headers):
        return httpx.post(f"{server.url}/threads/search", json={}, headers=headers)

    assert search({"x-api-key": "dev-alice-nope"}).status_code == 401
    mine = [t["thread_id"] for t in search({"x-api-key": "dev-alice"}).json()]
    assert expense in mine
    franks = [t["thread_id"] for t in search({"x-api-key": "dev-frank"}).json()]
    assert expense not in franks


def test_refusals_say_why_without_leaking(sdk_as, expense):
    status, _ = refused(lambda: approve(sdk_as("carol"), expense))
    assert status == 404  # carol (finance) may not even see it
    status, detail = refused(lambda: approve(sdk_as("alice"), expense))
    assert status == 403 and "waits for manager; you are alice (employee)" in detail
    forged = {"resume": {"decision": "approve", "approver": "dave"}}
    status, detail = refused(lambda: sdk_as("bob").runs.wait(expense, EXPENSE, command=forged))
    assert status == 403 and "not you" in detail
    assert approve(sdk_as("bob"), expense)["audit"][-1]["approver"] == "bob"
    status, detail = refused(lambda: approve(sdk_as("bob"), expense))
    assert status == 409 and "stale answer" in detail and "by bob" in detail


def test_the_stored_answer_names_who_gave_it(sdk_as, expense):
    """Runs the server replays itself (crash recovery) record the authenticated approver."""
    bob = sdk_as("bob")
    approve(bob, expense)
    answers = [
        run["kwargs"]["command"]["resume"]
        for run in bob.runs.list(expense)
        if (run["kwargs"].get("command") or {}).get("resume")
    ]
    assert answers == [{"decision": "approve", "note": "ok", "approver": "bob", "channel": "api"}]


@pytest.mark.parametrize("graph", [EXPENSE, CHAIN, ORDER])
def test_a_request_in_someone_elses_name_is_refused(sdk, graph):
    values = {"amount": 5_000, "requester": "bob"}
    values.update({"customer": "Acme"} if graph == ORDER else {"description": "Not mine"})
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    status, detail = refused(lambda: sdk.runs.wait(thread_id, graph, input=values))
    assert status == 422 and "requester is always the signed-in user (alice)" in detail
    assert state(sdk, thread_id)[:2] == ("idle", {})  # nothing was stored
    mine = submit(sdk, graph, {**values, "requester": "alice"})  # her own name: accepted
    assert state(sdk, mine)[0] == "interrupted"
