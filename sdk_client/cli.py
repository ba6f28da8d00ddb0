"""Command-line client: submit workflows, list pending pauses, answer them.

Run as ``python -m sdk_client ...`` or ``hitl ...``. ``--json`` prints
machine-readable output. Every failure is one line on stderr and exit status 1.

The client's own modules (``langgraph_sdk``, ``httpx``, the graphs' models) take
about a second to import, so they are imported where they are used: ``hitl --help``
and a mistyped command answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from sdk_client.transport import HitlClient, Outcome

T = TypeVar("T")
DEFAULT_PORT = "8123"
"""The port `make dev` serves on unless ``HITL_PORT`` says otherwise."""
URL_HELP = (
    "the server (default: LANGGRAPH_URL, else http://127.0.0.1:${HITL_PORT:-8123}, where "
    "`make dev` serves; currently %s); host:port means http://host:port"
)
THREAD_HELP = "the thread: its id, or a start of it no other thread shares (8+ characters)"
PAUSE_ONLY = ("action_request", "config", "editable", "type", "description", "request")
"""Pause keys for Agent Inbox and programs; a person reads the request's own fields."""
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


EPILOG = """\
environment (a .env file in the working directory is read too):
  LANGGRAPH_URL     the server (--url)
  HITL_PORT         the port `make dev` serves on (8123 if unset); without
                    LANGGRAPH_URL, hitl looks for the server on it
  LANGGRAPH_TOKEN   your token (--token), sent as a bearer token
  HITL_DEMO_APPROVER_TOKEN  the manager who answers in `hitl demo`

graphs: expense_approval, approval_chain, order_processing, assistant

examples:
  hitl submit --amount 500 --description "Conference ticket"
  hitl pending --token dev-bob
  hitl resume <thread> approve --note ok --token dev-bob
  hitl submit --graph approval_chain --amount 5000 --description Racks
  hitl resume <thread> edit --amount 4000 --note "no UPS" --token dev-carol
  hitl history <thread>

a <thread> is its id (submit and pending print it) or a start of the id that no
other thread you can see shares, 8 characters or more: 01a230c0-bb95-… will do.
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

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[flags])

    p = command("submit", "start a workflow on a new thread and run it to its first pause")
    p.add_argument("--graph", default=DEFAULT_GRAPH,
                   help="the workflow (default %(default)s; see the list below)")  # fmt: skip
    p.add_argument("--amount", type=float, help="the amount asked for (a positive number)")
    p.add_argument("--description", help="what it is for")
    p.add_argument("--requester", help="not needed: the requester is always the signed-in user")
    p.add_argument("--category", help="approval_chain: an optional category")
    p.add_argument("--customer", help="order_processing: the customer")
    p.add_argument("--input", type=_json_object, default={}, help="extra input as JSON")
    p.add_argument(
        "--assistant",
        help="run this assistant (a configured version of the graph, with its own policy)",
    )
    p.add_argument("--no-wait", action="store_true", help="return once the run is queued")

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

    p = command("notifications", "(admins) the webhook outbox: list, or resend one")
    p.add_argument("action", nargs="?", choices=["list", "resend"], default="list")
    p.add_argument("id", nargs="?", help="resend: the notification (pause) id")
    p.add_argument("--status", choices=["pending", "sent", "dead", "dropped"])

    p = command("pending", "list what waits for you (or for anyone you may see)")
    p.add_argument("--graph", help="only this workflow")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")

    p = command("resume", "answer a pending pause")
    p.add_argument("thread_id", help=THREAD_HELP)
    p.add_argument("decision", nargs="?", choices=["approve", "reject", "edit", "retry", "cancel"])
    p.add_argument("--note", help="why (a tool review: the message the model sees)")
    p.add_argument("--message", dest="note", help="reject a tool call with this message")
    p.add_argument("--args", type=_json_object, help="edit a tool call: new arguments (JSON)")
    p.add_argument("--as", dest="approver", help="who decides (must be you under auth)")
    p.add_argument("--amount", type=float, help="edit: new amount")
    p.add_argument("--description", help="edit: new description")
    p.add_argument("--value", type=json.loads, help="send this raw JSON value instead")
    p.add_argument("--interrupt-id", help="answer this pause (default: the only one pending)")

    p = command("chat", "talk to the assistant (its tool calls wait for review)")
    p.add_argument("message", help="what you ask the assistant")
    p.add_argument("--thread", help="continue this conversation (default: a new one)")

    p = command("status", "show where a thread stands")
    p.add_argument("thread_id", help=THREAD_HELP)

    p = command("watch", "poll a thread until it needs a human or ends")
    p.add_argument("thread_id", help=THREAD_HELP)
    p.add_argument("--timeout", type=float, default=300.0,
                   help="give up after this many seconds (default 300)")  # fmt: skip

    p = command("history", "print a thread's audit trail (or the assistant's reviews)")
    p.add_argument("thread_id", help=THREAD_HELP)

    p = command("demo", "replay the seed notebook's three expenses")
    p.add_argument(
        "--approver-token",
        default=os.environ.get("HITL_DEMO_APPROVER_TOKEN"),
        help="the manager who answers (default: HITL_DEMO_APPROVER_TOKEN)",
    )
    return parser.parse_args(argv)


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


async def run(args: argparse.Namespace) -> int:
    """Carry out one command; return the exit status."""
    from graphs.common.audit import trail
    from graphs.common.decisions import build_answer
    from sdk_client.transport import WAITING, AnswerRefused, ClientError, HitlClient, pick_interrupt

    client = HitlClient(args.url, token=args.token)
    for name in ("thread_id", "thread"):  # a short id as tables print it: 01a230c0-bb95-…
        if getattr(args, name, None):
            setattr(args, name, await client.resolve_thread(getattr(args, name)))
    if args.command == "submit":
        if args.requester is not None or "requester" in args.input:
            raise ClientError("the requester is always the signed-in user: drop --requester")
        values = {**args.input}
        for key in ("amount", "description", "category", "customer"):
            if getattr(args, key) is not None:
                values[key] = getattr(args, key)
        outcome = await progress(
            client.submit(args.graph, values, args.assistant, wait=not args.no_wait),
            f"{args.graph} is running",
        )
        status = emit(args, outcome)
        if outcome.state == WAITING and not args.json:
            print(next_step(outcome))
        return status
    if args.command == "assistant":
        return await assistant(client, args)
    if args.command == "notifications":
        return await notifications(client, args)
    if args.command == "pending":
        outcomes = await client.pending(args.graph, args.limit)
        if args.json:
            print(json.dumps([o.as_dict() for o in outcomes], indent=2, default=str))
        else:
            print(render_pending(outcomes))
        return 0
    if args.command == "resume":
        before = await client.status(args.thread_id)
        if args.value is not None:
            answer = args.value
        elif args.decision:
            changes = {
                k: v
                for k, v in (("amount", args.amount), ("description", args.description))
                if v is not None
            }
            target = pick_interrupt(before, args.interrupt_id)
            args.interrupt_id = target["id"]
            payload = target.get("value") if isinstance(target.get("value"), dict) else None
            options = (payload or {}).get("options")
            if options and args.decision not in options:
                raise ClientError(
                    f"invalid answer, not sent: this step offers {_either(options)}, "
                    f"not {args.decision}",
                    kind="invalid",
                )
            try:
                answer = build_answer(
                    args.decision,
                    payload=payload,
                    note=args.note,
                    approver=args.approver,
                    changes=changes,
                    args=args.args,
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
        except AnswerRefused as refused:
            emit(args, refused.outcome)
            raise
        return emit(args, outcome)
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
        print(f"{row['id']}  {row['status']:<7}  attempts {row['attempts']}  "
              f"thread {row['thread_id']}{error}")  # fmt: skip
    return 0


async def demo(client: HitlClient, approver: HitlClient, args: argparse.Namespace) -> int:
    """Replay the seed notebook's scenarios: submitted by ``client``, answered by ``approver``."""
    from sdk_client.transport import WAITING

    results = []
    for number, (values, answer) in enumerate(SEED_SCENARIOS, 1):
        outcome = await client.submit(DEFAULT_GRAPH, values)
        if not args.json:
            print(*([""] if number > 1 else []), f"submitted to {DEFAULT_GRAPH}:",
                  *_fields(values, "  "), render(outcome), sep="\n")  # fmt: skip
        if answer is not None and outcome.state == WAITING:
            pause = outcome.interrupts[0]["id"]
            outcome = await approver.resume(outcome.thread_id, answer)
            if not args.json:
                print(f"the approver answered pause {pause}:", *_fields(answer, "  "),
                      render(outcome), sep="\n")  # fmt: skip
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
    from graphs.common.pauses import request_fields

    head = f"thread {outcome.thread_id} [{outcome.graph_id}] {outcome.state}"
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
            value = value if isinstance(value, dict) else {"value": value}
            # The request's own fields first, then the pause's; a pause's description
            # may be Agent Inbox's markdown, which is not the request's text.
            fields = {**request_fields(value), **{k: v for k, v in value.items()
                                                  if k not in PAUSE_ONLY}}  # fmt: skip
            lines.append(f"  waiting for {_who(value, 'a human')}, pause {interrupt['id']}:")
            lines += _fields(fields, "    ")
    elif outcome.state == "failed":
        lines.append(f"  error: {outcome.error}")
    else:
        hidden = ("audit", "review_error", "settings", "messages", "reviews")
        lines += _fields({k: v for k, v in outcome.values.items() if k not in hidden}, "  ")
    return "\n".join([head, *lines])


def next_step(outcome: Outcome) -> str:
    """The command to run next on a waiting thread, from its pause's own options."""
    value = outcome.interrupts[0].get("value") if outcome.interrupts else None
    options = (value if isinstance(value, dict) else {}).get("options") or ["approve"]
    step = f"`hitl resume {outcome.thread_id} {options[0]}`"
    if "reject" in options:
        step += " (or reject --note ...)"
    elif len(options) > 1:
        step += f" (or {options[-1]})"
    return f"next: whom it waits for runs {step}; then `hitl history` shows the trail"


def render_pending(outcomes: list[Outcome]) -> str:
    """Pending pauses as a table, one row each, with a count."""
    from graphs.common.pauses import headline, request_fields

    rows = []
    for outcome in outcomes:
        for interrupt in outcome.interrupts:
            value = interrupt.get("value") if isinstance(interrupt.get("value"), dict) else {}
            said = headline(request_fields(value))
            amount = said["amount"]
            rows.append((
                outcome.thread_id,
                outcome.graph_id or "?",
                f"waiting for {_who(value, value.get('user') or '?')}",
                f"{amount:,.2f}" if amount is not None else "",
                _cut(said["summary"], 40),
                str(value.get("due_at") or "")[:16].replace("T", " "),
            ))  # fmt: skip
    if not rows:
        return "nothing is waiting for a human"
    head = ("THREAD", "WORKFLOW", "WHO", "AMOUNT", "WHAT", "DUE (UTC)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join
    table = [line(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [head, *rows]]  # fmt: skip
    return "\n".join([f"{len(rows)} waiting:", *table])


def _who(value: dict[str, Any], unknown: str) -> str:
    """Whom a pause waits for, with the chain's step: ``finance (step 2 of 3)``."""
    who = value.get("role") or unknown
    if value.get("levels"):
        who += f" (step {value.get('step')} of {len(value['levels'])})"
    return who


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
    import httpx

    from sdk_client.transport import ClientError

    try:
        httpx.get(f"{url.rstrip('/')}/ok", timeout=3)
    except httpx.HTTPError as exc:
        raise ClientError(
            f"cannot reach the server at {url} ({type(exc).__name__}): is it running? "
            "Start one with `make dev` (it serves on HITL_PORT, default 8123), or point "
            "--url / LANGGRAPH_URL at yours",
            kind="unreachable",
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hitl`` and ``python -m sdk_client``."""
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("HITL_ENV_FILE", ".env"), override=False)
    args = parse_args(argv)  # --help, --version and usage errors exit here, at once
    import asyncio

    from sdk_client.transport import ClientError

    try:
        reachable(args.url)
        return asyncio.run(run(args))
    except BrokenPipeError:  # `hitl pending | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as exc:
        print(f"error: not valid JSON: {exc.msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
