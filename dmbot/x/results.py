"""What the client's own calls return: a Direct Message X accepted, and whose tokens these are.

Each is read from X's answer once, here, in either API generation's shape.
Welcome messages live in :mod:`dmbot.x.welcome`, webhooks and subscriptions
in :mod:`dmbot.x.paths`, and the tokens of the PIN flow in :mod:`dmbot.x.oauth`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmbot.types import JSON, JSONObject

__all__ = ["SentDM", "User", "next_token"]


def _object(data: JSON, key: str) -> JSONObject:
    inner = data.get(key) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else {}


def next_token(answer: JSON) -> str:
    """The ``meta.next_token`` of a v2 page: where the next one starts ("" at the end)."""
    return str(_object(answer, "meta").get("next_token") or "")


@dataclass(frozen=True, slots=True)
class SentDM:
    """A Direct Message X accepted."""

    id: str
    created_timestamp: str
    raw: JSONObject

    @classmethod
    def from_v11(cls, answer: JSON) -> SentDM:
        """Read the answer of ``POST direct_messages/events/new`` (``{"event": {...}}``)."""
        event = _object(answer, "event")
        return cls(
            id=str(event.get("id", "")),
            created_timestamp=str(event.get("created_timestamp", "")),
            raw=answer if isinstance(answer, dict) else {},
        )

    @classmethod
    def from_v2(cls, answer: JSON) -> SentDM:
        """Read the answer of v2's ``POST dm_conversations/.../messages``: only the ids."""
        return cls(
            id=str(_object(answer, "data").get("dm_event_id", "")),
            created_timestamp="",
            raw=answer if isinstance(answer, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class User:
    """The account a set of tokens belongs to."""

    id: str
    screen_name: str
    name: str

    @classmethod
    def from_v11(cls, answer: JSON) -> User:
        """Read the answer of ``GET account/verify_credentials``."""
        data = answer if isinstance(answer, dict) else {}
        return cls(
            id=str(data.get("id_str") or data.get("id", "")),
            screen_name=str(data.get("screen_name", "")),
            name=str(data.get("name", "")),
        )

    @classmethod
    def from_v2(cls, answer: JSON) -> User:
        """Read the answer of ``GET /2/users/me`` (``{"data": {...}}``)."""
        data = _object(answer, "data")
        return cls(
            id=str(data.get("id", "")),
            screen_name=str(data.get("username", "")),
            name=str(data.get("name", "")),
        )
