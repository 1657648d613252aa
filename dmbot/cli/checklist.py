"""The doctor's checklist: one line per check, ``ok`` or ``FAIL`` with the fix, and a verdict."""

from __future__ import annotations

__all__ = ["Checklist"]


class Checklist:
    """Prints one line per check and counts the failures."""

    def __init__(self) -> None:
        self.failures = 0

    def ok(self, text: str) -> None:
        """A check that passed."""
        print(f"  ok    {text}")

    def fail(self, text: str, fix: str) -> None:
        """A check that failed, and what to do about it."""
        self.failures += 1
        print(f"  FAIL  {text}\n        {fix}")

    def note(self, text: str) -> None:
        """Something neither passed nor failed: a check skipped, and why."""
        print(f"  --    {text}")

    def complete(self, required: dict[str, str]) -> bool:
        """Whether every config key of ``required`` has a value; a failure names the others."""
        missing = [key for key, value in required.items() if not value]
        if missing:
            self.fail(
                f"config incomplete: {', '.join(missing)} not set",
                "set them in config.yaml (secrets through ${VARIABLES}); see `dmbot check`",
            )
        return not missing

    def verdict(self) -> int:
        """Print the outcome; 0 when every check passed, 1 otherwise."""
        if self.failures:
            print(f"{self.failures} problem(s) found.")
            return 1
        print("All checks passed.")
        return 0
