"""The package's shape: no import circles, the core does not know its edges, small modules.

Read from the source with :mod:`ast`, so every import counts: at the top of a
module, inside a function, or only for type checking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dmbot"
MAX_LINES = 420
"""STYLE.md: a module past ~400 lines is two concepts."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[str]:
    """Every dmbot module ``path`` imports, wherever the import statement is."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from a.b import c` imports a.b.c when c is a module, else a.b.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            # `from dmbot.x import limits` imports dmbot.x.limits; `from dmbot.x import Y`, dmbot.x.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("dmbot") and name != here:
                yield name


GRAPH = {name: set(imports(path)) for name, path in MODULES.items()}


def cycle_through(start: str) -> list[str] | None:
    """A shortest import circle through ``start``, if there is one."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for name in frontier:
            for target in sorted(GRAPH[name]):
                if target == start:
                    return [*paths[name], start]
                if target not in paths:
                    paths[target] = [*paths[name], target]
                    following.append(target)
        frontier = following
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    circles = {tuple(c) for name in GRAPH if (c := cycle_through(name))}
    shortest = sorted(circles, key=len)
    assert shortest == [], "\n".join(" -> ".join(c) for c in shortest[:10])


def package_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or name in PACKAGES else name


PACKAGES = {module_name(p.parent) for p in PACKAGE.rglob("__init__.py")} - {"dmbot"}


def test_no_package_imports_one_that_imports_it_back() -> None:
    edges = {
        (package_of(a), package_of(b))
        for a, targets in GRAPH.items()
        for b in targets
        if package_of(a) != package_of(b)
    }
    both_ways = sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b)
    assert both_ways == []


def test_flows_do_not_import_the_engine() -> None:
    """The flow runtime speaks through a Prompter and returns what the bot must do."""
    found = {
        f"{name} imports {target}"
        for name in MODULES
        if name.startswith("dmbot.flows")
        for target in GRAPH[name]
        if target.startswith("dmbot.engine")
    }
    assert found == set()


def test_the_context_and_the_bot_do_not_know_each_other_both_ways() -> None:
    """The bot builds contexts; a context never reaches back into the bot."""
    assert "dmbot.engine.bot" not in GRAPH["dmbot.engine.context"]
    assert cycle_through("dmbot.engine.context") is None
    assert cycle_through("dmbot.engine.bot") is None


def third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["engine", "flows", "config", "store"])
def test_the_core_does_not_know_its_edges(package: str) -> None:
    """The engine, flows, config and store import neither Starlette nor httpx (STYLE.md 3)."""
    found = {
        f"{name} imports {lib}"
        for name, path in MODULES.items()
        if name.startswith(f"dmbot.{package}")
        for lib in third_party(path) & {"starlette", "httpx", "uvicorn"}
    }
    reached = {
        f"{name} imports {target}"
        for name in MODULES
        if name.startswith(f"dmbot.{package}")
        for target in GRAPH[name]
        if target.startswith(("dmbot.edge.webhook", "dmbot.x.client", "dmbot.emulator"))
    }
    assert found | reached == set()


def test_no_module_is_two_concepts() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_dmbot_itself_holds_about_ten_modules() -> None:
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 10, top
