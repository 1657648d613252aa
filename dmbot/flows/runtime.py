"""The flow runtime: ask, advance, revise, re-ask, end.

A flow session lives in the conversation document under ``"flow"``::

    {"name": "order", "step": "crust", "answers": {"size": "Large"},
     "asked": {"size": 3, "crust": 4}, "first_prompt": 3, "updated": 1700000000.0}

Every question with options gets a new prompt number, carried in each
option's signed metadata, so a tap says which flow, step and question it
answers. That is what makes the tolerance rules of DESIGN.md §2 possible:
a tap on an earlier question revises that answer; a tap on a flow that has
ended or expired is stale; a label typed instead of tapped still counts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dmbot.engine.context import Context, QuickReply
from dmbot.errors import UnknownNameError
from dmbot.flows.labels import normalize
from dmbot.flows.metadata import Tap
from dmbot.flows.model import Flow, Option, Step
from dmbot.flows.templates import render

if TYPE_CHECKING:
    from dmbot.engine.bot import Bot

log = logging.getLogger("dmbot.flows.model")

HELP_WORDS = ("help", "?")
RESTART_WORDS = ("restart", "start over")
DEFAULT_HELP = "You're in the middle of {flow}. Pick an option below, or say cancel to stop."
DEFAULT_STALE = "That choice belongs to a conversation that has ended."


class Dialogue:
    """Runs the bot's flows inside one conversation's document."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    # -- session bookkeeping -----------------------------------------------------
    def session(self, ctx: Context) -> dict[str, Any] | None:
        """The flow in progress, or None; an expired one is ended on the way."""
        session = ctx.doc.get("flow")
        if not isinstance(session, dict) or session.get("name") not in self.bot.flows:
            ctx.doc.pop("flow", None)
            return None
        if ctx.now - float(session.get("updated", 0.0)) > self.bot.flow_expiry:
            log.info("flow %s expired in conversation with %s", session["name"], ctx.user.id)
            self._close(ctx, session, "expired")
            return None
        return session

    def _close(self, ctx: Context, session: dict[str, Any], ending: str) -> None:
        ctx.doc["last_flow"] = {
            "name": session.get("name"),
            "ending": ending,
            "ended": ctx.now,
            "first_prompt": session.get("first_prompt", 0),
        }
        ctx.doc.pop("flow", None)

    def flow_of(self, session: dict[str, Any]) -> Flow:
        return self.bot.flows[str(session["name"])]

    # -- asking ----------------------------------------------------------------------
    def start(self, ctx: Context, name: str) -> None:
        flow = self.bot.flows.get(name)
        if flow is None:
            known = ", ".join(sorted(self.bot.flows)) or "none loaded"
            raise UnknownNameError(
                f"no flow named {name!r} (flows: {known}); check the name, and that "
                "bot.load_flows or bot.add_flow added it"
            )
        current = ctx.doc.get("flow")
        if isinstance(current, dict):
            self._close(ctx, current, "replaced")
        session: dict[str, Any] = {
            "name": name,
            "step": flow.first.name,
            "answers": {},
            "asked": {},
            "first_prompt": int(ctx.doc.get("prompt", 0)) + 1,
            "updated": ctx.now,
        }
        ctx.doc["flow"] = session
        self.ask(ctx, flow, session, flow.first)

    def ask(self, ctx: Context, flow: Flow, session: dict[str, Any], step: Step) -> None:
        """Send ``step``'s question with its options and make it the pending one."""
        session["step"] = step.name
        session["updated"] = ctx.now
        answers = session["answers"]
        text = render(step.ask, answers)
        options = [QuickReply(o.label, o.saved, o.description) for o in step.options]
        taps = [Tap(flow.name, step.name, o.saved, o.label, 0) for o in step.options]
        ctx.send_message(text, options, taps)
        session["asked"][step.name] = int(ctx.doc.get("prompt", 0))

    def reask(self, ctx: Context, session: dict[str, Any]) -> None:
        flow = self.flow_of(session)
        self.ask(ctx, flow, session, flow.step(str(session["step"])))

    # -- answering -------------------------------------------------------------
    async def answer(
        self,
        ctx: Context,
        session: dict[str, Any],
        step: Step,
        value: str,
        option: Option | None,
        *,
        revised: bool = False,
    ) -> None:
        """Save ``value`` for ``step`` and move on; after a revision skip answered steps."""
        flow = self.flow_of(session)
        session["answers"][step.save_as] = value
        session["updated"] = ctx.now
        target = flow.next_after(step.name, option)
        if revised:
            target = self._next_unanswered(flow, session, target)
        await self.go(ctx, flow, session, target)

    def _next_unanswered(self, flow: Flow, session: dict[str, Any], target: str) -> str:
        answers = session["answers"]
        seen: set[str] = set()
        while target and not flow.is_ending(target) and target not in seen:
            seen.add(target)
            step = flow.step(target)
            if step.save_as not in answers or target == session["step"]:
                return target
            target = flow.next_after(target, step.option_for(str(answers[step.save_as])))
        return target

    async def go(self, ctx: Context, flow: Flow, session: dict[str, Any], target: str) -> None:
        if target and not flow.is_ending(target):
            self.ask(ctx, flow, session, flow.step(target))
            return
        await self.finish(ctx, session, target)

    async def finish(self, ctx: Context, session: dict[str, Any], ending_name: str) -> None:
        """End the flow at ``ending_name``: its message, then the on_flow_end hooks."""
        flow = self.flow_of(session)
        ending = flow.cancel_ending if ending_name == "cancelled" else flow.endings.get(ending_name)
        answers = dict(session["answers"])
        session["ending"] = ending_name
        if ending is not None and ending.say:
            ctx.reply(render(ending.say, answers))
        ended = ctx.flow
        self._close(ctx, session, ending_name or "done")
        log.info("flow %s ended (%s) for %s", flow.name, ending_name or "done", ctx.user.id)
        hooks = self.bot.flow_end_hooks(flow.name)
        if hooks:
            # The hooks still see the flow that just ended as ctx.flow.
            ctx.ended_flow = ended
            try:
                for hook in hooks:
                    await self.bot.call(hook, ctx, answers)
            finally:
                ctx.ended_flow = None

    def drop(self, ctx: Context, outcome: str) -> None:
        session = ctx.doc.get("flow")
        if isinstance(session, dict):
            self._close(ctx, session, outcome)

    # -- incoming -----------------------------------------------------------------
    async def on_tap(self, ctx: Context, tap: Tap) -> bool:
        """Handle a verified tap on a flow option; False if it is stale."""
        session = self.session(ctx)
        if session is None or session["name"] != tap.flow:
            return False
        if tap.prompt < int(session.get("first_prompt", 0)):
            return False  # an option of an earlier run of this flow
        flow = self.flow_of(session)
        try:
            step = flow.step(tap.step)
        except KeyError:
            return False
        option = next((o for o in step.options if o.saved == tap.value), None)
        if option is None:
            option = step.option_for(tap.label)
        if option is None:
            return False
        if step.name == session["step"]:
            await self.answer(ctx, session, step, option.saved, option)
        else:
            log.info("answer to %s revised by a late tap (%s)", step.name, ctx.user.id)
            await self.answer(ctx, session, step, option.saved, option, revised=True)
        return True

    def typed_option(self, ctx: Context, step: Step) -> Option | None:
        """The pending step's option named by the text (label, value or number)."""
        text = ctx.text
        number = text.strip()
        # ASCII only: "²".isdigit() is true, but int("²") raises.
        if self.bot.options_as_text and number.isascii() and number.isdigit() and len(number) < 4:
            index = int(number) - 1
            if 0 <= index < len(step.options):
                return step.options[index]
        return step.option_for(text)

    async def interrupt(self, ctx: Context, session: dict[str, Any]) -> bool:
        """Cancel, help and restart: True when the text was one of them."""
        flow = self.flow_of(session)
        said = normalize(ctx.text)
        if said in {normalize(w) for w in flow.cancel_words}:
            await self.finish(ctx, session, "cancelled")
            return True
        if said in HELP_WORDS:
            ctx.reply(render(flow.help or DEFAULT_HELP, {**session["answers"], "flow": flow.name}))
            self.reask(ctx, session)
            return True
        if said in RESTART_WORDS:
            self.start(ctx, flow.name)
            return True
        return False

    async def stale(self, ctx: Context) -> None:
        """A tap dmbot issued for a flow that is no longer pending."""
        hooks = self.bot.stale_hooks
        if hooks:
            for hook in hooks:
                await self.bot.call(hook, ctx)
            return
        ctx.reply(DEFAULT_STALE)
        session = self.session(ctx)
        if session is not None:
            self.reask(ctx, session)
