"""Lenient readers of X's JSON values, for parsing deliveries that vary.

X sends ids as strings, but ints (and bools, by mistake) happen; fields go
missing or change type. Each reader returns a plain default instead of raising.
"""

from __future__ import annotations

from dmbot.types import JSON, JSONObject

_EMPTY: JSONObject = {}  # read-only stand-in while walking; never handed out


def as_id(value: JSON) -> str:
    """An id as a string: X sends strings, but ints (and bools by mistake) happen."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def as_int(value: JSON) -> int | None:
    """An integer, also from a string of digits; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def as_str(value: JSON) -> str:
    """A string, or "" for anything else."""
    return value if isinstance(value, str) else ""


def as_obj(value: JSON) -> JSONObject:
    """An object, or an empty one (read-only: never modify it)."""
    return value if isinstance(value, dict) else _EMPTY


def as_bool(value: JSON) -> bool | None:
    """A boolean, also from "true" or "false"; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None
