"""Validating a config file: its YAML nodes checked against the rules of the settings fields.

The file is read by the one YAML reader (:mod:`dmbot.config.reader`, YAML 1.2
booleans). Each field of a settings dataclass carries in its metadata the rule
that reads its YAML value (see :mod:`dmbot.config.rules`), or names the class of
a nested section (``{"section": cls}``) or of the items of a list (``{"items": cls}``).
:class:`Validator` walks the YAML nodes with these rules and collects every
problem with its line, so one :class:`~dmbot.errors.ConfigError` can list them
all (:meth:`Validator.raise_problems`).

``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in any
string value, also mid-string; as in the shell, the default applies when VAR is
unset or empty. ``$$`` is a literal dollar.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from dmbot.config.reader import STR, TAG, compose, is_null, line_of, problem_line
from dmbot.config.rules import Bad, Rule, Scalar, rules
from dmbot.errors import ConfigError


def _marked(cls: type, mark: str) -> dict[str, type]:
    return {f.name: f.metadata[mark] for f in dataclasses.fields(cls) if mark in f.metadata}


# ---- the file and the mapping, as YAML nodes ----


def compose_file(source: str) -> yaml.Node | None:
    """The YAML nodes of the config file ``source``.

    Raises:
        ConfigError: the file is missing, unreadable, not UTF-8 or not YAML.
    """
    file = Path(source)
    try:
        content = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = "" if file.is_absolute() else f" in {Path.cwd()}"
        raise ConfigError(
            f"config file {source} not found{where}; "
            "copy the example from the README or pass --config PATH"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {source} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from None
    try:
        return compose(content)
    except yaml.MarkedYAMLError as exc:
        # Only the parser's problem: its snippet of the line could show a secret.
        line = problem_line(exc)
        where = f"{source}:{line}" if line else source
        raise ConfigError(
            f"{where}: invalid YAML: {exc.problem or exc.context or 'syntax error'}"
        ) from None
    except yaml.YAMLError:
        raise ConfigError(f"{source}: invalid YAML; check the file's syntax") from None


def compose_mapping(data: Mapping[str, Any], source: str) -> yaml.Node:
    """The YAML nodes a file holding ``data`` would have, so one reader checks both.

    Raises:
        ConfigError: a value is not something YAML could hold.
    """
    plain = _plain(data, "", source)
    node: yaml.Node = yaml.representer.SafeRepresenter(sort_keys=False).represent_data(plain)
    return node


def _plain(value: object, path: str, source: str) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v, f"{path}.{k}" if path else str(k), source) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ConfigError(
        f"{source}: {path} cannot be a {type(value).__name__}; "
        "use strings, numbers, booleans, lists and mappings"
    )


# ---- reading YAML nodes ----

MISSING: Any = object()  # null or absent: the default applies
INVALID: Any = object()  # a problem was reported: no further checks on this key
_KINDS = {
    "null": "nothing",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "timestamp": "a date",
}
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|\$\{")

Lines = dict[str, int | None]
"""The line of each key given in a mapping."""


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _KINDS.get(node.tag.removeprefix(TAG), "a string")


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


class Validator:
    """Walks the YAML nodes of one file and collects every problem, with its line.

    Args:
        source: the file's name, for messages.
        env: the variables ``${VAR}`` reads.
        schema: the settings class of the whole file.
    """

    def __init__(self, source: str, env: Mapping[str, str], schema: type) -> None:
        self.source = source
        self.env = env
        self.schema = schema
        self.problems: list[tuple[int, str]] = []
        self.invalid: set[str] = set()  # keys already reported: no follow-up problems
        self.sections = _marked(schema, "section")
        self.top_keys = [*rules(schema), *self.sections, *_marked(schema, "items")]

    def add(self, line: int | None, text: str) -> None:
        """Note a problem; ``text`` follows "file:line: "."""
        where = f"{self.source}:{line}" if line else self.source
        self.problems.append((line or 0, f"{where}: {text}"))

    def raise_problems(self) -> None:
        """Raise one ConfigError listing every problem in line order, if there are any."""
        if not self.problems:
            return
        texts = [text for _, text in sorted(self.problems, key=lambda p: p[0])]
        if len(texts) == 1:
            raise ConfigError(texts[0])
        raise ConfigError(f"{self.source} has {len(texts)} problems:\n" + "\n".join(texts))

    def entries(
        self, node: yaml.Node | None, path: str, known: Collection[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The known keys of a mapping node; reports unknown and repeated keys."""
        if node is None or is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            what = path or "the top level"
            self.add(
                line_of(node), f"{what} must be a mapping of keys to values (got {_kind(node)})"
            )
            return {}
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            full = f"{path}.{key}" if path else key
            if key in found:
                first = line_of(found[key][0])
                where = f" (first at line {first})" if first else ""
                self.add(line_of(key_node), f"{full} is set twice{where}; keep one")
            elif key not in known:
                self.add(line_of(key_node), f"unknown key {full}{self._suggest(key, path, known)}")
            else:
                found[key] = (key_node, value_node)
        return found

    def _suggest(self, key: str, path: str, known: Collection[str]) -> str:
        close = difflib.get_close_matches(key, list(known), n=1)
        if close:
            return f" (did you mean {path + '.' if path else ''}{close[0]}?)"
        homes = [f"{name}.{key}" for name, cls in self.sections.items() if key in rules(cls)]
        if path and key in self.top_keys:
            homes.insert(0, f"the top-level key {key}")
        return f" (did you mean {homes[0]}?)" if homes else ""

    def top(
        self, root: yaml.Node | None, at: int | None
    ) -> tuple[dict[str, tuple[yaml.Node, yaml.Node]], dict[str, Any], dict[str, Lines]]:
        """The top-level entries, the values of the sections and plain keys, and their lines.

        Each section's value is a dict of keyword arguments for its class.
        """
        top = self.entries(root, "", self.top_keys)
        kwargs: dict[str, Any] = {}
        lines: dict[str, Lines] = {}
        for name, cls in self.sections.items():
            key_node, node = top.get(name, (None, None))
            kwargs[name], lines[name] = self.section(node, cls, name, line_of(key_node) or at)
        for name, rule in rules(self.schema).items():
            if name in top:
                value = self.value(top[name][1], name, rule)
                if value not in (INVALID, MISSING):
                    kwargs[name] = value
        return top, kwargs, lines

    def interpolate(self, text: str, key: str, line: int | None) -> str | None:
        """``text`` with ``${VAR}`` replaced; None once a problem is reported."""
        ok = True

        def replace(match: re.Match[str]) -> str:
            nonlocal ok
            name, default = match.group(1), match.group(2)
            if match.group(0) == "$$":
                return "$"
            if name is None or (default is not None and "${" in default):
                self.add(
                    line,
                    f"{key} has a malformed ${{...}}: write ${{NAME}} or "
                    "${NAME:-default} (no nesting), or $$ for a literal dollar",
                )
                ok = False
                return ""
            value = self.env.get(name)
            if default is not None:
                return value or default[2:]
            if value is None:
                self.add(
                    line,
                    f"{key} uses ${{{name}}}, which is not set; set {name} in the "
                    f"environment or write ${{{name}:-value}}",
                )
                ok = False
                return ""
            return value

        result = _REFERENCE.sub(replace, text)
        return result if ok else None

    def value(self, node: yaml.Node, key: str, rule: Rule) -> Any:
        """The converted value, MISSING for null, or INVALID once reported."""
        result = self._convert(node, key, rule)
        if result is INVALID:
            self.invalid.add(key)
        return result

    def _convert(self, node: yaml.Node, key: str, rule: Rule) -> Any:
        line = line_of(node)
        if not isinstance(node, yaml.ScalarNode):
            self.add(line, f"{key} must be {rule.expect} (got {_kind(node)})")
            return INVALID
        if node is None or is_null(node):
            return MISSING
        if node.tag == STR:
            text = self.interpolate(str(node.value), key, line)
            if text is None:
                return INVALID
            scalar = Scalar(text, text, "a string")
        else:
            try:
                native = yaml.constructor.SafeConstructor().construct_object(node)
            except yaml.YAMLError:
                self.add(line, f"{key} has the YAML tag {node.tag}, which dmbot cannot read")
                return INVALID
            scalar = Scalar(native, str(node.value), _kind(node))
        try:
            return rule.convert(scalar)
        except Bad as bad:
            quoted = repr(scalar.text) if scalar.kind == "a string" else scalar.text
            got = f"{scalar.kind}: {quoted}" if rule.quote else scalar.kind
            self.add(
                line, f"{key} {bad}" if str(bad) else f"{key} must be {rule.expect} (got {got})"
            )
            return INVALID

    def section(
        self, node: yaml.Node | None, cls: type, path: str, at: int | None
    ) -> tuple[dict[str, Any], Lines]:
        """Keyword arguments for ``cls`` and the line of each key given."""
        cls_rules = rules(cls)
        values: dict[str, Any] = {}
        lines: Lines = {}
        for key, (key_node, value_node) in self.entries(node, path, cls_rules).items():
            lines[key] = line_of(key_node)
            result = self.value(value_node, f"{path}.{key}", cls_rules[key])
            if result not in (INVALID, MISSING) and not (cls_rules[key].required and result == ""):
                values[key] = result
        for key, rule in cls_rules.items():
            if rule.required and key not in values and f"{path}.{key}" not in self.invalid:
                self.add(lines.get(key, at), f"{path}.{key} is required: {rule.required}")
        return values, lines

    def items(
        self,
        node: yaml.Node | None,
        cls: type,
        path: str,
        each: Callable[[dict[str, Any], str, Lines, int | None], None],
    ) -> list[tuple[dict[str, Any], int | None]]:
        """Keyword arguments for ``cls`` and the line of each item of a list.

        ``each(values, path, lines, line)`` checks an item further, right after it is read.
        """
        if node is None or is_null(node):
            return []
        keys = _and(list(rules(cls)))
        if not isinstance(node, yaml.SequenceNode):
            self.add(
                line_of(node), f"{path} must be a list of {path} with {keys} (got {_kind(node)})"
            )
            return []
        found = []
        for i, item in enumerate(node.value):
            where, line = f"{path}[{i}]", line_of(item)
            if not isinstance(item, yaml.MappingNode):
                self.add(line, f"{where} must be a mapping with {keys} (got {_kind(item)})")
                continue
            values, lines = self.section(item, cls, where, line)
            each(values, where, lines, line)
            found.append((values, line))
        return found
