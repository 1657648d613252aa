"""Flow files: YAML compiled into :class:`~.model.Flow` objects, and the rules they follow.

A flow file is a mapping with one key, ``flows``, from flow names to flows::

    flows:
      order:                                   # the flow's name
        trigger: {keywords: [pizza]}           # or {regex: "..."}, or {intent: name}; optional
        help: "Pick an option, or say cancel." # said on "help" during the flow; optional
        cancel_words: [cancel, stop]           # the default
        cancel: cancelled                      # the ending used on cancel; default: the
                                               # ending "cancelled", else "Cancelled."
        steps:                                 # the questions, asked in order
          - name: size                         # required; the answer is saved as "size"
            ask: "What size?"                  # required; a template
            options: [Small, Medium, Large]    # plain labels (Yes and No stay text)
          - name: crust
            ask: "Which crust for your {size} pizza?"
            options:
              - Thin
              - label: Thick                   # the text on the button (at most 36 chars)
                value: thick                   # the answer saved (default: the label)
                description: "Deep and soft"   # at most 72 chars; on all options or none
                goto: confirm                  # a step or an ending (default: next step)
          - name: note
            ask: "Anything else?"
            input: text                        # free text instead of options
            pattern: "[A-Za-z ]{1,50}"         # optional; the whole answer must match
            retry: "Letters only, please."     # said when it does not (a template)
            save_as: remark                    # optional; default: the step's name
            goto: ordered                      # optional; where to go after this step
        endings:                               # named ends; gotos may name them
          ordered: {say: "Your {size} pizza is on its way!"}
          cancelled: "Order cancelled."        # short form of {say: ...}

Templates (``ask``, ``retry``, ``say``, ``help``) use ``{name}`` for a saved answer and
``{{``/``}}`` for literal braces; ``help`` may also say ``{flow}``, the flow's name. After
the last step a flow ends without a message.

The file is read by dmbot's one YAML reader (:mod:`dmbot.config.reader`): YAML 1.2
booleans, so ``Yes``, ``No``, ``on`` and ``off`` are text.

:func:`load_flow_file` reports every problem at once, each with file, line, flow and step,
what is wrong and how to fix it. :func:`validate_flows` runs the same rules on flows built
in Python.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import yaml

from dmbot.config.reader import compose, is_null, line_of, problem_line
from dmbot.errors import FlowError
from dmbot.flows.checks import FlowProblem, validate_flows
from dmbot.flows.model import DEFAULT_CANCEL_WORDS, Ending, Flow, Location, Option, Step, Trigger

__all__ = ["FlowProblem", "check_flow_file", "format_problems", "load_flow_file", "validate_flows"]


def load_flow_file(path: str | Path) -> tuple[Flow, ...]:
    """Load and validate the flows of a YAML file.

    Raises:
        FlowError: the file cannot be read or breaks rules; the message lists every problem.
    """
    flows, problems = _load(path)
    if problems:
        raise FlowError(format_problems(_display_name(path), problems))
    return flows


def check_flow_file(path: str | Path) -> list[FlowProblem]:
    """Every problem of a flow file, in line order; empty when the file is fine."""
    return _load(path)[1]


def format_problems(source: str, problems: Sequence[FlowProblem]) -> str:
    """``"pizza.yaml has 2 problems:"`` followed by one problem per line."""
    count = len(problems)
    head = f"{source} has {count} problem{'' if count == 1 else 's'}:"
    return "\n".join([head, *map(str, problems)])


def _display_name(path: str | Path) -> str:
    # Short names read better in messages; absolute paths only when outside the cwd.
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(p)


def _load(path: str | Path) -> tuple[tuple[Flow, ...], list[FlowProblem]]:
    name = _display_name(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return (), [_file_problem(name, "the file does not exist; check the path")]
    except UnicodeDecodeError:
        return (), [_file_problem(name, "the file is not UTF-8 text; save it as UTF-8")]
    except OSError as exc:
        return (), [_file_problem(name, f"the file cannot be read ({exc.strerror}); check it")]
    try:
        root = compose(text)
    except yaml.MarkedYAMLError as exc:
        why = exc.problem or exc.context or "invalid syntax"
        message = (
            f"this is not valid YAML ({why}); fix the syntax, and quote text that contains"
            " ': ' or starts with a special character"
        )
        return (), [FlowProblem(Location(name, problem_line(exc) or 0), "", "", message)]
    except yaml.YAMLError as exc:
        return (), [_file_problem(name, f"this is not valid YAML ({exc}); fix the syntax")]
    compiler = _Compiler(name)
    flows = compiler.document(root)
    problems = [*compiler.problems, *validate_flows(flows)]
    problems.sort(key=lambda p: p.where.line)
    return flows, problems


def _file_problem(name: str, message: str) -> FlowProblem:
    return FlowProblem(Location(name), "", "", message)


# What each kind of mapping is called in messages, and the keys it takes.
_SHAPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "file": ("the file", ("flows",)),
    "flow": ("a flow", ("trigger", "help", "steps", "endings", "cancel_words", "cancel")),
    "trigger": ("the trigger", ("keywords", "regex", "intent")),
    "step": (
        "a step",
        ("name", "ask", "options", "input", "pattern", "retry", "save_as", "goto"),
    ),
    "option": ("an option", ("label", "value", "description", "goto")),
    "ending": ("an ending", ("say",)),
}


@dataclass(frozen=True)
class _Ctx:
    flow: str = ""
    step: str = ""
    ending: str = ""


class _Compiler:
    """Walks the YAML nodes of a flow file into flow objects, noting problems with their lines."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[FlowProblem] = []

    def at(self, node: yaml.Node) -> Location:
        return Location(self.file, line_of(node) or 0)

    def report(self, node: yaml.Node, ctx: _Ctx, message: str) -> None:
        problem = FlowProblem(self.at(node), ctx.flow, ctx.step, message, ctx.ending)
        self.problems.append(problem)

    def entries(
        self, node: yaml.Node | None, ctx: _Ctx, what: str
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, each key once; null is empty."""
        if node is None or is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            self.report(node, ctx, f"{what} must be a mapping of keys to values, not {_kind(node)}")
            return []
        found: list[tuple[str, yaml.Node, yaml.Node]] = []
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.report(key_node, ctx, "a key must be plain text; fix the indentation")
            elif key_node.value in lines:
                first = lines[key_node.value]
                message = f"'{key_node.value}' is given twice (first on line {first})"
                self.report(key_node, ctx, f"{message}; keep one, or rename it")
            else:
                lines[key_node.value] = self.at(key_node).line
                found.append((key_node.value, key_node, value_node))
        return found

    def fields(self, node: yaml.Node | None, ctx: _Ctx, kind: str) -> dict[str, yaml.Node]:
        """The known keys of a mapping of ``kind``; unknown keys are reported."""
        what, allowed = _SHAPES[kind]
        found: dict[str, yaml.Node] = {}
        for key, key_node, value_node in self.entries(node, ctx, what):
            if key in allowed:
                found[key] = value_node
                continue
            guess = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
            fix = (
                f"did you mean '{guess[0]}'?"
                if guess
                else f"{what} takes only {', '.join(allowed)}: remove it or fix its spelling"
            )
            self.report(key_node, ctx, f"unknown key '{key}'; {fix}")
        return found

    def items(self, node: yaml.Node | None, ctx: _Ctx, what: str) -> list[yaml.Node]:
        if node is None or is_null(node):
            return []
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.report(node, ctx, f"{what} must be a list, not {_kind(node)}; write {what}: [a, b]")
        return []

    def text(self, node: yaml.Node | None, ctx: _Ctx, what: str) -> str:
        # Scalars keep their source text: `1.50` stays "1.50", `Yes` stays "Yes".
        if node is None or is_null(node):
            return ""
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        self.report(node, ctx, f"{what} must be text, not {_kind(node)}; quote it")
        return ""

    def texts(self, node: yaml.Node, ctx: _Ctx, what: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            return (str(node.value),)
        return tuple(self.text(item, ctx, what) for item in self.items(node, ctx, what))

    def document(self, root: yaml.Node | None) -> tuple[Flow, ...]:
        ctx = _Ctx()
        if root is None:
            message = "the file is empty; add flows: with at least one flow"
            self.problems.append(FlowProblem(Location(self.file, 1), "", "", message))
            return ()
        flows_node = self.fields(root, ctx, "file").get("flows")
        flows = self.entries(flows_node, ctx, "flows")
        empty = is_null(flows_node)
        if not flows and empty and isinstance(root, yaml.MappingNode):
            message = "the file defines no flows; add flows: with at least one flow"
            self.report(flows_node or root, ctx, message)
        return tuple(self.flow(name, key, value) for name, key, value in flows)

    def flow(self, name: str, key: yaml.Node, node: yaml.Node) -> Flow:
        ctx = _Ctx(flow=name)
        f = self.fields(node, ctx, "flow")
        steps = [
            self.step(i, item, ctx)
            for i, item in enumerate(self.items(f.get("steps"), ctx, "steps"))
        ]
        endings = [
            self.ending(ending, ending_key, value, replace(ctx, ending=ending))
            for ending, ending_key, value in self.entries(f.get("endings"), ctx, "endings")
        ]
        words = f.get("cancel_words")
        return Flow(
            name,
            [s for s in steps if s is not None],
            endings,
            trigger=self.trigger(f["trigger"], ctx) if "trigger" in f else Trigger(),
            cancel_words=self.texts(words, ctx, "cancel_words") if words else DEFAULT_CANCEL_WORDS,
            cancel=self.text(f.get("cancel"), ctx, "cancel"),
            help=self.text(f.get("help"), ctx, "help"),
            where=self.at(key),
        )

    def trigger(self, node: yaml.Node, ctx: _Ctx) -> Trigger:
        f = self.fields(node, ctx, "trigger")
        keywords = f.get("keywords")
        return Trigger(
            keywords=() if keywords is None else self.texts(keywords, ctx, "keywords"),
            regex=self.text(f.get("regex"), ctx, "regex"),
            intent=self.text(f.get("intent"), ctx, "intent"),
            where=self.at(node),
        )

    def step(self, index: int, node: yaml.Node, ctx: _Ctx) -> Step | None:
        if not isinstance(node, yaml.MappingNode):
            ctx = replace(ctx, step=f"#{index + 1}")
            self.report(node, ctx, "a step must be a mapping; write it as '- name: ...' lines")
            return None
        ctx = replace(ctx, step=_peek_name(node) or f"#{index + 1}")
        f = self.fields(node, ctx, "step")
        options = [self.option(item, ctx) for item in self.items(f.get("options"), ctx, "options")]
        return Step(
            name=self.text(f.get("name"), ctx, "name"),
            ask=self.text(f.get("ask"), ctx, "ask"),
            options=tuple(o for o in options if o is not None),
            input=cast(Any, self.text(f.get("input"), ctx, "input") or "choice"),
            pattern=self.text(f.get("pattern"), ctx, "pattern"),
            retry=self.text(f.get("retry"), ctx, "retry"),
            save_as=self.text(f.get("save_as"), ctx, "save_as"),
            goto=self.text(f.get("goto"), ctx, "goto"),
            where=self.at(node),
        )

    def option(self, node: yaml.Node, ctx: _Ctx) -> Option | None:
        if isinstance(node, yaml.ScalarNode):
            return Option(self.text(node, ctx, "label"), where=self.at(node))
        if not isinstance(node, yaml.MappingNode):
            self.report(node, ctx, "an option must be a label or a mapping with label:")
            return None
        f = self.fields(node, ctx, "option")
        return Option(
            label=self.text(f.get("label"), ctx, "label"),
            value=self.text(f.get("value"), ctx, "value"),
            description=self.text(f.get("description"), ctx, "description"),
            goto=self.text(f.get("goto"), ctx, "goto"),
            where=self.at(node),
        )

    def ending(self, name: str, key: yaml.Node, node: yaml.Node, ctx: _Ctx) -> Ending:
        if isinstance(node, yaml.MappingNode):
            say = self.text(self.fields(node, ctx, "ending").get("say"), ctx, "say")
        else:
            say = self.text(node, ctx, "an ending")
        return Ending(name, say, where=self.at(key))


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the text '{node.value}'"


def _peek_name(node: yaml.MappingNode) -> str:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "name":
            return str(value.value) if isinstance(value, yaml.ScalarNode) else ""
    return ""
