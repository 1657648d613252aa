"""X's limits on a Direct Message (X-API.md §6), in one place.

The numbers live here, and so do the rules that take more than a comparison
with a number: what X sees as a link in a label, descriptions on all options
or none, which URLs a button may have. Two places apply them, each with
messages for its own reader: the flow checker (:mod:`dmbot.flows.checks`) when a
flow loads, adding file, line, flow and step; and
:meth:`~dmbot.engine.context.Context.reply`, which raises
:class:`~dmbot.errors.LimitError` before anything is queued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "MAX_BUTTONS",
    "MAX_DESCRIPTION",
    "MAX_LABEL",
    "MAX_METADATA",
    "MAX_OPTIONS",
    "MAX_TEXT",
    "Labelled",
    "has_link",
    "is_web_url",
    "missing_descriptions",
]

MAX_TEXT = 10_000
"""Characters in the text of one message."""
MAX_OPTIONS = 20
"""Quick Reply options on one message."""
MAX_LABEL = 36
"""Characters in the label of a Quick Reply option or of a button."""
MAX_DESCRIPTION = 72
"""Characters in the description of a Quick Reply option."""
MAX_METADATA = 1_000
"""Characters in the metadata of a Quick Reply option."""
MAX_BUTTONS = 3
"""Buttons (``ctas``) on one message."""

# A scheme, www., or a name under a common top-level domain: X links all of these.
_LINK = re.compile(
    r"\b[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*"
    r"\.(?:com|net|org|io|co|me|ly|app|dev|ai|info|biz|xyz|gg|tv|us|uk|de|fr|eu)\b",
    re.IGNORECASE,
)


class Labelled(Protocol):
    """A Quick Reply option as the rules see it: a flow's option or a reply's."""

    @property
    def label(self) -> str: ...

    @property
    def description(self) -> str: ...


def has_link(label: str) -> bool:
    """Whether X would turn part of ``label`` into a link; it refuses such labels."""
    return _LINK.search(label) is not None


def missing_descriptions(options: Sequence[Labelled]) -> list[str]:
    """The labels of the options without a description, when others have one.

    X takes a description on every option of a message or on none.
    """
    bare = [option.label for option in options if not option.description]
    return bare if len(bare) < len(options) else []


def is_web_url(url: str) -> bool:
    """Whether ``url`` may be a button's link: X takes only http(s) URLs."""
    return url.lower().startswith(("https://", "http://"))
