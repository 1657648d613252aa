"""What installing dmbot gives: every package its code imports is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _normal(name: str) -> str:
    """PEP 503: prometheus_client and prometheus-client are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normal(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def test_every_package_the_code_imports_is_declared() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = _requirement_names(project["dependencies"])
    extras = {n: _requirement_names(r) for n, r in project["optional-dependencies"].items()}
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for path in sorted((REPO / "dmbot").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "dmbot":
                    continue
                owners = {_normal(d) for d in distributions.get(top, [top])}
                # redis is an extra: dmbot/store/redis*.py say `pip install 'dmbot[redis]'`.
                allowed = declared | (extras["redis"] if "store/redis" in str(path) else set())
                if not owners & allowed:
                    missing.append(f"{path.relative_to(REPO)}: {top} ({', '.join(owners)})")
    assert missing == [], "imported but not declared in pyproject.toml"
