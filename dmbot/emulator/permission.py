"""Who may write to whom: X's Direct Message permissions.

On X a DM reaches its recipient when the recipient has written to the
sender before, follows the sender, or accepts message requests from
everyone ("Allow message requests from everyone", off for most accounts).
Anything else is refused with 403. The emulator answers code 349 ("You
cannot send messages to this user."), what X's Direct Message API answers;
it answers 150 ("You cannot send messages to users who are not following
you.") in the one case that wording describes exactly: the sender follows
the recipient, who does not follow back.

A bot that answers people is never refused: they wrote first. A bot that
writes first is, unless the person follows it or accepts requests, which
is what tests of proactive messages must set up
(``emu.set_dm_settings("alice", accepts_requests=True)``,
``emu.follow("alice", "bot")``, or ``POST /_emulator/dm_settings``).
Simulated people start closed, as most of X does; accounts the app holds
tokens for start open, as a DM bot's account must be for people to write
to it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from dmbot.emulator.host import UserRef
from dmbot.emulator.state import User, World

REFUSED = 349
"""X's code for a DM the recipient's settings do not allow."""
NOT_FOLLOWING = 150
"""X's code when the recipient does not follow the sender back."""


def refusal(world: World, sender: User, recipient: User) -> int | None:
    """X's error code for a DM ``sender`` may not write to ``recipient``; None when it may."""
    if sender.id == recipient.id or recipient.accepts_requests or sender.id in recipient.follows:
        return None
    if (recipient.id, sender.id) in world.wrote:
        return None
    return NOT_FOLLOWING if recipient.id in sender.follows else REFUSED


def explain(sender: User, recipient: User, code: int) -> str:
    """Why a simulated person's DM was refused, and how a test lets it through."""
    return (
        f"@{sender.screen_name} cannot write to @{recipient.screen_name}: "
        f"@{recipient.screen_name} has not written to @{sender.screen_name}, does not follow "
        "them and does not accept message requests from everyone (X answers 403, code "
        f"{code}). Let it: emu.set_dm_settings({recipient.screen_name!r}, "
        f"accepts_requests=True), emu.follow({recipient.screen_name!r}, "
        f"{sender.screen_name!r}), or POST /_emulator/dm_settings "
        f'{{"user": "{recipient.screen_name}", "accepts_requests": true}}.'
    )


class DmSettings:
    """The emulator's controls of who may write to whom (mixed into
    :class:`~dmbot.emulator.Emulator`; its methods are the emulator's)."""

    world: World

    def user(self, ref: UserRef) -> User:
        raise NotImplementedError  # the emulator's own

    def set_dm_settings(
        self,
        user: UserRef,
        *,
        accepts_requests: bool | None = None,
        follows: Iterable[UserRef] | None = None,
    ) -> User:
        """Change whether ``user`` accepts message requests from everyone, and whom it
        follows (the whole list); what is not given stays.

        Raises:
            LookupError: an unknown user.
        """
        found = self.user(user)
        changed = replace(
            found,
            accepts_requests=found.accepts_requests
            if accepts_requests is None
            else accepts_requests,
            follows=found.follows
            if follows is None
            else frozenset(self.user(u).id for u in follows if self.user(u).id != found.id),
        )
        self.world.users[found.id] = changed
        return changed

    def follow(self, follower: UserRef, followed: UserRef) -> User:
        """``follower`` follows ``followed`` (who may then write to it first)."""
        who = self.user(follower)
        return self.set_dm_settings(who, follows=[*who.follows, self.user(followed).id])

    def unfollow(self, follower: UserRef, followed: UserRef) -> User:
        """``follower`` stops following ``followed``."""
        who, gone = self.user(follower), self.user(followed).id
        return self.set_dm_settings(who, follows=[u for u in who.follows if u != gone])
