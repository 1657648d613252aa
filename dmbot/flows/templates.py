"""Templates: a flow's texts (questions, endings, help, retry) with ``{name}`` placeholders.

``{size}`` stands for the answer saved under ``size``. :func:`render` fills the placeholders
in when the flow runs; :func:`placeholders` and :func:`stray_braces` let the flow checks
(:mod:`dmbot.flows.checks`) report unknown names and stray braces before it does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# {{ and }} are literal braces; {name} (spaces allowed inside) is a placeholder.
_TEMPLATE = re.compile(r"\{\{|\}\}|\{\s*([^\W\d][\w.-]*)\s*\}")


def render(template: str, answers: Mapping[str, str]) -> str:
    """Fill the ``{name}`` placeholders of ``template`` with saved answers.

    ``{{`` and ``}}`` stand for literal braces; a name with no answer renders as ``""``;
    any other brace is kept as it is. Answers are inserted verbatim, never re-interpreted,
    so nothing a user typed can make this raise or inject placeholders.
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        value = answers.get(name, "")
        return value if isinstance(value, str) else str(value)

    return _TEMPLATE.sub(fill, template)


def placeholders(template: str) -> tuple[str, ...]:
    """The answer names ``template`` uses, in order of first use."""
    names = (m.group(1) for m in _TEMPLATE.finditer(template))
    return tuple(dict.fromkeys(n for n in names if n is not None))


def stray_braces(template: str) -> tuple[int, ...]:
    """Positions of single ``{`` or ``}`` that are neither placeholders nor ``{{``/``}}``."""
    found: list[int] = []
    end = 0
    for match in _TEMPLATE.finditer(template):
        found += [end + i for i, c in enumerate(template[end : match.start()]) if c in "{}"]
        end = match.end()
    found += [end + i for i, c in enumerate(template[end:]) if c in "{}"]
    return tuple(found)
