"""X's v2 endpoints on the emulated side: JSON bodies in, ``{"data": ...}`` out, RFC 7807 errors.

- :mod:`.webhooks`: ``/2/webhooks`` and ``/2/webhooks/replay``;
- :mod:`.accountactivity`: ``/2/account_activity/...`` (Account Activity v2 subscriptions);
- :mod:`.activity`: ``/2/activity/subscriptions`` (the X Activity API);
- :mod:`.stream`: ``/2/activity/stream`` (its events, on one long response);
- :mod:`.messages`: ``/2/dm_conversations/with/:participant_id/messages`` (sending);
- :mod:`.conversations`: ``/2/dm_conversations/with/:participant_id/dm_events`` and
  ``/2/dm_events`` (reading);
- :mod:`.media`: ``/2/media/upload`` (one-shot and chunked);
- :mod:`.users`: ``/2/users/me``.

The rules they answer by live beside the v1.1 ones (:mod:`dmbot.emulator.webhooks`,
:mod:`dmbot.emulator.activity`, :mod:`dmbot.emulator.stream`,
:mod:`dmbot.emulator.replay`); the route table, with
each endpoint's credentials, faults and rate limits, is :mod:`dmbot.emulator.api`'s.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from dmbot.types import JSONObject


def answer(data: object, status: int = 200, **members: object) -> JSONResponse:
    """A v2 answer: ``{"data": data, ...members}``."""
    body: JSONObject = {"data": data, **members}
    return JSONResponse(body, status_code=status)
