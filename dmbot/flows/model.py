"""The Quick Reply flow model: what a flow file compiles into, and what a Python author builds.

A :class:`Flow` is an ordered list of :class:`Step` questions. A step either offers Quick
Reply :class:`Option` buttons (``input="choice"``) or takes typed text (``input="text"``),
and saves the answer under ``save_as`` (by default the step's name). Options and text steps
may jump (``goto``) to another step or to an :class:`Ending`; otherwise the flow moves to
the next step in order, and after the last one it ends without a closing message.

Questions (``ask``), endings (``say``), ``help`` and ``retry`` are templates: ``{size}`` is
replaced by the saved answer named ``size`` (see :mod:`dmbot.flows.templates`).

Every object is a frozen, hashable value. ``where`` records the file and line an object
came from, for error messages; it takes no part in equality, so a flow loaded from YAML
equals the same flow built in Python.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dmbot.errors import FlowError, UnknownNameError
from dmbot.flows.labels import normalize

# The templates moved to their own module; ``dmbot.flows.model`` still answers for them.
from dmbot.flows.templates import placeholders as placeholders
from dmbot.flows.templates import render as render
from dmbot.flows.templates import stray_braces as stray_braces

DEFAULT_RETRY = "Sorry, I didn't get that."
"""What a text step says when an answer does not match its ``pattern``."""

DEFAULT_CANCEL_WORDS = ("cancel", "stop")

BUILTIN_CANCEL = "Cancelled."
"""What a flow says on cancel when it names no cancel ending and has none called ``cancelled``."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where an object was defined: a file and a 1-based line, for error messages."""

    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        if self.line:
            return f"line {self.line}"
        return self.file


_NOWHERE = Location()


@dataclass(frozen=True, slots=True)
class Option:
    """One Quick Reply button of a step.

    Attributes:
        label: the text on the button (X: at most 36 characters, no URLs).
        value: the answer saved when it is chosen; empty means the label.
        description: a second line under the label (X: at most 72 characters).
        goto: the step or ending to go to next; empty means the next step.
        where: where the option was defined.
    """

    label: str
    value: str = ""
    description: str = ""
    goto: str = ""
    where: Location = field(default=_NOWHERE, compare=False, repr=False)

    @property
    def saved(self) -> str:
        """The answer saved when this option is chosen: ``value``, or the label."""
        return self.value or self.label


@dataclass(frozen=True, slots=True)
class Step:
    """One question of a flow.

    Attributes:
        name: the step's name; gotos and error messages use it.
        ask: the question, a template.
        options: the Quick Reply options (plain strings are accepted and become labels).
        input: ``"choice"`` (tap or type an option) or ``"text"`` (free text).
        pattern: for text input, a regular expression the whole answer must match.
        retry: what to say when the answer does not match ``pattern`` (a template).
        save_as: the name the answer is saved under; defaults to ``name``.
        goto: where to go after this step when the chosen option names no goto.
        where: where the step was defined.
    """

    name: str
    ask: str
    options: tuple[Option, ...] = ()
    input: Literal["choice", "text"] = "choice"
    pattern: str = ""
    retry: str = ""
    save_as: str = ""
    goto: str = ""
    where: Location = field(default=_NOWHERE, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Forgive the natural Python spellings (a list, bare labels); store the canonical form.
        options = tuple(Option(o) if isinstance(o, str) else o for o in self.options)
        object.__setattr__(self, "options", options)
        if not self.save_as:
            object.__setattr__(self, "save_as", self.name)
        if not self.retry:
            object.__setattr__(self, "retry", DEFAULT_RETRY)

    def option_for(self, text: str) -> Option | None:
        """The option a typed ``text`` names, by label first, then by value.

        Case, surrounding spaces and runs of inner spaces are ignored, so ``"  large "``
        and ``"LARGE"`` both find the option labelled ``Large``.
        """
        wanted = normalize(text)
        if not wanted:
            return None
        for option in self.options:
            if normalize(option.label) == wanted:
                return option
        for option in self.options:
            if option.value and normalize(option.value) == wanted:
                return option
        return None

    def accepts(self, text: str) -> bool:
        """Whether ``text`` answers this step.

        A choice step accepts the label or value of one of its options; a text step accepts
        any non-blank text that, stripped of surrounding spaces, fully matches ``pattern``.

        Raises:
            FlowError: ``pattern`` is not a valid regular expression.
        """
        if self.input != "text":
            return self.option_for(text) is not None
        answer = text.strip()
        if not self.pattern:
            return bool(answer)
        return compile_pattern(self.pattern).fullmatch(answer) is not None


@dataclass(frozen=True, slots=True)
class Ending:
    """A named end of a flow.

    Attributes:
        name: the name gotos use.
        say: the closing message, a template; empty ends silently.
        where: where the ending was defined.
    """

    name: str
    say: str = ""
    where: Location = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts a flow when no flow is pending.

    Attributes:
        keywords: words matched as whole words, case ignored, anywhere in the message.
        regex: a regular expression searched for in the message, case ignored.
        intent: the name of an intent; the runtime matches intents, not this class.
        where: where the trigger was defined.
    """

    keywords: tuple[str, ...] = ()
    regex: str = ""
    intent: str = ""
    where: Location = field(default=_NOWHERE, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Trigger(keywords="pizza") would otherwise match single letters.
        if isinstance(self.keywords, str):
            object.__setattr__(self, "keywords", (self.keywords,))
        else:
            object.__setattr__(self, "keywords", tuple(self.keywords))

    def matches(self, text: str) -> bool:
        """Whether ``text`` contains one of the keywords or matches the regex.

        Raises:
            FlowError: ``regex`` is not a valid regular expression.
        """
        if self.keywords and _keyword_regex(self.keywords).search(text):
            return True
        return (
            bool(self.regex) and compile_pattern(self.regex, re.IGNORECASE).search(text) is not None
        )


@functools.lru_cache(maxsize=512)
def _keyword_regex(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words: not preceded or followed by a word character; inner spaces flexible.
    words = [r"\s+".join(map(re.escape, k.split())) for k in keywords if k.strip()]
    if not words:
        return re.compile(r"(?!)")
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a flow's regular expression once, however often it is used.

    Raises:
        FlowError: the pattern is invalid; the message says where it breaks.
    """
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise FlowError(
            f"{pattern!r} is not a valid regular expression ({exc}); fix the pattern."
        ) from exc


_NO_TRIGGER = Trigger()


class Endings(Mapping[str, Ending]):
    """The endings of a flow: an immutable, hashable mapping from name to :class:`Ending`.

    It keeps every ending it was given, in order, even repeated names (see :attr:`all`), so
    validation can report duplicates; lookups return the first ending of a name.
    """

    __slots__ = ("_all",)

    def __init__(self, endings: Iterable[Ending] = ()) -> None:
        self._all = tuple(endings)

    @property
    def all(self) -> tuple[Ending, ...]:
        """Every ending, in definition order, duplicates included."""
        return self._all

    def __getitem__(self, name: str) -> Ending:
        for ending in self._all:
            if ending.name == name:
                return ending
        known = ", ".join(self) or "none"
        raise UnknownNameError(f"no ending named {name!r} (endings: {known}); check the name")

    def __contains__(self, name: object) -> bool:
        # Mapping's default asks __getitem__ and catches the error it builds.
        return any(ending.name == name for ending in self._all)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(e.name for e in self._all))

    def __len__(self) -> int:
        return len({e.name for e in self._all})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Endings):
            return self._all == other._all
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all)

    def __repr__(self) -> str:
        return f"Endings({list(self._all)!r})"


@dataclass(frozen=True, slots=True, init=False)
class Flow:
    """A conversation of Quick Reply questions.

    Attributes:
        name: the flow's name (``ctx.start_flow(name)``).
        steps: the questions, in order; the first one starts the flow.
        endings: the named ends, by name.
        trigger: what starts the flow when no flow is pending.
        cancel_words: words that cancel the flow at any step.
        cancel: the ending used on cancel; empty means the ending named ``cancelled`` if
            there is one, else a built-in "Cancelled." message.
        help: what to say when the user asks for help during the flow (a template).
        where: where the flow was defined.
    """

    name: str
    steps: tuple[Step, ...]
    endings: Endings
    trigger: Trigger
    cancel_words: tuple[str, ...]
    cancel: str
    help: str
    where: Location = field(compare=False, repr=False)

    def __init__(
        self,
        name: str,
        steps: Iterable[Step],
        endings: Mapping[str, Ending | str] | Iterable[Ending] = (),
        trigger: Trigger = _NO_TRIGGER,
        cancel_words: Iterable[str] = DEFAULT_CANCEL_WORDS,
        cancel: str = "",
        help: str = "",
        where: Location = _NOWHERE,
    ) -> None:
        """Build a flow; ``endings`` may be Endings, or a mapping of name to Ending or text."""
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "steps", tuple(steps))
        setattr_(self, "endings", _to_endings(endings))
        setattr_(self, "trigger", trigger)
        words = (cancel_words,) if isinstance(cancel_words, str) else tuple(cancel_words)
        setattr_(self, "cancel_words", words)
        setattr_(self, "cancel", cancel)
        setattr_(self, "help", help)
        setattr_(self, "where", where)

    def step(self, name: str) -> Step:
        """The step called ``name``.

        Raises:
            UnknownNameError: the flow has no such step (a KeyError too).
        """
        return self.steps[self.index(name)]

    def index(self, name: str) -> int:
        """The position of the step called ``name`` in :attr:`steps`.

        Raises:
            UnknownNameError: the flow has no such step (a KeyError too).
        """
        for i, step in enumerate(self.steps):
            if step.name == name:
                return i
        known = ", ".join(step.name for step in self.steps) or "none"
        raise UnknownNameError(
            f"flow {self.name!r} has no step {name!r} (steps: {known}); check the name"
        )

    @property
    def first(self) -> Step:
        """The step the flow starts with.

        Raises:
            FlowError: the flow has no steps.
        """
        if not self.steps:
            raise FlowError(f"Flow {self.name!r} has no steps; add at least one step.")
        return self.steps[0]

    def next_after(self, step_name: str, option: Option | None) -> str:
        """The name of the step or ending that follows ``step_name``.

        The chosen option's goto wins, then the step's own goto, then the next step in
        order. After the last step it is ``""``: the flow ends without a closing message.

        Raises:
            UnknownNameError: the flow has no step ``step_name`` (a KeyError too).
        """
        i = self.index(step_name)
        if option is not None and option.goto:
            return option.goto
        if self.steps[i].goto:
            return self.steps[i].goto
        return self.steps[i + 1].name if i + 1 < len(self.steps) else ""

    def is_ending(self, name: str) -> bool:
        """Whether ``name`` names one of the flow's endings."""
        return name in self.endings

    @property
    def cancel_ending(self) -> Ending:
        """The ending used when the user cancels (see :attr:`cancel`)."""
        name = self.cancel or "cancelled"
        if name in self.endings:
            return self.endings[name]
        return Ending("cancelled", BUILTIN_CANCEL)


def _to_endings(endings: Mapping[str, Ending | str] | Iterable[Ending]) -> Endings:
    if isinstance(endings, Endings):
        return endings
    if isinstance(endings, str):
        raise TypeError("endings must be Ending objects or a mapping of name to text, not a str")
    if isinstance(endings, Mapping):
        built: list[Ending] = []
        for name, value in endings.items():
            if isinstance(value, Ending):
                built.append(value if value.name == name else replace(value, name=name))
            else:
                built.append(Ending(name, value))
        return Endings(built)
    return Endings(endings)
