"""Email: tell approvers a pause waits for them, and let them answer from a personal link.

Off unless ``HITL_SMTP_URL`` is set. Then every pause is mailed, through the
notification outbox (``server.notify``: at least once, back-off, dead letters,
dropped once answered), to every configured user it is addressed to who has an
address in ``HITL_USER_EMAILS`` (``bob:bob@example.com,...``), never to the
requester: the one addressing rule, ``graphs.common.access.why_not_answerable``.

- **The mail** shows the pause as its contract says it (:meth:`Pause.read`: the
  headline, labelled fields, money, the due time) and a personal link,
  ``$HITL_PUBLIC_URL/email/answer?token=...``.
- **The token** (``itsdangerous``, signed with ``HITL_LINK_SECRET``) names the
  user, the thread, the pause and an expiry: the pause's deadline, or
  :data:`DEFAULT_LINK_DAYS` days. It is made when the mail is sent, so no token
  rests in the outbox. The secret is required when email is on, and refused at
  start-up if it is the example of ``.env.example`` outside ``langgraph dev``
  (the rule of the example tokens, ``server.auth.development``).
- **Opening the link decides nothing** (mail scanners open links): ``GET`` shows a
  confirmation page naming whom the link acts as, the request, the options and a
  note (required to reject). Only its ``POST`` answers, with a CSRF token (a random
  value in a cookie and in the form, compared in constant time), as the link's user
  through ``server.answers`` (``acting_as`` + ``give_answer``, channel ``email``):
  every rule of every other answer applies.
- **A link answers once.** Used links are kept by the hash of their token in the
  store (``email_links``). Once used, or once its pause is decided, stale or
  expired, the page says who decided and when, instead of the form.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx
from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from langgraph_sdk.errors import APIStatusError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from graphs.common import store
from graphs.common.access import why_not_answerable
from graphs.common.audit import trail
from graphs.common.contract import Pause
from graphs.common.store import email_links
from server.answers import Outcome, acting_as, give_answer, user_named
from server.auth import USERS, User, development
from server.inbox import currency
from server.threads import pending_pauses

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PAGE = (Path(__file__).parent / "static" / "confirm.html").read_text()
SALT = "hitl-email-answer"
"""Keeps these tokens apart from anything else the same secret might sign."""
DEFAULT_LINK_DAYS = 7
"""How long a link works when its pause has no deadline."""
CLAIM_TIMEOUT = timedelta(minutes=2)
"""A link claimed this long ago without an answer (a crash between the two) works again."""
CSRF_COOKIE = "hitl_csrf"
PATH = "/email/answer"
SMTP_TIMEOUT = 20.0
ANSWERED = {
    "approve": "approved",
    "edit": "changed and approved",
    "reject": "rejected",
    "expire": "expired",
    "retry": "retried",
    "cancel": "cancelled",
}


# Settings


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes: ``HITL_SMTP_URL``."""

    host: str
    port: int
    security: Literal["plain", "starttls", "tls"]
    """``tls``: TLS from the start (``smtps://``); ``starttls``: upgraded after connecting."""
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        """The server without its password (settings get logged)."""
        user = f"{self.username}@" if self.username else ""
        return f"SmtpServer({self.security}://{user}{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SmtpServer:
    """Read ``smtp://[user:pass@]host[:port][?starttls=true]`` or ``smtps://...`` (port 465).

    ``smtp://`` is plain SMTP on port 25 unless ``?starttls=true`` (then 587 by default);
    user and password are percent-decoded.

    Raises:
        ValueError: Not such a URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(
            "HITL_SMTP_URL must be smtp://host[:port] or smtps://user:pass@host[:port]"
        )
    options = dict(parse_qsl(parts.query))
    unknown = set(options) - {"starttls"}
    if unknown:
        raise ValueError(f"HITL_SMTP_URL: unknown option {sorted(unknown)[0]!r} (known: starttls)")
    starttls = options.get("starttls", "false").lower() in ("1", "true", "yes")
    security: Literal["plain", "starttls", "tls"] = (
        "tls" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    )
    try:
        port = parts.port or {"tls": 465, "starttls": 587, "plain": 25}[security]
    except ValueError as exc:
        raise ValueError(f"HITL_SMTP_URL: {exc}") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


ADDRESS = re.compile(r"^[^@\s,:<>\"]+@[^@\s,:<>\"]+\.[^@\s,:<>\"]+$|^[^@\s,:<>\"]+@localhost$")


def parse_addresses(spec: str, users: list[User]) -> dict[str, str]:
    """Read ``HITL_USER_EMAILS``: ``name:address,...`` for configured users.

    Raises:
        ValueError: A malformed entry or address, a user who is not configured, or a
            name given twice.
    """
    known = {u.identity for u in users}
    addresses: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, sep, address = (part.strip() for part in entry.partition(":"))
        if not sep or not name or not ADDRESS.match(address):
            raise ValueError(f"HITL_USER_EMAILS entry {entry!r} is not name:address")
        if name not in known:
            raise ValueError(f"HITL_USER_EMAILS names {name!r}, who is not in HITL_USERS")
        if name in addresses:
            raise ValueError(f"HITL_USER_EMAILS gives {name!r} twice")
        addresses[name] = address
    return addresses


def example_secret() -> str | None:
    """The ``HITL_LINK_SECRET`` example of ``.env.example`` (commented out or not)."""
    example = ROOT / ".env.example"
    lines = example.read_text().splitlines() if example.exists() else []
    for line in lines:
        if found := re.match(r"^#?\s*HITL_LINK_SECRET=(\S+)", line):
            return found.group(1)
    return None


EXAMPLE_SECRET = example_secret()
"""Read once, at start-up (a file read has no place on the event loop)."""


def secret_problem(secret: str, *, in_development: bool, example: str | None) -> str | None:
    """Why a link secret may not sign links here (None: it may).

    Required when email is on; the example value of ``.env.example`` only under
    ``langgraph dev``, as the example tokens (anyone who read the file could sign
    links); and long enough to resist guessing.
    """
    if not secret:
        return (
            "HITL_SMTP_URL is set but HITL_LINK_SECRET is not: email links are signed with it "
            "(a long random value: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if example and hmac.compare_digest(secret.encode(), example.encode()):
        if in_development:
            return None
        return (
            "HITL_LINK_SECRET is the example value from .env.example: anyone who has read it "
            "could sign email links. Set a long random value."
        )
    if len(secret) < 16:
        return "HITL_LINK_SECRET is too short: use at least 16 characters (32 random bytes is good)"
    return None


@dataclass(frozen=True)
class MailSettings:
    """Email as the environment configures it."""

    smtp: SmtpServer
    sender: str
    addresses: dict[str, str]
    """User name -> address."""
    secret: str
    public_url: str

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        users: list[User] | None = None,
        in_development: bool | None = None,
        example: str | None = EXAMPLE_SECRET,
    ) -> MailSettings | None:
        """Email's settings, or None when it is off (no ``HITL_SMTP_URL``).

        Raises:
            ValueError: Email is on but misconfigured (the message says what to fix).
        """
        url = (env.get("HITL_SMTP_URL") or "").strip()
        if not url:
            return None
        smtp = parse_smtp_url(url)
        sender = (env.get("HITL_EMAIL_FROM") or "").strip()
        if not sender or "@" not in sender or "\n" in sender or "\r" in sender:
            raise ValueError("HITL_SMTP_URL is set: HITL_EMAIL_FROM must be the sender's address")
        addresses = parse_addresses(
            env.get("HITL_USER_EMAILS") or "", USERS if users is None else users
        )
        if not addresses:
            logger.warning(
                "HITL_SMTP_URL is set but HITL_USER_EMAILS names nobody: no mail is sent"
            )
        secret = env.get("HITL_LINK_SECRET") or ""
        dev = development() if in_development is None else in_development
        if problem := secret_problem(secret, in_development=dev, example=example):
            raise ValueError(problem)
        public = (env.get("HITL_PUBLIC_URL") or "http://127.0.0.1:8123").rstrip("/")
        return cls(smtp, sender, addresses, secret, public)


@lru_cache(maxsize=1)
def settings() -> MailSettings | None:
    """This server's email settings (read once; ``server.app`` checks them at start-up)."""
    return MailSettings.from_env(os.environ)


# Links


@dataclass(frozen=True)
class Link:
    """What a link's token says: who answers which pause, until when."""

    identity: str
    thread_id: str
    interrupt_id: str
    step: int
    expires: datetime


class LinkRefused(Exception):
    """A link that cannot be used: its HTTP status and the reason people read."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def sign_link(secret: str, link: Link) -> str:
    """The token of a link."""
    return _serializer(secret).dumps(
        {
            "u": link.identity,
            "t": link.thread_id,
            "i": link.interrupt_id,
            "s": link.step,
            "e": int(link.expires.timestamp()),
        }
    )


def read_link(secret: str, token: str, now: datetime | None = None) -> Link:
    """The link a token names, if it is genuine and not expired.

    Raises:
        LinkRefused: 403 when the token was changed or signed with another secret,
            410 when it has expired.
    """
    try:
        if not _canonical(token):
            raise BadSignature("another spelling of a token")
        data = _serializer(secret).loads(token)
    except BadSignature:
        raise LinkRefused(
            403, "This link is not valid: it was changed, or it was not made by this server."
        ) from None
    try:
        link = Link(
            identity=str(data["u"]),
            thread_id=str(data["t"]),
            interrupt_id=str(data["i"]),
            step=int(data["s"]),
            expires=datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (KeyError, TypeError, ValueError):
        raise LinkRefused(403, "This link is not valid: it does not name a request.") from None
    if (now or datetime.now(UTC)) >= link.expires:
        raise LinkRefused(410, f"This link expired at {shown_time(link.expires)}.")
    return link


def _canonical(token: str) -> bool:
    """Whether each part of ``token`` is the one base64 spelling of its bytes.

    A part whose length leaves spare bits in its last character decodes the same
    whatever those bits are: the same signed link under other spellings, each a
    different token to the once-only record (:func:`token_hash`).
    """
    try:
        return all(
            base64_encode(base64_decode(part)).decode() == part
            for part in token.removeprefix(".").split(".")
        )
    except BadData:
        return False


def token_hash(token: str) -> str:
    """What the store keeps of a used token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def expiry(pause: Pause, now: datetime) -> datetime:
    """When a link to ``pause`` stops working: its deadline, or in :data:`DEFAULT_LINK_DAYS`."""
    if pause.due_at:
        try:
            due = datetime.fromisoformat(pause.due_at.replace("Z", "+00:00"))
            return due if due.tzinfo else due.replace(tzinfo=UTC)
        except ValueError:
            logger.warning(
                "pause due_at %r is not a time: its link works %d days",
                pause.due_at,
                DEFAULT_LINK_DAYS,
            )
    return now + timedelta(days=DEFAULT_LINK_DAYS)


def link_url(public_url: str, token: str) -> str:
    """The personal link a mail carries."""
    return f"{public_url}{PATH}?{urlencode({'token': token})}"


# Recipients and the mail


def recipients(
    payload: Any, addresses: Mapping[str, str], users: list[User] | None = None
) -> list[tuple[str, str]]:
    """``(user, address)`` of everyone a pause may be mailed to, in configuration order.

    Those it is addressed to (its role's users, or its one user) who have an address;
    never its requester, who may not approve it.
    """
    return [
        (user.identity, addresses[user.identity])
        for user in (USERS if users is None else users)
        if user.identity in addresses
        if why_not_answerable(payload, user.identity, user.role, approves=True) is None
    ]


def shown_time(when: datetime | str | None) -> str:
    """A time as people read it: ``2025-06-03 14:02 UTC``."""
    if when is None:
        return ""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return str(when)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def one_line(text: str, limit: int = 150) -> str:
    """Text fit for a mail header: one line (no header injection), at most ``limit`` long."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def field_lines(pause: Pause) -> list[tuple[str, str]]:
    """A pause's fields as ``(label, text)``, money with the deployment's currency."""
    code = currency()
    return [(f.label, f"{f.text()} {code}" if f.money and code else f.text()) for f in pause.fields]


def compose(
    mail: MailSettings,
    identity: str,
    address: str,
    thread_id: str,
    interrupt_id: str,
    pause: Pause,
    now: datetime | None = None,
) -> EmailMessage:
    """The mail telling ``identity`` about ``pause``, with their personal link."""
    now = now or datetime.now(UTC)
    expires = expiry(pause, now)
    token = sign_link(mail.secret, Link(identity, thread_id, interrupt_id, pause.step, expires))
    link = link_url(mail.public_url, token)
    lines = [pause.headline, ""]
    if pause.why:
        lines += [pause.why, ""]
    lines += [f"{label}: {text}" for label, text in field_lines(pause)]
    if pause.requester:
        lines.append(f"Requested by: {pause.requester}")
    if pause.due_at:
        lines.append(f"Due: {shown_time(pause.due_at)}")
    lines += [
        "",
        f"Answer it here ({', '.join(o for o in pause.options if o != 'edit')}):",
        link,
        "",
        f"This link is personal: it answers as {identity}, once, until {shown_time(expires)}.",
        "Opening it decides nothing: the page asks you to confirm. Do not forward this mail.",
        "",
        f"Or open it in the inbox: {mail.public_url}/inbox#item-{interrupt_id}",
    ]
    message = EmailMessage()
    message["Subject"] = one_line(f"Waiting for you: {pause.headline}")
    message["From"] = mail.sender
    message["To"] = address
    message["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2] or None)
    message["X-HITL-Pause"] = one_line(interrupt_id, 100)
    message.set_content("\n".join(lines))
    return message


def send(smtp: SmtpServer, message: EmailMessage) -> None:
    """Hand a mail to the SMTP server (blocking: call it in a thread).

    Raises:
        smtplib.SMTPException, OSError: It was not accepted.
    """
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


class Mailer:
    """The email channel of ``server.notify``'s outbox."""

    def __init__(self, mail: MailSettings) -> None:
        self.mail = mail

    @classmethod
    def from_env(cls) -> Mailer | None:
        """The mailer this server's settings configure, or None when email is off."""
        mail = settings()
        return cls(mail) if mail else None

    def recipients(self, payload: Any) -> list[tuple[str, str]]:
        """``(user, address)`` to mail a pause to."""
        return recipients(payload, self.mail.addresses)

    async def deliver(
        self, identity: str, address: str, thread_id: str, pause: dict[str, Any]
    ) -> str | None:
        """Mail one pending pause to one user; the problem, or None when the server took it."""
        asked = Pause.read(pause.get("value"))
        if asked is None:
            return f"interrupt {pause.get('id')} is not a pause: nothing to mail"
        message = compose(self.mail, identity, address, thread_id, str(pause["id"]), asked)
        try:
            await asyncio.to_thread(send, self.mail.smtp, message)
        except (smtplib.SMTPException, OSError) as exc:
            return f"SMTP {self.mail.smtp.host}:{self.mail.smtp.port}: {exc!r}"
        return None


# Used links


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def claim(digest: str, link: Link) -> bool:
    """Take a link for one answer; False when it answered already (or is answering now)."""
    at = now()
    try:
        with store.engine().begin() as conn:
            conn.execute(
                insert(email_links).values(
                    token_hash=digest,
                    identity=link.identity,
                    thread_id=link.thread_id,
                    interrupt_id=link.interrupt_id,
                    claimed_at=at,
                )
            )
        return True
    except IntegrityError:
        pass
    with store.engine().begin() as conn:  # a claim a crash left behind works again
        return bool(
            conn.execute(
                update(email_links)
                .where(
                    email_links.c.token_hash == digest,
                    email_links.c.used_at.is_(None),
                    email_links.c.claimed_at < at - CLAIM_TIMEOUT,
                )
                .values(claimed_at=at)
            ).rowcount
        )


def used(digest: str, decision: str) -> None:
    """Record that a claimed link answered."""
    with store.engine().begin() as conn:
        conn.execute(
            update(email_links)
            .where(email_links.c.token_hash == digest)
            .values(used_at=now(), decision=decision)
        )


def release(digest: str) -> None:
    """Give back a claimed link whose answer was not applied: it may answer again."""
    with store.engine().begin() as conn:
        conn.execute(
            delete(email_links).where(
                email_links.c.token_hash == digest, email_links.c.used_at.is_(None)
            )
        )


def use_of(digest: str) -> dict[str, Any] | None:
    """How a link was used (None: it was not)."""
    with store.engine().connect() as conn:
        row = conn.execute(select(email_links).where(email_links.c.token_hash == digest)).first()
    return row._asdict() if row is not None else None


# The page


def escape(text: Any) -> str:
    """User text as HTML text."""
    return html.escape(str(text), quote=True)


def page(title: str, content: str, status: int = 200, cookie: str | None = None) -> HTMLResponse:
    """The page around ``content`` (already HTML), never cached, never framed, no referrer.

    ``cookie``: the CSRF value to set (HttpOnly, SameSite=Strict, only for ``/email/``).
    """
    body = PAGE.replace("<!--TITLE-->", escape(title)).replace("<!--CONTENT-->", content)
    response = HTMLResponse(body, status_code=status)
    response.headers.update(
        {
            "Cache-Control": "no-store",
            # The page's URL carries the token: no other site may see it.
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        }
    )
    if cookie is not None:
        mail = settings()
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            path="/email/",
            httponly=True,
            samesite="strict",
            secure=bool(mail and mail.public_url.startswith("https:")),
        )
    return response


def refused_page(status: int, reason: str) -> HTMLResponse:
    """A link that cannot answer, and why (nothing was applied)."""
    content = (
        '<section class="card refused" role="alert"><h2>This link cannot be used</h2>'
        f'<p>{escape(reason)}</p><p class="muted">Nothing was changed.</p></section>'
    )
    return page("Link refused", content, status)


def decided_text(entry: Mapping[str, Any] | None) -> str:
    """Who decided, how and when, in a sentence (from an audit entry)."""
    if not entry:
        return "It is no longer waiting for an answer."
    decision = str(entry.get("decision"))
    when = shown_time(entry.get("at"))
    if decision == "expire":
        return f"It expired at {when}: nobody answered in time."
    who = entry.get("approver") or "the workflow"
    how = f" by {entry['channel']}" if entry.get("channel") else ""
    note = f" Note: “{entry['note']}”" if entry.get("note") else ""
    return f"{who} {ANSWERED.get(decision, decision)} it at {when}{how}.{note}"


def entry_for(values: Mapping[str, Any] | None, step: int) -> dict[str, Any] | None:
    """The audit entry that decided the pause at ``step`` (else the thread's last one)."""
    decisions = trail(dict(values or {}))
    at_step = [e for e in decisions if e.get("step") == step]
    chosen = at_step or decisions
    return chosen[-1] if chosen else None


def closed_page(
    heading: str, entry: Mapping[str, Any] | None, used_by: str | None = None
) -> HTMLResponse:
    """A link with nothing left to answer: who decided and when, instead of the form."""
    lead = f"<p>This link was used by {escape(used_by)}.</p>" if used_by else ""
    content = (
        f'<section class="card closed" role="status"><h2>{escape(heading)}</h2>{lead}'
        f"<p>{escape(decided_text(entry))}</p></section>"
    )
    return page(heading, content, 410)


def request_html(asked: Pause) -> str:
    """The request as the pause shows it: headline, why, fields, requester, due time."""
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in field_lines(asked)
    )
    if asked.requester:
        rows += f"<dt>Requested by</dt><dd>{escape(asked.requester)}</dd>"
    if asked.due_at:
        rows += f"<dt>Due</dt><dd><time>{escape(shown_time(asked.due_at))}</time></dd>"
    why = f'<p class="muted">{escape(asked.why)}</p>' if asked.why else ""
    return f'<h2 class="headline">{escape(asked.headline)}</h2>{why}<dl class="request">{rows}</dl>'


def form_page(
    mail: MailSettings,
    token: str,
    csrf: str,
    link: Link,
    role: str,
    asked: Pause,
    error: str | None = None,
    note: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The confirmation form: who answers, what, the options, a note."""
    buttons = "".join(
        f'<button type="submit" name="decision" value="{escape(option)}"'
        f"{' class=danger' if option == 'reject' else ''}>{escape(option.capitalize())}</button>"
        for option in asked.options
        if option != "edit"
    )
    inbox = f"{mail.public_url}/inbox#item-{link.interrupt_id}"
    edit = (
        f'<p class="muted">To change the request before approving it, '
        f'<a href="{escape(inbox)}">open it in the inbox</a>.</p>'
        if "edit" in asked.options
        else ""
    )
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    content = (
        f'<p class="as" id="as">You are answering as <strong>{escape(link.identity)}</strong> '
        f"({escape(role)}). This link was sent to {escape(link.identity)}: whoever opens it "
        f"answers as them, once, until {escape(shown_time(link.expires))}.</p>"
        f'<section class="card">{request_html(asked)}'
        f'<form method="post" action="{PATH}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<label class="note-label">Note (required to reject)'
        f'<textarea name="note" rows="3" maxlength="2000">{escape(note)}</textarea></label>'
        f'{alert}<div class="actions">{buttons}</div></form>{edit}</section>'
    )
    return page(asked.headline, content, status, cookie=csrf)


def csrf_of(request: Request) -> str:
    """The caller's CSRF value: the cookie's when it has a well-formed one, else a new one."""
    given = request.cookies.get(CSRF_COOKIE) or ""
    return given if re.fullmatch(r"[A-Za-z0-9_-]{32,64}", given) else secrets.token_urlsafe(32)


async def thread_as(identity: str, thread_id: str) -> dict[str, Any] | None:
    """A thread as ``identity`` may see it (None: hidden from them, or gone)."""
    async with acting_as(identity) as client:
        try:
            return dict(await client.threads.get(thread_id))
        except (APIStatusError, httpx.HTTPStatusError) as exc:
            status = (
                exc.status_code if isinstance(exc, APIStatusError) else exc.response.status_code
            )
            if status in (403, 404):
                return None
            raise


async def opened(token: str, link: Link) -> tuple[str, Pause] | HTMLResponse:
    """The link's user's role and its pending pause, or the page that says why not."""
    user = user_named(link.identity)
    if user is None:
        return refused_page(403, f"{link.identity} is no longer a user of this server.")
    use = await asyncio.to_thread(use_of, token_hash(token))
    if use is not None and use["used_at"] is not None:
        thread = await thread_as(link.identity, link.thread_id)
        entry = entry_for((thread or {}).get("values"), link.step)
        return closed_page("This link has been used", entry, used_by=link.identity)
    thread = await thread_as(link.identity, link.thread_id)
    if thread is None:
        return refused_page(
            403, f"This request is not for {link.identity}, or it no longer exists."
        )
    pause = next((p for p in pending_pauses(thread) if p["id"] == link.interrupt_id), None)
    if pause is None:
        return closed_page("Already decided", entry_for(thread.get("values"), link.step))
    asked = Pause.read(pause.get("value"))
    if asked is None:
        return refused_page(403, "This link does not point at a question this page can show.")
    role = str(user["role"])
    if why := why_not_answerable(pause.get("value"), link.identity, role, approves=True):
        return refused_page(403, f"{link.identity} may not answer this request: {why}.")
    return role, asked


def link_of(mail: MailSettings | None, token: str) -> Link | HTMLResponse:
    """The link a token names, or the page that refuses it."""
    if mail is None:
        return refused_page(404, "Email links are not enabled on this server.")
    if not token:
        return refused_page(400, "This link is incomplete: open the whole link from the mail.")
    try:
        return read_link(mail.secret, token)
    except LinkRefused as refused:
        return refused_page(refused.status, refused.reason)


async def show(request: Request) -> Response:
    """Show the confirmation page of a mailed link (it decides nothing)."""
    mail = settings()
    token = request.query_params.get("token") or ""
    link = link_of(mail, token)
    if not isinstance(link, Link):
        return link
    assert mail is not None
    found = await opened(token, link)
    if isinstance(found, Response):
        return found
    role, asked = found
    return form_page(mail, token, csrf_of(request), link, role, asked)


REFUSALS = {"auth": 403, "not_found": 403, "conflict": 409, "error": 502}


async def answer(request: Request) -> Response:
    """Answer once, as the link's user, from the confirmation page's form."""
    mail = settings()
    form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
    token = form.get("token", "")
    link = link_of(mail, token)
    if not isinstance(link, Link):
        return link
    assert mail is not None
    cookie, sent = request.cookies.get(CSRF_COOKIE) or "", form.get("csrf") or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return refused_page(
            403,
            "This form could not be checked (its security token is missing or does not match). "
            "Open the link from the mail again and answer from that page.",
        )
    found = await opened(token, link)
    if isinstance(found, Response):
        return found
    role, asked = found
    decision, note = form.get("decision", ""), form.get("note", "").strip()

    def again(error: str, status: int = 422) -> HTMLResponse:
        return form_page(mail, token, cookie, link, role, asked, error, note, status)

    if decision not in asked.options or decision == "edit":
        offered = ", ".join(o for o in asked.options if o != "edit")
        return again(f"Choose one of: {offered}.")
    if decision == "reject" and not note:
        return again("A reject needs a note: say why (the requester reads it).")
    digest = token_hash(token)
    if not await asyncio.to_thread(claim, digest, link):
        found = await opened(token, link)  # used meanwhile: who decided
        if isinstance(found, Response):
            return found
        return refused_page(409, "This link is answering right now: reload the page in a moment.")
    try:
        async with acting_as(link.identity) as client:
            outcome = await give_answer(
                client,
                link.thread_id,
                link.interrupt_id,
                decision,
                channel="email",
                note=note or None,
            )
    except BaseException:
        await asyncio.to_thread(release, digest)
        raise
    if not outcome.applied:
        await asyncio.to_thread(release, digest)
        return not_applied_page(outcome, link, again)
    await asyncio.to_thread(used, digest, decision)
    return done_page(outcome, link, decision, asked)


def not_applied_page(
    outcome: Outcome, link: Link, again: Callable[[str, int], HTMLResponse]
) -> HTMLResponse:
    """Why an answer was not applied (the link still works unless its pause is gone)."""
    if outcome.kind == "stale":
        return closed_page("Already decided", outcome.last)
    if outcome.kind in ("invalid", "refused"):
        return again(outcome.error or "The answer was not accepted.", 422)
    reason = outcome.error or outcome.kind
    if outcome.kind == "not_found":
        reason = f"This request is not for {link.identity}, or it no longer exists."
    return refused_page(REFUSALS.get(outcome.kind, outcome.status), reason)


def done_page(outcome: Outcome, link: Link, decision: str, asked: Pause) -> HTMLResponse:
    """The answer was applied: what it did, and what happens next."""
    said = ANSWERED.get(decision, decision)
    if outcome.state == "waiting" and outcome.waiting_for:
        after = f"It now waits for {outcome.waiting_for.removeprefix('user:')}."
    elif outcome.outcome:
        after = f"The request is now {outcome.outcome}."
    else:
        after = ""
    content = (
        f'<section class="card done" role="status"><h2>{escape(said.capitalize())}</h2>'
        f'<p class="headline">{escape(asked.headline)}</p>'
        f"<p>You {escape(said)} it as {escape(link.identity)}, by email, at "
        f"{escape(shown_time(datetime.now(UTC)))}. {escape(after)}</p>"
        '<p class="muted">This link has now been used; you can close this page.</p></section>'
    )
    return page(said.capitalize(), content)


routes = [
    Route(PATH, show, methods=["GET"]),
    Route(PATH, answer, methods=["POST"]),
]
