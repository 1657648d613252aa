"""Which partition of a shared store a delivery goes to: every copy of a conversation together.

A shared store (Redis) spreads the inbox over partitions, each read by one
instance at a time, so a conversation must always land in the same one. The
webhook and the activity stream call :func:`conversation_hint` on the raw
delivery before any parsing, so it reads only what it needs, cheaply.
"""

from __future__ import annotations

from dmbot.edge.activity import is_activity
from dmbot.edge.payload import as_id, as_obj
from dmbot.types import JSONObject

__all__ = ["conversation_hint"]


def conversation_hint(delivery: JSONObject) -> str:
    """A cheap key that puts every copy of a conversation's events together.

    Read from the raw delivery (the webhook calls it for shared stores, before
    any parsing): the unordered pair of DM participants, whoever the copy is
    for and whichever API delivered it; else the account the delivery is for.
    """
    if is_activity(delivery):
        # X Activity API: the same DM as an AAA delivery, one level down.
        data = delivery["data"]
        first = as_obj(data[0] if isinstance(data, list) else data)
        hint = conversation_hint(as_obj(first.get("payload")))
        return hint if "|" in hint else as_id(as_obj(first.get("filter")).get("user_id"))
    for key in (
        "direct_message_events",
        "direct_message_indicate_typing_events",
        "direct_message_mark_read_events",
    ):
        events = delivery.get(key)
        if isinstance(events, list) and events and isinstance(events[0], dict):
            first = events[0]
            body = first.get("message_create", first)
            if isinstance(body, dict):
                sender = str(body.get("sender_id", ""))
                target = body.get("target")
                recipient = str(target.get("recipient_id", "")) if isinstance(target, dict) else ""
                low, high = sorted((sender, recipient))
                return f"{low}|{high}"
    return str(delivery.get("for_user_id", ""))
