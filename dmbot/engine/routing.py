"""Matchers that decide which handler an event goes to, and the intent scorer.

A route pairs a matcher with a handler. Matchers are small predicates over
what the runtime knows about an incoming event: its text, its Quick Reply
tap, its kind. Routes are tried in registration order within each group;
the groups' order is the bot's (see :meth:`dmbot.engine.bot.Bot.dispatch`).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dmbot.flows.labels import contains_keyword, normalize, tokens
from dmbot.types import Handler


@dataclass(frozen=True, slots=True)
class Incoming:
    """What matchers look at: the text and, for a verified tap, its label and value."""

    kind: str
    text: str = ""
    tap_label: str | None = None
    tap_value: str | None = None


class Matcher(Protocol):
    def __call__(self, incoming: Incoming) -> bool: ...


@dataclass(frozen=True, slots=True)
class Keywords:
    """Any of the keywords occurs as whole words, case ignored."""

    words: tuple[str, ...]

    def __call__(self, incoming: Incoming) -> bool:
        return any(contains_keyword(incoming.text, word) for word in self.words)


@dataclass(frozen=True, slots=True)
class Pattern:
    """The regular expression is found in the text."""

    regex: re.Pattern[str]

    def __call__(self, incoming: Incoming) -> bool:
        return self.regex.search(incoming.text) is not None


@dataclass(frozen=True, slots=True)
class When:
    """A user predicate over the text."""

    predicate: Callable[[str], bool]

    def __call__(self, incoming: Incoming) -> bool:
        return bool(self.predicate(incoming.text))


@dataclass(frozen=True, slots=True)
class Always:
    def __call__(self, incoming: Incoming) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class QuickReplyChoice:
    """A tap whose label or value is ``choice``, or that label typed out."""

    choice: str

    def __call__(self, incoming: Incoming) -> bool:
        wanted = normalize(self.choice)
        if incoming.tap_label is not None or incoming.tap_value is not None:
            return wanted in (
                normalize(incoming.tap_label or ""),
                normalize(incoming.tap_value or ""),
            )
        return normalize(incoming.text) == wanted


@dataclass(frozen=True, slots=True)
class AllOf:
    matchers: tuple[Matcher, ...]

    def __call__(self, incoming: Incoming) -> bool:
        return all(matcher(incoming) for matcher in self.matchers)


@dataclass(slots=True)
class Route:
    """A handler and the matcher that selects it."""

    handler: Handler
    matcher: Matcher = field(default_factory=Always)
    catch_all: bool = False
    intent: str = ""

    @property
    def name(self) -> str:
        return getattr(self.handler, "__qualname__", repr(self.handler))


def message_matcher(
    keywords: Sequence[str], regex: str | re.Pattern[str] | None, when: Callable[[str], bool] | None
) -> tuple[Matcher, bool]:
    """The matcher for ``on_message(*keywords, regex=, when=)``; True when it matches all."""
    parts: list[Matcher] = []
    if keywords:
        parts.append(Keywords(tuple(keywords)))
    if regex is not None:
        compiled = regex if isinstance(regex, re.Pattern) else re.compile(regex, re.IGNORECASE)
        parts.append(Pattern(compiled))
    if when is not None:
        parts.append(When(when))
    if not parts:
        return Always(), True
    return (parts[0] if len(parts) == 1 else AllOf(tuple(parts))), False


# -- intents -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    examples: tuple[str, ...]


class Classifier(Protocol):
    """Anything that names the intent of a text: the built-in scorer, or your model."""

    def classify(self, text: str, intents: Sequence[Intent]) -> tuple[str, float] | None:
        """The best intent and a score in [0, 1], or None."""
        ...


class OverlapClassifier:
    """A small scorer: keyword hits and word overlap with each example.

    For each example, the score is the share of the example's words found in
    the text, with a bonus when the whole example occurs in it. The intent of
    the best example wins if it reaches ``threshold``.
    """

    def __init__(self, threshold: float = 0.5, stopwords: Iterable[str] = ()) -> None:
        self.threshold = threshold
        self.stopwords = frozenset(stopwords) or _STOPWORDS

    def _words(self, text: str) -> set[str]:
        return {word for word in tokens(text) if word not in self.stopwords}

    def score(self, text: str, example: str) -> float:
        words = self._words(text)
        wanted = self._words(example)
        if not words or not wanted:
            return 0.0
        overlap = len(words & wanted) / len(wanted)
        if contains_keyword(text, example):
            overlap = max(overlap, 1.0)
        # Long texts that merely contain an example's words score a little lower.
        precision = len(words & wanted) / len(words)
        return 0.8 * overlap + 0.2 * precision

    def classify(self, text: str, intents: Sequence[Intent]) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        for intent in intents:
            for example in intent.examples:
                value = self.score(text, example)
                if best is None or value > best[1]:
                    best = (intent.name, value)
        if best is None or best[1] < self.threshold:
            return None
        return best


_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "is",
        "are",
        "am",
        "be",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "for",
        "with",
        "do",
        "does",
        "can",
        "could",
        "would",
        "please",
        "it",
        "this",
        "that",
    }
)


@functools.lru_cache(maxsize=1024)
def call_arity(handler: Callable[..., Any]) -> int:
    """How many positional arguments ``handler`` accepts (for optional extras)."""
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return 1
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return 99
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
