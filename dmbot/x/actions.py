"""What each kind of outbox action is on X: the one call that performs it."""

from __future__ import annotations

from dmbot.errors import PermanentError
from dmbot.store.base import OutboxItem
from dmbot.x.client import XClient

__all__ = ["perform"]


async def perform(client: XClient, item: OutboxItem, send_api: str) -> str:
    """Make the X call of ``item``; return the id X gave it ("" for a read mark).

    Args:
        client: the client of the row's account.
        item: the outbox row: ``"dm"`` (``message_data``) or ``"read"``.
        send_api: ``"v1.1"``, or ``"v2"`` (text and one media only).

    Raises:
        PermanentError: a kind this version does not know.
    """
    if item.kind == "dm":
        if send_api == "v2":
            media = item.payload.get("attachment", {}).get("media", {})
            text = str(item.payload.get("text", ""))
            return (await client.send_dm_v2(item.peer, text, media.get("id"))).id
        return (await client.send_dm(item.peer, item.payload)).id
    if item.kind == "read":
        await client.mark_read(item.peer, str(item.payload["last_read_event_id"]))
        return ""
    raise PermanentError(f"Outbox row {item.id} has an unknown kind {item.kind!r}")
