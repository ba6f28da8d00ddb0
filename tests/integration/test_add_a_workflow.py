"""docs/add-a-workflow.md stays true: its example is graphs/travel_request.py, and it runs.

The page shows the module in full; the first tests check that it is the project's
file byte for byte, that the files the page lists name the workflow, and run the
page's in-process example. The served tests run the page's examples on a real
``langgraph dev`` of the project, then check the workflow's own fields reach every
display: the pause, ``hitl pending``, the inbox's card and history, a notification.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langgraph_sdk import get_sync_client

from graphs.travel_request import build_graph
from scripts.devserver import ROOT, TOKENS, DevServer
from tests.conftest import eventually, refused, run_cli
from tests.integration.test_webhook import Receiver

GUIDE = ROOT / "docs" / "add-a-workflow.md"
GRAPH = "travel_request"
TRIP = {"destination": "Lisbon", "cost": 2500}
served = pytest.mark.integration


def example(name: str) -> str:
    """The code block the guide marks with ``<!-- example:<name> -->``."""
    marked = rf"<!-- example:{re.escape(name)} -->\n```\w+\n(.*?)```"
    found = re.search(marked, GUIDE.read_text(), re.S)
    assert found, f"the guide has no example {name!r}"
    return found.group(1)


# -- the page and the files it lists ------------------------------------------------------


def test_the_guide_shows_the_module_byte_for_byte():
    assert example("travel_request.py") == (ROOT / "graphs" / "travel_request.py").read_text()


def test_every_file_the_guide_lists_names_the_workflow():
    line = json.loads(example("langgraph.json"))["graphs"]
    for config in ("langgraph.json", "langgraph.deploy.json"):
        graphs = json.loads((ROOT / config).read_text())["graphs"]
        assert line.items() <= graphs.items(), config
    assert example("readme-row").strip() in (ROOT / "README.md").read_text()
    workflows = (ROOT / "docs" / "workflows.md").read_text()
    assert f"<!-- diagram:{GRAPH} -->" in workflows and f"## `{GRAPH}`" in workflows
    assert (ROOT / "tests" / "unit" / f"test_{GRAPH}.py").exists()
    for path in ("langgraph.json", "langgraph.deploy.json", "README.md", "docs/workflows.md"):
        assert f"`{path}`" in GUIDE.read_text(), f"the guide does not mention {path}"


def test_the_guides_in_process_example():
    exec(compile(example("in-process"), "add-a-workflow.md", "exec"), {})  # noqa: S102


def test_in_process_reject_ends_it():
    app = build_graph().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "trip-rejected"}}
    app.invoke({**TRIP, "requester": "alice"}, config)
    no = {"decision": "reject", "note": "No", "approver": "bob"}
    done = app.invoke(Command(resume=no), config)
    assert done["status"] == "rejected"
    assert [(e["role"], e["decision"], e["note"]) for e in done["audit"]] == [
        ("manager", "reject", "No")
    ]


# -- on a real server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hooked() -> Iterator[SimpleNamespace]:
    """The project served by ``langgraph dev``, its notifications posted to a receiver."""
    receiver = Receiver()
    env = {
        "HITL_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook",
        "HITL_PUBLIC_URL": "https://approvals.example",
    }
    try:
        with DevServer(env=env) as server:
            yield SimpleNamespace(url=server.url, receiver=receiver)
    finally:
        receiver.server.shutdown()


def sdk_as(server, user):
    return get_sync_client(url=server.url, headers={"Authorization": f"Bearer {TOKENS[user]}"})


def waiting(sdk, thread_id) -> dict:
    """The value of the one pause a thread waits on."""
    (pause,) = [i for group in sdk.threads.get(thread_id)["interrupts"].values() for i in group]
    return pause


def inbox(server, path, user):
    headers = {"Authorization": f"Bearer {TOKENS[user]}"}
    return httpx.get(f"{server.url}/inbox/api/{path}", headers=headers, timeout=60).json()


def labelled(fields) -> dict:
    """A display's fields as ``{label: (value, money)}``."""
    return {f["label"]: (f["value"], f.get("money")) for f in fields}


@served
def test_the_guides_served_example(hooked):
    signed_in = {"sdk_as": lambda user: sdk_as(hooked, user)}
    exec(compile(example("served"), "add-a-workflow.md", "exec"), signed_in)  # noqa: S102


@served
def test_manager_edits_finance_approves_on_a_real_server(hooked):
    alice, bob, carol = (sdk_as(hooked, u) for u in ("alice", "bob", "carol"))
    thread = alice.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
    alice.runs.wait(thread, GRAPH, input=TRIP)
    value = waiting(bob, thread)["value"]
    assert (value["type"], value["role"], value["requester"]) == (GRAPH, "manager", "alice")
    assert labelled(value["fields"]) == {"Destination": ("Lisbon", False), "Cost": (2500, True)}
    assert value["levels"] == ["manager", "finance"] and value["editable"] == [
        "destination",
        "cost",
    ]

    approve = {"resume": {"decision": "approve"}}
    status, detail = refused(lambda: alice.runs.wait(thread, GRAPH, command=approve))
    assert status == 403 and "waits for manager" in detail
    edit = {"decision": "edit", "changes": {"cost": 2400}, "note": "economy"}
    bob.runs.wait(thread, GRAPH, command={"resume": edit})
    value = waiting(carol, thread)["value"]
    assert (value["role"], value["step"], value["request"]["cost"]) == ("finance", 2, 2400)
    done = carol.runs.wait(thread, GRAPH, command={"resume": {"decision": "approve"}})
    assert done["status"] == "approved" and done["cost"] == 2400
    trail = [
        (e["step"], e["role"], e["decision"], e["approver"], e["changes"]) for e in done["audit"]
    ]
    assert trail == [
        (1, "manager", "edit", "bob", {"cost": 2400}),
        (2, "finance", "approve", "carol", None),
    ]


@served
def test_no_one_approves_their_own_trip_and_input_is_the_request(hooked):
    bob = sdk_as(hooked, "bob")  # a manager files a trip: another manager decides it
    thread = bob.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
    bob.runs.wait(thread, GRAPH, input={"destination": "Oslo", "cost": 500})
    for answer in ({"decision": "approve"}, {"decision": "edit", "changes": {"cost": 400}}):
        status, detail = refused(
            lambda a=answer: bob.runs.wait(thread, GRAPH, command={"resume": a})
        )
        assert status == 403 and "your own request" in detail
    done = bob.runs.wait(thread, GRAPH, command={"resume": {"decision": "reject", "note": "off"}})
    assert done["status"] == "rejected"  # withdrawn
    alice = sdk_as(hooked, "alice")
    bad = [
        ({**TRIP, "amount": 1}, "amount"),
        ({**TRIP, "cost": -1}, "cost"),
        ({**TRIP, "requester": "dave"}, "requester"),
    ]
    for trip, field in bad:
        fresh = alice.threads.create()["thread_id"]
        status, detail = refused(lambda t=trip, f=fresh: alice.runs.wait(f, GRAPH, input=t))
        assert status == 422 and field in detail


@served
def test_the_guides_cli_lines(hooked):
    """Each line of the page's `hitl` example, as written (<thread> filled in)."""
    thread = None
    for line in example("cli").splitlines():
        args = [thread if a == "<thread>" else a for a in shlex.split(line.split("#")[0])[1:]]
        proc = run_cli(hooked.url, *args, json_output=True, user=None)
        assert proc.returncode == 0, f"{line}\n{proc.stderr}"
        thread = thread or proc.data["thread_id"]
    trail = run_cli(hooked.url, "history", thread, json_output=True).data
    assert [(e["role"], e["decision"], e["approver"], e["changes"]) for e in trail] == [
        ("manager", "approve", "bob", None),
        ("finance", "edit", "carol", {"cost": 2400}),
    ]


# -- every display reads the trip's own fields (the contract) ---------------------------------


@pytest.fixture(scope="module")
def filed(hooked) -> SimpleNamespace:
    """A trip waiting for a manager, and one decided (for the history)."""
    alice = sdk_as(hooked, "alice")
    ids = []
    for trip in (TRIP, {"destination": "Porto", "cost": 300}):
        thread = alice.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
        alice.runs.wait(thread, GRAPH, input=trip)
        ids.append(thread)
    sdk_as(hooked, "bob").runs.wait(ids[1], GRAPH, command={"resume": {"decision": "approve"}})
    pause = waiting(alice, ids[0])
    return SimpleNamespace(waiting=ids[0], decided=ids[1], pause_id=pause["id"])


@served
def test_hitl_pending_shows_the_trips_fields(hooked, filed):
    listed = run_cli(hooked.url, "pending", "--graph", GRAPH, user="bob")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in listed.stdout.splitlines() if filed.waiting[:8] in r)
    assert "Lisbon" in row and "2,500.00" in row, listed.stdout


@served
def test_the_inbox_card_shows_the_trips_fields(hooked, filed):
    item = next(i for i in inbox(hooked, "items", "bob") if i["thread_id"] == filed.waiting)
    assert item["headline"] == "alice asks for 2,500.00: Lisbon"
    assert labelled(item["fields"]) == {"Destination": ("Lisbon", False), "Cost": (2500, True)}


@served
def test_the_inbox_history_shows_the_trips_fields(hooked, filed):
    entry = next(h for h in inbox(hooked, "history", "bob") if h["thread_id"] == filed.decided)
    assert entry["headline"] == "alice asks for 300.00: Porto"
    assert labelled(entry["fields"]) == {"Destination": ("Porto", False), "Cost": (300, True)}


@served
def test_the_notification_shows_the_trips_fields(hooked, filed):
    (message,) = eventually(lambda: hooked.receiver.delivered(filed.pause_id))
    assert "Lisbon" in message["text"] and "2,500.00" in message["text"], message["text"]
    assert message["link"] == f"https://approvals.example/inbox#item-{filed.pause_id}"
