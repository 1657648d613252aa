"""Waiting for the emulated X: new messages, and any change a page follows.

:class:`Waiting` is a part of :class:`~dmbot.emulator.Emulator` (its methods
are the emulator's): every new message or indicator moves :attr:`~Waiting.version`
and wakes whoever waits, without sleeps.
"""

from __future__ import annotations

import asyncio

from dmbot.emulator.host import UserRef
from dmbot.emulator.state import Message, User, World


class Waiting:
    """Waits on what happens in the emulator (mixed into :class:`~dmbot.emulator.Emulator`)."""

    world: World

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self.version = 0
        """Grows on every new message or indicator (for pages that follow the chat)."""

    def user(self, ref: UserRef) -> User:
        raise NotImplementedError  # the emulator's own

    async def _notify(self) -> None:
        self.version += 1
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_messages(
        self,
        n: int,
        *,
        sender: UserRef | None = None,
        after: Message | str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the documented test-kit signature)
    ) -> list[Message]:
        """Wait until at least ``n`` messages match, and return all that match.

        Args:
            n: how many messages to wait for.
            sender: only count messages from this user.
            after: only count messages newer than this message (or id).
            timeout: seconds to wait.

        Raises:
            TimeoutError: fewer than ``n`` matched in time; the message lists them.
        """
        sender_id = None if sender is None else self.user(sender).id
        after_id = int(after.id if isinstance(after, Message) else after) if after else 0

        def matching() -> list[Message]:
            return [
                m
                for m in self.world.messages
                if (sender_id is None or m.sender_id == sender_id) and int(m.id) > after_id
            ]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= n)
        except TimeoutError:
            found = matching()
            texts = ", ".join(repr(m.text) for m in found) or "none"
            who = f" from user {sender_id}" if sender_id else ""
            raise TimeoutError(
                f"Waited {timeout:g} s for {n} message(s){who}, but {len(found)} arrived: {texts}."
            ) from None
        return matching()

    async def wait_changed(self, since: int, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """Wait until :attr:`version` passes ``since`` (or ``timeout``); the new version."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.version > since)
        except TimeoutError:
            pass
        return self.version
