"""Settling a send whose outcome is unknown: did X take the DM or not?

A send is uncertain when it started and no answer was recorded: the process
was killed while X answered, or the connection dropped before the answer
came. Sending it again blindly would deliver the DM twice whenever X had
taken it. Before any resend the sender settles the row:

1. its echo (AAA's, or XAA's ``dm.sent``) may arrive and settle it first
   (:meth:`dmbot.engine.worker.Worker`, by the id or the text);
2. after ``sender.settle_grace`` without an echo, X is asked for the DMs the
   account sent (:class:`SentLookup`): v1.1 ``direct_messages/events/list``,
   or v2 ``/2/dm_conversations/with/:id/dm_events``;
3. only a send X has no trace of goes out again.

What stays at-least-once: X unreachable both for the send's answer and for
the lookup until the deadline, or an app that may not read its DMs (the
lookup is refused): then the row is sent again, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from dmbot.store.base import OutboxItem
from dmbot.types import JSON
from dmbot.x.call import Call
from dmbot.x.client import XClient
from dmbot.x.results import next_token
from dmbot.x.texts import comparable

__all__ = ["SKEW", "SentLookup"]

SKEW = 120.0
"""Seconds of clock difference allowed between dmbot and X when matching a send's time."""
CACHE_FOR = 2.0
"""Seconds one answer of X serves every uncertain row of the same account (X allows 15
calls of events/list per 15 minutes)."""
PAGES = 4
"""At most this many pages (50 DMs each on v1.1) are read back per lookup."""


@dataclass(frozen=True, slots=True)
class _Sent:
    id: str
    recipient: str
    text: str
    created_ms: int


class SentLookup:
    """Asks X which DMs an account sent lately, to settle uncertain sends.

    Args:
        send_api: ``v1.1`` or ``v2``: the DM endpoints the app uses, read back the same way.
        clock: the time source (Unix seconds).
    """

    def __init__(self, send_api: str, *, clock: Callable[[], float] = time.time) -> None:
        self.send_api = send_api
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, list[_Sent]]] = {}

    async def find(
        self, client: XClient, item: OutboxItem, *, listed_after: float = 0.0
    ) -> str | None:
        """The id X gave the DM of ``item``, or None when X shows no such DM.

        A DM matches when the account sent it to the row's recipient, with the
        same text as X shows texts, no earlier than the attempt (less ``SKEW``).
        ``listed_after``: an answer of X read before this time (a cached one)
        cannot vouch that the DM is absent; X is asked again.

        Raises:
            XApiError: X could not be asked (transient) or refused (permanent).
        """
        since_ms = int((item.attempted_at - SKEW) * 1000)
        wanted = comparable(str(item.payload.get("text", "")))
        for sent in await self._sent(client, item.peer, since_ms, listed_after):
            if sent.recipient == item.peer and sent.created_ms >= since_ms and sent.text == wanted:
                return sent.id
        return None

    async def _sent(
        self, client: XClient, peer: str, since_ms: int, listed_after: float
    ) -> list[_Sent]:
        # v1.1 lists every conversation of the account: one answer serves them all
        # (the uncertain rows of one crash), if it was read late enough for each.
        key = (client.account_id, peer if self.send_api == "v2" else "")
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_FOR and cached[0] >= listed_after:
            return cached[1]
        if self.send_api == "v2":
            found = await self._v2(client, peer, since_ms)
        else:
            found = await self._v11(client, since_ms)
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] < CACHE_FOR}
        self._cache[key] = (now, found)
        return found

    async def _v11(self, client: XClient, since_ms: int) -> list[_Sent]:
        found: list[_Sent] = []
        cursor = ""
        for _ in range(PAGES):
            params = {"count": "50"}
            if cursor:
                params["cursor"] = cursor
            path = "/1.1/direct_messages/events/list.json"
            answer = await client.run(Call("GET", path, "GET direct_messages/events/list", params))
            events = answer.get("events") if isinstance(answer, dict) else None
            oldest = None
            for event in events if isinstance(events, list) else []:
                sent = _from_v11(event, client.account_id)
                created = _int(event.get("created_timestamp")) if isinstance(event, dict) else 0
                oldest = created if oldest is None else min(oldest, created)
                if sent is not None:
                    found.append(sent)
            cursor = str(answer.get("next_cursor") or "") if isinstance(answer, dict) else ""
            if not cursor or (oldest is not None and oldest < since_ms):
                break
        return found

    async def _v2(self, client: XClient, peer: str, since_ms: int) -> list[_Sent]:
        found: list[_Sent] = []
        token = ""
        path = f"/2/dm_conversations/with/{quote(peer, safe='')}/dm_events"
        for _ in range(PAGES):
            params = {
                "max_results": "100",
                "event_types": "MessageCreate",
                "dm_event.fields": "id,text,sender_id,created_at,event_type",
            }
            if token:
                params["pagination_token"] = token
            answer = await client.run(Call("GET", path, "GET dm_conversations/dm_events", params))
            data = answer.get("data") if isinstance(answer, dict) else None
            oldest = None
            for event in data if isinstance(data, list) else []:
                if not isinstance(event, dict):
                    continue
                created = _iso_ms(str(event.get("created_at", "")))
                oldest = created if oldest is None else min(oldest, created)
                if str(event.get("sender_id", "")) == client.account_id:
                    text = comparable(str(event.get("text", "")))
                    found.append(_Sent(str(event.get("id", "")), peer, text, created))
            token = next_token(answer)
            if not token or (oldest is not None and oldest < since_ms):
                break
        return found


def _from_v11(event: JSON, account: str) -> _Sent | None:
    if not isinstance(event, dict) or event.get("type") != "message_create":
        return None
    create = event.get("message_create")
    if not isinstance(create, dict) or str(create.get("sender_id", "")) != account:
        return None
    target = create.get("target")
    data = create.get("message_data")
    target = target if isinstance(target, dict) else {}
    data = data if isinstance(data, dict) else {}
    return _Sent(
        str(event.get("id", "")),
        str(target.get("recipient_id", "")),
        comparable(str(data.get("text", ""))),
        _int(event.get("created_timestamp")),
    )


def _int(value: JSON) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _iso_ms(text: str) -> int:
    """``2026-12-06T10:00:00.000Z`` in ms since the epoch (0 when it does not parse)."""
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0
