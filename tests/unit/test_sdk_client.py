"""The client's transport against a mocked server (``httpx.MockTransport``), as sdk-py tests do."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from typing import Annotated, Literal

import httpx
import pytest
from pydantic import BaseModel

from graphs.common.contract import MONEY, Pause
from scripts.devserver import free_port
from sdk_client import AnswerNotApplied, ClientError, HitlClient

URL = "http://langgraph.test"
THREAD = "11111111-1111-1111-1111-111111111111"
PAUSE = "a" * 32
SCHEMA = {
    "type": "object",
    "properties": {"decision": {"enum": ["approve", "reject"]}, "note": {"type": "string"}},
    "required": ["decision"],
    "additionalProperties": False,
}


def thread(status="interrupted", pauses=None, values=None):
    pauses = (
        [{"id": PAUSE, "value": {"role": "manager"}, "response_schema": SCHEMA}]
        if (pauses is None)
        else pauses
    )
    return {
        "thread_id": THREAD,
        "status": status,
        "metadata": {"graph_id": "expense_approval"},
        "values": values or {"status": "pending"},
        "interrupts": {"task": pauses} if pauses else {},
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
    }


class Server:
    """Answers each request from a list of canned responses, and records the requests."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response

    def client(self, token: str | None = "dev-bob") -> HitlClient:
        return HitlClient(URL, token=token, transport=httpx.MockTransport(self))

    def sent(self, index: int) -> dict:
        return json.loads(self.requests[index].content)


def ok(body) -> httpx.Response:
    return httpx.Response(200, json=body)


def run(coro):
    return asyncio.run(coro)


def test_an_answer_is_addressed_to_its_pause_and_sent_once_at_a_time():
    server = Server(
        ok(thread()), ok({"status": "approved"}), ok(thread("idle", [], {"status": "approved"}))
    )
    outcome = run(server.client().resume(THREAD, {"decision": "approve", "note": "ok"}))
    assert outcome.state == "finished" and outcome.values["status"] == "approved"
    posted = server.sent(1)
    assert server.requests[1].url.path == f"/threads/{THREAD}/runs/wait"
    assert posted["command"] == {"resume": {PAUSE: {"decision": "approve", "note": "ok"}}}
    assert posted["multitask_strategy"] == "reject"
    assert server.requests[1].headers["authorization"] == "Bearer dev-bob"


def test_an_answer_that_does_not_fit_the_schema_is_not_sent():
    server = Server(ok(thread()))
    with pytest.raises(ClientError) as refused:
        run(server.client().resume(THREAD, {"decision": "maybe"}))
    assert refused.value.kind == "invalid" and "decision" in str(refused.value)
    assert len(server.requests) == 1  # only the read


def test_the_servers_reasons_reach_the_person():
    for status, detail, kind in [
        (
            409,
            "stale answer: pause x is no longer pending (last decision: approve by bob)",
            "stale",
        ),
        (403, "waits for finance; you are bob (manager); nothing was applied", "auth"),
        (422, "invalid answer: note: 3 is not of type 'string'", "error"),
    ]:
        server = Server(ok(thread()), httpx.Response(status, json={"detail": detail}))
        with pytest.raises(ClientError) as refused:
            run(server.client().resume(THREAD, {"decision": "approve"}))
        assert refused.value.kind == kind and detail in str(refused.value)


def test_a_refusal_by_the_workflow_comes_back_from_the_run():
    fresh = {"id": "b" * 32, "value": {"role": "manager", "error": "invalid answer: expired"}}
    server = Server(ok(thread()), ok({"__interrupt__": [fresh]}), ok(thread(pauses=[fresh])))
    with pytest.raises(AnswerNotApplied) as refused:
        run(server.client().resume(THREAD, {"decision": "approve"}))
    assert "invalid answer: expired" in str(refused.value)
    assert refused.value.outcome.state == "waiting"


def test_several_pending_pauses_need_an_id_and_nothing_is_sent():
    two = [{"id": PAUSE, "value": {}}, {"id": "c" * 32, "value": {}}]
    server = Server(ok(thread(pauses=two)))
    with pytest.raises(ClientError) as refused:
        run(server.client().resume(THREAD, {"type": "approve"}))
    assert "2 pending pauses" in str(refused.value) and PAUSE in str(refused.value)
    assert len(server.requests) == 1


def test_submit_runs_the_chosen_assistant_on_a_new_thread():
    server = Server(ok({"thread_id": THREAD}), ok({}), ok(thread()))
    outcome = run(server.client("dev-alice").submit("expense_approval", {"amount": 5}, "asst-1"))
    assert server.requests[0].url.path == "/threads"
    assert server.sent(0)["metadata"] == {"graph_id": "expense_approval"}
    assert server.sent(1)["assistant_id"] == "asst-1" and server.sent(1)["input"] == {"amount": 5}
    assert outcome.state == "waiting" and outcome.interrupts[0]["id"] == PAUSE


def test_missing_tokens_and_unreachable_servers_are_one_line():
    server = Server(httpx.Response(401, json={"detail": "missing token"}))
    with pytest.raises(ClientError) as refused:
        run(server.client(token=None).status(THREAD))
    assert refused.value.kind == "auth" and "no token given" in str(refused.value)
    down = Server(httpx.ConnectError("connection refused"))
    with pytest.raises(ClientError) as refused:
        run(down.client().status(THREAD))
    assert refused.value.kind == "unreachable" and URL in str(refused.value)


# Thread ids as people copy them: a unique start of one they can see (issue 25).

IDS = [
    "01a230c0-bb95-7618-a1fd-48b2692e8a27",
    "01a230c0-bbe0-7545-817a-bf017f6a13da",
    "01a230c0-caab-7407-ab24-f72a427320aa",
]


def threads_page(*ids: str) -> httpx.Response:
    return ok([{"thread_id": i} for i in ids])


def test_a_short_thread_id_as_printed_resolves_to_the_one_thread_it_starts():
    for given in ("01a230c0-caab-…", "01a230c0-caab...", "01A230C0CAAB", " 01a230c0-caab-7407 "):
        server = Server(threads_page(*IDS))
        assert run(server.client().resolve_thread(given)) == IDS[2]
        searched = server.sent(0)
        assert server.requests[0].url.path == "/threads/search"
        assert searched["select"] == ["thread_id"]  # ids only: the search stays cheap


def test_a_whole_thread_id_is_taken_as_it_is_without_a_search():
    server = Server()
    assert run(server.client().resolve_thread(IDS[0].upper())) == IDS[0]
    assert server.requests == []


def test_the_lookup_reads_every_page_of_the_callers_threads(monkeypatch):
    monkeypatch.setattr("sdk_client.transport.PAGE", 2)
    server = Server(threads_page(*IDS[:2]), threads_page(IDS[2]))
    assert run(server.client().resolve_thread("01a230c0-caab-…")) == IDS[2]
    assert [server.sent(i)["offset"] for i in (0, 1)] == [0, 2]


def test_an_ambiguous_start_lists_the_candidates():
    server = Server(threads_page(*IDS))
    with pytest.raises(ClientError) as refused:
        run(server.client().resolve_thread("01a230c0-…"))
    message = str(refused.value)
    assert refused.value.kind == "invalid" and "3 threads start with 01a230c0-" in message
    assert all(i in message for i in IDS) and "give more of the id" in message


def test_no_match_says_so_and_how_to_find_ids():
    server = Server(threads_page(*IDS))
    with pytest.raises(ClientError) as refused:
        run(server.client().resolve_thread("ffffffff-…"))
    assert refused.value.kind == "not_found"
    assert "no thread you can see starts with ffffffff-" in str(refused.value)
    assert "`hitl pending`" in str(refused.value)
    assert "archived request is found by its whole id only" in str(refused.value)


def test_too_short_or_not_an_id_is_refused_before_asking_the_server():
    for given, said in [("01a2…", "too short"), ("1234567", "at least 8"), ("nope", "not an id")]:
        server = Server()
        with pytest.raises(ClientError) as refused:
            run(server.client().resolve_thread(given))
        assert said in str(refused.value) and refused.value.kind == "invalid"
        assert server.requests == []


def test_a_pause_id_may_be_shortened_too():
    from sdk_client.transport import pick_interrupt

    two = [{"id": PAUSE, "value": {}}, {"id": "c" * 32, "value": {}}]
    server = Server(ok(thread(pauses=two)))
    outcome = run(server.client().status(THREAD))
    assert pick_interrupt(outcome, "aaaaaaaa…")["id"] == PAUSE
    with pytest.raises(ClientError, match="not pending"):
        pick_interrupt(outcome, "bbbbbbbb…")


# The CLI without a server: its URL, its help, its refusals before sending.


def test_a_url_without_a_scheme_means_http():
    from sdk_client.cli import parse_args, server_url

    assert server_url("127.0.0.1:8700") == "http://127.0.0.1:8700"
    assert server_url("localhost:8700/") == "http://localhost:8700"
    assert server_url("https://hitl.example.com") == "https://hitl.example.com"
    assert parse_args(["--url", "127.0.0.1:8700", "pending"]).url == "http://127.0.0.1:8700"
    assert parse_args(["pending", "--url", "127.0.0.1:8700"]).url == "http://127.0.0.1:8700"
    for bad in ("ftp://host", "http://host:port", "http://"):
        with pytest.raises(SystemExit):
            parse_args(["--url", bad, "pending"])


def test_the_default_url_follows_hitl_port_unless_langgraph_url_says(monkeypatch):
    from sdk_client.cli import parse_args

    monkeypatch.delenv("LANGGRAPH_URL", raising=False)
    monkeypatch.delenv("HITL_PORT", raising=False)
    assert parse_args(["pending"]).url == "http://127.0.0.1:8123"
    monkeypatch.setenv("HITL_PORT", "8700")
    assert parse_args(["pending"]).url == "http://127.0.0.1:8700"
    monkeypatch.setenv("LANGGRAPH_URL", "127.0.0.1:9000")
    assert parse_args(["pending"]).url == "http://127.0.0.1:9000"
    assert parse_args(["pending", "--url", "http://h:1"]).url == "http://h:1"


def hitl(*args: str, env_file: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m sdk_client`` with only ``env`` and ``env_file`` (.env) as its settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LANGGRAPH_", "HITL_"))}
    return subprocess.run(
        [sys.executable, "-m", "sdk_client", *args],
        env={**base, "HITL_ENV_FILE": env_file, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_states_one_default_url_the_same_everywhere_and_reads_hitl_port_from_env_file(
    tmp_path,
):
    port = free_port()
    env_file = tmp_path / ".env"
    env_file.write_text(f"HITL_PORT={port}\n")
    top = hitl("--help", env_file=str(env_file)).stdout
    sub = hitl("resume", "--help", env_file=str(env_file)).stdout
    url = f"http://127.0.0.1:{port}"
    rule = "http://127.0.0.1:${HITL_PORT:-8123}"
    for text in (top, sub):
        flat = " ".join(text.split())
        assert f"currently {url}" in flat and rule in flat and "LANGGRAPH_URL" in flat
        assert set(re.findall(r"https?://[^\s);,]+", flat)) == {url, rule, "http://host:port"}
    assert "HITL_PORT" in top  # the environment section says what it does
    down = hitl("pending", env_file=str(env_file))  # and the client really goes there
    assert down.returncode == 1 and f"cannot reach the server at {url}" in down.stderr
    assert "make dev" in down.stderr


def mock_client(server: Server, monkeypatch) -> None:
    """Every client the CLI makes talks to the mocked server."""
    from sdk_client import transport

    class Mocked(HitlClient):  # the real one, however often the module is patched
        def __init__(self, url, token=None, timeout=60.0):
            super().__init__(url, token, timeout, transport=httpx.MockTransport(server))

    monkeypatch.setattr(transport, "HitlClient", Mocked)


def cli_against(server: Server, monkeypatch, *argv: str) -> int:
    """Run one CLI command (after parsing) against the mocked server."""
    from sdk_client import cli

    mock_client(server, monkeypatch)
    return run(cli.run(cli.parse_args(["--url", URL, "--token", "dev-bob", *argv])))


def test_a_decision_the_step_does_not_offer_is_refused_in_its_words_and_not_sent(monkeypatch):
    offered = [
        {
            "id": PAUSE,
            "value": {"role": "manager", "options": ["approve", "reject"]},
            "response_schema": SCHEMA,
        }
    ]
    server = Server(ok(thread(pauses=offered)))
    with pytest.raises(ClientError) as refused:
        cli_against(server, monkeypatch, "resume", THREAD, "edit", "--amount", "40")
    said = "invalid answer, not sent: this step offers approve or reject, not edit"
    assert str(refused.value) == said and refused.value.kind == "invalid"
    assert "Additional properties" not in str(refused.value)
    assert [r.method for r in server.requests] == ["GET"]  # the read, nothing sent
    chain = [{"id": PAUSE, "value": {"options": ["retry", "cancel"]}}]
    server = Server(ok(thread(pauses=chain)))
    with pytest.raises(ClientError, match="this step offers retry or cancel, not approve"):
        cli_against(server, monkeypatch, "resume", THREAD, "approve")


def test_pending_cuts_long_descriptions_with_an_ellipsis():
    from sdk_client import Outcome
    from sdk_client.cli import render_pending

    long = "A very long description of something that goes on and on for the table"
    pause = {"id": PAUSE, "value": trip_pause(destination=long, cost=500.0)}
    table = render_pending([Outcome(THREAD, "travel_request", "waiting", interrupts=[pause])])
    row = table.splitlines()[-1]
    cell = row.split("500.00")[1].strip()
    assert cell.endswith("…") and len(cell) <= 40 and long.startswith(cell[:-1])
    short = {"id": PAUSE, "value": trip_pause(destination="Pens", cost=5.0)}
    table = render_pending([Outcome(THREAD, "travel_request", "waiting", interrupts=[short])])
    assert table.splitlines()[-1].endswith("Pens")


def test_version_is_looked_up_only_when_asked_and_printed_on_stdout(capsys):
    from sdk_client.cli import parse_args

    with pytest.raises(SystemExit) as done:
        parse_args(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("hitl ")


# A workflow's fields as flags, and its pauses as the contract shows them (issue 23). The
# trip below is this file's own: nothing in the CLI may know its fields.


class Trip(BaseModel):
    destination: str
    cost: Annotated[float, MONEY]
    nights: int | None = None


class TripChanges(BaseModel):
    destination: str | None = None
    cost: float | None = None


class TripAnswer(BaseModel):
    decision: Literal["approve", "edit", "reject"]
    note: str = ""
    changes: TripChanges | None = None


TRIP_INPUT = {
    "type": "object",
    "properties": {
        "destination": {"type": "string", "description": "Where to.\nMore."},
        "cost": {"type": "number", "title": "Cost"},
        "nights": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "requester": {"type": "string"},
    },
    "required": ["destination", "cost"],
}


def trip_pause(**values) -> dict:
    values = {"destination": "Lisbon", "cost": 2500.0, "requester": "alice", **values}
    pause = Pause.about(
        Trip,
        values,
        type="trip",
        action="Approve trip",
        role="manager",
        options=["approve", "edit", "reject"],
        editable=TripChanges,
    )
    return pause.payload()


def schemas_of(input_schema: dict) -> list[httpx.Response]:
    """What the server answers the CLI's look-up of a graph's input schema."""
    found = ok([{"assistant_id": "5" * 32, "graph_id": "travel_request"}])
    return [found, ok({"input_schema": input_schema})]


def test_field_flags_are_typed_by_their_json_schema():
    from sdk_client.cli import UsageError, field_flag

    defs = {"$defs": {"Class": {"enum": ["economy", "business"], "type": "string"}}}
    cases = [
        ({"type": "number"}, "2500", 2500.0),
        ({"type": "number"}, "-2.5", -2.5),
        ({"type": "integer"}, "3", 3),
        ({"type": "boolean"}, "No", False),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "42", "42"),
        ({"anyOf": [{"items": {}, "type": "array"}, {"type": "null"}]}, '["a", 2]', ["a", 2]),
        ({"type": "object"}, '{"a": 1}', {"a": 1}),
        ({"type": ["number", "string"]}, "soon", "soon"),
        ({"$ref": "#/$defs/Class"}, "business", "business"),
        ({}, "5", 5),  # any value: JSON, else text
        ({}, "Lisbon", "Lisbon"),
    ]
    for spec, text, value in cases:
        read = field_flag("cost", spec, defs).read(text)
        assert read == value and type(read) is type(value), (spec, text, read)
    refusals = [
        ({"type": "number"}, "lots", "--cost takes a number, not 'lots'"),
        ({"type": "number"}, "nan", "--cost takes a number, not 'nan'"),
        ({"type": "integer"}, "2.5", "--cost takes a whole number, not '2.5'"),
        ({"type": "boolean"}, "maybe", "--cost takes true or false, not 'maybe'"),
        ({"type": "array"}, '{"a": 1}', "--cost takes a JSON list"),
        ({"$ref": "#/$defs/Class"}, "first", "--cost takes one of economy, business, not"),
    ]
    for spec, text, said in refusals:
        with pytest.raises(UsageError) as refused:
            field_flag("cost", spec, defs).read(text)
        assert str(refused.value).startswith(said), (spec, str(refused.value))


def test_field_flags_are_read_from_the_leftover_command_line():
    from sdk_client.cli import UsageError, input_flags, parse_args, read_flags

    args = parse_args(
        "submit --graph travel_request --destination Lisbon --cost=2500 --json --nights 3".split()
    )
    assert args.json and args.graph == "travel_request"
    flags = input_flags(TRIP_INPUT)
    assert list(flags) == ["destination", "cost", "nights"]  # never the requester
    values = read_flags(args.fields, flags, "a field of travel_request")
    assert values == {"destination": "Lisbon", "cost": 2500.0, "nights": 3}
    flags = input_flags({"properties": {"payment_error": {"type": "string"}}})
    for spelt in ("--payment-error", "--payment_error"):
        assert read_flags([spelt, "x"], flags, "") == {"payment_error": "x"}
    refusals = [
        (
            ["--colour", "red"],
            "--colour is not a field of travel_request (these are: "
            "--destination, --cost, --nights)",
        ),
        (["--cost"], "--cost needs a value"),
        (["Lisbon"], "unexpected argument 'Lisbon'"),
        (["--cost", "lots"], "--cost takes a number, not 'lots'"),
    ]
    for tokens, said in refusals:
        with pytest.raises(UsageError) as refused:
            read_flags(tokens, input_flags(TRIP_INPUT), "a field of travel_request")
        assert str(refused.value).startswith(said), str(refused.value)


def test_commands_without_field_flags_still_refuse_unknown_arguments(capsys):
    from sdk_client.cli import parse_args

    with pytest.raises(SystemExit) as done:
        parse_args(["pending", "--cost", "5"])
    assert done.value.code == 2 and "unrecognized arguments: --cost 5" in capsys.readouterr().err
    # A field is never taken for an abbreviation of the command's own flags.
    assert parse_args(["submit", "--no", "x"]).fields == ["--no", "x"]
    assert parse_args(["resume", THREAD, "edit", "--as", "bob", "--a", "1"]).fields == ["--a", "1"]


def test_submit_sends_the_fields_its_flags_give_typed_by_the_graphs_input_schema(monkeypatch):
    server = Server(*schemas_of(TRIP_INPUT), ok({"thread_id": THREAD}), ok({}), ok(thread()))
    given = '--graph travel_request --destination Lisbon --cost 2500 --input {"cost":1,"nights":2}'
    assert cli_against(server, monkeypatch, "submit", *given.split()) == 0
    assert server.sent(0)["graph_id"] == "travel_request"  # its schema, through an assistant
    assert server.requests[1].url.path == f"/assistants/{'5' * 32}/schemas"
    posted = server.sent(3)
    assert posted["input"] == {"destination": "Lisbon", "cost": 2500.0, "nights": 2}
    assert posted["assistant_id"] == "travel_request"


def test_submit_without_field_flags_asks_for_no_schema(monkeypatch):
    server = Server(ok({"thread_id": THREAD}), ok({}), ok(thread()))
    cli_against(server, monkeypatch, "submit", "--graph", "g", "--input", '{"cost": 5}')
    assert server.requests[0].url.path == "/threads" and server.sent(1)["input"] == {"cost": 5}


def test_an_unknown_field_exits_2_naming_it_and_nothing_is_submitted(monkeypatch, capsys):
    from sdk_client import cli

    monkeypatch.setenv("HITL_ENV_FILE", os.devnull)
    monkeypatch.setattr(cli, "reachable", lambda url: None)
    server = Server(*schemas_of(TRIP_INPUT))
    mock_client(server, monkeypatch)
    argv = ["--url", URL, "submit", "--graph", "travel_request", "--colour", "red"]
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert said == (
        "error: --colour is not a field of travel_request (these are: "
        "--destination, --cost, --nights)\n"
    )
    assert [r.method for r in server.requests] == ["POST", "GET"]  # the schema's look-up only


def test_an_unknown_graph_is_named_with_those_served(monkeypatch):
    lost = httpx.Response(404, json={"detail": "Graph 'nope' not found"})
    served = ok([{"assistant_id": "1", "graph_id": "b"}, {"assistant_id": "2", "graph_id": "a"}])
    server = Server(lost, served)
    with pytest.raises(ClientError, match="unknown graph 'nope': this server serves a, b"):
        cli_against(server, monkeypatch, "submit", "--graph", "nope", "--cost", "5")


def test_submit_help_with_a_graph_lists_its_fields(monkeypatch, capsys):
    server = Server(*schemas_of(TRIP_INPUT))
    assert cli_against(server, monkeypatch, "submit", "--graph", "travel_request", "--help") == 0
    said = capsys.readouterr().out
    assert said.startswith("usage: hitl submit") and "travel_request's fields" in said
    assert re.search(r"--destination STRING +Where to\. \(required\)\n", said)
    assert re.search(r"--nights INTEGER\n", said) and "--requester STRING" not in said


def test_submit_help_alone_answers_at_once(capsys):
    from sdk_client.cli import parse_args

    with pytest.raises(SystemExit) as done:
        parse_args(["submit", "--help"])
    said = capsys.readouterr().out
    assert done.value.code == 0 and "--graph approval_chain --help" in said


def edit_server(response_schema: dict | None) -> Server:
    pause = {"id": PAUSE, "value": trip_pause(), "response_schema": response_schema}
    done = thread("idle", [], {"status": "approved"})
    return Server(ok(thread(pauses=[pause])), ok({}), ok(done))


def test_an_edit_takes_the_editable_fields_typed_by_the_answers_schema(monkeypatch):
    server = edit_server(TripAnswer.model_json_schema())
    argv = ("resume", THREAD, "edit", "--cost", "2400", "--note", "cheaper", "--destination", "7")
    assert cli_against(server, monkeypatch, *argv) == 0
    answer = server.sent(1)["command"]["resume"][PAUSE]
    assert answer == {
        "decision": "edit",
        "note": "cheaper",
        "changes": {"cost": 2400.0, "destination": "7"},
    }


def test_without_an_answer_schema_an_edit_is_typed_by_the_current_values(monkeypatch):
    server = edit_server(None)
    cli_against(
        server, monkeypatch, "resume", THREAD, "edit", "--cost", "2400", "--destination", "7"
    )
    changes = server.sent(1)["command"]["resume"][PAUSE]["changes"]
    assert changes == {"cost": 2400.0, "destination": "7"}  # a number, and text as it was
    assert type(changes["cost"]) is float


def test_an_edit_of_a_field_the_step_does_not_offer_is_refused_and_not_sent(monkeypatch):
    from sdk_client.cli import UsageError

    refusals = [
        (
            ("edit", "--nights", "3"),
            "--nights is not a field this step lets you edit (these are: --destination, --cost)",
        ),
        (("edit", "--cost", "lots"), "--cost takes a number, not 'lots'"),
        (("approve", "--cost", "5"), "--cost goes with edit only, not with approve"),
    ]
    for argv, said in refusals:
        server = edit_server(TripAnswer.model_json_schema())
        with pytest.raises(UsageError) as refused:
            cli_against(server, monkeypatch, "resume", THREAD, *argv)
        assert str(refused.value) == said
        assert [r.method for r in server.requests] == ["GET"]  # the read, nothing sent
    server = edit_server(TripAnswer.model_json_schema())
    with pytest.raises(ClientError, match="edit needs at least one change: --destination or"):
        cli_against(server, monkeypatch, "resume", THREAD, "edit")


def test_a_waiting_thread_shows_the_pauses_fields_with_labels_and_money():
    from sdk_client import Outcome
    from sdk_client.cli import render

    pause = {"id": PAUSE, "value": trip_pause(cost=12500.5, nights=3)}
    text = render(Outcome(THREAD, "travel_request", "waiting", interrupts=[pause]))
    assert text.splitlines()[1:] == [
        f"  waiting for manager, pause {PAUSE}:",
        "    alice asks for 12,500.50: Lisbon",
        "    Destination: Lisbon",
        "    Cost: 12,500.50",
        "    Nights: 3",
        "    options: approve, edit (--destination, --cost), reject",
    ]


def test_an_older_pause_still_shows_its_amount_and_what_it_is_for():
    from sdk_client import Outcome
    from sdk_client.cli import render_pending

    older = {
        "role": "manager",
        "options": ["approve", "reject"],
        "description": "Hotel",
        "action_request": {"action": "Approve", "args": {"amount": "500", "memo": "Hotel"}},
        "request": {"amount": 500.0, "memo": "Hotel"},
    }
    pause = {"id": PAUSE, "value": older}
    row = render_pending([Outcome(THREAD, "g", "waiting", interrupts=[pause])]).splitlines()[-1]
    assert re.search(r"waiting for manager +500\.00 +Hotel$", row), row


# The archive (issue 24): a decided thread leaves the runtime after its retention window;
# status and history read it there. The server's archive is another module's: these
# read its contract (``GET /archive/{id}``, ``GET /archive``) from canned answers.

ARCHIVED_AT = "2026-12-03T09:00:00+00:00"
AUDIT = [
    {
        "step": 1,
        "role": "manager",
        "decision": "approve",
        "approver": "bob",
        "note": "ok",
        "changes": None,
        "at": "2026-12-02T08:37:13+00:00",
        "channel": "cli",
    }
]


def archived_thread(**changes) -> dict:
    """An archived thread as ``GET /archive/{id}`` returns it: the runtime's shape, and more."""
    return {
        **thread("idle", [], {"amount": 500.0, "status": "approved", "audit": AUDIT}),
        "metadata": {"graph_id": "expense_approval", "owner": "alice"},
        "updated_at": "2026-12-02T08:37:14+00:00",
        "archived_at": ARCHIVED_AT,
        **changes,
    }


def gone() -> httpx.Response:
    """The runtime's answer for a thread it no longer holds."""
    return httpx.Response(404, json={"detail": f"Thread with ID {THREAD} not found"})


def test_status_and_history_read_a_thread_from_the_archive(monkeypatch, capsys):
    server = Server(gone(), ok(archived_thread()))
    assert cli_against(server, monkeypatch, "status", THREAD) == 0
    assert [r.url.path for r in server.requests] == [f"/threads/{THREAD}", f"/archive/{THREAD}"]
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"thread {THREAD} [expense_approval] finished (archived 2026-12-03 09:00 UTC)"
    assert "  status: approved" in said and "  amount: 500.0" in said
    server = Server(gone(), ok(archived_thread()))
    assert cli_against(server, monkeypatch, "history", THREAD) == 0
    trail = "2026-12-02T08:37:13+00:00  1/manager: approve by bob via cli note='ok'\n"
    assert capsys.readouterr().out == trail
    server = Server(gone(), ok(archived_thread()))
    assert cli_against(server, monkeypatch, "--json", "status", THREAD) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "finished" and shown["archived_at"] == ARCHIVED_AT


def test_a_thread_in_neither_the_runtime_nor_the_archive_is_not_found():
    server = Server(gone(), httpx.Response(404, json={"detail": "not archived"}))
    with pytest.raises(ClientError) as refused:
        run(server.client().status(THREAD))
    said = f"thread {THREAD}: not found (404), or not visible to this user"
    assert refused.value.kind == "not_found" and str(refused.value) == said
    broken = Server(gone(), httpx.Response(500, text="boom"))
    with pytest.raises(ClientError, match=r"archived thread .*\(500\): boom"):
        run(broken.client().status(THREAD))


def test_a_thread_in_the_runtime_shows_as_before_without_archived_at():
    """``pending --json`` and ``status --json`` keep their keys: no ``archived_at`` there."""
    server = Server(ok(thread()))
    outcome = run(server.client().status(THREAD))
    assert list(outcome.as_dict()) == [
        "thread_id",
        "graph_id",
        "state",
        "values",
        "interrupts",
        "error",
        "created_at",
        "updated_at",
    ]
    assert [r.url.path for r in server.requests] == [f"/threads/{THREAD}"]  # no archive read


def test_archive_lists_one_line_each_newest_decided_first(monkeypatch, capsys):
    older = archived_thread(
        thread_id=IDS[0],
        values={"status": "rejected"},
        metadata={"graph_id": "travel_request", "owner": "frank"},
        updated_at="2026-12-01T10:00:00+00:00",
    )
    server = Server(ok([archived_thread(), older]))
    assert cli_against(server, monkeypatch, "archive", "--limit", "2", "--offset", "4") == 0
    asked = server.requests[0]
    assert asked.url.path == "/archive" and dict(asked.url.params) == {"limit": "2", "offset": "4"}
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 archived:"
    assert lines[1].split() == ["THREAD", "WORKFLOW", "OUTCOME", "DECIDED", "(UTC)", "OWNER"]
    assert lines[2].split() == [
        THREAD,
        "expense_approval",
        "approved",
        "2026-12-02",
        "08:37",
        "alice",
    ]
    assert lines[3].split() == [
        IDS[0],
        "travel_request",
        "rejected",
        "2026-12-01",
        "10:00",
        "frank",
    ]
    server = Server(ok([older]))
    assert cli_against(server, monkeypatch, "--json", "archive") == 0
    assert json.loads(capsys.readouterr().out) == [older]
    assert dict(server.requests[0].url.params) == {"limit": "50", "offset": "0"}


def test_an_empty_archive_and_a_server_without_one_say_so(monkeypatch, capsys):
    assert cli_against(Server(ok([])), monkeypatch, "archive") == 0
    assert capsys.readouterr().out == "no archived requests\n"
    older_server = Server(httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(ClientError) as refused:
        cli_against(older_server, monkeypatch, "archive")
    assert "keeps no archive (404 for /archive)" in str(refused.value)
    with pytest.raises(SystemExit):
        cli_against(Server(), monkeypatch, "archive", "--offset", "-1")
