"""Times on the command line (`dmbot replay --from WHEN --to WHEN`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dmbot.cli.when import parse_when
from dmbot.errors import ConfigError

NOW = datetime(2026, 12, 6, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("202612061000", datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2026-12-06T10:00", datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2026-12-06T10:00Z", datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2026-12-06T11:00+01:00", datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2h", NOW - timedelta(hours=2)),
        ("1h30m", NOW - timedelta(minutes=90)),
    ],
)
def test_the_forms_people_write(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, "--from") == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-13-01", "12:00pm", "", "202613061000", "202612321000"]
)
def test_anything_else_says_what_to_write(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--from .* is not a time; write 2026-12-06T10:00"):
        parse_when(text, NOW, "--from")


def test_the_future_is_refused() -> None:
    with pytest.raises(ConfigError, match="--to 2026-12-07 12:30 UTC is in the future"):
        parse_when("2026-12-07T12:30", NOW, "--to")


@pytest.mark.parametrize("text", ["999999999d", "0001-01-01T00:00+01:00"])
def test_a_time_past_the_calendar_is_one_readable_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--from .* is too far from now"):
        parse_when(text, NOW, "--from")
