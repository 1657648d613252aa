"""The digest of an event's JSON: its identity when X gave it no id.

Two copies of one event (X's retry, the copy for another subscribed
account) carry the same JSON; its canonical text (keys sorted, no spaces)
digested is the same for both. A forged body can nest deeper than Python's
JSON encoder recurses; it is written out without recursion, as the same text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from dmbot.types import JSONObject

__all__ = ["canonical_parts", "digest"]


def digest(raw: JSONObject) -> str:
    """The SHA-1 of ``raw``'s canonical JSON, in hex."""
    try:
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    except RecursionError:
        canonical = "".join(canonical_parts(raw))
    return hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class _Raw(str):
    """Text :func:`canonical_parts` writes as it is (a bracket, a key, a comma)."""


def canonical_parts(value: object) -> Iterator[str]:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)`` in
    pieces, without recursion."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            yield item
        elif isinstance(item, dict):
            parts: list[object] = [_Raw("{")]
            for index, key in enumerate(sorted(item)):
                comma = "," if index else ""
                parts += [_Raw(comma + json.dumps(str(key)) + ":"), item[key]]
            parts.append(_Raw("}"))
            stack.extend(reversed(parts))
        elif isinstance(item, list | tuple):
            parts = [_Raw("[")]
            for index, element in enumerate(item):
                parts += [_Raw(",")] if index else []
                parts.append(element)
            parts.append(_Raw("]"))
            stack.extend(reversed(parts))
        else:
            yield json.dumps(item, default=str)
