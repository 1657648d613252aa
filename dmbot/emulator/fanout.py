"""One event, every subscription that wants it: the emulated X's fan-out.

A DM, a typing indicator or a read receipt becomes, for each valid webhook,
an Account Activity payload per subscribed participant (v1.1 and AAA v2
subscriptions alike) and an X Activity API envelope per matching XAA
subscription: ``dm.received`` for the recipient's, ``dm.sent`` for the
sender's, ``dm.indicate_typing`` and ``dm.read`` for either participant's.
A webhook with both kinds of subscription for one account gets both shapes
of the same event, as X sends them during a migration. Every XAA envelope
is also kept in the activity log and sent on the activity stream
(:mod:`dmbot.emulator.stream`), whether or not its subscription names a
webhook. The
:class:`~dmbot.emulator.delivery.Deliverer` signs and sends the result, so
the realism switches apply to every shape.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from dmbot.emulator.activity import ActivityEvent
from dmbot.emulator.payloads import (
    activity_envelope,
    indicator_event,
    indicator_key,
    indicator_payload,
    message_event,
    message_payload,
    revoke_payload,
)
from dmbot.emulator.state import Message, Webhook
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.delivery import Deliverer
    from dmbot.emulator.host import Host
    from dmbot.emulator.stream import ActivityStream

INDICATOR_EVENT_TYPES = {"typing": "dm.indicate_typing", "read": "dm.read"}
"""The XAA event type of each kind of indicator."""


class FanOut:
    """Turns the events of one emulator into deliveries of every shape.

    Args:
        emu: the emulator (its world, realism switches and clock).
        deliverer: signs and sends each delivery.
        activity_log: where every XAA envelope is appended (the stream's backfill).
        stream: the activity stream every XAA envelope is sent on.
    """

    def __init__(
        self,
        emu: Host,
        deliverer: Deliverer,
        activity_log: list[ActivityEvent],
        stream: ActivityStream,
    ) -> None:
        self.emu = emu
        self.world = emu.world
        self._deliverer = deliverer
        self._log = activity_log
        self._stream = stream

    def message(self, message: Message, hooks: Collection[Webhook] | None = None) -> None:
        """Deliver a DM to its subscribed participants, in every subscribed shape.

        Args:
            message: the DM.
            hooks: only these webhooks (a replay), and nothing for the stream;
                None for every webhook and the stream.
        """
        world = self.world
        drop = self.emu.realism.drop_metadata
        self._deliverer.fan_out(
            world,
            (message.recipient_id, message.sender_id),
            lambda uid: message_payload(world, message, uid, drop_metadata=drop),
            kind="direct_message_events",
            event_id=message.id,
            hooks=hooks,
        )
        # XAA never shows source_app_id: the event as nobody's own copy.
        event = message_event(message, None, drop_metadata=drop)
        wanted = [("dm.received", message.recipient_id), ("dm.sent", message.sender_id)]
        self._activity(wanted, "direct_message_events", event, message.id, hooks)

    def indicator(
        self, kind: str, sender_id: str, recipient_id: str, last_read: str | None = None
    ) -> None:
        """Deliver a typing indicator (``kind="typing"``) or read receipt (``"read"``)."""
        world = self.world
        self._deliverer.fan_out(
            world,
            (recipient_id, sender_id),
            lambda uid: indicator_payload(
                world, kind, sender_id, recipient_id, uid, last_read_event_id=last_read
            ),
            kind=indicator_key(kind),
        )
        event = indicator_event(world, kind, sender_id, recipient_id, last_read)
        event_type = INDICATOR_EVENT_TYPES[kind]
        wanted = [(event_type, recipient_id), (event_type, sender_id)]
        self._activity(wanted, indicator_key(kind), event, None, None)

    def revoke(self, user_id: str) -> None:
        """Deliver the ``user_event`` of ``user_id`` revoking the app to its webhooks."""
        payload = revoke_payload(self.world, user_id)
        for hook in self.world.webhooks:
            if hook.valid and (hook.id, user_id) in self.world.subscriptions:
                self._deliverer.deliver(hook, payload, None, kind="user_event")

    def _activity(
        self,
        wanted: Iterable[tuple[str, str]],
        key: str,
        event: JSONObject,
        event_id: str | None,
        hooks: Collection[Webhook] | None,
    ) -> None:
        wanted = set(wanted)
        subscriptions = sorted(self.world.activity_subscriptions.values(), key=lambda s: int(s.id))
        for sub in subscriptions:
            if (sub.event_type, sub.user_id) not in wanted:
                continue
            envelope = activity_envelope(self.world, sub, key, event)
            if hooks is None:
                recorded = ActivityEvent(
                    self.emu.clock(), sub.id, sub.event_type, sub.user_id,
                    sub.webhook_id, envelope,
                )  # fmt: skip
                self._log.append(recorded)
                self._stream.publish(recorded)
            hook = self.world.webhook(sub.webhook_id) if sub.webhook_id else None
            if hook is None or not hook.valid or (hooks is not None and hook not in hooks):
                continue
            self._deliverer.deliver(
                hook, envelope, sub.user_id, kind=sub.event_type, event_id=event_id
            )
