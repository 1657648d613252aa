"""A conversation's flow session: the flow in progress, the last one, the prompt counter.

They live in the conversation's stored document, under three top-level keys::

    {"flow": {"name": "order", "step": "crust", "answers": {"size": "Large"},
              "asked": {"size": 3, "crust": 4}, "first_prompt": 3, "updated": 1700000000.0},
     "last_flow": {"name": "order", "ending": "ordered", "ended": 1700000100.0,
                   "first_prompt": 1},
     "prompt": 4}

Only the flow runtime (:class:`dmbot.flows.runtime.Dialogue`) changes a
:class:`FlowState`; :class:`FlowSession` and :class:`LastFlow` are values it
replaces. Reading is forgiving: a document written by any earlier dmbot, or
damaged, reads as far as it makes sense, and ``to_json`` writes the same keys
and shapes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dmbot.types import JSONObject, json_float, json_int


@dataclass(frozen=True, slots=True)
class FlowSession:
    """A flow in progress (``"flow"`` in the document).

    Attributes:
        name: the flow's name.
        step: the pending step: the question asked last.
        answers: the saved answers, by ``save_as`` name.
        asked: the prompt number each step was last asked with.
        first_prompt: the first prompt number of this run of the flow; a tap
            on an older prompt belongs to an earlier run, so it is stale.
        updated: when the flow last moved (seconds since the epoch); the flow
            expires when it stands still longer than the bot's flow expiry.
    """

    name: str
    step: str
    answers: Mapping[str, str] = field(default_factory=dict)
    asked: Mapping[str, int] = field(default_factory=dict)
    first_prompt: int = 0
    updated: float = 0.0

    @classmethod
    def from_json(cls, data: object) -> FlowSession | None:
        """The session stored as ``data``; None when it is not one (missing or damaged)."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return None
        answers = data.get("answers")
        asked = data.get("asked")
        return cls(
            name=data["name"],
            step=str(data.get("step", "")),
            answers={str(k): str(v) for k, v in _items(answers)},
            asked={str(k): json_int(v) for k, v in _items(asked)},
            first_prompt=json_int(data.get("first_prompt")),
            updated=json_float(data.get("updated")),
        )

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "step": self.step,
            "answers": dict(self.answers),
            "asked": dict(self.asked),
            "first_prompt": self.first_prompt,
            "updated": self.updated,
        }


@dataclass(frozen=True, slots=True)
class LastFlow:
    """How the last flow of the conversation ended (``"last_flow"`` in the document).

    Attributes:
        name: the flow's name.
        ending: the ending's name, or ``"done"``, ``"cancelled"``, ``"expired"``,
            ``"replaced"`` (another flow started).
        ended: when it ended (seconds since the epoch).
        first_prompt: the first prompt number of that run.
    """

    name: str
    ending: str
    ended: float
    first_prompt: int = 0

    @classmethod
    def from_json(cls, data: object) -> LastFlow | None:
        if not isinstance(data, dict):
            return None
        return cls(
            name=str(data.get("name", "")),
            ending=str(data.get("ending", "")),
            ended=json_float(data.get("ended")),
            first_prompt=json_int(data.get("first_prompt")),
        )

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "ending": self.ending,
            "ended": self.ended,
            "first_prompt": self.first_prompt,
        }


@dataclass(slots=True)
class FlowState:
    """The flow part of a conversation; only the flow runtime changes it.

    Attributes:
        flow: the flow in progress, if any.
        last_flow: how the last flow ended, if one did.
        prompt: the conversation's prompt counter: every message with options,
            in a flow or not, takes the next number, carried in the options'
            signed metadata (:mod:`dmbot.flows.metadata`).
    """

    flow: FlowSession | None = None
    last_flow: LastFlow | None = None
    prompt: int = 0

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> FlowState:
        """Read the ``flow``, ``last_flow`` and ``prompt`` keys of a conversation document."""
        return cls(
            flow=FlowSession.from_json(document.get("flow")),
            last_flow=LastFlow.from_json(document.get("last_flow")),
            prompt=json_int(document.get("prompt")),
        )

    def to_json(self) -> JSONObject:
        """The keys to merge into the conversation document; absent parts are left out."""
        data: JSONObject = {}
        if self.flow is not None:
            data["flow"] = self.flow.to_json()
        if self.last_flow is not None:
            data["last_flow"] = self.last_flow.to_json()
        if self.prompt:
            data["prompt"] = self.prompt
        return data


def _items(data: object) -> list[tuple[object, object]]:
    return list(data.items()) if isinstance(data, dict) else []
