"""Field types and validation shared by the workflows' requests and answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from langchain_core.runnables import RunnableConfig
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from graphs.common.access import current_user
from graphs.common.contract import MONEY

ModelT = TypeVar("ModelT", bound=BaseModel)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Amount = Annotated[float, Field(gt=0, allow_inf_nan=False, description="A positive amount"), MONEY]
"""An amount of money: displays format it as money (:data:`~graphs.common.contract.MONEY`)."""

Limit = Annotated[float, Field(ge=0, allow_inf_nan=False)]

Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_not_blank)]

Note = Annotated[str, Field(max_length=2000, description="Why; shown to the requester")]

ChannelName = Literal["inbox", "slack", "email", "cli", "agent-inbox", "api"]
"""Where an answer came from, as its audit entry records it."""

CHANNELS: tuple[str, ...] = get_args(ChannelName)

SERVER_CHANNELS = frozenset({"inbox", "slack", "email"})
"""Channels only the server's own routes set; a client claiming one is refused."""

Channel = Annotated[
    ChannelName | None,
    Field(
        description="Where the answer came from: set by the server (a client may say cli or api)"
    ),
]

Approver = Annotated[
    str | None,
    Field(max_length=200, description="Who decides (must match the signed-in user under auth)"),
]


class StrictModel(BaseModel):
    """A model that refuses unknown keys and type coercion (``"1"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def describe_error(exc: ValidationError) -> str:
    """Turn a pydantic error into one line that names each offending field."""
    parts = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def validate_input(
    model: type[ModelT],
    state: Mapping[str, Any],
    workflow: str,
    config: RunnableConfig | None = None,
) -> ModelT:
    """Validate a workflow's input, failing the run with a message naming the bad field.

    Under authentication the ``requester`` is the signed-in user, whatever the input says.

    Raises:
        ValueError: The input does not fit ``model``.
    """
    fields = {k: state[k] for k in model.model_fields if k in state}
    if (user := current_user(config)) is not None and "requester" in model.model_fields:
        fields["requester"] = user[0]
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"invalid {workflow} input: {describe_error(exc)}") from None
