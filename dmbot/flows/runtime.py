"""The flow runtime: ask, advance, revise, re-ask, end.

A :class:`Dialogue` runs the bot's flows over one conversation's
:class:`~dmbot.flows.session.FlowState` while one event is handled. It is the
only code that changes that state. What it says goes out through a
:class:`Prompter` (the engine's ``Context``, which buffers replies); what only
the bot can do, calling its hooks and handlers, comes back as the returned
outcome: :class:`Ended`, :class:`Stale` or :class:`Unanswered`.

Every question with options gets a new prompt number, carried in each
option's signed metadata, so a tap says which flow, step and question it
answers. That is what makes the tolerance rules of DESIGN.md §2 possible:
a tap on an earlier question revises that answer; a tap on a flow that has
ended or expired is stale; a label typed instead of tapped still counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from dmbot.errors import UnknownNameError
from dmbot.flows.labels import normalize
from dmbot.flows.metadata import Tap
from dmbot.flows.model import Flow, Option, Step
from dmbot.flows.session import FlowSession, FlowState, LastFlow
from dmbot.flows.templates import render

log = logging.getLogger("dmbot.flows.runtime")

HELP_WORDS = ("help", "?")
RESTART_WORDS = ("restart", "start over")
DEFAULT_HELP = "You're in the middle of {flow}. Pick an option below, or say cancel to stop."
DEFAULT_STALE = "That choice belongs to a conversation that has ended."
DEFAULT_EXPIRY = 24 * 3600.0


class Labelled(Protocol):
    """An option as the person sees it: a flow's Option, or a handler's QuickReply."""

    @property
    def label(self) -> str: ...

    @property
    def description(self) -> str: ...


class Prompter(Protocol):
    """Where the runtime's words go; the engine's ``Context`` queues them as replies."""

    def say(self, text: str) -> None:
        """Send ``text``."""

    def ask(self, text: str, options: Sequence[Labelled], taps: Sequence[Tap]) -> None:
        """Send ``text`` with ``options``; each option's metadata is its tap."""


@dataclass(frozen=True, slots=True)
class FlowSetup:
    """What the runtime needs from the bot.

    Attributes:
        flows: the bot's flows, by name.
        expiry: seconds a flow may stand still before it expires.
        numbered: options travel as a numbered list in the text (X's v2
            send has no Quick Replies), so a typed number picks an option.
    """

    flows: Mapping[str, Flow] = field(default_factory=dict)
    expiry: float = DEFAULT_EXPIRY
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class Ended:
    """A flow reached an end: the bot calls its ``on_flow_end`` hooks.

    Attributes:
        flow: the flow's name.
        step: the step it was on.
        ending: the ending's name; ``"cancelled"`` on cancel, ``""`` after the last step.
        answers: the saved answers.
    """

    flow: str
    step: str
    ending: str
    answers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Stale:
    """A tap on a flow that has ended or expired.

    The bot calls its stale-reply hooks, or :meth:`Dialogue.remind` when it has none.
    """

    tap: Tap


@dataclass(frozen=True, slots=True)
class Unanswered:
    """Text no pending step took: the bot's handlers get it, then :meth:`Dialogue.resume`.

    Attributes:
        flow: the flow in progress, if any (its trigger does not restart it).
        session: the session as it was before the handlers ran.
    """

    flow: Flow | None = None
    session: FlowSession | None = None


class Dialogue:
    """The bot's flows over one conversation's flow state, for one event.

    Args:
        setup: the bot's flows and their settings.
        state: the conversation's flow state; changed in place.
        out: where questions and messages go.
        now: the event's time (seconds since the epoch).
        peer: who the conversation is with, for log lines.
    """

    def __init__(
        self, setup: FlowSetup, state: FlowState, out: Prompter, *, now: float, peer: str = ""
    ) -> None:
        self.setup = setup
        self.state = state
        self.out = out
        self.now = now
        self.peer = peer

    # -- the session ------------------------------------------------------------------
    def pending(self) -> FlowSession | None:
        """The flow in progress, or None; an expired one is ended on the way.

        A session of a flow (or step) the bot no longer has is forgotten silently.
        """
        session = self.state.flow
        if session is None:
            return None
        flow = self.setup.flows.get(session.name)
        if flow is None or not any(step.name == session.step for step in flow.steps):
            self.state.flow = None
            return None
        if self.now - session.updated > self.setup.expiry:
            log.info("flow %s expired in conversation with %s", session.name, self.peer)
            self._close(session, "expired")
            return None
        return session

    def next_prompt(self) -> int:
        """A new prompt number: every message with options takes one."""
        self.state.prompt += 1
        return self.state.prompt

    def start(self, name: str) -> None:
        """Start flow ``name``, ending any flow in progress; its first question is asked.

        Raises:
            UnknownNameError: the bot has no flow called ``name``.
        """
        flow = self.setup.flows.get(name)
        if flow is None:
            known = ", ".join(sorted(self.setup.flows)) or "none loaded"
            raise UnknownNameError(
                f"no flow named {name!r} (flows: {known}); check the name, and that "
                "bot.load_flows or bot.add_flow added it"
            )
        if self.state.flow is not None:
            self._close(self.state.flow, "replaced")
        first = flow.first
        session = FlowSession(
            name, first.name, first_prompt=self.state.prompt + 1, updated=self.now
        )
        self._ask(flow, session, first)

    def cancel(self) -> None:
        """End the flow in progress silently: no ending message, no hooks."""
        if self.state.flow is not None:
            self._close(self.state.flow, "cancelled")

    # -- incoming ---------------------------------------------------------------------
    def on_tap(self, tap: Tap) -> Ended | Stale | None:
        """A verified tap on a flow's option: advance, or revise an earlier answer."""
        session = self.pending()
        if session is None or session.name != tap.flow or tap.prompt < session.first_prompt:
            # No flow, another flow, or an option of an earlier run of this one.
            return Stale(tap)
        flow = self.setup.flows[session.name]
        step = next((s for s in flow.steps if s.name == tap.step), None)
        if step is None:
            return Stale(tap)
        option = next((o for o in step.options if o.saved == tap.value), None)
        option = option or step.option_for(tap.label)
        if option is None:
            return Stale(tap)
        revised = step.name != session.step
        if revised:
            log.info("answer to %s revised by a late tap (%s)", step.name, self.peer)
        return self._answer(flow, session, step, option.saved, option, revised=revised)

    def on_text(self, text: str, *, tapped: bool = False) -> Ended | Unanswered | None:
        """A DM that is not a flow's tap: an option typed out, an interrupt, or a text answer.

        Args:
            text: the DM's text.
            tapped: the DM is a tap on a handler's Quick Reply, so it names no
                option of the flow and answers no text step.

        Returns:
            :class:`Ended` when the flow ended, :class:`Unanswered` when the bot's
            handlers should have the text, None when the flow took it.
        """
        session = self.pending()
        if session is None:
            return Unanswered()
        flow = self.setup.flows[session.name]
        step = flow.step(session.step)
        option = None if tapped else self._typed_option(text, step)
        if option is not None and step.input == "choice":
            return self._answer(flow, session, step, option.saved, option)
        said = normalize(text)
        if said in {normalize(word) for word in flow.cancel_words}:
            return self._finish(flow, session, "cancelled")
        if said in HELP_WORDS:
            self.out.say(render(flow.help or DEFAULT_HELP, {**session.answers, "flow": flow.name}))
            self._ask(flow, session, step)
            return None
        if said in RESTART_WORDS:
            self.start(flow.name)
            return None
        if step.input == "text" and not tapped and step.accepts(text):
            return self._answer(flow, session, step, text.strip(), None)
        return Unanswered(flow, session)

    def resume(self, unanswered: Unanswered, *, handled: bool) -> None:
        """After the handlers had the text: ask the pending question again.

        Nothing is asked when the handlers started or ended a flow themselves.
        A text step whose answer no handler took says its ``retry`` first.
        """
        session = unanswered.session
        if unanswered.flow is None or session is None or self.state.flow is not session:
            return
        step = unanswered.flow.step(session.step)
        if not handled and step.input == "text":
            self.out.say(step.retry)
        self._ask(unanswered.flow, session, step)

    def remind(self) -> None:
        """The default stale reply: say the tap is stale, and ask what is pending now."""
        self.out.say(DEFAULT_STALE)
        session = self.pending()
        if session is not None:
            flow = self.setup.flows[session.name]
            self._ask(flow, session, flow.step(session.step))

    # -- moving on --------------------------------------------------------------------
    def _ask(self, flow: Flow, session: FlowSession, step: Step) -> None:
        """Send ``step``'s question with its options and make it the pending one."""
        # A question without options (a text step) takes no prompt number.
        prompt = self.next_prompt() if step.options else self.state.prompt
        taps = [Tap(flow.name, step.name, o.saved, o.label, prompt) for o in step.options]
        self.out.ask(render(step.ask, session.answers), step.options, taps)
        asked = {**session.asked, step.name: prompt}
        self.state.flow = replace(session, step=step.name, asked=asked, updated=self.now)

    def _answer(
        self,
        flow: Flow,
        session: FlowSession,
        step: Step,
        value: str,
        option: Option | None,
        *,
        revised: bool = False,
    ) -> Ended | None:
        """Save ``value`` for ``step`` and move on; after a revision skip answered steps."""
        answers = {**session.answers, step.save_as: value}
        session = replace(session, answers=answers, updated=self.now)
        self.state.flow = session
        target = flow.next_after(step.name, option)
        if revised:
            target = self._next_unanswered(flow, session, target)
        if target and not flow.is_ending(target):
            self._ask(flow, session, flow.step(target))
            return None
        return self._finish(flow, session, target)

    def _next_unanswered(self, flow: Flow, session: FlowSession, target: str) -> str:
        answers = session.answers
        seen: set[str] = set()
        while target and not flow.is_ending(target) and target not in seen:
            seen.add(target)
            step = flow.step(target)
            if step.save_as not in answers or target == session.step:
                return target
            target = flow.next_after(target, step.option_for(answers[step.save_as]))
        return target

    def _finish(self, flow: Flow, session: FlowSession, ending_name: str) -> Ended:
        """End the flow at ``ending_name`` with its message; the bot runs the hooks."""
        ending = flow.cancel_ending if ending_name == "cancelled" else flow.endings.get(ending_name)
        if ending is not None and ending.say:
            self.out.say(render(ending.say, session.answers))
        self._close(session, ending_name or "done")
        log.info("flow %s ended (%s) for %s", flow.name, ending_name or "done", self.peer)
        return Ended(flow.name, session.step, ending_name, dict(session.answers))

    def _close(self, session: FlowSession, ending: str) -> None:
        self.state.last_flow = LastFlow(session.name, ending, self.now, session.first_prompt)
        self.state.flow = None

    def _typed_option(self, text: str, step: Step) -> Option | None:
        """The pending step's option named by the text (label, value or number)."""
        number = text.strip()
        # ASCII only: "²".isdigit() is true, but int("²") raises.
        if self.setup.numbered and number.isascii() and number.isdigit() and len(number) < 4:
            index = int(number) - 1
            if 0 <= index < len(step.options):
                return step.options[index]
        return step.option_for(text)
