"""How typed text is compared with labels, keywords and words.

A label typed instead of tapped still counts (DESIGN.md §2), so flows and
routing compare text the same way: Unicode-normalised (NFKC), case-folded,
with runs of spacing collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(text: str) -> str:
    """Case-folded text with collapsed spacing: how labels are compared."""
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def tokens(text: str) -> list[str]:
    """The words of ``text``, case-folded."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def contains_keyword(text: str, keyword: str) -> bool:
    """True if ``keyword`` (one or more words) occurs in ``text`` as whole words."""
    words = tokens(keyword)
    if not words:
        return False
    found = tokens(text)
    size = len(words)
    return any(found[i : i + size] == words for i in range(len(found) - size + 1))
