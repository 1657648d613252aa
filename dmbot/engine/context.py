"""The ``ctx`` a handler receives: the event, the people, the state, and replies.

Everything a handler asks for is buffered and committed with the
conversation state in one transaction once the handler returns: a reply is
sent if and only if its handler finished. The buffering calls return an
awaitable, so ``await ctx.reply(...)`` reads naturally in async handlers and
``ctx.reply(...)`` works in sync ones (which dmbot runs in a thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dmbot.edge.events import DirectMessage, Event, User
from dmbot.errors import LimitError
from dmbot.flows import metadata
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

if TYPE_CHECKING:
    from dmbot.engine.bot import Bot

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
    """

    def __init__(
        self,
        *,
        bot: Bot,
        event: Event,
        account: User,
        user: User,
        doc: JSONObject,
        now: float,
        tap: metadata.Tap | None = None,
        live: LiveActions | None = None,
    ) -> None:
        self.bot = bot
        self.event = event
        self.account = account
        self.user = user
        self.doc = doc
        self.now = now
        self.tap = tap
        self.error: BaseException | None = None
        self.ended_flow: FlowView | None = None
        """In an ``on_flow_end`` hook: the flow that just ended (also ``ctx.flow``)."""
        self.actions: list[NewAction] = []
        self._live = live
        self._loop = asyncio.get_running_loop()
        self._tasks: list[asyncio.Future[Any]] = []
        state = doc.setdefault("state", {})
        self.state: dict[str, Any] = state if isinstance(state, dict) else {}

    @property
    def text(self) -> str:
        return self.event.text if isinstance(self.event, DirectMessage) else ""

    @property
    def flow(self) -> FlowView | None:
        """The flow in progress in this conversation, or None."""
        session = self.doc.get("flow")
        if not isinstance(session, dict):
            return self.ended_flow
        return FlowView(
            name=str(session.get("name", "")),
            step=str(session.get("step", "")),
            answers=dict(session.get("answers", {})),
            ending=str(session.get("ending", "")),
        )

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
        taps = [
            metadata.Tap("", "", option.value or option.label, option.label, 0)
            for option in options
        ]
        self.send_message(text, options, taps, buttons=buttons, media_id=media_id)
        if custom_profile_id:
            self.actions[-1].payload["custom_profile_id"] = custom_profile_id
        return DONE

    def send_message(
        self,
        text: str,
        options: Sequence[QuickReply],
        taps: Sequence[metadata.Tap],
        *,
        buttons: Sequence[Button | tuple[str, str] | dict[str, str]] | None = None,
        media_id: str | None = None,
    ) -> None:
        """Queue a DM whose options carry the given taps (used by flows too)."""
        if not is_id(self.user.id):
            raise LimitError(
                f"a {self.event.kind} event has no user to write to, so it cannot be replied "
                "to; reply to events of a conversation (messages, follows, ...)"
            )
        ctas = [_button(item) for item in buttons or ()]
        check_buttons(ctas)
        data: JSONObject = {}
        if options:
            prompt = self.next_prompt()
            self.doc["choices"] = [
                {"label": option.label, "value": tap.value, "flow": tap.flow, "step": tap.step}
                for option, tap in zip(options, taps, strict=True)
            ]
            if self.bot.options_as_text:
                numbered = "\n".join(f"{i}. {o.label}" for i, o in enumerate(options, 1))
                text = f"{text}\n\n{numbered}"
            else:
                data["quick_reply"] = {
                    "type": "options",
                    "options": [
                        self._option_json(option, tap, prompt)
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

    def _option_json(self, option: QuickReply, tap: metadata.Tap, prompt: int) -> JSONObject:
        signed = metadata.encode(
            metadata.Tap(tap.flow, tap.step, tap.value, option.label, prompt),
            self.bot.metadata_key,
        )
        if len(signed) > MAX_METADATA:
            raise LimitError(
                f"quick reply {option.label!r}: its metadata would have {len(signed)} "
                f"characters, X allows {MAX_METADATA}; shorten its value"
            )
        item: JSONObject = {"label": option.label, "metadata": signed}
        if option.description:
            item["description"] = option.description
        return item

    def next_prompt(self) -> int:
        """A new prompt number: every question with options gets one."""
        prompt = int(self.doc.get("prompt", 0)) + 1
        self.doc["prompt"] = prompt
        return prompt

    def typing(self) -> Done:
        """Show the typing indicator now (it lasts about 3 s on X)."""
        live = self._live
        if live is not None:
            account, peer = self.account.id, self.user.id

            def start() -> None:
                self._tasks.append(asyncio.ensure_future(live.typing(account, peer)))

            self._loop.call_soon_threadsafe(start)
        return DONE

    def mark_read(self) -> Done:
        """Send a read receipt for this DM, in order with the replies."""
        if isinstance(self.event, DirectMessage):
            self.actions.append(NewAction("read", {"last_read_event_id": self.event.id}))
        return DONE

    # -- flows -----------------------------------------------------------------
    def start_flow(self, name: str) -> Done:
        """Start the flow ``name`` (ending any flow in progress): its first question is sent."""
        self.bot.dialogue.start(self, name)
        return DONE

    def cancel_flow(self) -> Done:
        """End the flow in progress silently; no ending message is sent."""
        self.bot.dialogue.drop(self, outcome="cancelled")
        return DONE
