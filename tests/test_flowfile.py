"""Flow files: YAML into flows, and every problem reported with its file and line."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from dmbot.errors import FlowError
from dmbot.flows.file import FlowProblem, check_flow_file, load_flow_file, validate_flows
from dmbot.flows.model import Ending, Flow, Location, Option, Step, Trigger

FIXTURES = Path(__file__).parent / "flows"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Files under the current directory are named relative to it: "f.yaml:3: ...".
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(text: str, name: str = "f.yaml") -> Path:
    path = Path.cwd() / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(text: str) -> list[str]:
    return [str(p) for p in check_flow_file(write(text))]


# A valid flow; tests change one thing in it. Line 1 is "flows:".
BASE = """
flows:
  order:
    steps:
      - name: size
        ask: "What size?"
        options: [Small, Large]
      - name: crust
        ask: "Which crust for your {size} pizza?"
        options: [Thin, Thick]
    endings:
      done: "Your {size} pizza with {crust} crust is on its way!"
"""


def test_the_base_flow_is_valid() -> None:
    assert problems(BASE) == []


def test_pizza_like_loads_into_flows() -> None:
    order, feedback = load_flow_file(FIXTURES / "pizza_like.yaml")
    assert order.name == "order"
    assert [s.name for s in order.steps] == ["size", "crust", "note", "confirm"]
    assert order.trigger.matches("I want PIZZA!")
    assert order.help.startswith("I'm taking your order")
    crust = order.step("crust")
    assert crust.options[1] == Option("Thick", value="thick", description="Deep and soft")
    assert crust.option_for("THICK") == crust.options[1]
    assert order.step("note").input == "text"
    assert order.step("note").retry == "Letters only, please."
    assert order.next_after("confirm", order.step("confirm").options[1]) == "cancelled"
    assert order.endings["ordered"].say.startswith("Your {size} pizza")
    assert str(crust.where).endswith("pizza_like.yaml:10")
    assert crust.options[1].where.line == 14
    # YAML 1.1 would read these as booleans.
    assert [o.label for o in feedback.first.options] == ["Yes", "No", "On", "Off"]
    assert feedback.first.save_as == "score"
    assert feedback.cancel_words == ("never mind",)
    assert feedback.endings["thanks"].say == "Thanks! You said {score}."


def test_yaml_compiles_into_the_flow_a_python_author_would_build() -> None:
    (loaded,) = load_flow_file(
        write("""
        flows:
          order:
            trigger: {keywords: pizza}
            steps:
              - name: size
                ask: "What size?"
                options: [Small, {label: Large, value: L, goto: done}]
              - {name: note, ask: "Note?", input: text, pattern: "\\\\w+"}
            endings:
              done: {say: "Bye"}
        """)
    )
    built = Flow(
        "order",
        [
            Step(
                "size", "What size?", options=(Option("Small"), Option("Large", "L", goto="done"))
            ),
            Step("note", "Note?", input="text", pattern=r"\w+"),
        ],
        endings=[Ending("done", "Bye")],
        trigger=Trigger(keywords=("pizza",)),
    )
    assert loaded == built
    assert validate_flows([built]) == []


def test_load_raises_one_error_listing_every_problem() -> None:
    path = write(BASE.replace('ask: "What size?"', "").replace("[Thin, Thick]", "[Thin, thin]"))
    with pytest.raises(FlowError) as caught:
        load_flow_file(path)
    assert str(caught.value).splitlines() == [
        "f.yaml has 2 problems:",
        "f.yaml:4: flow order, step size: the step has no question; add ask: with the text to send",
        "f.yaml:9: flow order, step crust: the label 'thin' repeats 'Thin' (line 9) (case and"
        " spacing aside), so a typed answer cannot tell them apart; make the labels differ",
    ]


def test_one_problem_is_one_problem() -> None:
    with pytest.raises(FlowError, match=r"^f.yaml has 1 problem:\n"):
        load_flow_file(write(BASE.replace("Large]", "Large, Small]")))


def test_an_unknown_key_suggests_the_right_one() -> None:
    text = BASE.replace("  order:\n", "  order:\n    triger: {keywords: [pizza]}\n")
    assert problems(text) == ["f.yaml:3: flow order: unknown key 'triger'; did you mean 'trigger'?"]


def test_an_unknown_key_without_a_near_match_lists_the_keys() -> None:
    assert problems(BASE.replace("    endings:", "    colour: red\n    endings:")) == [
        "f.yaml:10: flow order: unknown key 'colour'; a flow takes only trigger, help, steps,"
        " endings, cancel_words, cancel: remove it or fix its spelling"
    ]


def test_a_step_without_ask_or_name_is_reported_at_the_step() -> None:
    text = BASE.replace('      - name: crust\n        ask: "Which', '      - ask: "Which')
    assert problems(text.replace('ask: "What size?"', "")) == [
        "f.yaml:4: flow order, step size: the step has no question; add ask: with the text to send",
        "f.yaml:7: flow order, step #2: the step has no name; add name: (it names the answer)",
        "f.yaml:10: flow order, ending done: {crust} names no answer: no step saves 'crust';"
        " fix the name, or add a step named 'crust' (or with save_as: crust) before this",
    ]


def test_an_option_without_a_label_is_reported_at_the_option() -> None:
    text = BASE.replace(
        "options: [Thin, Thick]", "options:\n          - Thin\n          - {value: x}"
    )
    assert problems(text) == [
        "f.yaml:11: flow order, step crust: an option has no label; add label:"
    ]


def test_an_unreachable_step_is_reported() -> None:
    text = BASE.replace("options: [Small, Large]", "options: [{label: Small, goto: done}]")
    assert problems(text.replace("{size} pizza with {crust} crust", "pizza")) == [
        "f.yaml:7: flow order, step crust: no path from the first step 'size' reaches this step;"
        " add goto: crust to an option or step before it, or remove the step"
    ]


def test_a_goto_to_nothing_names_the_fix() -> None:
    assert problems(BASE.replace("[Thin, Thick]", "[Thin, {label: Thick, goto: don}]")) == [
        "f.yaml:9: flow order, step crust: goto: 'don' names no step or ending (did you mean"
        " 'done'?); add a step named 'don' or an ending 'don', or fix the goto"
    ]


def test_a_step_goto_and_the_cancel_ending_must_exist() -> None:
    text = BASE.replace("  order:\n", "  order:\n    cancel: quit\n").replace(
        "        options: [Thin, Thick]", "        options: [Thin, Thick]\n        goto: nowhere"
    )
    assert problems(text) == [
        "f.yaml:2: flow order: cancel: 'quit' names no ending; add an ending 'quit', or fix"
        " cancel:",
        "f.yaml:8: flow order, step crust: goto: 'nowhere' names no step or ending; add a step"
        " named 'nowhere' or an ending 'nowhere', or fix the goto",
    ]


def test_a_template_naming_an_answer_no_step_saves() -> None:
    assert problems(BASE.replace("for your {size} pizza", "for your {sise} pizza")) == [
        "f.yaml:7: flow order, step crust: {sise} names no answer: no step saves 'sise'; fix the"
        " name, or add a step named 'sise' (or with save_as: sise) before this"
    ]


def test_a_template_naming_an_answer_some_path_skips() -> None:
    text = BASE.replace("options: [Small, Large]", "options: [Small, {label: Large, goto: done}]")
    assert problems(text) == [
        "f.yaml:11: flow order, ending done: {crust} may be empty here: on the path size → done"
        " no step saves 'crust' first; ask for it earlier on every path, or remove it"
    ]


def test_the_first_question_cannot_use_its_own_answer() -> None:
    assert problems(BASE.replace('"What size?"', '"What size? {size}"')) == [
        "f.yaml:4: flow order, step size: {size} may be empty here: on the path size no step"
        " saves 'size' first; ask for it earlier on every path, or remove it"
    ]


def test_help_and_the_cancel_ending_may_use_answers_saved_later() -> None:
    text = BASE.replace("  order:\n", '  order:\n    help: "Still choosing a {size} pizza?"\n')
    text += '      cancelled: "Your {crust} pizza is cancelled."\n'
    assert problems(text) == []
    assert problems(text.replace("{crust} pizza is", "{topping} pizza is")) == [
        "f.yaml:13: flow order, ending cancelled: {topping} names no answer: no step saves"
        " 'topping'; fix the name, or add a step named 'topping' (or with save_as: topping)"
        " before this"
    ]


def test_help_may_name_the_flow_but_other_texts_may_not() -> None:
    text = BASE.replace("  order:\n", '  order:\n    help: "You are in {flow}: pick a {size}."\n')
    assert problems(text) == []
    assert problems(text.replace("way!", "way! ({flow})")) == [
        "f.yaml:12: flow order, ending done: {flow} names no answer: no step saves 'flow'; fix"
        " the name, or add a step named 'flow' (or with save_as: flow) before this"
    ]


def test_help_is_measured_with_the_flow_name_filled_in() -> None:
    help_text = "{flow}" + "h" * (10_000 - len("order"))
    text = BASE.replace("  order:\n", f'  order:\n    help: "{help_text}"\n')
    assert problems(text) == []
    (problem,) = problems(text.replace('"{flow}', '"!{flow}'))
    assert problem.startswith("f.yaml:2: flow order: help can be 10,001 characters long")


def test_loops_and_save_as_do_not_confuse_the_template_rule() -> None:
    assert (
        problems("""
        flows:
          order:
            steps:
              - {name: size, ask: "Size?", options: [S, L], save_as: choice}
              - name: confirm
                ask: "{choice}, sure?"
                options: [{label: "Yes", goto: done}, {label: "No", goto: size}]
            endings:
              done: "Ordered {choice}."
        """)
        == []
    )


def test_duplicate_labels_ignore_case_and_spacing() -> None:
    assert problems(BASE.replace("[Thin, Thick]", '[Thin, Thick, " THICK "]')) == [
        "f.yaml:9: flow order, step crust: the label ' THICK ' repeats 'Thick' (line 9) (case and"
        " spacing aside), so a typed answer cannot tell them apart; make the labels differ"
    ]


def test_duplicate_step_names_are_reported_at_the_second() -> None:
    assert problems(
        BASE.replace("name: crust", "name: size").replace(" with {crust} crust", "")
    ) == ["f.yaml:7: flow order, step size: another step (line 4) has this name; rename one"]


def test_duplicate_endings_and_flows_are_reported_at_the_second() -> None:
    text = BASE + '      done: "Again"\n' + BASE.replace("flows:\n", "")
    assert problems(text) == [
        "f.yaml:12: flow order: 'done' is given twice (first on line 11); keep one, or rename it",
        "f.yaml:14: 'order' is given twice (first on line 2); keep one, or rename it",
    ]


def test_an_ending_named_like_a_step_is_ambiguous() -> None:
    assert problems(BASE + '      size: "Bye"\n') == [
        "f.yaml:12: flow order, ending size: a step (line 4) has this name too, so a goto could"
        " mean either; rename one"
    ]


def test_a_step_needs_options_or_text_input() -> None:
    assert problems(BASE.replace("        options: [Thin, Thick]\n", "")) == [
        "f.yaml:7: flow order, step crust: the step has no options and takes no text; add"
        " options:, or input: text"
    ]
    assert problems(BASE.replace("[Thin, Thick]", "[Thin, Thick]\n        input: text")) == [
        "f.yaml:7: flow order, step crust: a step with input: text cannot have options; remove"
        " one or the other"
    ]
    assert problems(BASE.replace("[Thin, Thick]", "[Thin, Thick]\n        input: voice")) == [
        "f.yaml:7: flow order, step crust: input must be 'choice' or 'text', not 'voice'; use"
        " one of those"
    ]


def test_an_invalid_regex_is_reported_with_the_reason() -> None:
    text = BASE.replace("options: [Thin, Thick]", 'input: text\n        pattern: "[a-z"')
    assert problems(text) == [
        "f.yaml:7: flow order, step crust: the pattern '[a-z' is not a valid regular expression"
        " (unterminated character set at position 0); fix it"
    ]
    trigger = BASE.replace("  order:\n", '  order:\n    trigger: {regex: "a)"}\n')
    assert problems(trigger) == [
        "f.yaml:3: flow order: the trigger regex 'a)' is not a valid regular expression"
        " (unbalanced parenthesis at position 1); fix it"
    ]


def test_a_pattern_needs_text_input() -> None:
    assert problems(BASE.replace("[Thin, Thick]", '[Thin, Thick]\n        pattern: "T.*"')) == [
        "f.yaml:7: flow order, step crust: pattern: only applies to steps with input: text; add"
        " that, or remove it"
    ]


def test_at_most_twenty_options() -> None:
    labels = ", ".join(f"o{i}" for i in range(20))
    assert problems(BASE.replace("[Thin, Thick]", f"[{labels}]")) == []
    assert problems(BASE.replace("[Thin, Thick]", f"[{labels}, o20, o21]")) == [
        "f.yaml:7: flow order, step crust: the step has 22 options but X shows at most 20;"
        " remove 2, or split the question in two"
    ]


def test_labels_of_at_most_36_characters() -> None:
    assert problems(BASE.replace("Thick]", "T" * 36 + "]")) == []
    assert problems(BASE.replace("Thick]", "T" * 37 + "]")) == [
        f"f.yaml:9: flow order, step crust: the label '{'T' * 37}' is 37 characters, over X's"
        " limit of 36; shorten the label to 36 characters"
    ]


@pytest.mark.parametrize("label", ["https://x.com", "see www.pizza", "pizza.com menu", "ftp://a"])
def test_labels_without_urls(label: str) -> None:
    assert problems(BASE.replace("Thick]", f'"{label}"]')) == [
        f"f.yaml:9: flow order, step crust: the label '{label}' contains a URL, which X refuses;"
        " remove the link"
    ]


def test_labels_that_merely_have_dots_are_fine() -> None:
    assert problems(BASE.replace("Thick]", '"Dr. Who", "v1.2", "Node.js"]')) == []


def test_descriptions_of_at_most_72_characters_on_all_options_or_none() -> None:
    described = BASE.replace(
        "options: [Thin, Thick]",
        f'options:\n          - {{label: Thin, description: "{"d" * 72}"}}\n'
        f'          - {{label: Thick, description: "{"d" * 73}"}}',
    )
    assert problems(described) == [
        "f.yaml:11: flow order, step crust: the description of 'Thick' is 73 characters, over X's"
        " limit of 72; shorten it to 72 characters"
    ]
    partly = BASE.replace("[Thin, Thick]", '[Thin, {label: Thick, description: "Soft"}]')
    assert problems(partly) == [
        "f.yaml:7: flow order, step crust: X needs a description on every option or on none; add"
        " one to 'Thin', or remove the others"
    ]


def test_metadata_of_at_most_1000_characters() -> None:
    text = BASE.replace("[Thin, Thick]", '[Thin, {label: Thick, value: "%s"}]' % ("v" * 800))
    assert problems(text) == [
        "f.yaml:9: flow order, step crust: the Quick Reply metadata of 'Thick' would be 1,136"
        " characters, over X's limit of 1,000; shorten its value (or the flow or step name)"
    ]


def test_texts_of_at_most_10000_characters() -> None:
    long = BASE.replace('"What size?"', '"%s"' % ("w" * 10_001))
    assert problems(long) == [
        "f.yaml:4: flow order, step size: ask can be 10,001 characters long, over X's limit of"
        " 10,000; shorten it"
    ]


def test_texts_are_measured_with_answers_filled_in() -> None:
    text = BASE.replace("options: [Thin, Thick]", "input: text")
    ok = text.replace("its way!", "its way! " + "{crust}" * 34)
    assert problems(ok) == []
    too_long = text.replace("its way!", "its way! " + "{crust}" * 35)
    (problem,) = problems(too_long)
    assert problem.startswith("f.yaml:11: flow order, ending done: say can be 10,")
    assert "with answers filled in (typed ones as 280), over X's limit of 10,000" in problem


def test_a_lone_brace_asks_for_doubling() -> None:
    assert problems(BASE.replace("its way!", "its way! }")) == [
        "f.yaml:11: flow order, ending done: say has a lone '}' at character 53; write '}}' for a"
        " literal brace, or complete the {name} placeholder"
    ]
    assert problems(BASE.replace("its way!", "its {{way}}!")) == []


def test_wrong_shapes_say_what_was_expected() -> None:
    assert problems(BASE.replace("options: [Thin, Thick]", "options: Thin")) == [
        "f.yaml:7: flow order, step crust: the step has no options and takes no text; add"
        " options:, or input: text",
        "f.yaml:9: flow order, step crust: options must be a list, not the text 'Thin'; write"
        " options: [a, b]",
    ]
    assert problems(BASE.replace("  order:\n", "  order:\n    help: [a, b]\n")) == [
        "f.yaml:3: flow order: help must be text, not a list; quote it"
    ]
    steps = BASE.replace("    steps:\n", "    steps:\n      - just text\n")
    assert problems(steps) == [
        "f.yaml:4: flow order, step #1: a step must be a mapping; write it as '- name: ...' lines"
    ]


def test_yes_and_no_stay_labels() -> None:
    (flow,) = load_flow_file(write(BASE.replace("[Thin, Thick]", "[Yes, No, on, OFF, y, n]")))
    assert [o.label for o in flow.step("crust").options] == ["Yes", "No", "on", "OFF", "y", "n"]


def test_booleans_are_yaml_1_2s_and_labels_keep_their_spelling() -> None:
    (flow,) = load_flow_file(write(BASE.replace("[Thin, Thick]", "[true, FALSE, yes]")))

    assert [o.label for o in flow.step("crust").options] == ["true", "FALSE", "yes"]


def test_problems_keep_their_line_next_to_yes_and_no() -> None:
    text = BASE.replace("[Thin, Thick]", "[Yes, No]\n        colour: on")
    assert problems(text) == [
        "f.yaml:10: flow order, step crust: unknown key 'colour'; a step takes only name, ask,"
        " options, input, pattern, retry, save_as, goto: remove it or fix its spelling"
    ]


def test_yaml_syntax_errors_have_a_line() -> None:
    (problem,) = check_flow_file(write(BASE.replace('ask: "What size?"', 'ask: "What size?')))
    assert problem.where.line > 0
    assert str(problem).startswith(f"f.yaml:{problem.where.line}: this is not valid YAML (")


def test_files_that_are_missing_empty_or_flowless() -> None:
    assert [str(p) for p in check_flow_file("missing.yaml")] == [
        "missing.yaml: the file does not exist; check the path"
    ]
    assert problems("") == ["f.yaml:1: the file is empty; add flows: with at least one flow"]
    assert problems("flows:\n") == [
        "f.yaml:1: the file defines no flows; add flows: with at least one flow"
    ]
    assert problems("- a\n") == [
        "f.yaml:1: the file must be a mapping of keys to values, not a list"
    ]
    assert problems("flows:\n  order:\n") == [
        "f.yaml:2: flow order: the flow has no steps; add steps: with at least one"
    ]


def test_files_outside_the_current_directory_keep_their_path(tmp_path: Path) -> None:
    path = write(BASE.replace("Large]", "Large, large]"))
    with pytest.raises(FlowError) as caught:
        load_flow_file("../" + tmp_path.name + "/f.yaml")
    assert str(caught.value).startswith(f"../{tmp_path.name}/f.yaml has 1 problem:")
    assert str(caught.value).splitlines()[1].startswith(f"../{tmp_path.name}/f.yaml:6: ")
    assert path.exists()


def test_python_built_flows_are_checked_by_the_same_rules() -> None:
    flows = [
        Flow("order", [Step("size", "What {size}?", options=(Option("S"), Option("S")))]),
        Flow("order", [Step("x", "?", input="text", goto="nowhere")]),
    ]
    assert [str(p) for p in validate_flows(flows)] == [
        "flow order, step size: the label 'S' repeats 'S' (case and spacing aside), so a typed"
        " answer cannot tell them apart; make the labels differ",
        "flow order, step size: {size} may be empty here: on the path size no step saves 'size'"
        " first; ask for it earlier on every path, or remove it",
        "flow order: another flow has this name; rename one",
        "flow order, step x: goto: 'nowhere' names no step or ending; add a step named 'nowhere'"
        " or an ending 'nowhere', or fix the goto",
    ]


def test_problems_read_as_file_line_flow_step_message() -> None:
    problem = FlowProblem(Location("pizza.yaml", 14), "order", "crust", "it is wrong; fix it")
    assert str(problem) == "pizza.yaml:14: flow order, step crust: it is wrong; fix it"
    assert str(FlowProblem(Location(), "", "", "bad")) == "bad"


def test_broken_yaml_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "broken.yaml", tmp_path / "broken.yaml")
    found = [
        (p.where.line, p.flow, p.step or p.ending, p.message)
        for p in check_flow_file("broken.yaml")
    ]
    expected = [
        (4, "order", "", "cancel: 'abandoned' names no ending"),
        (5, "order", "", "the trigger regex 'pizza(' is not a valid regular expression"),
        (6, "order", "", "help must be text, not a list"),
        (11, "order", "size", "unknown key 'optons'; did you mean 'options'?"),
        (12, "order", "size", "the label ' small ' repeats 'Small'"),
        (13, "order", "crust", "the step has no question"),
        (15, "order", "#3", "the step has no name"),
        (17, "order", "drink", "the step has no options and takes no text"),
        (19, "order", "phone", "the pattern '[0-9+' is not a valid regular expression"),
        (23, "order", "style", "input must be 'choice' or 'text', not 'voice'"),
        (26, "order", "extras", "a step with input: text cannot have options"),
        (30, "order", "toppings", "pattern: only applies to steps with input: text"),
        (34, "order", "size", "another step (line 9) has this name"),
        (38, "order", "done", "say has a lone '{'"),
        (39, "order", "", "'done' is given twice (first on line 38)"),
        (47, "paths", "start", "goto: 'beam' names no step or ending"),
        (51, "paths", "confirm", "{address} may be empty here: on the path start → confirm"),
        (56, "paths", "orphan", "no path from the first step 'start' reaches this step"),
        (60, "paths", "done", "{name} names no answer: no step saves 'name'"),
        (61, "paths", "confirm", "a step (line 51) has this name too"),
        (64, "limits", "pick", "X needs a description on every option or on none"),
        (67, "limits", "pick", "is 43 characters, over X's limit of 36"),
        (69, "limits", "pick", "the label 'See example.com' contains a URL"),
        (71, "limits", "pick", "the description of 'Third' is 73 characters"),
        (73, "limits", "pick", "an option has no label"),
        (75, "limits", "many", "the step has 21 options but X shows at most 20"),
        (81, "limits", "big", "the Quick Reply metadata of 'Huge' would be 1,133 characters"),
        (82, "limits", "echo", "ask can be 10,400 characters long with answers filled in"),
        (85, "empty", "", "the flow has no steps"),
        (87, "", "", "'empty' is given twice (first on line 85)"),
    ]
    assert [(line, flow, where) for line, flow, where, _ in found] == [
        (line, flow, where) for line, flow, where, _ in expected
    ]
    for (_, _, _, message), (_, _, _, start) in zip(found, expected, strict=True):
        assert start in message
        assert ";" in message  # every message says how to fix it
