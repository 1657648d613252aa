"""An offline X: the v1.1 and v2 APIs, OAuth 1.0a checks, AAA and XAA deliveries.

::

    emu = Emulator(consumer_key="ck", consumer_secret="cs", webhook_transport=transport)
    bot = emu.add_account("1000000000001", "pizzabot", token="1000000000001-abc", token_secret="ts")
    alice = emu.add_user("2000000000001", "alice", name="Alice")
    hook = await emu.register_webhook("https://bot.example/webhooks/twitter")
    emu.subscribe(hook.id, bot)
    await emu.send(alice, bot, "hi")              # delivered to the webhook, signed
    [reply] = await emu.wait_for_messages(1, sender=bot)

Today's X: ``hook = await emu.register_webhook_v2(url)``, then
``emu.subscribe(hook.id, bot)`` (AAA v2) or
``emu.subscribe_activity(bot, "dm.received", webhook_id=hook.id)`` (XAA);
without ``webhook_id`` the events go to the activity stream only
(``GET /2/activity/stream``, served over a real socket), which
``emu.drop_streams()``, ``emu.refuse_streams(s)`` and ``emu.silence_streams(s)``
make misbehave.

``emu.app`` is the ASGI app of X's API (and of ``/_emulator/`` admin
endpoints); point dmbot's client at it with ``httpx.ASGITransport`` or serve
it with ``dmbot emulator`` (:func:`~dmbot.emulator.standalone.standalone_app`).

The path of an event: the :class:`Emulator` (:mod:`.facade`) records it in the
world (:mod:`.state`) once X's rules allow it (who may write to whom,
:mod:`.permission`; attached media, :mod:`.media`) and processes its text as
X does (:mod:`.entities`), :mod:`.fanout` shapes it for every subscription
(:mod:`.payloads`; AAA subscriptions in :mod:`.webhooks`, XAA ones in
:mod:`.activity`) and :mod:`.delivery` signs and POSTs it, while
:mod:`.stream` sends XAA envelopes to open stream connections. X's HTTP API
is :mod:`.api` (credentials checked by :mod:`.oauth`, obtained through
:mod:`.tokens`; v1.1 handlers beside it, such as :mod:`.directmessages` and
:mod:`.upload`, v2 ones in :mod:`.v2`), its errors :mod:`.faults` and
:mod:`.problems`; :mod:`.misbehaviour` gathers the switches that make it act
up (:mod:`.realism`'s among them), :mod:`.waiting` the waits on what happens.
:mod:`.admin` (listed by :mod:`.controls`) and :mod:`.chat` are the
emulator's own controls and chat page, :mod:`.standalone` runs it alone.

Imports go one way: the parts the facade builds see it as a
:class:`~.host.Host`, its app as a :class:`~.surface.Surface`, and none of
them imports the facade or this package, which is the public face only.
"""

from __future__ import annotations

from dmbot.emulator.activity import ActivityEvent
from dmbot.emulator.delivery import DeliveryRecord, HeldDelivery
from dmbot.emulator.facade import Emulator
from dmbot.emulator.faults import ApiError
from dmbot.emulator.host import UserRef
from dmbot.emulator.people import FREE_REPLIES
from dmbot.emulator.problems import Problem
from dmbot.emulator.realism import Realism
from dmbot.emulator.replay import ReplayJob
from dmbot.emulator.standalone import (
    EmulatorSettings,
    build_emulator,
    emulator_from_settings,
)
from dmbot.emulator.state import ActivitySubscription, Indicator, Message, User, Webhook

__all__ = [
    "FREE_REPLIES",
    "ActivityEvent",
    "ActivitySubscription",
    "ApiError",
    "DeliveryRecord",
    "Emulator",
    "EmulatorSettings",
    "HeldDelivery",
    "Indicator",
    "Message",
    "Problem",
    "Realism",
    "ReplayJob",
    "User",
    "UserRef",
    "Webhook",
    "build_emulator",
    "emulator_from_settings",
]
