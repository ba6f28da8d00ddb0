"""Order processing: durable ``@task`` side effects, retries, and a human when they run out.

``create_order`` makes the order id in a ``@task`` (so a resume never makes a new
one); orders over the approval limit pause in ``approve_order`` before anything
is charged, and so does an order that would exceed it together with what its
requester already moved without a manager today (orders and the assistant's
payments). ``charge`` calls the payment ``@task``, retried on transient gateway
errors with the seed's backoff (``RetryPolicy`` from ``langgraph.types``, given
per task). When the retries run out, ``handle_failure`` asks a human to retry or
cancel. The gateway's ledger is keyed by the order id, which the ledger hands
out once, so no path charges an order twice: not a retry, a resume, a crash, nor
a copied or replayed thread. The ledger also refuses an order nobody reviewed
when, paid, it would take its requester past the limit (``status`` ``refused``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, ParamSpec, Protocol, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.func import task
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy
from pydantic import ConfigDict, Field, ValidationError, with_config
from typing_extensions import TypedDict

from graphs import payments
from graphs.common.audit import SYSTEM, AuditEntry
from graphs.common.contract import Pause
from graphs.common.decisions import Decision, approves
from graphs.common.fields import (
    Amount,
    Approver,
    Channel,
    Limit,
    Note,
    StrictModel,
    describe_error,
    validate_input,
)
from graphs.common.pauses import Answered, AskAgain, Expired, WorkflowState, decide, due_at
from graphs.common.policy import pin_context, pinned

PAYMENT_RETRY = RetryPolicy(
    max_attempts=3,
    initial_interval=0.5,
    backoff_factor=2,
    max_interval=10,
    retry_on=payments.TransientGatewayError,
)
"""The seed's settings; only transient gateway errors are retried (a decline is final)."""


@with_config(ConfigDict(use_attribute_docstrings=True))
class InputState(TypedDict):
    """What a requester sends."""

    amount: float
    """The order's amount: a positive number."""
    customer: NotRequired[str | None]
    """Who the order is for."""
    items: NotRequired[list[Any] | None]
    """What is ordered (at most 1,000 items)."""


class State(InputState, WorkflowState):
    """The order as it moves through the workflow."""

    requester: NotRequired[str | None]

    order_id: NotRequired[str]
    status: NotRequired[
        Literal["created", "approved", "paid", "payment_failed", "declined", "cancelled", "refused"]
    ]
    payment_result: NotRequired[dict[str, Any]]
    payment_error: NotRequired[str | None]
    decided_by: NotRequired[str | None]
    unreviewed_today: NotRequired[float]
    """What the requester had moved without a manager today when the order was made:
    pinned, so a resume (after midnight, say) cannot change whether it pauses."""


class OutputState(TypedDict):
    """What a finished run reports."""

    amount: float
    order_id: str
    status: str
    payment_result: dict[str, Any]
    payment_error: str | None
    decided_by: str | None
    audit: list[AuditEntry]


@with_config(ConfigDict(use_attribute_docstrings=True))
@dataclass(kw_only=True)
class Context:
    """The deployment's rules for orders (set by an admin on an assistant)."""

    approval_limit: Limit = 1_000.0
    """Orders above this pause for a human before any charge; so does an order that
    would take its requester's money moved without a manager today above it."""

    approver_role: str = "manager"
    """The role that approves orders and decides on failed payments."""

    deadline_hours: Limit = 24.0
    """How long a pause waits; then the order is cancelled as expired."""

    gateway: dict[str, Any] = field(default_factory=dict)
    """Faults to inject into the simulated gateway, for tests: transient_failures (a
    number), decline, crash_after_charge (see graphs/payments.py). Off by default."""


class Request(StrictModel):
    """A valid order."""

    amount: Amount
    requester: str | None = Field(default=None, max_length=200)
    customer: str | None = Field(default=None, max_length=200)
    items: list[Any] | None = Field(default=None, max_length=1000)
    order_id: Literal[""] | None = Field(default=None, exclude=True)
    """The seed notebook sends an empty ``order_id``: accepted as that, and ignored."""
    payment_result: Annotated[dict[str, Any], Field(max_length=0)] | None = Field(
        default=None, exclude=True
    )
    """The seed notebook sends an empty ``payment_result``: accepted as that, and ignored."""


class Order(StrictModel):
    """An order as its approver sees it."""

    order_id: str = Field(title="Order")
    amount: Amount
    customer: str | None = None
    items: list[Any] | None = None
    requester: str | None = None


class FailedCharge(StrictModel):
    """A charge whose retries ran out, as the approver sees it."""

    order_id: str = Field(title="Order")
    amount: Amount
    payment_error: str | None = Field(default=None, title="Error")
    requester: str | None = None


class RetryDecision(StrictModel):
    """The answer when payment retries have run out."""

    decision: Literal["retry", "cancel"] = Field(description="retry the charge, or cancel")
    note: Note = ""
    approver: Approver = None
    channel: Channel = None


@task
def generate_order_id() -> str:
    """Make a new order id (never handed out before; a resume reuses the first one)."""
    return payments.new_order_id()


P = ParamSpec("P")
T = TypeVar("T")


class _TaskDecorator(Protocol):
    """What ``task(retry_policy=...)`` returns, as mypy cannot infer it (langgraph#4140)."""

    def __call__(self, func: Callable[P, T], /) -> Callable[P, Future[T]]: ...


@cast(_TaskDecorator, task(retry_policy=PAYMENT_RETRY))
def process_payment(
    key: str,
    order_id: str,
    amount: float,
    faults: dict[str, Any],
    spender: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Charge the order through the gateway's idempotent ledger."""
    who = payments.Spender(**spender) if spender is not None else None
    return payments.charge(key, order_id, amount, payments.GatewayFaults(**faults), who)


def create_order(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Validate the order and give it an id."""
    config = get_config()
    request = validate_input(Request, state, "order_processing", config)
    settings = pin_context(runtime.context, Context, "order_processing")
    _faults(settings)
    # Only an order within the limit can pass without a manager: only then does what
    # the requester already moved today matter (one ledger read fewer for the others).
    today = (
        payments.unreviewed_total(request.requester, since=payments.day_start())
        if request.amount <= settings["approval_limit"]
        else 0.0
    )
    return {
        "order_id": generate_order_id().result(),
        "requester": request.requester,
        "unreviewed_today": today,
        "status": "created",
        "payment_result": {},
        "settings": settings,
        "due_at": due_at(settings["deadline_hours"]),
    }


def approve_order(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Ask a human to approve an order over the limit, before any charge."""
    ctx = pinned(state, Context)
    before = state.get("unreviewed_today") or 0.0
    if round(before + state["amount"], 2) <= ctx.approval_limit:
        return {"status": "approved"}
    who = state.get("requester") or "the requester"
    why = f"over the {ctx.approval_limit:,.2f} order limit; nothing is charged before approval"
    if state["amount"] <= ctx.approval_limit:
        why = f"with the {before:,.2f} {who} already moved without a manager today, it is {why}"
    pause = Pause.about(
        Order,
        state,
        type="order_approval",
        action="Approve order",
        headline=f"{who} orders {state['amount']:,.2f} ({state['order_id']}) for "
        + (state.get("customer") or "no customer named"),
        options=["approve", "reject"],
        why=why,
        role=ctx.approver_role,
        due_at=state["due_at"],
    )
    return _decide(pause, state, config, Decision, limit=ctx.approval_limit)


def charge(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Charge the order; a transient failure that outlasts the retries goes to a human."""
    spender = {
        "requester": state.get("requester"),
        "thread_id": str((config.get("configurable") or {}).get("thread_id") or "") or None,
        "reviewed": _approved_by_a_person(state),
        "limit": state["settings"]["approval_limit"],
    }
    try:
        result = process_payment(
            state["order_id"],
            state["order_id"],
            state["amount"],
            _faults(state["settings"]).model_dump(),
            spender,
        ).result()
    except payments.OverLimit as exc:
        return {
            "status": "refused",
            "payment_error": str(exc),
            "payment_result": {"status": "refused", "reason": str(exc)},
        }
    except payments.PaymentDeclined as exc:
        return {
            "status": "declined",
            "payment_error": str(exc),
            "payment_result": {"status": "declined", "reason": str(exc)},
        }
    except payments.TransientGatewayError as exc:
        attempts = PAYMENT_RETRY.max_attempts
        return {
            "status": "payment_failed",
            "payment_error": f"{exc}; gave up after {attempts} attempts",
            "due_at": due_at(state["settings"]["deadline_hours"]),
        }
    return {"status": "paid", "payment_result": result, "payment_error": None}


def handle_failure(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Ask a human whether to retry a payment that kept failing, or cancel the order."""
    ctx = pinned(state, Context)
    pause = Pause.about(
        FailedCharge,
        state,
        type="payment_failed",
        action="Payment failed: retry the charge?",
        headline=f"Payment failed: the charge of {state['amount']:,.2f} for {state['order_id']} "
        f"kept failing: {state.get('payment_error')}",
        options=["retry", "cancel"],
        why="the gateway's retries ran out. Retry charges it again (still charged once at "
        "most); cancel ends the order",
        role=ctx.approver_role,
        step=2,
        history=state.get("audit") or [],
        due_at=state["due_at"],
    )
    return _decide(pause, state, config, RetryDecision)


def _decide(
    pause: Pause,
    state: State,
    config: RunnableConfig,
    model: type[Decision] | type[RetryDecision],
    **extra: Any,
) -> dict[str, Any]:
    """Ask ``pause``; set ``status`` to ``approved`` or ``cancelled`` from the answer."""
    # The seed notebook reads the order's own keys at the payload's top level.
    match decide(pause, model, state, config, **pause.request, **extra):
        case Expired() as expired:
            note = f"expired: no decision by {state['due_at']}"
            return {
                **expired.update(note),
                "status": "cancelled",
                "decided_by": SYSTEM,
                "payment_error": note,
            }
        case AskAgain() as again:
            return again.update
        case Answered(answer=answer, approver=approver) as decided:
            go = approves(answer.decision)
            return {
                **decided.update,
                "status": "approved" if go else "cancelled",
                "decided_by": approver,
                "payment_error": None if go else state.get("payment_error"),
            }


def _approved_by_a_person(state: State) -> bool:
    """Whether the approver role approved the order (step 1), rather than the limit letting it by.

    A retry after failed payments (step 2) decides about the gateway, not the amount.
    """
    return any(e["step"] == 1 and approves(e["decision"]) for e in state.get("audit") or [])


def _faults(settings: dict[str, Any]) -> payments.GatewayFaults:
    try:
        return payments.GatewayFaults(**settings["gateway"])
    except (ValidationError, TypeError) as exc:
        detail = describe_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ValueError(f"invalid order_processing context.gateway: {detail}") from None


def route_approval(state: State) -> Literal["approve_order", "charge", "__end__"]:
    """Ask again after a refused answer; charge an approved order; end a cancelled one."""
    if state.get("review_error"):
        return "approve_order"
    return "charge" if state["status"] == "approved" else "__end__"


def route_payment(state: State) -> Literal["handle_failure", "__end__"]:
    """Bring in a human when the payment kept failing."""
    return "handle_failure" if state["status"] == "payment_failed" else "__end__"


def route_failure(state: State) -> Literal["handle_failure", "charge", "__end__"]:
    """Ask again after a refused answer; retry the charge; end a cancelled order."""
    if state.get("review_error"):
        return "handle_failure"
    return "charge" if state["status"] == "approved" else "__end__"


def build_graph() -> StateGraph[State, Context, InputState, OutputState]:
    """Return the uncompiled order processing workflow."""
    builder = StateGraph(
        State, input_schema=InputState, output_schema=OutputState, context_schema=Context
    )
    builder.add_node("create_order", create_order)
    builder.add_node("approve_order", approve_order)
    builder.add_node("charge", charge)
    builder.add_node("handle_failure", handle_failure)
    builder.add_edge(START, "create_order")
    builder.add_edge("create_order", "approve_order")
    builder.add_conditional_edges("approve_order", route_approval)
    builder.add_conditional_edges("charge", route_payment)
    builder.add_conditional_edges("handle_failure", route_failure)
    return builder


graph = build_graph().compile(name="Order Processing")
