"""The one YAML reader of dmbot: config.yaml and flow files are read alike.

What YAML means here:

- **YAML 1.2 booleans.** Only ``true`` and ``false`` are booleans, spelled as
  YAML 1.2's core schema allows (``true``, ``True``, ``TRUE``, ``false``,
  ``False``, ``FALSE``). ``Yes``, ``No``, ``on``, ``off``, ``y`` and ``n`` are
  strings, as in YAML 1.2: a flow option labelled ``Yes`` stays ``"Yes"``. A
  config key that takes a boolean may still accept ``yes``/``no``/``on``/``off``
  by its own rule (:func:`dmbot.config.rules.flag`).
- Otherwise PyYAML's safe schema: numbers, ``null``/``~``, mappings and lists;
  no Python objects.
- Every node keeps its line (:func:`line_of`), so every problem names file:line.
"""

from __future__ import annotations

import re

import yaml

__all__ = ["BOOL", "NULL", "STR", "TAG", "compose", "is_null", "line_of", "problem_line"]

TAG = "tag:yaml.org,2002:"
BOOL = TAG + "bool"
NULL = TAG + "null"
STR = TAG + "str"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans instead of YAML 1.1's."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def compose(text: str) -> yaml.Node | None:
    """The YAML nodes of ``text``; None for an empty document.

    Raises:
        yaml.YAMLError: the text is not YAML; :func:`problem_line` says where.
    """
    return yaml.compose(text, Loader=_Loader)


def problem_line(error: yaml.MarkedYAMLError) -> int | None:
    """The 1-based line a YAML syntax error points at, if the parser knew it."""
    mark = error.problem_mark or error.context_mark
    return mark.line + 1 if mark else None


def line_of(node: yaml.Node | None) -> int | None:
    """The 1-based line a node starts on; None for nodes built in code."""
    return node.start_mark.line + 1 if node is not None and node.start_mark is not None else None


def is_null(node: yaml.Node | None) -> bool:
    """Whether the node is absent or YAML's null (``null``, ``~`` or nothing)."""
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL)
