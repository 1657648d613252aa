"""Shared type aliases: the vocabulary the modules of dmbot speak."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A value decoded from JSON (dict, list, str, int, float, bool or None)."""

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as decoded by :func:`json.loads`."""

UserId: TypeAlias = str
"""An X user id; X sends ids as strings and so does dmbot."""

MAX_ID_DIGITS = 20
"""X's ids are unsigned 64-bit numbers: at most 20 digits."""


def is_id(value: str) -> bool:
    """True for an id X could send: 1 to 20 ASCII digits."""
    return 0 < len(value) <= MAX_ID_DIGITS and value.isascii() and value.isdigit()


ConversationKey: TypeAlias = tuple[str, str]
"""(managed account id, the other user's id): the unit of ordering and state."""

Handler: TypeAlias = Callable[..., Awaitable[Any] | Any]
"""A user handler: sync or async, called with a Context."""
