"""The account's own DMs: which are echoes of our sends, and which the owner wrote.

Every DM a managed account sends comes back to the webhook (AAA's echo, or
XAA's ``dm.sent``). Ours confirm a send: by the id X returned for it, by the
app id X puts on AAA echoes (learned from the first echo), or by the text of
a recent send, compared as X shows texts (:func:`~dmbot.x.texts.comparable`).
An echo of a send whose answer was lost (the process died while X answered)
settles it: the row is recorded sent with X's id and never sent again. A DM
that matches none of our sends is the account's owner writing from another
client, which the worker answers with a handoff.

The echo of a send this process made (its id is among ``sent``, the ids X
gave the sender) is settled at the webhook, before the inbox:
:meth:`Echoes.take_known` marks it delivered (with the store's next write:
its row is already on record as sent), and that is all the worker would have
done with it.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass

from dmbot.edge.envelope import parse_delivery
from dmbot.edge.events import DirectMessage
from dmbot.edge.payload import as_id, as_obj
from dmbot.store import OutboxItem, OutboxStatus, Store
from dmbot.types import ConversationKey, JSONObject
from dmbot.x.texts import comparable

__all__ = ["APP_ID_FACT", "Echo", "Echoes"]

log = logging.getLogger("dmbot.engine.worker")

APP_ID_FACT = "app_id"
"""The store fact that keeps our app id once learned from an echo."""


@dataclass(frozen=True, slots=True)
class Echo:
    """A DM recognised as our own send's echo.

    Attributes:
        outcome: what the delivery log line says about it.
        acked: its delivery was acknowledged with the delivered mark.
    """

    outcome: str
    acked: bool = False


class Echoes:
    """Recognises the echoes of our sends in one store.

    Args:
        store: where the outbox (our sends) lives.
        app_id: our app's id (``twitter.app_id``); learned from an echo when empty.
        sent: ids X gave this process's recent sends.
    """

    def __init__(self, store: Store, app_id: str = "", sent: Container[str] = ()) -> None:
        self.store = store
        self.app_id = app_id
        self.sent = sent

    async def take_known(self, delivery: JSONObject) -> str | None:
        """The id of the DM ``delivery`` holds when it is nothing but the echo of a
        send this process made, now marked delivered; None for anything else (to be
        stored)."""
        if not any(isinstance(i, str) and i in self.sent for i in _dm_ids(delivery)):
            return None
        lone = _lone_dm(delivery)
        if lone is None:  # not the usual shape: let the parser judge it
            events = parse_delivery(delivery).events
            dm = events[0] if len(events) == 1 else None
            if not isinstance(dm, DirectMessage):
                return None
            lone = (dm.id, dm.sender_id, dm.for_user_id, dm.source_app_id or "")
        dm_id, sender_id, for_user_id, app_id = lone
        if sender_id != for_user_id or dm_id not in self.sent:
            return None
        # Its row is on record as sent (the id joins ``sent`` once it is): the mark
        # only adds that X echoed it, so it rides with the next write.
        await self.store.delivered_soon(dm_id)
        await self._learn_app_id(app_id)
        return dm_id

    async def recall(self) -> None:
        """Read the app id an earlier run learned, unless configured."""
        if not self.app_id:
            self.app_id = await self.store.get_fact(APP_ID_FACT) or ""

    async def recognise(
        self, key: ConversationKey, dm: DirectMessage, *, ack: Sequence[str] = ()
    ) -> Echo | None:
        """The echo ``dm`` is, or None when the account's owner wrote it elsewhere.

        ``ack``: the delivery to acknowledge with the delivered mark, when found by id.
        """
        if await self.store.delivered(dm.id, ack=ack):
            await self._learn_app_id(dm.source_app_id)
            return Echo("echo", acked=bool(ack))
        foreign = bool(self.app_id and dm.source_app_id and dm.source_app_id != self.app_id)
        sends = [] if foreign else await self.store.outbox(key)
        if await self._settle(sends, dm):
            await self._learn_app_id(dm.source_app_id)
            return Echo("echo (it settles a send whose answer was lost)")
        if self.app_id and dm.source_app_id:
            ours = dm.source_app_id == self.app_id
        else:
            ours = _sent_recently(sends or await self.store.outbox(key), dm.text)
            if ours:
                await self._learn_app_id(dm.source_app_id)
        return Echo("echo") if ours else None

    async def _settle(self, sends: list[OutboxItem], dm: DirectMessage) -> bool:
        """Record ``dm`` as the send of the pending row it echoes, if one was attempted.

        A process killed after X took a DM but before it recorded the answer
        leaves the row pending with its attempt recorded; the echo says X has it,
        so the row is sent (with X's id) and never sent again.
        """
        echoed = comparable(dm.text)
        for item in sends:
            if (
                item.kind == "dm"
                and item.status == OutboxStatus.PENDING
                and item.attempted_at > 0
                and comparable(str(item.payload.get("text", ""))) == echoed
            ):
                await self.store.sent(item.id, dm.id)
                await self.store.delivered(dm.id)
                log.info("outbox row %d was sent as DM %s: its echo arrived", item.id, dm.id)
                return True
        return False

    async def _learn_app_id(self, app_id: str | None) -> None:
        if app_id and not self.app_id:
            self.app_id = app_id
            await self.store.set_fact(APP_ID_FACT, app_id)
            log.info("learned our app id %s from the echo of a send", app_id)


def _dm_ids(delivery: JSONObject) -> list[object]:
    """The ids of the DMs in an AAA delivery or in XAA envelopes (``data`` an envelope
    or a list of them), found cheaply, without parsing the delivery."""
    if "direct_message_events" in delivery:
        payloads = [delivery]
    else:
        data = delivery.get("data")
        envelopes = data if isinstance(data, list) else [data]
        payloads = [as_obj(as_obj(envelope).get("payload")) for envelope in envelopes]
    ids: list[object] = []
    for payload in payloads:
        found = payload.get("direct_message_events")
        if isinstance(found, list):
            ids += [event.get("id") for event in found if isinstance(event, dict)]
    return ids


_LONE_DM_KEYS = frozenset({"for_user_id", "direct_message_events", "users", "apps"})


def _lone_dm(delivery: JSONObject) -> tuple[str, str, str, str] | None:
    """(id, sender, for_user_id, source app) of an AAA delivery that holds exactly
    one DM and nothing else, read as :func:`~dmbot.edge.envelope.parse_delivery`
    reads it but without building the delivery; None for any other shape."""
    if not delivery.keys() <= _LONE_DM_KEYS:
        return None
    events = delivery.get("direct_message_events")
    if not isinstance(events, list) or len(events) != 1:
        return None
    item = events[0]
    if not isinstance(item, dict) or item.get("type") != "message_create":
        return None
    create = as_obj(item.get("message_create"))
    dm_id, sender_id = as_id(item.get("id")), as_id(create.get("sender_id"))
    if not dm_id or not sender_id:
        return None
    for_user_id = as_id(delivery.get("for_user_id"))
    return dm_id, sender_id, for_user_id, as_id(create.get("source_app_id"))


def _sent_recently(sends: list[OutboxItem], text: str) -> bool:
    """Whether a DM of ``sends`` (sent, or in flight) says ``text``, as X echoes it."""
    echoed = comparable(text)
    return any(
        item.kind == "dm"
        and item.status != OutboxStatus.FAILED
        and comparable(str(item.payload.get("text", ""))) == echoed
        for item in sends
    )
