"""Replay jobs: the DMs of a past window, delivered to a webhook again.

``POST /2/webhooks/replay`` names a v2 webhook and a window of whole minutes
(``yyyymmddhhmm``, UTC, both ends included) within the last 24 hours; the
enterprise v1.1 ``POST /1.1/account_activity/replay/webhooks/:id/subscriptions/all.json``
does the same for a v1.1 enterprise webhook, up to 5 days back. Every DM of
the window is delivered to that webhook again, in each shape the webhook is
subscribed for (AAA payloads, XAA envelopes), then one ``replay_job_status``
event says the job is complete. Replayed events do not reach the activity
stream a second time.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmbot.emulator.clock import iso_timestamp, iso_timestamp_ms
from dmbot.emulator.problems import invalid_request, not_found
from dmbot.emulator.state import World
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.delivery import Deliverer
    from dmbot.emulator.fanout import FanOut

REPLAY_WINDOW = 24 * 3600.0
"""How far back a v2 replay reaches, in seconds."""
ENTERPRISE_REPLAY_WINDOW = 5 * 24 * 3600.0
"""How far back an enterprise v1.1 replay reaches, in seconds."""
_MINUTE = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class ReplayJob:
    """A replay job, as ``POST /2/webhooks/replay`` created it.

    Attributes:
        id: the ``job_id``.
        webhook_id: the webhook the events go to.
        created_at: ``2025-01-15T12:00:00.000Z`` style.
        replayed: how many DMs it delivered again.
    """

    id: str
    webhook_id: str
    created_at: str
    replayed: int

    def to_json(self) -> JSONObject:
        """The ``data`` of X's answer."""
        return {"job_id": self.id, "created_at": self.created_at}


def parse_minute(value: object, name: str) -> float:
    """Seconds since the epoch of a ``yyyymmddhhmm`` UTC minute.

    Raises:
        Problem: 400 naming ``name`` for anything else.
    """
    if not isinstance(value, str) or not _MINUTE.fullmatch(value):
        raise invalid_request(
            f"{name} must be a UTC minute written yyyymmddhhmm, like 202601151200.", name, value
        )
    try:
        return float(calendar.timegm(time.strptime(value, "%Y%m%d%H%M")))
    except ValueError:
        raise invalid_request(f"{name} {value} is not a real date and time.", name, value) from None


class Replayer:
    """Runs the replay jobs of one emulator.

    Args:
        world: the emulator's world, whose messages are replayed.
        fanout: shapes each DM for the webhook's subscriptions.
        deliverer: sends the final ``replay_job_status``.
    """

    def __init__(self, world: World, fanout: FanOut, deliverer: Deliverer) -> None:
        self.world = world
        self._fanout = fanout
        self._deliverer = deliverer

    def start(
        self, webhook_id: str, from_date: object, to_date: object, *, enterprise: bool = False
    ) -> ReplayJob:
        """Schedule the deliveries of a replay job; the job.

        Args:
            webhook_id: a v2 webhook, or a v1.1 enterprise one when ``enterprise``.
            from_date: the window's first minute, ``yyyymmddhhmm`` UTC.
            to_date: its last minute.
            enterprise: the v1.1 enterprise Replay API (5 days back, not 24 hours).

        Raises:
            Problem: 404 unknown webhook; 400 for a malformed window, one
                reaching past the last 24 hours (5 days), or a webhook whose last CRC failed.
        """
        hook = self.world.webhook(webhook_id)
        if enterprise and (hook is None or hook.v2 or hook.env_name is not None):
            raise not_found(
                "webhook",
                webhook_id,
                "webhook_id",
                f"No enterprise webhook {webhook_id}; GET /1.1/account_activity/webhooks.json "
                "lists them.",
            )
        if hook is None or (hook.v2 != (not enterprise)):
            raise not_found(
                "webhook",
                webhook_id,
                "webhook_id",
                f"No v2 webhook {webhook_id}; GET /2/webhooks lists this app's webhooks.",
            )
        start = parse_minute(from_date, "from_date")
        end = parse_minute(to_date, "to_date") + 60.0
        now = self.world.clock()
        reach, span = (
            (ENTERPRISE_REPLAY_WINDOW, "5 days") if enterprise else (REPLAY_WINDOW, "24 hours")
        )
        if start < (now - reach) // 60 * 60:
            raise invalid_request(
                f"from_date {from_date} is more than {span} ago; X replays the last {span}.",
                "from_date",
                from_date,
            )
        if end - 60.0 > now:
            raise invalid_request(f"to_date {to_date} is in the future.", "to_date", to_date)
        if start >= end:
            raise invalid_request(
                f"from_date {from_date} is after to_date {to_date}.", "from_date", from_date
            )
        if not hook.valid:
            recheck = (
                f"/1.1/account_activity/webhooks/{hook.id}.json"
                if enterprise
                else f"/2/webhooks/{hook.id}"
            )
            raise invalid_request(
                f"Webhook {hook.id} failed its last CRC check, so nothing can be delivered to "
                f"it; fix it and re-validate it with PUT {recheck} first.",
                "webhook_id",
                hook.id,
            )
        window = [m for m in self.world.messages if start * 1000 <= m.created_ms < end * 1000]
        for message in window:
            self._fanout.message(message, hooks=[hook])
        created = iso_timestamp(now) if enterprise else iso_timestamp_ms(now)
        job = ReplayJob(self.world.ids.next(), hook.id, created, len(window))
        status = {
            "webhook_id": hook.id,
            "job_state": "Complete",
            "job_state_description": "Job completed successfully",
            "job_id": job.id,
        }
        self._deliverer.deliver(hook, {"replay_job_status": status}, None, kind="replay_job_status")
        return job
