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

ConversationKey: TypeAlias = tuple[str, str]
"""(managed account id, the other user's id): the unit of ordering and state."""

Handler: TypeAlias = Callable[..., Awaitable[Any] | Any]
"""A user handler: sync or async, called with a Context."""
