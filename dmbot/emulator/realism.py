"""The realism switches: X's awkward habits, off by default and switched on one by one.

They are read at each delivery (:mod:`dmbot.emulator.delivery`), by the
simulated people (typing indicators, read receipts), the webhook registry
(strict URLs) and the activity stream (keep-alives, duplicates, delays).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from dmbot.types import JSONObject


@dataclass
class Realism:
    """Switches for X's awkward delivery habits; all off by default.

    Attributes:
        duplicates: every delivery is sent twice.
        out_of_order: a delivery is held back and sent after the next one to
            the same webhook, or after ``hold`` seconds if none comes.
        delay: seconds between an event and its delivery.
        retries: a delivery not answered 200 within ``timeout`` is retried
            after each pause of ``retry_schedule``.
        retry_schedule: X's pauses between attempts; shorten it in tests.
        drop_metadata: taps arrive without ``quick_reply_response``, as from
            legacy clients (label text only).
        typing_events: a typing indicator is delivered before each DM a
            simulated person sends.
        read_events: a read receipt for the account's messages is delivered
            before the person's next DM.
        hold: the longest ``out_of_order`` holds a delivery back, in seconds.
        timeout: how long X waits for an answer to a delivery or a CRC check.
        strict_urls: webhook URLs must be https without a port, as on X
            (off so that a bot on http://127.0.0.1:8000 can register).
        stream_keepalive: seconds between keep-alive lines on an idle activity
            stream (``duplicates`` and ``delay`` apply to the stream too).
    """

    duplicates: bool = False
    out_of_order: bool = False
    delay: float = 0.0
    retries: bool = False
    retry_schedule: tuple[float, ...] = (3.0, 27.0, 242.0)
    drop_metadata: bool = False
    typing_events: bool = False
    read_events: bool = False
    hold: float = 2.0
    timeout: float = 3.0
    strict_urls: bool = False
    stream_keepalive: float = 20.0

    def update(self, values: Mapping[str, Any]) -> None:
        """Set switches from a JSON object (the admin endpoint).

        Raises:
            ValueError: an unknown switch or a value of the wrong type.
        """
        kinds = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        for name, value in values.items():
            if name not in kinds:
                raise ValueError(f"Unknown realism switch {name!r}; known: {', '.join(kinds)}.")
            kind = kinds[name]
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"Realism switch {name!r} takes true or false, got {value!r}.")
            if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"Realism setting {name!r} takes seconds, got {value!r}.")
            if kind is tuple:
                if not isinstance(value, list | tuple) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in value
                ):
                    raise ValueError(f"{name!r} takes a list of seconds, got {value!r}.")
                value = tuple(float(v) for v in value)
            setattr(self, name, float(value) if kind is float else value)

    def to_json(self) -> JSONObject:
        """The switches as a JSON object."""
        data = asdict(self)
        data["retry_schedule"] = list(self.retry_schedule)
        return data
