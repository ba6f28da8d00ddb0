"""A request of a workflow the displays have never heard of: a trip, for display tests."""

from __future__ import annotations

from pydantic import BaseModel

from graphs.common.fields import Amount


class Trip(BaseModel):
    """A trip's request: where to, and what it costs."""

    destination: str
    cost: Amount
    requester: str | None = None


class TripChanges(BaseModel):
    """What an approver may edit of a trip."""

    cost: Amount | None = None
