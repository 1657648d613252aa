"""X's text processing of a DM: t.co links, entities, and the length X counts.

When a DM is sent, X rewrites every URL in its text to a ``https://t.co/...``
link and describes what it found in ``message_data.entities``: ``urls``
(``url``, ``expanded_url``, ``display_url``, ``indices``), ``hashtags``,
``symbols`` (cashtags) and ``user_mentions`` (of users that exist), with
``indices`` into the rewritten text, in code points. An attached media adds
its own t.co link at the end of the text. Both participants, the API's
answers and every delivery (AAA and XAA) see the rewritten form.

X counts a DM's length the way it counts a post's, with every URL counting
as a t.co link does, 23 characters, whatever its own length
(:func:`weighted_length`; the limit is 10,000).

The URL finder is a smaller cousin of twitter-text's: ``http(s)://`` URLs,
``www.`` names, and bare domain names under a common top-level domain, with
trailing punctuation and unbalanced closing brackets left out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from dmbot.types import JSONObject

TCO_LENGTH = 23
"""Characters a URL counts for, whatever its length: a t.co link's."""
DISPLAY_LENGTH = 26
"""Characters of a ``display_url`` before X cuts it with an ellipsis."""

_TLDS = (
    "com|org|net|edu|gov|io|co|dev|app|ai|me|ly|info|biz|xyz|tv|fm|gg|uk|de|fr|es|it|nl|"
    "be|ch|at|se|no|dk|fi|pl|pt|ie|ca|us|au|nz|jp|cn|in|br|mx|ru|eu|tech|shop|store|blog|news"
)
_URL = re.compile(
    r"(?<![\w@.$#/-])"
    r"(?:https?://[^\s<>\"]+"
    r"|www\.[^\s<>\"]+"
    rf"|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:[/?#][^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*"
_HASHTAG = re.compile(r"(?<![\w&#＃])[#＃](\w*[^\W\d_]\w*)")
_MENTION = re.compile(r"(?<![\w@＠!#$%&*])[@＠](\w{1,15})(?![\w@])")
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w$])")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Span:
    """A URL found in a text: where it is and what it says."""

    start: int
    end: int
    url: str


def find_urls(text: str) -> list[Span]:
    """The URLs of ``text``, in order, as X links them."""
    spans: list[Span] = []
    for match in _URL.finditer(text):
        url = _trimmed(match.group())
        if url:
            spans.append(Span(match.start(), match.start() + len(url), url))
    return spans


def _trimmed(url: str) -> str:
    """``url`` without the punctuation that ends the sentence around it."""
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def weighted_length(text: str) -> int:
    """The length X counts: code points, with every URL counting 23."""
    spans = find_urls(text)
    return len(text) - sum(s.end - s.start for s in spans) + TCO_LENGTH * len(spans)


def tco(seed: str) -> str:
    """A t.co link, the same for the same ``seed``: ``https://t.co/`` and 10 characters."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big")
    code = ""
    for _ in range(10):
        number, digit = divmod(number, 62)
        code += _BASE62[digit]
    return f"https://t.co/{code}"


def display_url(url: str) -> str:
    """What X shows for ``url``: no scheme, cut at 26 characters with an ellipsis."""
    shown = re.sub(r"^https?://", "", url, flags=re.IGNORECASE)
    return shown if len(shown) <= DISPLAY_LENGTH else shown[:DISPLAY_LENGTH] + "…"


def expanded_url(url: str) -> str:
    """``url`` as X expands it: with a scheme (``http://`` when it had none)."""
    return url if re.match(r"https?://", url, re.IGNORECASE) else f"http://{url}"


MentionLookup = Callable[[str], JSONObject | None]
"""The ``screen_name``, ``name``, ``id`` and ``id_str`` of a mentioned user, None for nobody."""


def processed(
    text: str, seed: str, mention: MentionLookup, *, media_url: str | None = None
) -> tuple[str, JSONObject, list[int] | None]:
    """``text`` as X shows it, its ``entities``, and the ``indices`` of the media's link.

    Args:
        text: what the sender wrote.
        seed: makes the t.co links (the DM's id: the same links every time it is shown).
        mention: looks up a mentioned screen name.
        media_url: the t.co link of an attached media, appended to the text.
    """
    out: list[str] = []
    urls: list[JSONObject] = []
    taken: list[tuple[int, int]] = []
    at = 0
    length = 0
    for index, span in enumerate(find_urls(text)):
        before = text[at : span.start]
        out.append(before)
        length += len(before)
        link = tco(f"{seed}:{index}:{span.url}")
        urls.append(
            {
                "url": link,
                "expanded_url": expanded_url(span.url),
                "display_url": display_url(span.url),
                "indices": [length, length + len(link)],
            }
        )
        taken.append((length, length + len(link)))
        out.append(link)
        length += len(link)
        at = span.end
    out.append(text[at:])
    shown = "".join(out)
    media_indices: list[int] | None = None
    if media_url is not None:
        shown = f"{shown} {media_url}" if shown else media_url
        media_indices = [len(shown) - len(media_url), len(shown)]
    entities: JSONObject = {
        "hashtags": _tags(_HASHTAG, shown, taken),
        "symbols": _tags(_CASHTAG, shown, taken),
        "user_mentions": _mentions(shown, taken, mention),
        "urls": urls,
    }
    return shown, entities, media_indices


def _outside(start: int, taken: list[tuple[int, int]]) -> bool:
    return all(not a <= start < b for a, b in taken)


def _tags(pattern: re.Pattern[str], text: str, taken: list[tuple[int, int]]) -> list[JSONObject]:
    return [
        {"text": m.group(1), "indices": [m.start(), m.end()]}
        for m in pattern.finditer(text)
        if _outside(m.start(), taken)
    ]


def _mentions(text: str, taken: list[tuple[int, int]], mention: MentionLookup) -> list[JSONObject]:
    found: list[JSONObject] = []
    for m in _MENTION.finditer(text):
        user = mention(m.group(1)) if _outside(m.start(), taken) else None
        if user is not None:
            found.append({**user, "indices": [m.start(), m.end()]})
    return found
