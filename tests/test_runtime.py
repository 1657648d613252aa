"""The flow runtime alone: a flow session, a Prompter that records, and the outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from dmbot.errors import UnknownNameError
from dmbot.flows.metadata import Tap
from dmbot.flows.model import Ending, Flow, Step
from dmbot.flows.runtime import Dialogue, Ended, FlowSetup, Labelled, Stale, Unanswered
from dmbot.flows.session import FlowSession, FlowState

ORDER = Flow(
    "order",
    [
        Step("size", "What size?", options=["Small", "Large"]),
        Step("crust", "Which crust for your {size} pizza?", options=["Thin", "Thick"]),
        Step("note", "Anything else?", input="text"),
    ],
    endings={"cancelled": Ending("cancelled", "Order cancelled.")},
)


@dataclass
class Recorder:
    """A Prompter that keeps what the runtime said."""

    said: list[str] = field(default_factory=list)
    taps: list[list[Tap]] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask(self, text: str, options: Sequence[Labelled], taps: Sequence[Tap]) -> None:
        assert [o.label for o in options] == [t.label for t in taps]
        self.said.append(text)
        self.taps.append(list(taps))


def dialogue(
    state: FlowState, now: float = 100.0, *, expiry: float = 3600.0, numbered: bool = False
) -> tuple[Dialogue, Recorder]:
    out = Recorder()
    setup = FlowSetup({"order": ORDER}, expiry=expiry, numbered=numbered)
    return Dialogue(setup, state, out, now=now), out


def test_start_asks_the_first_step_with_numbered_taps() -> None:
    state = FlowState(prompt=4)
    run, out = dialogue(state)
    run.start("order")
    assert out.said == ["What size?"]
    assert out.taps == [
        [Tap("order", "size", "Small", "Small", 5), Tap("order", "size", "Large", "Large", 5)]
    ]
    assert state.flow == FlowSession(
        "order", "size", {}, {"size": 5}, first_prompt=5, updated=100.0
    )
    assert state.prompt == 5


def test_typed_labels_and_text_answer_until_the_flow_ends() -> None:
    state = FlowState()
    run, out = dialogue(state)
    run.start("order")
    assert run.on_text("  LARGE ") is None
    assert run.on_text("thin") is None
    assert out.said[-1] == "Anything else?"
    assert state.prompt == 2  # a text step takes no prompt number
    ended = run.on_text("extra cheese")
    assert ended == Ended(
        "order", "note", "", {"size": "Large", "crust": "Thin", "note": "extra cheese"}
    )
    assert state.flow is None
    assert state.last_flow is not None and state.last_flow.ending == "done"


def test_a_late_tap_revises_and_a_tap_of_an_earlier_run_is_stale() -> None:
    state = FlowState()
    run, out = dialogue(state)
    run.start("order")
    size_taps = out.taps[0]
    run.on_tap(size_taps[0])
    assert run.on_tap(size_taps[1]) is None  # Large, while crust is pending
    assert state.flow is not None and state.flow.answers == {"size": "Large"}
    assert out.said[-1] == "Which crust for your Large pizza?"
    run.start("order")
    assert run.on_tap(size_taps[1]) == Stale(size_taps[1])
    assert state.last_flow is not None and state.last_flow.ending == "replaced"


def test_cancel_words_end_with_the_cancel_ending() -> None:
    state = FlowState()
    run, out = dialogue(state)
    run.start("order")
    assert run.on_text("Cancel") == Ended("order", "size", "cancelled", {})
    assert out.said[-1] == "Order cancelled."


def test_other_text_goes_to_the_handlers_then_the_question_is_asked_again() -> None:
    state = FlowState()
    run, out = dialogue(state)
    assert run.on_text("hello") == Unanswered()
    run.start("order")
    unanswered = run.on_text("what are your hours?")
    assert isinstance(unanswered, Unanswered) and unanswered.flow is ORDER
    run.resume(unanswered, handled=True)
    assert out.said == ["What size?", "What size?"]
    run.start("order")
    run.resume(unanswered, handled=True)  # a handler started a flow itself: nothing to re-ask
    assert out.said == ["What size?", "What size?", "What size?"]


def test_an_expired_flow_ends_and_an_unknown_step_is_forgotten() -> None:
    session = FlowSession("order", "size", updated=0.0)
    state = FlowState(flow=session)
    run, _ = dialogue(state, now=7200.0, expiry=3600.0)
    assert run.pending() is None
    assert state.last_flow is not None and state.last_flow.ending == "expired"
    state = FlowState(flow=FlowSession("order", "topping", updated=7200.0))
    run, _ = dialogue(state, now=7200.0)
    assert run.pending() is None and state.flow is None and state.last_flow is None


def test_numbered_options_are_picked_by_number() -> None:
    state = FlowState()
    run, _ = dialogue(state, numbered=True)
    run.start("order")
    run.on_text("2")
    assert state.flow is not None and state.flow.answers == {"size": "Large"}


def test_an_unknown_flow_names_the_flows_there_are() -> None:
    run, _ = dialogue(FlowState())
    with pytest.raises(UnknownNameError, match=r"no flow named 'pizza' \(flows: order\)"):
        run.start("pizza")
