"""The emulator as its parts see it: the few members the people, registries, fan-out and stream use.

The :class:`~dmbot.emulator.facade.Emulator` builds those parts and hands
itself to them as a :class:`Host`. They never import the facade, so it alone
imports them and no import goes back up.
"""

from __future__ import annotations

from typing import Protocol

from dmbot.emulator.clock import Clock
from dmbot.emulator.media import MediaStore
from dmbot.emulator.realism import Realism
from dmbot.emulator.state import Message, User, World

UserRef = User | str
"""A user, or its id or screen name."""


class Host(Protocol):
    """What a part of an emulator reads and calls on the emulator that built it.

    The :class:`~dmbot.emulator.facade.Emulator` documents each member.
    """

    @property
    def world(self) -> World: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def media(self) -> MediaStore: ...

    @property
    def realism(self) -> Realism:
        # A property, not the Realism object itself: assigning emu.realism replaces it.
        ...

    def user(self, ref: UserRef) -> User: ...

    async def post_message(
        self,
        sender_id: str,
        recipient_id: str,
        message_data: dict[str, object],
        *,
        source_app_id: str | None,
        metadata: str | None = None,
        welcome_message_id: str | None = None,
    ) -> Message: ...

    async def send(
        self,
        from_user: UserRef,
        to_account: UserRef,
        text: str,
        *,
        metadata: str | None = None,
        media_id: str | None = None,
    ) -> Message: ...
