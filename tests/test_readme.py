"""README's promises stay tied to the tests that prove them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def guarantees() -> list[str]:
    """The bullets of README's "What dmbot guarantees", one string each."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What dmbot guarantees\n", 1)[1].split("\n## ", 1)[0]
    return ["- " + b for b in re.split(r"^- ", section, flags=re.MULTILINE)[1:]]


def test_every_guarantee_names_tests_that_exist() -> None:
    bullets = guarantees()
    assert len(bullets) >= 7
    for bullet in bullets:
        promise = bullet.split("**")[1]
        named = re.findall(r"`((?:test_\w+\.py)?(?:::test_\w+)?)`", bullet)
        named = [n for n in named if n]
        assert named, f"the guarantee {promise!r} names no test"
        module = ""
        for name in named:
            file, _, test = name.partition("::")
            module = file or module
            assert module, f"{name} in {promise!r} follows no test module"
            source = (REPO / "tests" / module).read_text(encoding="utf-8")
            if test:
                assert re.search(rf"^(async )?def {test}\(", source, re.MULTILINE), (
                    f"{module}::{test}, named for {promise!r}, does not exist"
                )
