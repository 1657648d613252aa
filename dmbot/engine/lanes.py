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
from dmbot.types import ConversationKey

__all__ = ["Job", "Lane", "Pending"]


@dataclass(slots=True)
class Pending:
    """A delivery being worked on: acknowledged when ``remaining`` reaches 0."""

    item: InboxItem
    remaining: int
    outcomes: list[str] = field(default_factory=list)
    refused: int = 0
    """Events X could never have sent (:func:`~.origin.refusal`): logged, not handled."""
    records: list[dict[str, str]] = field(default_factory=list)
    """Per event: its id, kind, account, peer and outcome (the JSON log's fields)."""

    def record(self, event: Event, conversation: ConversationKey, outcome: str) -> None:
        """Note what became of one of its events."""
        label = f"{event.kind} {event.dedupe_key}" if event.kind == "message" else event.kind
        self.outcomes.append(f"{label} {outcome}")
        self.records.append(
            {
                "event_id": event.dedupe_key,
                "kind": event.kind,
                "account": conversation[0],
                "peer": conversation[1],
                "outcome": outcome,
            }
        )

    def log_fields(self) -> dict[str, object]:
        """The fields of its log line: one event's own, or the list of them."""
        fields: dict[str, object] = {"delivery": self.item.id}
        if len(self.records) == 1:
            fields.update(self.records[0])
        elif self.records:
            fields["events"] = self.records
        return fields

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
