"""The rules a flow follows, checked on flows from a file or built in Python.

:func:`validate_flows` reports every broken rule as a :class:`FlowProblem`: where
(file and line, when known), in which flow and step or ending, what is wrong and
how to fix it. The rules: names are unique and every step is reachable; ``goto`` and
``cancel`` name existing steps and endings; regular expressions compile; templates
name answers that a step saves on every path before them; and X's limits
(:mod:`dmbot.x.limits`) hold, for texts even with the longest answers filled in.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from dmbot.flows import metadata
from dmbot.flows.labels import normalize
from dmbot.flows.model import Flow, Location, Option, Step
from dmbot.flows.templates import placeholders, render, stray_braces
from dmbot.x.limits import (
    MAX_DESCRIPTION,
    MAX_LABEL,
    MAX_METADATA,
    MAX_OPTIONS,
    MAX_TEXT,
    has_link,
    missing_descriptions,
)

TYPED_ANSWER_SIZE = 280
"""How long a typed answer is assumed to be when a template is checked against MAX_TEXT."""


@dataclass(frozen=True)
class FlowProblem:
    """One broken rule: where, in which flow and step (or ending), what is wrong and the fix."""

    where: Location
    flow: str
    step: str
    message: str
    ending: str = ""

    def __str__(self) -> str:
        context = [f"flow {self.flow}"] if self.flow else []
        context += [f"step {self.step}"] if self.step else []
        context += [f"ending {self.ending}"] if self.ending else []
        parts = [str(self.where)] if str(self.where) else []
        parts += [", ".join(context)] if context else []
        return ": ".join([*parts, self.message])


def validate_flows(
    flows: Sequence[Flow], *, metadata_key: bytes | None = None
) -> list[FlowProblem]:
    """Every rule a flow breaks, for flows from a file or built in Python.

    Args:
        flows: the flows to check, together (flow names must differ).
        metadata_key: the Quick Reply metadata key; lengths do not depend on it.
    """
    problems: list[FlowProblem] = []
    named: dict[str, Flow] = {}
    for flow in flows:
        if not flow.name:
            problems.append(FlowProblem(flow.where, "", "", "a flow has no name; name it"))
        elif flow.name in named:
            message = f"another flow{_at(named[flow.name].where)} has this name; rename one"
            problems.append(FlowProblem(flow.where, flow.name, "", message))
        else:
            named[flow.name] = flow
        problems += _Check(flow, metadata_key or b"").run()
    return problems


class _Check:
    """The rules of one flow; problems accumulate in :attr:`problems`."""

    def __init__(self, flow: Flow, key: bytes) -> None:
        self.flow = flow
        self.key = key
        self.problems: list[FlowProblem] = []
        self.labels = [s.name or f"#{i + 1}" for i, s in enumerate(flow.steps)]
        self.step_names = {s.name for s in flow.steps}
        self.targets = self.step_names | set(flow.endings)

    def add(self, where: Location, message: str, step: str = "", ending: str = "") -> None:
        place = _first(where, self.flow.where)
        self.problems.append(FlowProblem(place, self.flow.name, step, message, ending))

    def run(self) -> list[FlowProblem]:
        if not self.flow.steps:
            self.add(self.flow.where, "the flow has no steps; add steps: with at least one")
        self.names()
        for i, step in enumerate(self.flow.steps):
            self.step(self.labels[i], step)
        self.gotos()
        self.trigger()
        reachable = self.reachable()
        self.templates(reachable)
        return self.problems

    def names(self) -> None:
        steps: dict[str, Location] = {}
        for label, step in zip(self.labels, self.flow.steps, strict=True):
            if not step.name:
                self.add(step.where, "the step has no name; add name: (it names the answer)", label)
            elif step.name in steps:
                message = f"another step{_line(steps[step.name])} has this name; rename one"
                self.add(step.where, message, label)
            else:
                steps[step.name] = step.where
        endings: dict[str, Location] = {}
        for ending in self.flow.endings.all:
            name = ending.name
            if not name:
                self.add(ending.where, "an ending has no name; name it")
            elif name in steps:
                message = (
                    f"a step{_line(steps[name])} has this name too, so a goto could mean either;"
                    " rename one"
                )
                self.add(ending.where, message, ending=name)
            elif name in endings:
                message = f"another ending{_line(endings[name])} has this name; rename one"
                self.add(ending.where, message, ending=name)
            else:
                endings[name] = ending.where

    def step(self, label: str, step: Step) -> None:
        where = step.where
        if not step.ask.strip():
            self.add(where, "the step has no question; add ask: with the text to send", label)
        if step.input not in ("choice", "text"):
            message = f"input must be 'choice' or 'text', not '{step.input}'; use one of those"
            self.add(where, message, label)
        elif step.input == "choice" and not step.options:
            message = "the step has no options and takes no text; add options:, or input: text"
            self.add(where, message, label)
        elif step.input == "text" and step.options:
            message = "a step with input: text cannot have options; remove one or the other"
            self.add(where, message, label)
        if step.pattern and step.input != "text":
            message = "pattern: only applies to steps with input: text; add that, or remove it"
            self.add(where, message, label)
        elif step.pattern:
            self.regex(where, step.pattern, "pattern", label)
        if len(step.options) > MAX_OPTIONS:
            extra = len(step.options) - MAX_OPTIONS
            message = (
                f"the step has {len(step.options)} options but X shows at most {MAX_OPTIONS}; "
                f"remove {extra}, or split the question in two"
            )
            self.add(where, message, label)
        self.options(label, step)

    def options(self, label: str, step: Step) -> None:
        seen: dict[str, Option] = {}
        for option in step.options:
            where = _first(option.where, step.where)
            text = option.label
            if not text.strip():
                self.add(where, "an option has no label; add label:", label)
                continue
            if len(text) > MAX_LABEL:
                message = (
                    f"the label '{text}' is {len(text)} characters, over X's limit of "
                    f"{MAX_LABEL}; shorten the label to {MAX_LABEL} characters"
                )
                self.add(where, message, label)
            if has_link(text):
                message = f"the label '{text}' contains a URL, which X refuses; remove the link"
                self.add(where, message, label)
            if len(option.description) > MAX_DESCRIPTION:
                message = (
                    f"the description of '{text}' is {len(option.description)} characters, over"
                    f" X's limit of {MAX_DESCRIPTION}; shorten it to {MAX_DESCRIPTION} characters"
                )
                self.add(where, message, label)
            folded = normalize(text)
            if folded in seen:
                message = (
                    f"the label '{text}' repeats '{seen[folded].label}'"
                    f"{_line(seen[folded].where)} (case and spacing aside), so a typed answer "
                    "cannot tell them apart; make the labels differ"
                )
                self.add(where, message, label)
            else:
                seen[folded] = option
            tap = metadata.Tap(self.flow.name, step.name, option.saved, text, metadata.MAX_PROMPT)
            size = len(metadata.encode(tap, self.key))
            if size > MAX_METADATA:
                message = (
                    f"the Quick Reply metadata of '{text}' would be {size:,} characters, over X's "
                    f"limit of {MAX_METADATA:,}; shorten its value (or the flow or step"
                    " name)"
                )
                self.add(where, message, label)
        bare = missing_descriptions(step.options)
        if bare:
            names = ", ".join(f"'{b}'" for b in bare)
            message = (
                "X needs a description on every option or on none; add one to "
                f"{names}, or remove the others"
            )
            self.add(step.where, message, label)

    def regex(self, where: Location, pattern: str, what: str, label: str = "") -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            message = f"the {what} '{pattern}' is not a valid regular expression ({exc}); fix it"
            self.add(where, message, label)

    def gotos(self) -> None:
        for label, step in zip(self.labels, self.flow.steps, strict=True):
            if step.goto and step.goto not in self.targets:
                self.add(step.where, self.missing(step.goto, "goto"), label)
            for option in step.options:
                if option.goto and option.goto not in self.targets:
                    where = _first(option.where, step.where)
                    self.add(where, self.missing(option.goto, "goto"), label)
        cancel = self.flow.cancel
        if cancel and cancel not in self.flow.endings:
            self.add(self.flow.where, self.missing(cancel, "cancel", ending_only=True))

    def missing(self, name: str, key: str, *, ending_only: bool = False) -> str:
        choices = set(self.flow.endings) if ending_only else self.targets
        guess = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        if ending_only:
            return f"{key}: '{name}' names no ending{hint}; add an ending '{name}', or fix {key}:"
        return (
            f"{key}: '{name}' names no step or ending{hint}; add a step named '{name}' "
            f"or an ending '{name}', or fix the {key}"
        )

    def trigger(self) -> None:
        trigger = self.flow.trigger
        where = _first(trigger.where, self.flow.where)
        if trigger.regex:
            self.regex(where, trigger.regex, "trigger regex")
        if any(not k.strip() for k in trigger.keywords):
            self.add(where, "a trigger keyword is empty; remove it")

    def successors(self, step: Step) -> list[str]:
        if step.input == "choice" and step.options:
            return [self.flow.next_after(step.name, o) for o in step.options]
        return [self.flow.next_after(step.name, None)]

    def reachable(self) -> set[str]:
        if not self.flow.steps:
            return set()
        first = self.flow.steps[0].name
        seen, queue = {first}, deque([first])
        while queue:
            for name in self.next_steps(queue.popleft()):
                if name not in seen:
                    seen.add(name)
                    queue.append(name)
        for label, step in zip(self.labels, self.flow.steps, strict=True):
            if step.name and step.name not in seen:
                message = (
                    f"no path from the first step '{first}' reaches this step; add "
                    f"goto: {step.name} to an option or step before it, or remove the step"
                )
                self.add(step.where, message, label)
        return seen

    def next_steps(self, name: str, unless_saves: str | None = None) -> list[str]:
        """Where a step leads; nothing for endings, or when the step saves ``unless_saves``."""
        if name not in self.step_names:
            return []
        step = self.flow.step(name)
        return [] if step.save_as == unless_saves else self.successors(step)

    def templates(self, reachable: set[str]) -> None:
        sizes: dict[str, int] = {}
        for step in self.flow.steps:
            size = max((len(o.saved) for o in step.options), default=TYPED_ANSWER_SIZE)
            sizes[step.save_as] = max(size, sizes.get(step.save_as, 0))
        cancel = self.flow.cancel_ending.name
        for i, step in enumerate(self.flow.steps):
            label = self.labels[i]
            # A second step of the same name is reported already; paths cannot tell them apart.
            first = step.name in reachable and self.flow.index(step.name) == i
            texts = [("ask", step.ask)] + ([("retry", step.retry)] if step.input == "text" else [])
            for what, text in texts:
                self.text(step.where, what, text, sizes, label)
                target = step.name if first else None
                self.unsaved(step.where, text, target, sizes, label)
        for ending in self.flow.endings.all:
            where, name = ending.where, ending.name
            self.text(where, "say", ending.say, sizes, ending=name)
            # The cancel ending can come before any answer: only names nobody saves are wrong.
            target = name if name in reachable and name != cancel else None
            self.unsaved(where, ending.say, target, sizes, ending=name)
        # The runtime renders help with {flow}, the flow's name, over any answer of that name.
        help_sizes = {**sizes, "flow": len(self.flow.name)}
        self.text(self.flow.where, "help", self.flow.help, help_sizes)
        self.unsaved(self.flow.where, self.flow.help, None, help_sizes)

    def text(
        self,
        where: Location,
        what: str,
        template: str,
        sizes: dict[str, int],
        step: str = "",
        ending: str = "",
    ) -> None:
        stray = stray_braces(template)
        if stray:
            brace = template[stray[0]]
            message = (
                f"{what} has a lone '{brace}' at character {stray[0] + 1}; write "
                f"'{brace * 2}' for a literal brace, or complete the {{name}} placeholder"
            )
            self.add(where, message, step, ending)
        names = placeholders(template)
        size = len(render(template, {n: "x" * sizes.get(n, 0) for n in names}))
        if size > MAX_TEXT:
            filled = f" with answers filled in (typed ones as {TYPED_ANSWER_SIZE})" if names else ""
            message = (
                f"{what} can be {size:,} characters long{filled}, over X's limit of "
                f"{MAX_TEXT:,}; shorten it"
            )
            self.add(where, message, step, ending)

    def unsaved(
        self,
        where: Location,
        template: str,
        target: str | None,
        sizes: dict[str, int],
        step: str = "",
        ending: str = "",
    ) -> None:
        """Report placeholders no step saves, or (with ``target``) that a path skips."""
        for name in placeholders(template):
            if name not in sizes:
                message = (
                    f"{{{name}}} names no answer: no step saves '{name}'; fix the name, or add a"
                    f" step named '{name}' (or with save_as: {name}) before this"
                )
                self.add(where, message, step, ending)
            elif target is not None and (path := self.path_without(target, name)):
                message = (
                    f"{{{name}}} may be empty here: on the path {' → '.join(path)} no step "
                    f"saves '{name}' first; ask for it earlier on every path, or remove it"
                )
                self.add(where, message, step, ending)

    def path_without(self, target: str, name: str) -> list[str]:
        """A path from the first step to ``target`` on which no step saves ``name``."""
        first = self.flow.steps[0].name
        parents: dict[str, str] = {first: ""}
        queue = deque([first])
        while queue:
            node = queue.popleft()
            if node == target:
                path = [node]
                while parents[path[-1]]:
                    path.append(parents[path[-1]])
                return path[::-1]
            for succ in self.next_steps(node, unless_saves=name):
                if succ and succ not in parents:
                    parents[succ] = node
                    queue.append(succ)
        return []


def _first(*places: Location) -> Location:
    for place in places:
        if place.file or place.line:
            return place
    return places[-1]


def _at(where: Location) -> str:
    return f" (at {where})" if str(where) else ""


def _line(where: Location) -> str:
    # Within one flow the file goes without saying.
    return f" (line {where.line})" if where.line else ""
