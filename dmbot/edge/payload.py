"""Lenient readers of X's JSON values, for parsing deliveries that vary.

X sends ids as strings, but ints (and bools, by mistake) happen; fields go
missing or change type. Each reader returns a plain default instead of raising.
"""

from __future__ import annotations

import json

from dmbot.types import JSON, MAX_ID_DIGITS, JSONObject, is_id

_EMPTY: JSONObject = {}  # read-only stand-in while walking; never handed out


def json_object(body: bytes | str) -> JSONObject | None:
    """``body`` parsed, when it is a JSON object; None for anything else, including
    JSON nested too deep for the parser (RecursionError)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def as_id(value: JSON) -> str:
    """An id as a string: X sends strings, but ints (and bools by mistake) happen."""
    if isinstance(value, str):
        return as_str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if -(10**MAX_ID_DIGITS) < value < 10**MAX_ID_DIGITS else ""
    return ""


def as_int(value: JSON) -> int | None:
    """An integer of at most 20 digits (ids, timestamps), also from a string; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(10**MAX_ID_DIGITS) < value < 10**MAX_ID_DIGITS else None
    if isinstance(value, str) and is_id(value):
        return int(value)
    return None


def as_str(value: JSON) -> str:
    """A string, or "" for anything else; lone surrogates become U+FFFD."""
    if not isinstance(value, str):
        return ""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may escape half a surrogate pair ("\\ud800"); no UTF-8 text can hold it.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


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
