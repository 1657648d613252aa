"""Shared type aliases: the vocabulary the modules of dmbot speak."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A value decoded from JSON (dict, list, str, int, float, bool or None)."""

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as decoded by :func:`json.loads`."""


def json_int(value: JSON) -> int:
    """An integer read from stored JSON; 0 when it is missing or not a number."""
    # bool is an int to Python, but never a number dmbot wrote.
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    return int(json_float(value))


def json_float(value: JSON) -> float:
    """A number read from stored JSON; 0.0 when it is missing or not a finite number."""
    # json.loads accepts Infinity and NaN, which no clock or counter of ours produces.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


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
