"""Command-line client: submit workflows, list pending pauses, answer them.

Run as ``python -m sdk_client ...`` or ``hitl ...``. ``--json`` prints
machine-readable output. Every failure is one line on stderr and exit status 1;
a command line hitl cannot read exits 2, as argparse's usage errors do.

A workflow's fields are flags: ``submit``'s are read against the graph's input
schema (the server's), an edit's against the pending pause (its ``editable``
fields, typed by its answer's schema), so a new workflow needs no change here.

The client's own modules (``langgraph_sdk``, ``httpx``, the graphs' models) take
about a second to import, so they are imported where they are used: ``hitl --help``
and a mistyped command answer at once, and ``pending`` reads through
``sdk_client/reader.py`` (the standard library) without them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from graphs.common.contract import Pause
    from graphs.common.pause_view import PauseRow
    from sdk_client.transport import HitlClient, Outcome

T = TypeVar("T")
DEFAULT_PORT = "8123"
"""The port `make dev` serves on unless ``HITL_PORT`` says otherwise."""
URL_HELP = (
    "the server (default: LANGGRAPH_URL, else http://127.0.0.1:${HITL_PORT:-8123}, where "
    "`make dev` serves; currently %s); host:port means http://host:port"
)
THREAD_HELP = "the thread: its id, or a start of it no other thread shares (8+ characters)"
DEFAULT_GRAPH = "expense_approval"
SEED_SCENARIOS = [
    ({"amount": 50.0, "description": "Office supplies"}, None),
    (
        {"amount": 500.0, "description": "Conference ticket"},
        {"decision": "approved", "note": "Approved for Q4 conference"},
    ),
    (
        {"amount": 2000.0, "description": "New laptop"},
        {"decision": "rejected", "note": "Use IT procurement process instead"},
    ),
]


SUBMIT_EPILOG = """\
the workflow's fields are flags, typed by its input schema (from the server):
  hitl submit --graph approval_chain --amount 5000 --description Racks
  hitl submit --graph approval_chain --help      # lists its fields
numbers as numbers, true/false, lists and objects as JSON.
"""
RESUME_EPILOG = (
    "edit takes the fields the pause lets you change as flags (`hitl status <thread>` shows "
    "them), typed as the pause's answer schema says: resume <thread> edit --amount 4000"
)

EPILOG = """\
environment (a .env file in the working directory is read too):
  LANGGRAPH_URL     the server (--url)
  HITL_PORT         the port `make dev` serves on (8123 if unset); without
                    LANGGRAPH_URL, hitl looks for the server on it
  LANGGRAPH_TOKEN   your token (--token), sent as a bearer token
  HITL_DEMO_APPROVER_TOKEN  the manager who answers in `hitl demo`

graphs: expense_approval, approval_chain, order_processing, travel_request, assistant

a workflow's fields are flags (`hitl submit --graph <graph> --help` lists them):
submit takes its input's, edit the fields the pending pause lets you change.

examples:
  hitl submit --amount 500 --description "Conference ticket"
  hitl pending --token dev-bob
  hitl resume <thread> approve --note ok --token dev-bob
  hitl submit --graph approval_chain --amount 5000 --description Racks
  hitl resume <thread> edit --amount 4000 --note "no UPS" --token dev-carol
  hitl history <thread>
  hitl archive --limit 20

a <thread> is its id (submit and pending print it) or a start of the id that no
other thread you can see shares, 8 characters or more: 01a230c0-bb95-… will do.
A decided request leaves the server's working set for its archive after a while:
status and history still read it, by its whole id (`hitl archive` lists them).
"""


def default_url() -> str:
    """The server when --url is not given: ``LANGGRAPH_URL``, else ``make dev``'s port."""
    port = os.environ.get("HITL_PORT") or DEFAULT_PORT
    return os.environ.get("LANGGRAPH_URL") or f"http://127.0.0.1:{port}"


def server_url(text: str) -> str:
    """A server's base URL; ``host:port`` (no scheme) means ``http://host:port``."""
    url = text.strip()
    if "://" not in url:
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f"not a server URL: {text!r} (--url or LANGGRAPH_URL; e.g. http://127.0.0.1:8123)"
        )
    return url.rstrip("/")


def _global_flags(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--url, --token, --json: before the command (with defaults) or after it (without)."""
    keep = argparse.SUPPRESS
    url = default_url()
    parser.add_argument(
        "--url",
        type=server_url,
        default=url if defaults else keep,
        help=URL_HELP % url.replace("%", "%%"),
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("LANGGRAPH_TOKEN") if defaults else keep,
        help="your token, sent as a bearer token (env LANGGRAPH_TOKEN)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else keep,
        help="machine-readable output (JSON on stdout)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; the global flags go before or after the command."""
    parser = argparse.ArgumentParser(
        prog="hitl",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_flags(parser, defaults=True)
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    flags = argparse.ArgumentParser(add_help=False)
    _global_flags(flags, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, help: str, **more: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[flags], **more)

    # A field flag must never be taken for an abbreviation of the command's own flags.
    submit = command(
        "submit",
        "start a workflow on a new thread and run it to its first pause",
        add_help=False,
        allow_abbrev=False,
        epilog=SUBMIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument(
        "-h",
        "--help",
        action="store_true",
        help="show this help (--graph: its fields too) and exit",
    )
    submit.add_argument("--graph", help=f"the workflow (default {DEFAULT_GRAPH}; see hitl --help)")
    submit.add_argument("--requester", help="not needed: the requester is the signed-in user")
    submit.add_argument(
        "--input", type=_json_object, default={}, help="input as JSON (field flags override it)"
    )
    submit.add_argument(
        "--assistant",
        help="run this assistant (a configured version of the graph, with its own policy)",
    )
    submit.add_argument("--no-wait", action="store_true", help="return once the run is queued")

    p = command("assistant", "list, or (admins) create, configured versions of a graph")
    p.add_argument("action", choices=["list", "create"])
    p.add_argument("--graph", help="the graph (create: required; list: filter)")
    p.add_argument("--name", help="create: a name for the assistant")
    p.add_argument(
        "--context",
        type=_json_object,
        default={},
        help="create: the policy as a JSON object, e.g. '{\"approval_threshold\": 1000}'",
    )

    p = command("notifications", "(admins) the outbox (webhook and email): list, or resend one")
    p.add_argument("action", nargs="?", choices=["list", "resend"], default="list")
    p.add_argument("id", nargs="?", help="resend: the notification (pause) id")
    p.add_argument("--status", choices=["pending", "sent", "dead", "dropped"])

    p = command("pending", "list what waits for you (or for anyone you may see)")
    p.add_argument("--graph", help="only this workflow")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")

    p = command("resume", "answer a pending pause", allow_abbrev=False, epilog=RESUME_EPILOG)
    p.add_argument("thread_id", help=THREAD_HELP)
    p.add_argument("decision", nargs="?", choices=["approve", "reject", "edit", "retry", "cancel"])
    p.add_argument("--note", help="why (a tool review: the message the model sees)")
    p.add_argument("--message", dest="note", help="reject a tool call with this message")
    p.add_argument("--args", type=_json_object, help="edit a tool call: new arguments (JSON)")
    p.add_argument("--as", dest="approver", help="who decides (must be you under auth)")
    p.add_argument("--value", type=json.loads, help="send this raw JSON value instead")
    p.add_argument("--interrupt-id", help="answer this pause (default: the only one pending)")

    p = command("chat", "talk to the assistant (its tool calls wait for review)")
    p.add_argument("message", help="what you ask the assistant")
    p.add_argument("--thread", help="continue this conversation (default: a new one)")

    p = command("status", "show where a thread stands")
    p.add_argument("thread_id", help=THREAD_HELP)

    p = command("watch", "poll a thread until it needs a human or ends")
    p.add_argument("thread_id", help=THREAD_HELP)
    p.add_argument(
        "--timeout", type=float, default=300.0, help="give up after this many seconds (default 300)"
    )

    p = command(
        "history", "print a thread's audit trail (or the assistant's reviews), archived ones too"
    )
    p.add_argument("thread_id", help=THREAD_HELP)

    p = command("archive", "list decided requests moved to the archive, newest decided first")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    p.add_argument("--offset", type=_not_negative, default=0, help="skip this many (default 0)")

    p = command("demo", "replay the seed notebook's three expenses")
    p.add_argument(
        "--approver-token",
        default=os.environ.get("HITL_DEMO_APPROVER_TOKEN"),
        help="the manager who answers (default: HITL_DEMO_APPROVER_TOKEN)",
    )
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("submit", "resume"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.fields = rest  # the workflow's field flags: read once the server says what they are
    if args.command == "submit" and args.help:
        submit.print_help()
        if not (args.graph or args.assistant):  # its fields are the server's to say
            parser.exit()
    return args


def version() -> str:
    """The installed client's version."""
    import importlib.metadata  # looking a version up takes 0.15 s: only for --version

    try:
        return importlib.metadata.version("hitl-workflows")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Version(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


class UsageError(Exception):
    """A command line hitl cannot read (an unknown field flag, a bad value): exit status 2."""


KINDS = {
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "array": "a JSON list",
    "object": "a JSON object",
    "string": "text",
}
"""The JSON types a field flag reads, in the order a value is tried (text last), in words."""

PYTHON_KINDS = {
    bool: "boolean",  # before int: True is an int too
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


class FieldFlag(NamedTuple):
    """One field of a workflow given as ``--name value``: the JSON types it takes, what it is."""

    name: str
    kinds: tuple[str, ...] = ()
    """The JSON types it takes (null left out); none: any JSON value, else text."""
    choices: tuple[Any, ...] = ()
    about: str = ""
    required: bool = False

    @property
    def flag(self) -> str:
        """``--payment-error`` for ``payment_error`` (``--payment_error`` is read too)."""
        return flag_name(self.name)

    def read(self, text: str) -> Any:
        """``text`` as the first of this field's types it reads as.

        Raises:
            UsageError: It reads as none of them, or is not one of the choices.
        """
        for kind in (k for k in KINDS if k in self.kinds):
            try:
                value = _read_as(kind, text)
                break
            except ValueError:
                continue
        else:
            if self.kinds:
                said = " or ".join(KINDS[k] for k in KINDS if k in self.kinds)
                raise UsageError(f"{self.flag} takes {said}, not {text!r}")
            value = _json_or_text(text)
        if self.choices and value not in self.choices:
            said = ", ".join(map(str, self.choices))
            raise UsageError(f"{self.flag} takes one of {said}, not {text!r}")
        return value


def flag_name(name: str) -> str:
    """A field's flag: ``payment_error`` -> ``--payment-error``."""
    return "--" + name.replace("_", "-")


def _read_as(kind: str, text: str) -> Any:
    """``text`` read as a value of JSON type ``kind``; ValueError when it is not one."""
    if kind == "string":
        return text
    if kind == "boolean":
        words = {"true": True, "yes": True, "false": False, "no": False}
        if text.strip().lower() not in words:
            raise ValueError(text)
        return words[text.strip().lower()]
    if kind == "integer":
        return int(text)
    if kind == "number":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    value = json.loads(text)
    if not isinstance(value, list if kind == "array" else dict):
        raise ValueError(text)
    return value


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _resolved(spec: Any, root: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$ref`` (``#/$defs/Name``) followed within ``root``."""
    while isinstance(spec, dict) and isinstance(spec.get("$ref"), str):
        target: Any = root
        for part in spec["$ref"].removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        spec = target
    return spec if isinstance(spec, dict) else {}


def _alternatives(spec: Any, root: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value may match (``anyOf`` / ``oneOf`` spread out), null left out."""
    spec = _resolved(spec, root)
    branches = spec.get("anyOf") or spec.get("oneOf")
    if branches:
        return [alt for branch in branches for alt in _alternatives(branch, root)]
    return [] if spec.get("type") == "null" else [spec]


def field_flag(name: str, spec: Any, root: dict[str, Any], required: bool = False) -> FieldFlag:
    """The flag of field ``name`` whose JSON schema is ``spec`` (its ``$ref`` found in ``root``)."""
    spec = _resolved(spec, root)
    kinds: list[str] = []
    choices: list[Any] = []
    alternatives = _alternatives(spec, root)
    for alt in alternatives:
        fixed = alt.get("enum") or ([alt["const"]] if "const" in alt else [])
        named = alt.get("type") or [k for v in fixed for k in _kinds_of(v)]
        if not named:  # any value at all
            return FieldFlag(name, about=_about(spec), required=required)
        kinds += [k for k in ([named] if isinstance(named, str) else named) if k != "null"]
        choices += fixed
    closed = bool(alternatives) and all("enum" in a or "const" in a for a in alternatives)
    allowed = tuple(choices) if closed else ()
    return FieldFlag(name, tuple(dict.fromkeys(kinds)), allowed, _about(spec), required)


def _kinds_of(value: Any) -> list[str]:
    """The JSON type of a value (``number`` for an int: an amount may become 2.5); none for null."""
    return [kind for cls, kind in PYTHON_KINDS.items() if isinstance(value, cls)][:1]


def _about(spec: dict[str, Any]) -> str:
    text = str(spec.get("description") or spec.get("title") or "")
    return text.strip().splitlines()[0] if text.strip() else ""


def input_flags(schema: dict[str, Any]) -> dict[str, FieldFlag]:
    """The flags ``submit`` takes: the fields of a graph's input schema (not the requester)."""
    required = set(schema.get("required") or [])
    return {
        name: field_flag(name, spec, schema, name in required)
        for name, spec in (_resolved(schema, schema).get("properties") or {}).items()
        if name != "requester"
    }


def edit_flags(pause: Pause, response_schema: Any) -> dict[str, FieldFlag]:
    """The flags an edit takes: the pause's ``editable`` fields.

    Each is typed as the answer's schema types its ``changes`` (the pause's
    ``response_schema``), else as the request's current value is.
    """
    root = response_schema if isinstance(response_schema, dict) else {}
    changes = (root.get("properties") or {}).get("changes")
    fields: dict[str, Any] = {}
    for alt in _alternatives(changes, root):
        fields |= alt.get("properties") or {}
    return {
        name: field_flag(name, fields[name], root)
        if name in fields
        else FieldFlag(name, tuple(_kinds_of(pause.request.get(name))))
        for name in pause.editable
    }


def read_flags(tokens: list[str], flags: dict[str, FieldFlag], unknown: str) -> dict[str, Any]:
    """The values ``--name value`` (or ``--name=value``) tokens give, typed by ``flags``.

    Args:
        tokens: What argparse left of the command line, in order.
        flags: The fields that may be given, by name.
        unknown: What a flag that names none of them is not ("a field of travel_request").

    Raises:
        UsageError: A token is not a flag, a flag has no value or names no field, or
            a value is not of its field's type; the message names the flag.
    """
    by_flag = {f.flag: f for f in flags.values()} | {f"--{f.name}": f for f in flags.values()}
    values: dict[str, Any] = {}
    given = iter(tokens)
    for token in given:
        flag, equals, text = token.partition("=")
        if not flag.startswith("--"):
            raise UsageError(f"unexpected argument {token!r}: a field is given as --name value")
        if flag not in by_flag:
            listed = ", ".join(f.flag for f in flags.values()) or "none"
            raise UsageError(f"{flag} is not {unknown} (these are: {listed})")
        if not equals:
            if (following := next(given, None)) is None:
                raise UsageError(f"{flag} needs a value")
            text = following
        field = by_flag[flag]
        values[field.name] = field.read(text)
    return values


def flags_help(flags: dict[str, FieldFlag], graph: str) -> str:
    """The help of a workflow's field flags, one line each."""
    lines = [f"{graph}'s fields (from the server's input schema):"]
    for field in flags.values():
        usage = f"{field.flag} {'|'.join(field.kinds).upper() or 'JSON'}"
        about = field.about + (" (required)" if field.required else "")
        lines.append(f"  {usage:<30} {about}".rstrip())
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Carry out one command; return the exit status."""
    from graphs.common.audit import trail
    from sdk_client.transport import HitlClient

    client = HitlClient(args.url, token=args.token)
    for name in ("thread_id", "thread"):  # a short id as tables print it: 01a230c0-bb95-…
        if getattr(args, name, None):
            setattr(args, name, await client.resolve_thread(getattr(args, name)))
    if args.command == "submit":
        return await submit(client, args)
    if args.command == "assistant":
        return await assistant(client, args)
    if args.command == "notifications":
        return await notifications(client, args)
    if args.command == "pending":
        return pending(args)
    if args.command == "archive":
        return await archive(client, args)
    if args.command == "resume":
        return await resume(client, args)
    if args.command == "chat":
        return emit(args, await client.chat(args.message, args.thread))
    if args.command == "status":
        return emit(args, await client.status(args.thread_id))
    if args.command == "watch":
        return emit(args, await client.watch(args.thread_id, timeout=args.timeout))
    if args.command == "history":
        outcome = await client.status(args.thread_id)
        decisions = trail(outcome.values)
        if args.json:
            print(json.dumps(decisions, indent=2))
        for entry in [] if args.json else decisions:
            print(render_entry(entry))
        if not decisions and not args.json:
            print(f"thread {args.thread_id} has no decisions yet")
        return 0
    return await demo(client, HitlClient(args.url, token=args.approver_token), args)


def pending(args: argparse.Namespace) -> int:
    """List what waits for a human: one request, no SDK (``hitl pending`` answers at once)."""
    from sdk_client.reader import Reader

    outcomes = Reader(args.url, args.token).pending(args.graph, args.limit)
    if args.json:
        print(json.dumps([o.as_dict() for o in outcomes], indent=2, default=str))
    else:
        print(render_pending(outcomes))
    return 0


async def archive(client: HitlClient, args: argparse.Namespace) -> int:
    """List archived requests, one line each: id, workflow, outcome, decided, owner."""
    threads = await client.archive(args.limit, args.offset)
    if args.json:
        print(json.dumps(threads, indent=2, default=str))
    else:
        print(render_archive(threads))
    return 0


async def submit(client: HitlClient, args: argparse.Namespace) -> int:
    """Start a workflow with ``--input`` and its field flags, typed by its input schema."""
    from sdk_client.transport import WAITING, ClientError

    graph = args.graph or DEFAULT_GRAPH
    if args.requester is not None or "requester" in args.input:
        raise ClientError("the requester is always the signed-in user: drop --requester")
    values = {**args.input}
    if args.fields or args.help:
        flags = input_flags(await client.input_schema(graph, args.assistant))
        if args.help:
            print("", flags_help(flags, args.assistant or graph), sep="\n")
            return 0
        values |= read_flags(args.fields, flags, f"a field of {args.assistant or graph}")
    outcome = await progress(
        client.submit(graph, values, args.assistant, wait=not args.no_wait),
        f"{graph} is running",
    )
    status = emit(args, outcome)
    if outcome.state == WAITING and not args.json:
        print(next_step(outcome))
    return status


async def resume(client: HitlClient, args: argparse.Namespace) -> int:
    """Answer a pause: ``--value`` as it is, or a decision with its note and edit flags."""
    from graphs.common.contract import Pause
    from graphs.common.decisions import build_answer
    from sdk_client.transport import AnswerNotApplied, ClientError, pick_interrupt

    before = await client.status(args.thread_id)
    if args.value is not None:
        if args.fields:
            raise UsageError(f"--value is the whole answer: put {args.fields[0]} in it")
        answer = args.value
    elif args.decision:
        target = pick_interrupt(before, args.interrupt_id)
        args.interrupt_id = target["id"]
        payload = target.get("value") if isinstance(target.get("value"), dict) else None
        pause = Pause.read(payload)
        options = pause.options if pause else []
        if options and args.decision not in options:
            raise ClientError(
                f"invalid answer, not sent: this step offers {_either(options)}, "
                f"not {args.decision}",
                kind="invalid",
            )
        changes = edits(args, pause, target.get("response_schema"))
        try:
            answer = build_answer(
                args.decision,
                payload=payload,
                note=args.note,
                approver=args.approver,
                changes=changes,
                args=args.args,
                channel=channel_for(target.get("response_schema")),
            )
        except ValueError as exc:
            raise ClientError(str(exc), kind="invalid") from None
    else:
        raise ClientError("say approve, reject, edit, retry or cancel, or give --value JSON")
    try:
        outcome = await progress(
            client.resume(args.thread_id, answer, args.interrupt_id, before),
            "the workflow is carrying out your answer",
        )
    except AnswerNotApplied as refused:
        emit(args, refused.outcome)
        raise
    return emit(args, outcome)


def channel_for(schema: Any) -> str | None:
    """``cli``, where the pause's answer has a ``channel`` (pauses raised before it did not)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return "cli" if isinstance(properties, dict) and "channel" in properties else None


def edits(args: argparse.Namespace, pause: Pause | None, response_schema: Any) -> dict[str, Any]:
    """The changes an edit's flags make, typed as the pause's answer schema says.

    Raises:
        UsageError: A flag names no field this step lets you edit, or its value
            does not fit; flags with any answer but edit; flags on a tool review.
        ClientError: An edit that changes nothing.
    """
    from sdk_client.transport import ClientError

    if pause is None or pause.type == "tool_approval":
        if args.fields:
            raise UsageError(f"a tool review's edit takes --args JSON, not {args.fields[0]}")
        return {}
    if args.fields and args.decision != "edit":
        raise UsageError(f"{args.fields[0]} goes with edit only, not with {args.decision}")
    flags = edit_flags(pause, response_schema)
    changes = read_flags(args.fields, flags, "a field this step lets you edit")
    if args.decision == "edit" and not changes:
        named = [f.flag for f in flags.values()]
        can = _either(named) if named else "this step names no field to edit"
        raise ClientError(f"edit needs at least one change: {can}", kind="invalid")
    return changes


async def assistant(client: HitlClient, args: argparse.Namespace) -> int:
    """List assistants, or create one (admins)."""
    from sdk_client.transport import ClientError

    if args.action == "create":
        if not args.graph or not args.name:
            raise ClientError("assistant create needs --graph and --name (and --context JSON)")
        created = await client.create_assistant(args.graph, args.name, args.context)
        found = [created]
    else:
        found = await client.assistants(args.graph)
    if args.json:
        print(json.dumps(found, indent=2, default=str))
        return 0
    for item in found:
        context = json.dumps(item.get("context") or {})
        print(f"{item['assistant_id']}  {item['graph_id']}  {item.get('name')}  {context}")
    return 0


async def notifications(client: HitlClient, args: argparse.Namespace) -> int:
    """List the webhook outbox, or send one notification again (admins)."""
    from sdk_client.transport import ClientError

    if args.action == "resend":
        if not args.id:
            raise ClientError("notifications resend needs the notification id")
        result = await client.resend_notification(args.id)
        print(json.dumps(result) if args.json else f"{args.id}: queued again")
        return 0
    rows = await client.notifications(args.status)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no notifications" + (f" {args.status}" if args.status else ""))
    for row in rows:
        error = f"  ({row['last_error']})" if row.get("last_error") else ""
        to = f" to {row['recipient']}" if row.get("recipient") else ""
        print(
            f"{row['id']}  {row['status']:<7}  {row.get('channel') or 'webhook'}{to}  "
            f"attempts {row['attempts']}  thread {row['thread_id']}{error}"
        )
    return 0


async def demo(client: HitlClient, approver: HitlClient, args: argparse.Namespace) -> int:
    """Replay the seed notebook's scenarios: submitted by ``client``, answered by ``approver``."""
    from sdk_client.transport import WAITING

    results = []
    for number, (values, answer) in enumerate(SEED_SCENARIOS, 1):
        outcome = await client.submit(DEFAULT_GRAPH, values)
        if not args.json:
            print(
                *([""] if number > 1 else []),
                f"submitted to {DEFAULT_GRAPH}:",
                *_fields(values, "  "),
                render(outcome),
                sep="\n",
            )
        if answer is not None and outcome.state == WAITING:
            pause = outcome.interrupts[0]["id"]
            outcome = await approver.resume(outcome.thread_id, answer)
            if not args.json:
                print(
                    f"the approver answered pause {pause}:",
                    *_fields(answer, "  "),
                    render(outcome),
                    sep="\n",
                )
        results.append(outcome.as_dict())
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 0


def emit(args: argparse.Namespace, outcome: Outcome) -> int:
    """Print an outcome; a failed workflow is a non-zero exit."""
    print(json.dumps(outcome.as_dict(), indent=2, default=str) if args.json else render(outcome))
    return 1 if outcome.error else 0


def render(outcome: Outcome) -> str:
    """Describe a thread for a person."""
    from graphs.common.contract import Pause

    head = f"thread {outcome.thread_id} [{outcome.graph_id}] {outcome.state}"
    if outcome.archived_at:
        head += f" (archived {_when(outcome.archived_at)} UTC)"
    lines = []
    if outcome.values.get("messages"):
        last = outcome.values["messages"][-1]
        if last.get("type") == "ai" and last.get("content"):
            lines.append(f"  assistant: {last['content']}")
    if outcome.state == "waiting":
        for interrupt in outcome.interrupts:
            value = interrupt.get("value")
            if isinstance(value, dict) and value.get("type") == "tool_approval":
                lines.append(render_tool_review(interrupt))
                continue
            pause = Pause.read(value) or _unread(value)
            lines.append(f"  waiting for {_who(pause, 'a human')}, pause {interrupt['id']}:")
            lines += [f"    {line}" for line in render_pause(pause)]
    elif outcome.state == "failed":
        lines.append(f"  error: {outcome.error}")
    else:
        hidden = ("audit", "review_error", "settings", "messages", "reviews")
        lines += _fields({k: v for k, v in outcome.values.items() if k not in hidden}, "  ")
    return "\n".join([head, *lines])


def render_pause(pause: Pause) -> list[str]:
    """A pause for a person: its first line, its fields (labelled, money as money), the rest."""
    lines = [pause.headline] if pause.headline else []
    lines += [f"{field.label}: {_cut(field.text(), 200)}" for field in pause.fields]
    if pause.why:
        lines.append(f"why: {pause.why}")
    lines += [f"earlier: {render_entry(entry)}" for entry in pause.history]
    if pause.due_at:
        lines.append(f"due: {_when(pause.due_at)} (UTC)")
    if pause.options:
        edit = f"edit ({', '.join(map(flag_name, pause.editable))})" if pause.editable else "edit"
        lines.append(f"options: {', '.join(edit if o == 'edit' else o for o in pause.options)}")
    if pause.error:
        lines.append(f"error: {pause.error}")
    return lines


def _unread(value: Any) -> Pause:
    """A pause for an interrupt value that is not one of this project's (shown as it is)."""
    from graphs.common.contract import Pause

    return Pause(type="pause", action="Decide", headline=_short(value), options=[])


def next_step(outcome: Outcome) -> str:
    """The command to run next on a waiting thread, from its pause's own options."""
    from graphs.common.contract import Pause

    pause = Pause.read(outcome.interrupts[0].get("value")) if outcome.interrupts else None
    options = (pause.options if pause else None) or ["approve"]
    step = f"`hitl resume {outcome.thread_id} {options[0]}`"
    if "reject" in options:
        step += " (or reject --note ...)"
    elif len(options) > 1:
        step += f" (or {options[-1]})"
    return f"next: whom it waits for runs {step}; then `hitl history` shows the trail"


def render_pending(outcomes: list[Outcome]) -> str:
    """Pending pauses as a table, one row each, with a count.

    It reads each pause as a list row (:class:`PauseRow`: the contract's keys without
    pydantic), so ``hitl pending`` answers at once.
    """
    from graphs.common.pause_view import PauseRow, as_text

    rows = []
    for outcome in outcomes:
        for interrupt in outcome.interrupts:
            value = interrupt.get("value")
            pause = PauseRow.read(value) or PauseRow(headline=_short(value))
            amount = pause.amount
            rows.append(
                (
                    outcome.thread_id,
                    outcome.graph_id or "?",
                    f"waiting for {_who(pause, '?')}",
                    as_text(amount, money=True) if amount is not None else "",
                    _cut(pause.summary or pause.headline, 40),
                    _when(pause.due_at),
                )
            )
    if not rows:
        return "nothing is waiting for a human"
    head = ("THREAD", "WORKFLOW", "WHO", "AMOUNT", "WHAT", "DUE (UTC)")
    return "\n".join([f"{len(rows)} waiting:", *_table(head, rows)])


def render_archive(threads: list[dict[str, Any]]) -> str:
    """Archived requests as a table, one row each, with a count."""
    if not threads:
        return "no archived requests"
    rows = []
    for thread in threads:
        metadata = thread.get("metadata") or {}
        rows.append(
            (
                str(thread["thread_id"]),
                str(metadata.get("graph_id") or "?"),
                str((thread.get("values") or {}).get("status") or "finished"),
                _when(thread.get("updated_at")),
                str(metadata.get("owner") or "?"),
            )
        )
    return "\n".join(
        [
            f"{len(rows)} archived:",
            *_table(("THREAD", "WORKFLOW", "OUTCOME", "DECIDED (UTC)", "OWNER"), rows),
        ]
    )


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Rows under a head, in columns as wide as their widest cell."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]


def _who(pause: Pause | PauseRow, unknown: str) -> str:
    """Whom a pause waits for, with the chain's step: ``finance (step 2 of 3)``."""
    who = pause.role or pause.user or unknown
    if pause.levels:
        who += f" (step {pause.step} of {len(pause.levels)})"
    return who


def _when(moment: str | None) -> str:
    """An ISO 8601 time to the minute: ``2026-12-03 08:37``."""
    return str(moment or "")[:16].replace("T", " ")


def render_tool_review(interrupt: dict[str, Any]) -> str:
    """Describe a pending tool call for a person."""
    value = interrupt["value"]
    text = (
        f"  tool call waiting for {value.get('user') or 'review'}, pause {interrupt['id']}:\n"
        f"    {value.get('name')}({json.dumps(value.get('args'))})\n"
        f"    options: {', '.join(value.get('options') or [])}"
    )
    if value.get("error"):
        text += f"\n    error: {value['error']}"
    return text


def render_entry(entry: dict[str, Any]) -> str:
    """Describe one audit entry."""
    who = entry.get("approver") or "unknown"
    text = f"{entry.get('at')}  {entry.get('step')}/{entry.get('role')}: {entry.get('decision')}"
    text += f" by {who}"
    if entry.get("channel"):
        text += f" via {entry['channel']}"
    if entry.get("changes"):
        text += f" changes={json.dumps(entry['changes'])}"
    if entry.get("note"):
        text += f" note={entry['note']!r}"
    return text


def _fields(fields: dict[str, Any], indent: str) -> list[str]:
    """A pause's, a request's or an answer's fields, one ``name: value`` line each."""
    return [f"{indent}{k}: {_short(v)}" for k, v in fields.items() if v is not None]


def _either(options: list[str]) -> str:
    """``approve or reject``; ``approve, edit or reject``."""
    return " or ".join([", ".join(options[:-1]), options[-1]] if options[1:] else options)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return _cut(text, 200)


def _cut(text: str, width: int) -> str:
    """``text``, or its start and "…" when it is longer than ``width``."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


async def progress(work: Awaitable[T], what: str, after: float = 1.0) -> T:
    """Await ``work``; if it takes longer than ``after`` seconds, say so on stderr, and how long.

    Long waits are real (a payment retried with back-off takes seconds); silence
    would look like a hang. On a terminal one line is rewritten; otherwise (a pipe,
    a log) a line every few seconds. stdout stays clean for ``--json``.
    """
    import asyncio

    task = asyncio.ensure_future(work)
    started, tty = time.monotonic(), sys.stderr.isatty()
    timeout, said = after, False
    while not (await asyncio.wait({task}, timeout=timeout))[0]:
        waited = time.monotonic() - started
        end = "\r" if tty else "\n"
        print(f"... {what} ({waited:.0f} s)", end=end, file=sys.stderr, flush=True)
        timeout, said = (1.0 if tty else 3.0), True
    if said and tty:
        print(" " * 60, end="\r", file=sys.stderr, flush=True)
    return task.result()


def reachable(url: str) -> None:
    """Fail fast, with a hint, when nothing answers at ``url`` (the SDK would retry for seconds).

    Raises:
        ClientError: The server does not answer.
    """
    from sdk_client.reader import Reader

    Reader(url, timeout=3).ok()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hitl`` and ``python -m sdk_client``."""
    env_file = os.environ.get("HITL_ENV_FILE", ".env")
    if os.path.isfile(env_file):  # python-dotenv takes as long to import as argparse
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)
    args = parse_args(argv)  # --help, --version and usage errors exit here, at once
    from sdk_client.transport import ClientError

    try:
        if args.command == "pending":  # one read, no SDK and no event loop (issue 24)
            return pending(args)
        import asyncio

        reachable(args.url)
        return asyncio.run(run(args))
    except BrokenPipeError:  # `hitl pending | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"error: not valid JSON: {exc.msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
