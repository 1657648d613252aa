"""The flow model: what a Python author builds, and what the runtime asks of it."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError, replace

import pytest

from dmbot.errors import DmbotError, FlowError, UnknownNameError
from dmbot.flows.model import (
    Ending,
    Endings,
    Flow,
    Location,
    Option,
    Step,
    Trigger,
)
from dmbot.flows.templates import placeholders, render, stray_braces


def pizza() -> Flow:
    return Flow(
        "order",
        (
            Step("size", "What size?", options=(Option("Small"), Option("Large", value="L"))),
            Step("crust", "Which crust for your {size} pizza?", options=(Option("Thin"),)),
            Step(
                "confirm",
                "A {size} pizza with {crust} crust?",
                options=(Option("Yes", goto="ordered"), Option("No", goto="cancelled")),
            ),
            Step("note", "Anything else?", input="text", goto="ordered"),
        ),
        endings=(Ending("ordered", "On its way!"), Ending("cancelled", "Order cancelled.")),
        trigger=Trigger(keywords=("pizza",)),
    )


def test_location_reads_as_file_and_line() -> None:
    assert str(Location("pizza.yaml", 12)) == "pizza.yaml:12"
    assert str(Location()) == ""
    assert str(Location("pizza.yaml")) == "pizza.yaml"


def test_an_option_saves_its_value_or_else_its_label() -> None:
    assert Option("Large").saved == "Large"
    assert Option("Large", value="L").saved == "L"


def test_a_step_saves_under_its_name_and_has_a_default_retry() -> None:
    step = Step("size", "What size?", options=(Option("Small"),))
    assert step.save_as == "size"
    assert step.input == "choice"
    assert step.retry == "Sorry, I didn't get that."
    assert Step("size", "?", save_as="dimension").save_as == "dimension"


def test_a_step_takes_plain_labels_and_lists_and_stays_hashable() -> None:
    step = Step("size", "What size?", options=["Small", Option("Large")])  # type: ignore[arg-type]
    assert step.options == (Option("Small"), Option("Large"))
    assert hash(step) == hash(
        Step("size", "What size?", options=(Option("Small"), Option("Large")))
    )
    with pytest.raises(FrozenInstanceError):
        step.ask = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("typed", ["Large", "  large ", "LARGE", "large", "lArGe\n"])
def test_a_typed_label_finds_its_option_whatever_the_case_and_spacing(typed: str) -> None:
    step = Step("size", "?", options=(Option("Small"), Option("Large")))
    assert step.option_for(typed) == Option("Large")


def test_inner_spacing_is_collapsed_and_values_match_too() -> None:
    step = Step("size", "?", options=(Option("Extra Large", value="XL"), Option("Small")))
    assert step.option_for("extra    large") == step.options[0]
    assert step.option_for(" xl ") == step.options[0]
    assert step.option_for("medium") is None
    assert step.option_for("   ") is None


def test_a_label_wins_over_another_options_value() -> None:
    step = Step("pick", "?", options=(Option("A", value="b"), Option("B")))
    assert step.option_for("b") == Option("B")


def test_a_text_step_accepts_what_fully_matches_its_pattern() -> None:
    step = Step("age", "How old?", input="text", pattern=r"\d{1,3}")
    assert step.accepts("42")
    assert step.accepts(" 42 ")
    assert not step.accepts("42 years")
    assert not step.accepts("")
    free = Step("note", "Anything else?", input="text")
    assert free.accepts("no thanks")
    assert not free.accepts("   ")


def test_a_choice_step_accepts_its_labels_only() -> None:
    step = Step("size", "?", options=(Option("Small"),))
    assert step.accepts("small")
    assert not step.accepts("huge")


def test_an_invalid_pattern_is_a_flow_error_naming_it() -> None:
    step = Step("age", "How old?", input="text", pattern="[0-9")
    with pytest.raises(FlowError, match=r"'\[0-9' is not a valid regular expression"):
        step.accepts("1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want PIZZA!", True),
        ("pizza", True),
        ("pizza-time", True),
        ("pizzas please", False),
        ("apizza", False),
        ("hello", False),
        ("", False),
    ],
)
def test_keywords_match_whole_words_anywhere_ignoring_case(text: str, expected: bool) -> None:
    assert Trigger(keywords=("pizza",)).matches(text) is expected


def test_keywords_of_several_words_allow_any_spacing() -> None:
    trigger = Trigger(keywords=("order pizza", "menu"))
    assert trigger.matches("I'd like to ORDER   pizza now")
    assert trigger.matches("the menu?")
    assert not trigger.matches("pizza order")


def test_a_single_keyword_string_is_one_keyword_not_letters() -> None:
    trigger = Trigger(keywords="pizza")  # type: ignore[arg-type]
    assert trigger.keywords == ("pizza",)
    assert not trigger.matches("a")


def test_a_regex_trigger_searches_ignoring_case_and_intents_are_left_to_the_runtime() -> None:
    assert Trigger(regex=r"feed ?back").matches("Some FEEDBACK for you")
    assert not Trigger(regex=r"^feedback$").matches("my feedback")
    assert not Trigger(intent="order").matches("order")
    assert not Trigger().matches("anything")


def test_steps_are_found_by_name_and_position() -> None:
    flow = pizza()
    assert flow.first.name == "size"
    assert flow.step("crust").ask.startswith("Which crust")
    assert flow.index("confirm") == 2
    with pytest.raises(KeyError, match="no step 'topping'"):
        flow.step("topping")


def test_unknown_steps_and_endings_are_dmbot_errors_listing_the_names() -> None:
    flow = pizza()
    with pytest.raises(UnknownNameError) as caught:
        flow.step("topping")
    assert isinstance(caught.value, DmbotError)
    assert str(caught.value) == (
        "flow 'order' has no step 'topping' (steps: size, crust, confirm, note); check the name"
    )
    with pytest.raises(UnknownNameError, match=r"no ending named 'nope' \(endings: "):
        _ = flow.endings["nope"]
    assert "nope" not in flow.endings
    assert flow.endings.get("nope") is None


def test_a_flow_without_steps_has_no_first_step() -> None:
    with pytest.raises(FlowError, match="has no steps"):
        _ = Flow("empty", ()).first


def test_next_after_follows_option_goto_then_step_goto_then_order() -> None:
    flow = pizza()
    size = flow.step("size")
    assert flow.next_after("size", size.options[0]) == "crust"
    assert flow.next_after("confirm", Option("Yes", goto="ordered")) == "ordered"
    assert flow.next_after("crust", None) == "confirm"
    assert flow.next_after("note", None) == "ordered"
    last = Flow("f", (Step("a", "?", options=(Option("x"),)),))
    assert last.next_after("a", last.first.options[0]) == ""


def test_a_step_goto_is_the_default_for_its_options() -> None:
    flow = Flow(
        "f",
        (
            Step("a", "?", options=(Option("x"), Option("y", goto="b")), goto="c"),
            Step("b", "?", options=(Option("z"),)),
            Step("c", "?", options=(Option("z"),)),
        ),
    )
    assert flow.next_after("a", Option("x")) == "c"
    assert flow.next_after("a", Option("y", goto="b")) == "b"


def test_endings_are_a_read_only_mapping_by_name() -> None:
    flow = pizza()
    assert flow.is_ending("ordered")
    assert not flow.is_ending("size")
    assert list(flow.endings) == ["ordered", "cancelled"]
    assert flow.endings["cancelled"].say == "Order cancelled."
    assert len(flow.endings) == 2
    assert flow.endings == {
        "ordered": Ending("ordered", "On its way!"),
        "cancelled": Ending("cancelled", "Order cancelled."),
    }
    with pytest.raises(TypeError):
        flow.endings["new"] = Ending("new")  # type: ignore[index]


def test_endings_may_be_given_as_a_mapping_of_texts() -> None:
    endings: dict[str, Ending | str] = {"done": "Thanks!", "bye": Ending("other", "Bye")}
    flow = Flow("f", (), endings=endings)
    assert flow.endings["done"] == Ending("done", "Thanks!")
    assert flow.endings["bye"] == Ending("bye", "Bye")


def test_duplicate_endings_are_kept_for_validation_and_the_first_one_wins() -> None:
    endings = Endings([Ending("done", "one"), Ending("done", "two")])
    assert endings["done"].say == "one"
    assert len(endings) == 1
    assert [e.say for e in endings.all] == ["one", "two"]


def test_flows_are_hashable_values_whatever_their_location() -> None:
    here = Flow("f", (Step("a", "?", options=(Option("x"),)),), where=Location("a.yaml", 3))
    there = Flow("f", (Step("a", "?", options=(Option("x"),)),), where=Location("b.yaml", 9))
    assert here == there
    assert hash(here) == hash(there)
    assert {here, there} == {here}
    assert Flow("f", ()) != Flow("g", ())
    renamed = replace(here, name="g")
    assert (renamed.name, renamed.steps, renamed.endings) == ("g", here.steps, here.endings)


def test_the_cancel_ending_is_named_or_cancelled_or_built_in() -> None:
    assert pizza().cancel_ending.say == "Order cancelled."
    named = Flow("f", (), endings={"bye": "Bye then.", "cancelled": "x"}, cancel="bye")
    assert named.cancel_ending.say == "Bye then."
    assert Flow("f", ()).cancel_ending.say == "Cancelled."
    assert pizza().cancel_words == ("cancel", "stop")


def test_render_fills_answers_and_leaves_missing_ones_empty() -> None:
    answers = {"size": "Large", "crust": "Thin"}
    assert render("A {size} pizza, {crust} crust", answers) == "A Large pizza, Thin crust"
    assert render("Your {missing}order", answers) == "Your order"
    assert render("{ size }!", answers) == "Large!"


def test_render_escapes_double_braces_and_keeps_stray_ones() -> None:
    assert render("{{size}} is {size}", {"size": "L"}) == "{size} is L"
    assert render("set {x}}}", {"x": "1"}) == "set 1}"
    assert render("a { b c } d {", {}) == "a { b c } d {"
    assert render("{-} {9}", {"9": "nine"}) == "{-} {9}"
    assert render("", {}) == ""


def test_render_inserts_user_text_verbatim() -> None:
    typed = "{size} {{ } {0} %s {!r}"
    assert render("You said: {note}", {"note": typed, "size": "L"}) == f"You said: {typed}"


def test_render_never_raises_on_random_templates_and_answers() -> None:
    rng = random.Random(7)
    alphabet = "{}ab _.-0é\n"
    for _ in range(2000):
        template = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        answers = {"a": "".join(rng.choice(alphabet) for _ in range(5)), "b": "x"}
        out = render(template, answers)
        if "{" not in template and "}" not in template:
            assert out == template
        else:
            assert len(render(template, {})) <= len(template)


def test_placeholders_and_stray_braces_are_reported_in_order() -> None:
    assert placeholders("{b} {a} {b} {{c}}") == ("b", "a")
    assert stray_braces("ok {a} {{ }} fine") == ()
    assert stray_braces("{a} oops {-} and }") == (9, 11, 17)
