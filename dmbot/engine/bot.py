"""``Bot``: what a bot author registers, and how an event reaches a handler.

Registration is a plain call, :meth:`Bot.add_handler`; the decorators are
sugar over it and return the function unchanged.

For a DM, :meth:`Bot.dispatch` tries, in order:

1. a verified tap on a flow option: the flow advances, revises an earlier
   answer, or (flow ended or expired) the stale-reply hook runs;
2. with a flow pending: the pending options typed out (case and spacing
   ignored), then interrupts (cancel, help, restart), then a text answer
   for ``input: text`` steps, then quick-reply, flow-trigger, message and
   intent handlers, then the fallback; afterwards the pending question is
   asked again (catch-all ``on_message()`` handlers do not run mid-flow);
3. without a flow: quick-reply handlers, flow triggers, message and intent
   handlers in registration order, catch-all handlers, the fallback.

Other events go to ``on_event`` handlers for their kind (or for all kinds).
The first matching handler wins.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dmbot.edge.activity import event_kind
from dmbot.edge.events import DirectMessage, Event, User
from dmbot.engine.context import Context, FlowView, LiveActions
from dmbot.engine.conversation import Conversation
from dmbot.engine.routing import (
    Classifier,
    Incoming,
    Intent,
    OverlapClassifier,
    QuickReplyChoice,
    Route,
    call_arity,
    message_matcher,
)
from dmbot.errors import UnknownNameError
from dmbot.flows.file import load_flow_file
from dmbot.flows.metadata import Tap, derive_key
from dmbot.flows.model import Flow
from dmbot.flows.runtime import DEFAULT_EXPIRY, Ended, FlowSetup, Stale, Unanswered
from dmbot.types import Handler

log = logging.getLogger("dmbot.engine.bot")

F = TypeVar("F", bound=Callable[..., Any])


class Bot:
    """A DM bot: handlers, intents and flows.

    Args:
        name: shown in logs.
        classifier: names the intent of a text; the built-in scorer by default.
        options_as_text: render Quick Reply options as a numbered list in the
            text (for X's v2 send endpoint, which has no Quick Replies); None
            follows ``twitter.send_api`` in config.yaml.
    """

    def __init__(
        self,
        name: str = "bot",
        *,
        classifier: Classifier | None = None,
        options_as_text: bool | None = None,
    ) -> None:
        self.name = name
        self.classifier: Classifier = classifier or OverlapClassifier()
        self._options_as_text = options_as_text
        self.send_api = "v1.1"
        self.flows: dict[str, Flow] = {}
        self.flow_expiry = DEFAULT_EXPIRY
        self.metadata_key = derive_key("")
        self.intents: dict[str, Intent] = {}
        self._quick_replies: list[Route] = []
        self._messages: list[Route] = []
        self._events: dict[str, list[Route]] = {}
        self._fallbacks: list[Route] = []
        self._errors: list[Handler] = []
        self._flow_end: dict[str, list[Handler]] = {}
        self.stale_hooks: list[Handler] = []

    # -- configuration by the runtime ----------------------------------------------
    @property
    def options_as_text(self) -> bool:
        if self._options_as_text is not None:
            return self._options_as_text
        return self.send_api == "v2"

    def configure(self, *, consumer_secret: str, flow_expiry: float, send_api: str) -> None:
        """Called by the runtime with the app's settings before the first event."""
        self.metadata_key = derive_key(consumer_secret)
        self.flow_expiry = flow_expiry
        self.send_api = send_api

    # -- registration ---------------------------------------------------------------
    def add_handler(
        self,
        handler: Handler,
        *,
        kind: str = "message",
        keywords: Sequence[str] = (),
        regex: str | re.Pattern[str] | None = None,
        when: Callable[[str], bool] | None = None,
        quick_reply: str | None = None,
        intent: str | None = None,
    ) -> None:
        """Register ``handler``; the decorators call this.

        Args:
            kind: ``"message"`` for DMs, ``"fallback"``, ``"error"``, or an
                event kind (``"follow"``, ``"favorite"``, ``"*"`` for all).
            keywords: whole words, case ignored, any of which selects a DM.
            regex: a pattern searched in the DM's text.
            when: a predicate over the DM's text.
            quick_reply: a Quick Reply label or value (tapped or typed).
            intent: the name of an intent (see :meth:`add_intent`).

        Raises:
            UnknownNameError: ``intent`` names no intent declared so far.
        """
        if kind == "message":
            if quick_reply is not None:
                self._quick_replies.append(Route(handler, QuickReplyChoice(quick_reply)))
                return
            if intent is not None:
                if intent not in self.intents:
                    known = ", ".join(sorted(self.intents)) or "none yet"
                    raise UnknownNameError(
                        f"no intent named {intent!r} (intents: {known}); declare it first "
                        f"with bot.add_intent({intent!r}, [example phrases])"
                    )
                self._messages.append(Route(handler, intent=intent))
                return
            matcher, catch_all = message_matcher(keywords, regex, when)
            self._messages.append(Route(handler, matcher, catch_all=catch_all))
        elif kind == "fallback":
            self._fallbacks.append(Route(handler))
        elif kind == "error":
            self._errors.append(handler)
        else:
            self._events.setdefault(kind, []).append(Route(handler))

    def on_message(
        self,
        *keywords: str,
        regex: str | re.Pattern[str] | None = None,
        when: Callable[[str], bool] | None = None,
    ) -> Callable[[F], F]:
        """Handle DMs containing any of ``keywords`` (or matching ``regex``/``when``; or all)."""

        def register(handler: F) -> F:
            self.add_handler(handler, keywords=keywords, regex=regex, when=when)
            return handler

        return register

    def on_quick_reply(self, label_or_value: str) -> Callable[[F], F]:
        """Handle a tap (or the typed label) of a Quick Reply sent with ``ctx.reply``."""

        def register(handler: F) -> F:
            self.add_handler(handler, quick_reply=label_or_value)
            return handler

        return register

    def on_event(self, *kinds: str) -> Callable[[F], F]:
        """Handle other events: ``follow``, ``favorite``, ``typing``, ...; no argument: all.

        X Activity API types work too: ``post.mention.create``, ``chat.received``;
        ``follow.follow`` is ``follow`` whichever API delivered it.
        """

        def register(handler: F) -> F:
            for kind in kinds or ("*",):
                self.add_handler(handler, kind=event_kind(kind) if kind != "*" else kind)
            return handler

        return register

    def add_intent(self, name: str, examples: Iterable[str]) -> None:
        """Declare an intent by example phrases; flows may use it as a trigger."""
        self.intents[name] = Intent(name, tuple(examples))

    def intent(self, name: str, examples: Iterable[str]) -> Callable[[F], F]:
        """Declare an intent and handle the DMs classified as it."""

        def register(handler: F) -> F:
            self.add_intent(name, examples)
            self.add_handler(handler, intent=name)
            return handler

        return register

    def fallback(self, handler: F) -> F:
        """Handle DMs nothing else handled."""
        self.add_handler(handler, kind="fallback")
        return handler

    def on_error(self, handler: F) -> F:
        """Called with ``ctx`` (``ctx.error`` set) when a handler raises; may reply."""
        self.add_handler(handler, kind="error")
        return handler

    def on_flow_end(self, name: str) -> Callable[[F], F]:
        """Called when flow ``name`` ends, with ``ctx`` and the saved answers."""

        def register(handler: F) -> F:
            self._flow_end.setdefault(name, []).append(handler)
            return handler

        return register

    def on_stale_reply(self, handler: F) -> F:
        """Called for a tap on a flow that has ended or expired (replaces the default)."""
        self.stale_hooks.append(handler)
        return handler

    def flow_end_hooks(self, name: str) -> list[Handler]:
        return self._flow_end.get(name, [])

    def handles(self, kind: str) -> bool:
        """True if some handler takes events of ``kind`` (other than DMs)."""
        return bool(self._events.get(kind) or self._events.get("*"))

    @property
    def error_hooks(self) -> list[Handler]:
        return self._errors

    # -- flows ------------------------------------------------------------------------
    def add_flow(self, flow: Flow) -> Flow:
        """Add a flow built in Python."""
        self.flows[flow.name] = flow
        return flow

    def load_flows(self, path: str | Path) -> tuple[Flow, ...]:
        """Load a YAML flow file; a relative path is relative to the calling script.

        Raises:
            FlowError: the file breaks a rule; the message lists every problem.
        """
        target = Path(path)
        if not target.is_absolute():
            caller = sys._getframe(1).f_globals.get("__file__")
            base = Path(caller).resolve().parent if caller else Path.cwd()
            target = base / target
        flows = load_flow_file(target)
        for flow in flows:
            self.add_flow(flow)
        return flows

    # -- dispatch ---------------------------------------------------------------------
    def context(
        self,
        event: Event,
        *,
        account: User,
        user: User,
        conversation: Conversation,
        now: float,
        tap: Tap | None = None,
        live: LiveActions | None = None,
    ) -> Context:
        """The ``ctx`` for one event of ``conversation``, with this bot's flows and key."""
        return Context(
            event=event,
            account=account,
            user=user,
            conversation=conversation,
            flows=FlowSetup(self.flows, self.flow_expiry, self.options_as_text),
            key=self.metadata_key,
            now=now,
            tap=tap,
            live=live,
        )

    async def call(self, handler: Handler, ctx: Context, *extra: Any) -> Any:
        """Call a sync or async handler; sync ones run in a thread."""
        args = (ctx, *extra)[: max(1, call_arity(handler))]
        if inspect.iscoroutinefunction(handler):
            return await handler(*args)
        result = await asyncio.to_thread(handler, *args)
        if inspect.isawaitable(result):
            return await result
        return result

    async def dispatch(self, ctx: Context) -> None:
        """Route one event to the handler (or flow) it belongs to."""
        if isinstance(ctx.event, DirectMessage):
            await self._dispatch_message(ctx)
            return
        routes = self._events.get(ctx.event.kind, []) + self._events.get("*", [])
        if routes:
            await self.call(routes[0].handler, ctx)
        else:
            log.debug("no handler for %s events", ctx.event.kind)

    async def _dispatch_message(self, ctx: Context) -> None:
        dialogue, tap = ctx.dialogue, ctx.tap
        outcome: Ended | Stale | Unanswered | None
        if tap is not None and tap.flow:
            outcome = dialogue.on_tap(tap)
        else:
            outcome = dialogue.on_text(ctx.text, tapped=tap is not None)
        if isinstance(outcome, Unanswered):
            handled = await self._route(ctx, in_flow=outcome.flow)
            dialogue.resume(outcome, handled=handled)
        elif isinstance(outcome, Stale):
            await self._stale(ctx)
        elif isinstance(outcome, Ended):
            await self._flow_ended(ctx, outcome)

    async def _stale(self, ctx: Context) -> None:
        """A tap dmbot issued for a flow that is no longer pending."""
        if not self.stale_hooks:
            ctx.dialogue.remind()
        for hook in self.stale_hooks:
            await self.call(hook, ctx)

    async def _flow_ended(self, ctx: Context, ended: Ended) -> None:
        hooks = self.flow_end_hooks(ended.flow)
        if not hooks:
            return
        answers = dict(ended.answers)
        # The hooks still see the flow that just ended as ctx.flow.
        ctx.ended_flow = FlowView(ended.flow, ended.step, dict(ended.answers), ended.ending)
        try:
            for hook in hooks:
                await self.call(hook, ctx, answers)
        finally:
            ctx.ended_flow = None

    async def _route(self, ctx: Context, *, in_flow: Flow | None) -> bool:
        tap = ctx.tap
        incoming = Incoming(
            "message",
            ctx.text,
            tap.label if tap is not None else None,
            tap.value if tap is not None else None,
        )
        for route in self._quick_replies:
            if route.matcher(incoming):
                await self.call(route.handler, ctx)
                return True
        intent: str | None = None
        if self.intents:
            found = self.classifier.classify(ctx.text, list(self.intents.values()))
            intent = found[0] if found else None
        for flow in self.flows.values():
            if flow is in_flow:
                continue
            trigger = flow.trigger
            if trigger.matches(ctx.text) or (trigger.intent and trigger.intent == intent):
                ctx.start_flow(flow.name)
                return True
        for route in self._messages:
            if route.catch_all:
                continue
            if (route.intent and route.intent == intent) or (
                not route.intent and route.matcher(incoming)
            ):
                await self.call(route.handler, ctx)
                return True
        if in_flow is None:
            for route in self._messages:
                if route.catch_all:
                    await self.call(route.handler, ctx)
                    return True
        if self._fallbacks:
            await self.call(self._fallbacks[0].handler, ctx)
            return True
        log.debug("no handler matched a DM from %s", ctx.user.id)
        return False
