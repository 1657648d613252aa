"""What the client's own calls return: a Direct Message X accepted, and whose tokens these are.

Welcome messages live in :mod:`dmbot.x.welcome`, webhooks and
subscriptions in :mod:`dmbot.x.paths`, and the tokens of the PIN flow in
:mod:`dmbot.x.oauth`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmbot.types import JSONObject

__all__ = ["SentDM", "User"]


@dataclass(frozen=True, slots=True)
class SentDM:
    """A Direct Message X accepted."""

    id: str
    created_timestamp: str
    raw: JSONObject


@dataclass(frozen=True, slots=True)
class User:
    """The account a set of tokens belongs to."""

    id: str
    screen_name: str
    name: str
