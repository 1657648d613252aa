"""The ``ctx`` a handler receives: the event, the people, the state, and replies.

Everything a handler asks for is buffered and committed with the
conversation state in one transaction once the handler returns: a reply is
sent if and only if its handler finished. The buffering calls return an
awaitable, so ``await ctx.reply(...)`` reads naturally in async handlers and
``ctx.reply(...)`` works in sync ones (which dmbot runs in a thread).

A context holds the event, the conversation's session
(:class:`~dmbot.engine.conversation.Conversation`) and the flow runtime over
it (:class:`~dmbot.flows.runtime.Dialogue`), for which it is the
:class:`~dmbot.flows.runtime.Prompter`: flows speak through it too. It knows
nothing of the bot: ``start_flow`` and ``cancel_flow`` go to the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dmbot.edge.events import DirectMessage, Event, User
from dmbot.engine.conversation import Conversation
from dmbot.errors import LimitError
from dmbot.flows import metadata
from dmbot.flows.runtime import Dialogue, FlowSetup, Labelled
from dmbot.store.base import NewAction
from dmbot.types import JSONObject, is_id
from dmbot.x.limits import (
    MAX_BUTTONS,
    MAX_DESCRIPTION,
    MAX_LABEL,
    MAX_METADATA,
    MAX_OPTIONS,
    MAX_TEXT,
    has_link,
    is_web_url,
    missing_descriptions,
)

log = logging.getLogger("dmbot.engine.context")


class LiveActions(Protocol):
    """What must happen now rather than at commit: the typing indicator."""

    async def typing(self, account: str, peer: str) -> None: ...


class Done:
    """An already-finished awaitable: buffered actions need no waiting."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


DONE = Done()


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A Quick Reply option for :meth:`Context.reply`; a plain string is its label."""

    label: str
    value: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Button:
    """A button (X's ``web_url`` call to action) for :meth:`Context.reply`."""

    label: str
    url: str


@dataclass(slots=True)
class FlowView:
    """The flow in progress, as handlers see it (``ctx.flow``)."""

    name: str
    step: str
    answers: dict[str, str] = field(default_factory=dict)
    ending: str = ""


def _option(item: QuickReply | str | dict[str, str]) -> QuickReply:
    if isinstance(item, QuickReply):
        return item
    if isinstance(item, str):
        return QuickReply(item)
    if "label" not in item:
        raise LimitError(f"quick reply {item!r} has no label; give every option a label")
    return QuickReply(str(item["label"]), item.get("value", ""), item.get("description", ""))


def _button(item: Button | tuple[str, str] | dict[str, str]) -> Button:
    if isinstance(item, Button):
        return item
    if isinstance(item, tuple):
        if len(item) != 2:
            raise LimitError(f"button {item!r} must be a (label, url) pair")
        return Button(*item)
    if "label" not in item or "url" not in item:
        raise LimitError(f"button {item!r} needs a label and a url, as X requires both")
    return Button(str(item["label"]), str(item["url"]))


def check_options(options: Sequence[QuickReply]) -> None:
    """Raise LimitError if the options break X's Quick Reply limits (X-API.md §6)."""
    if len(options) > MAX_OPTIONS:
        raise LimitError(
            f"{len(options)} quick reply options: X allows at most {MAX_OPTIONS}; "
            "split the question or drop options"
        )
    for option in options:
        if not option.label.strip():
            raise LimitError("a quick reply option has an empty label; give every option a label")
        if len(option.label) > MAX_LABEL:
            raise LimitError(
                f"quick reply label {option.label!r} has {len(option.label)} characters: X "
                f"allows at most {MAX_LABEL}; shorten it"
            )
        if has_link(option.label):
            raise LimitError(
                f"quick reply label {option.label!r} contains a URL, which X refuses; "
                "use a button for links"
            )
        if len(option.description) > MAX_DESCRIPTION:
            raise LimitError(
                f"quick reply description of {option.label!r} has {len(option.description)} "
                f"characters: X allows at most {MAX_DESCRIPTION}; shorten it"
            )
    if missing_descriptions(options):
        raise LimitError(
            "X requires a description on all quick reply options or on none; "
            "add the missing descriptions or remove them all"
        )


def check_buttons(buttons: Sequence[Button]) -> None:
    """Raise LimitError if the buttons break X's limits (1 to 3, label 36, http(s) URL)."""
    if len(buttons) > MAX_BUTTONS:
        raise LimitError(f"{len(buttons)} buttons: X allows at most {MAX_BUTTONS} per message")
    for button in buttons:
        if not button.label.strip() or len(button.label) > MAX_LABEL:
            raise LimitError(f"button label {button.label!r} must have 1 to {MAX_LABEL} characters")
        if not is_web_url(button.url):
            raise LimitError(
                f"button {button.label!r} has URL {button.url!r}: X accepts only http(s) URLs"
            )


def check_text(text: str) -> None:
    """Raise LimitError if the text is longer than X allows."""
    if len(text) > MAX_TEXT:
        raise LimitError(
            f"message text has {len(text)} characters: X allows at most {MAX_TEXT}; "
            "split it into several replies"
        )


class Context:
    """What a handler works with.

    Attributes:
        event: the typed event being handled.
        account: the managed account that received it (and answers).
        user: the other person in the conversation.
        text: the DM's text ("" for other events).
        state: this conversation's own dict, persisted between events.
        tap: the verified Quick Reply tap, when the DM is one dmbot issued.
        error: in an ``on_error`` hook, the exception the handler raised.
        flow: the flow in progress (name, step, answers), or None.
        conversation: the conversation's whole session, as stored.
        dialogue: the flow runtime over this conversation.
        actions: the replies and receipts queued so far, in order.
    """

    def __init__(
        self,
        *,
        event: Event,
        account: User,
        user: User,
        conversation: Conversation | None = None,
        flows: FlowSetup | None = None,
        key: bytes = b"",
        now: float = 0.0,
        tap: metadata.Tap | None = None,
        live: LiveActions | None = None,
    ) -> None:
        """Set up the ``ctx`` of one event (the worker does, through ``Bot.context``).

        Args:
            event: the event.
            account: the managed account of the conversation.
            user: the other person.
            conversation: the conversation's session; a new one by default.
            flows: the bot's flows and their settings; none by default.
            key: signs the metadata of Quick Reply options (see
                :func:`dmbot.flows.metadata.derive_key`).
            now: the event's time (seconds since the epoch).
            tap: the verified tap, when the DM is one.
            live: what happens at once (the typing indicator); none by default.
        """
        self.event = event
        self.account = account
        self.user = user
        self.conversation = conversation if conversation is not None else Conversation()
        self.now = now
        self.tap = tap
        self.error: BaseException | None = None
        self.ended_flow: FlowView | None = None
        """In an ``on_flow_end`` hook: the flow that just ended (also ``ctx.flow``)."""
        self.actions: list[NewAction] = []
        setup = flows or FlowSetup()
        self.dialogue = Dialogue(setup, self.conversation.flows, self, now=now, peer=user.id)
        self._numbered = setup.numbered
        self._key = key
        self._live = live
        self._loop = asyncio.get_running_loop()
        self._tasks: list[asyncio.Future[Any]] = []
        if self.conversation.state is None:
            self.conversation.state = {}
        self.state: dict[str, Any] = self.conversation.state

    @property
    def text(self) -> str:
        return self.event.text if isinstance(self.event, DirectMessage) else ""

    @property
    def flow(self) -> FlowView | None:
        """The flow in progress in this conversation, or None."""
        session = self.conversation.flows.flow
        if session is None:
            return self.ended_flow
        return FlowView(name=session.name, step=session.step, answers=dict(session.answers))

    # -- replies -------------------------------------------------------------
    def reply(
        self,
        text: str,
        *,
        quick_replies: Sequence[QuickReply | str | dict[str, str]] | None = None,
        buttons: Sequence[Button | tuple[str, str] | dict[str, str]] | None = None,
        media_id: str | None = None,
        custom_profile_id: str | None = None,
    ) -> Done:
        """Queue a DM to the user, sent once the handler returns.

        Raises:
            LimitError: the message breaks one of X's limits; nothing is queued.
        """
        options = [_option(item) for item in quick_replies or ()]
        check_options(options)
        self._check_recipient()
        ctas = [_button(item) for item in buttons or ()]
        check_buttons(ctas)
        prompt = self.dialogue.next_prompt() if options else 0
        taps = [
            metadata.Tap("", "", option.value or option.label, option.label, prompt)
            for option in options
        ]
        self._queue(text, options, taps, ctas, media_id)
        if custom_profile_id:
            self.actions[-1].payload["custom_profile_id"] = custom_profile_id
        return DONE

    def say(self, text: str) -> None:
        """Queue ``text`` as a DM (how flows speak; handlers use :meth:`reply`)."""
        self.reply(text)

    def ask(self, text: str, options: Sequence[Labelled], taps: Sequence[metadata.Tap]) -> None:
        """Queue a DM whose options carry the given taps (how flows ask).

        Raises:
            LimitError: the message breaks one of X's limits; nothing is queued.
        """
        self._check_recipient()
        self._queue(text, options, taps, (), None)

    def _check_recipient(self) -> None:
        if not is_id(self.user.id):
            raise LimitError(
                f"a {self.event.kind} event has no user to write to, so it cannot be replied "
                "to; reply to events of a conversation (messages, follows, ...)"
            )

    def _queue(
        self,
        text: str,
        options: Sequence[Labelled],
        taps: Sequence[metadata.Tap],
        ctas: Sequence[Button],
        media_id: str | None,
    ) -> None:
        data: JSONObject = {}
        if options and self._numbered:
            # X's v2 send has no Quick Replies: the options become a numbered list.
            numbered = "\n".join(f"{i}. {o.label}" for i, o in enumerate(options, 1))
            text = f"{text}\n\n{numbered}"
        elif options:
            data["quick_reply"] = {
                "type": "options",
                "options": [
                    self._option_json(option, tap)
                    for option, tap in zip(options, taps, strict=True)
                ],
            }
        check_text(text)
        data["text"] = text
        if ctas:
            data["ctas"] = [{"type": "web_url", "label": b.label, "url": b.url} for b in ctas]
        if media_id:
            data["attachment"] = {"type": "media", "media": {"id": media_id}}
        self.actions.append(NewAction("dm", data))

    def _option_json(self, option: Labelled, tap: metadata.Tap) -> JSONObject:
        signed = metadata.encode(tap, self._key)
        if len(signed) > MAX_METADATA:
            raise LimitError(
                f"quick reply {option.label!r}: its metadata would have {len(signed)} "
                f"characters, X allows {MAX_METADATA}; shorten its value"
            )
        item: JSONObject = {"label": option.label, "metadata": signed}
        if option.description:
            item["description"] = option.description
        return item

    def typing(self) -> Done:
        """Show the typing indicator now (it lasts about 3 s on X)."""
        live = self._live
        if live is not None:
            account, peer = self.account.id, self.user.id

            def start() -> None:
                self._tasks.append(asyncio.ensure_future(live.typing(account, peer)))

            if _running_loop() is self._loop:
                start()  # at once: it goes to X ahead of what this handler commits
            else:
                self._loop.call_soon_threadsafe(start)  # a sync handler, in a thread
        return DONE

    def mark_read(self) -> Done:
        """Send a read receipt for this DM, in order with the replies."""
        if isinstance(self.event, DirectMessage):
            self.actions.append(NewAction("read", {"last_read_event_id": self.event.id}))
        return DONE

    # -- flows -----------------------------------------------------------------
    def start_flow(self, name: str) -> Done:
        """Start the flow ``name`` (ending any flow in progress): its first question is sent.

        Raises:
            UnknownNameError: the bot has no flow called ``name``.
        """
        self.dialogue.start(name)
        return DONE

    def cancel_flow(self) -> Done:
        """End the flow in progress silently; no ending message is sent."""
        self.dialogue.cancel()
        return DONE


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
