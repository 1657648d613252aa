"""A DM's text as X hands it back: how to tell that two texts are the same message.

X wraps every link of a DM in a t.co link, in the echo it delivers and in
its lists of sent DMs alike, and trims the text's ends. Comparing what dmbot
sent with what X shows means comparing them as :func:`comparable` makes them.
"""

from __future__ import annotations

import re

__all__ = ["comparable"]

_URL = re.compile(r"https?://\S+")


def comparable(text: str) -> str:
    """``text`` with every link replaced by one placeholder and its spacing collapsed."""
    return " ".join(_URL.sub("<url>", text).split())
