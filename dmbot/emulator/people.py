"""The simulated people: a person writing a DM, tapping a Quick Reply option, revoking the app.

A person acts as from X's own app (the web client is the source app). Around
each DM the emulator does what X does: a read receipt and a typing indicator
first when the realism switches ask for them, the account's welcome message
on first contact, and free replies for the account, since X does not count
up to 5 answers to each received DM within 24 hours against its daily
sending limit. A person may write first only where X would let them
(:mod:`dmbot.emulator.permission`), and attach only media they uploaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmbot.emulator.entities import weighted_length
from dmbot.emulator.faults import ApiError
from dmbot.emulator.permission import explain, refusal
from dmbot.emulator.state import WEB_CLIENT_APP, Message
from dmbot.emulator.validation import MAX_TEXT

if TYPE_CHECKING:
    from dmbot.emulator.fanout import FanOut
    from dmbot.emulator.host import Host, UserRef

FREE_REPLIES = 5
"""Replies to one received DM that do not count against the daily sending limit."""
FREE_REPLY_WINDOW = 24 * 3600.0
DEFAULT_PEOPLE = (("2000000000001", "alice", "Alice"), ("2000000000002", "bob", "Bob"))
"""The simulated people every standalone emulator starts with: (user id, screen name, name)."""


class People:
    """What the simulated people of one emulator do, and what X does around it.

    They act through the emulator's own methods (``user``, ``post_message``,
    ``send``), as the API layer does; the :class:`~dmbot.emulator.Emulator`
    methods that lead here document what each action raises.

    Args:
        emu: the emulator the people live in.
        fanout: delivers the typing, read and revoke events.
    """

    def __init__(self, emu: Host, fanout: FanOut) -> None:
        self.emu = emu
        self.world = emu.world
        self._fanout = fanout
        self._last_read: dict[tuple[str, str], int] = {}
        # (account, person) -> [expires_at, replies left] per message the person sent.
        self._free_replies: dict[tuple[str, str], list[list[float]]] = {}

    async def send(
        self,
        from_user: UserRef,
        to_account: UserRef,
        text: str,
        *,
        metadata: str | None = None,
        media_id: str | None = None,
    ) -> Message:
        """``from_user`` writes a DM from X's app; ``metadata`` makes it a Quick Reply tap,
        ``media_id`` attaches media they uploaded."""
        sender, recipient = self.emu.user(from_user), self.emu.user(to_account)
        length = weighted_length(text)
        if length > MAX_TEXT:
            raise ValueError(
                f"A DM holds at most {MAX_TEXT} characters (a URL counts 23); this one has "
                f"{length}."
            )
        if not text and media_id is None:
            raise ValueError("A DM needs text or a media_id; give one of them.")
        code = refusal(self.world, sender, recipient)
        if code is not None:
            raise ApiError(403, code, explain(sender, recipient, code))
        if media_id is not None:
            self.emu.media.check(sender.id, media_id)
        if self.emu.realism.read_events:
            self._deliver_read(sender.id, recipient.id)
        if self.emu.realism.typing_events:
            self._fanout.indicator("typing", sender.id, recipient.id)
        data: dict[str, object] = {"text": text}
        if media_id is not None:
            data["attachment"] = {"type": "media", "media": {"id": media_id}}
        if metadata is not None:
            data["quick_reply_response"] = {"type": "options", "metadata": metadata}
        self._free_replies.setdefault((recipient.id, sender.id), []).append(
            [self.emu.clock() + FREE_REPLY_WINDOW, float(FREE_REPLIES)]
        )
        welcome: str | None = None
        rule = self.world.rule_for(recipient.id)
        if rule is not None and not self.world.conversation(sender.id, recipient.id):
            welcome = str(rule["welcome_message_id"])
        return await self.emu.post_message(
            sender.id,
            recipient.id,
            data,
            source_app_id=str(WEB_CLIENT_APP["id"]),
            metadata=metadata,
            welcome_message_id=welcome,
        )

    def take_free_reply(self, account_id: str, peer_id: str) -> bool:
        """Use one of the free replies ``peer_id``'s recent DMs granted ``account_id``."""
        grants = self._free_replies.get((account_id, peer_id))
        now = self.emu.clock()
        while grants and (grants[0][0] <= now or grants[0][1] <= 0):
            grants.pop(0)
        if not grants:
            return False
        grants[0][1] -= 1
        return True

    async def tap(self, from_user: UserRef, message: Message | str, label: str) -> Message:
        """``from_user`` taps the option ``label`` of a Quick Reply DM it received."""
        user = self.emu.user(from_user)
        prompt = message if isinstance(message, Message) else self.world.message(message)
        if prompt is None:
            raise LookupError(f"No message {message!r} in the emulator to tap an option of.")
        if prompt.recipient_id != user.id:
            raise LookupError(
                f"Message {prompt.id} was sent to user {prompt.recipient_id}, not to "
                f"@{user.screen_name}; only its recipient can tap its options."
            )
        option = next((o for o in prompt.options if o.get("label") == label), None)
        if option is None:
            labels = ", ".join(repr(o.get("label")) for o in prompt.options) or "none"
            raise LookupError(
                f"Message {prompt.id} has no option {label!r}; its options: {labels}."
            )
        metadata = str(option.get("metadata", ""))
        return await self.emu.send(user, prompt.sender_id, label, metadata=metadata)

    async def revoke(self, user: UserRef) -> None:
        """``user`` revokes the app: tokens and subscriptions go, a ``user_event`` is delivered."""
        target = self.emu.user(user)
        self._fanout.revoke(target.id)
        self.world.revoke_tokens(target.id)

    def _deliver_read(self, reader_id: str, author_id: str) -> None:
        """A read receipt for ``author_id``'s messages that ``reader_id`` has not yet read."""
        seen = self._last_read.get((reader_id, author_id), 0)
        unread = [
            m
            for m in self.world.conversation(reader_id, author_id)
            if m.sender_id == author_id and int(m.id) > seen
        ]
        if unread:
            self._last_read[(reader_id, author_id)] = int(unread[-1].id)
            self._fanout.indicator("read", reader_id, author_id, unread[-1].id)

    def clear(self) -> None:
        """Forget what people have read and the free replies their DMs granted."""
        self._last_read.clear()
        self._free_replies.clear()
