"""The seed notebook's cells through ``RemoteGraph``, each on a fresh uuid thread id.

``RemoteGraph`` creates its thread with its first run (``if_not_exists="create"``)
and sends ``Command`` as a whole dataclass; the requester signs in with
``api_key`` (sent as ``x-api-key``), the manager with a bearer header. The only
change to the cells: ``RemoteGraph`` returns ``__interrupt__`` entries as dicts,
so the payload is ``[0]["value"]`` where the notebook has ``[0].value``.
"""

from __future__ import annotations

import re
import uuid

import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

pytestmark = pytest.mark.integration


@pytest.fixture
def remote(server):
    def graph(graph_id: str, user: str) -> RemoteGraph:
        if user == "alice":
            return RemoteGraph(graph_id, url=server.url, api_key="dev-alice")
        return RemoteGraph(
            graph_id, url=server.url, headers={"Authorization": f"Bearer dev-{user}"}
        )

    return graph


def fresh() -> dict:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def test_small_expense_is_auto_approved(remote):
    app = remote("expense_approval", "alice")
    result = app.invoke(
        {
            "amount": 50.0,
            "description": "Office supplies",
            "status": "pending",
            "approver_note": "",
        },
        fresh(),
    )
    assert result["status"] == "approved"


@pytest.mark.parametrize(
    "answer, status",
    [
        ({"decision": "approved", "note": "Approved for Q4 conference"}, "approved"),
        ({"decision": "rejected", "note": "Use IT procurement process instead"}, "rejected"),
    ],
)
def test_large_expense_pauses_and_the_manager_answers(remote, answer, status):
    app, manager = remote("expense_approval", "alice"), remote("expense_approval", "bob")
    config = fresh()
    result = app.invoke(
        {
            "amount": 500.0,
            "description": "Conference ticket",
            "status": "pending",
            "approver_note": "",
        },
        config,
    )
    assert "__interrupt__" in result
    payload = result["__interrupt__"][0]["value"]
    assert (payload["amount"], payload["description"]) == (500.0, "Conference ticket")
    # The requester cannot answer her own pause, whichever client she uses.
    with pytest.raises(Exception, match="403|waits for manager"):
        app.invoke(Command(resume=answer), config)
    final = manager.invoke(Command(resume=answer), config)
    assert final["status"] == status and final["approver_note"] == answer["note"]
    assert app.get_state(config).values["audit"][-1]["approver"] == "bob"


def test_durable_order(remote):
    order_app = remote("order_processing", "alice")
    result = order_app.invoke({"amount": 99.99, "order_id": "", "payment_result": {}}, fresh())
    assert re.fullmatch(r"ORD-\d{5}", result["order_id"])
    assert result["payment_result"]["status"] == "success"
    assert re.fullmatch(r"TXN-\d{4}", result["payment_result"]["transaction_id"])
