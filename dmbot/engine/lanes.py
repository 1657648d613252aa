"""What the worker keeps while it works: deliveries, their events, each conversation's lane.

A delivery read from the inbox is a :class:`Pending` until every event of it
is handled; each event waits as a :class:`Job` on the :class:`Lane` of its
conversation, ordered by DM id, and the lane's task handles one at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dmbot.edge.events import Event, User
from dmbot.store import InboxItem

__all__ = ["Job", "Lane", "Pending"]


@dataclass(slots=True)
class Pending:
    """A delivery being worked on: acknowledged when ``remaining`` reaches 0."""

    item: InboxItem
    remaining: int
    outcomes: list[str] = field(default_factory=list)
    refused: int = 0
    """Events X could never have sent (:func:`~.origin.refusal`): logged, not handled."""
    acked: bool = False
    """The store acknowledged it with the commit of its last event: nothing left to do."""


@dataclass(slots=True)
class Job:
    """One event of a delivery, waiting on its conversation's lane."""

    event: Event
    for_user_id: str
    users: dict[str, User]
    pending: Pending
    received_at: float


@dataclass(slots=True)
class Lane:
    """A conversation's events in DM id order, and the task working them off."""

    heap: list[tuple[int, int, Job]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
