"""A conversation's session: the typed form of the document the store keeps for it.

The store keeps one JSON object per conversation (account, other user)::

    {"state": {"n": 2},                 handlers' own data: ctx.state
     "last_dm_id": 1700000000000000001, the newest DM handled
     "handoff_until": 1700001800.0,     the owner answered by hand: quiet until then
     "flow": {...}, "last_flow": {...}, "prompt": 4}   the flows (dmbot.flows.session)

Each part has one owner that changes it: the flow runtime the flow part, the
worker ``last_dm_id`` and ``handoff_until``, handlers ``state``. Those keys
and their shapes are the stored format: documents written by earlier versions
read, and unchanged parts are written back as they were. An earlier version
also wrote ``"choices"`` (the options sent last), which nothing read; it is
dropped on the next write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dmbot.flows.session import FlowState
from dmbot.types import JSONObject, json_float, json_int


@dataclass(slots=True)
class Conversation:
    """One conversation's session, read from and written to the store as JSON.

    Attributes:
        flows: the flow in progress, the last one and the prompt counter;
            changed only by the flow runtime.
        last_dm_id: the highest DM id handled; set by the worker.
        handoff_until: the bot stays quiet until then (seconds since the
            epoch) because the account's owner answered by hand; set by the worker.
        state: the handlers' own data (``ctx.state``); None until a handler
            first runs, as older documents have no ``"state"`` before then.
    """

    flows: FlowState = field(default_factory=FlowState)
    last_dm_id: int = 0
    handoff_until: float = 0.0
    state: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Conversation:
        """The session stored as ``document``; damaged parts read as absent."""
        state = document.get("state")
        return cls(
            flows=FlowState.from_json(document),
            last_dm_id=json_int(document.get("last_dm_id")),
            handoff_until=json_float(document.get("handoff_until")),
            state=state if isinstance(state, dict) else None,
        )

    def to_json(self) -> JSONObject:
        """The document to store: the same keys and shapes as it was read with."""
        document: JSONObject = {}
        if self.state is not None:
            document["state"] = self.state
        if self.last_dm_id:
            document["last_dm_id"] = self.last_dm_id
        if self.handoff_until:
            document["handoff_until"] = self.handoff_until
        document.update(self.flows.to_json())
        return document
