"""A DM's text as X hands it back: how to tell that two texts are the same message.

X rewrites every link of a DM to a ``https://t.co/...`` link, in the echo it
delivers and in its lists of sent DMs alike: ``http(s)://`` URLs, ``www.``
names and bare domain names (``example.com/menu``), with or without the
punctuation around them. It appends the t.co link of an attached media to
the text, and trims the text's ends. Comparing what dmbot sent with what X
shows means comparing them as :func:`comparable` makes them.
"""

from __future__ import annotations

import re

__all__ = ["comparable"]

_LINKISH = re.compile(r"https?://|www\.|[\w-]\.[^\W\d_]{2,}", re.IGNORECASE)
"""A word X may have turned into a link: a scheme, ``www.``, or a dot before a
top-level-domain-like run of letters. Wider than X's own finder on purpose:
a word both sides keep as it is drops out of both, so only the words X could
have rewritten matter, and every one of those is caught."""


def comparable(text: str) -> str:
    """``text`` without the words X may rewrite as links, its spacing collapsed."""
    return " ".join(word for word in text.split() if not _LINKISH.search(word))
