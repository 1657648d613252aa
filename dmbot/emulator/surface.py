"""The emulator as its HTTP app drives it: what X's endpoints and the ``/_emulator/`` controls call.

The :class:`~dmbot.emulator.facade.Emulator` builds its app
(:func:`dmbot.emulator.api.build_app`) and hands itself to it as a
:class:`Surface`. The handlers (:mod:`.api`, :mod:`.accountactivity`,
:mod:`.welcome`, :mod:`.v2`, :mod:`.admin`) never import the facade, so it alone
imports them and no import goes back up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from dmbot.emulator.activity import ActivityEvent, ActivityRegistry
from dmbot.emulator.delivery import DeliveryRecord, HeldDelivery
from dmbot.emulator.faults import Faults, RateLimits
from dmbot.emulator.host import Host, UserRef
from dmbot.emulator.realism import Realism
from dmbot.emulator.replay import ReplayJob
from dmbot.emulator.state import ActivitySubscription, Indicator, Message, User, Webhook
from dmbot.emulator.stream import ActivityStream


class Surface(Host, Protocol):
    """Everything the HTTP app of an emulator reads and calls on it.

    The admin controls mirror the emulator's own methods, so this is most of
    them; the :class:`~dmbot.emulator.facade.Emulator` documents each member.
    """

    # its parts and records

    @property
    def faults(self) -> Faults: ...

    @property
    def limits(self) -> RateLimits: ...

    @property
    def activity(self) -> ActivityRegistry: ...

    @property
    def stream(self) -> ActivityStream: ...

    @property
    def version(self) -> int: ...

    @property
    def messages(self) -> list[Message]: ...

    @property
    def webhooks(self) -> list[Webhook]: ...

    @property
    def subscriptions(self) -> set[tuple[str, str]]: ...

    @property
    def activity_subscriptions(self) -> list[ActivitySubscription]: ...

    @property
    def delivery_log(self) -> list[DeliveryRecord]: ...

    @property
    def activity_log(self) -> list[ActivityEvent]: ...

    @property
    def held(self) -> list[HeldDelivery]: ...

    # users, and what they do

    def add_account(
        self,
        user_id: str,
        screen_name: str,
        *,
        token: str,
        token_secret: str,
        name: str | None = None,
        accepts_requests: bool = True,
    ) -> User: ...

    def add_user(
        self,
        user_id: str,
        screen_name: str,
        *,
        name: str | None = None,
        accepts_requests: bool = False,
    ) -> User: ...

    def set_dm_settings(
        self,
        user: UserRef,
        *,
        accepts_requests: bool | None = None,
        follows: Iterable[UserRef] | None = None,
    ) -> User: ...

    def take_free_reply(self, account_id: str, peer_id: str) -> bool: ...

    async def tap(self, from_user: UserRef, message: Message | str, label: str) -> Message: ...

    async def revoke(self, user: UserRef) -> None: ...

    async def indicate(
        self, kind: str, sender_id: str, recipient_id: str, last_read_event_id: str | None = None
    ) -> Indicator: ...

    # webhooks and subscriptions

    async def register_webhook(self, url: str, *, env_name: str | None = None) -> Webhook: ...

    async def register_webhook_v2(self, url: str) -> Webhook: ...

    async def check_webhook(self, webhook_id: str) -> tuple[Webhook, str]: ...

    def delete_webhook(self, webhook_id: str) -> None: ...

    def subscribe(self, webhook_id: str, user: UserRef) -> None: ...

    def subscribe_activity(
        self,
        user: UserRef,
        event_type: str,
        *,
        webhook_id: str | None = None,
        tag: str | None = None,
        direction: str | None = None,
    ) -> ActivitySubscription: ...

    def replay(
        self, webhook_id: str, from_date: str, to_date: str, *, enterprise: bool = False
    ) -> ReplayJob: ...

    # misbehaving, waiting and housekeeping

    def set_realism(self, values: Mapping[str, Any]) -> Realism: ...

    def drop_streams(self, *, notice: bool = False) -> int: ...

    def refuse_streams(self, seconds: float, *, status: int = 503) -> None: ...

    def silence_streams(self, seconds: float) -> int: ...

    async def wait_for_messages(
        self,
        n: int,
        *,
        sender: UserRef | None = None,
        after: Message | str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the emulator's signature)
    ) -> list[Message]: ...

    async def deliveries_settled(self) -> None: ...

    def reset(self) -> None: ...

    async def aclose(self) -> None: ...
