"""The bot API a script author uses: registration, routing, ctx, flows in Python."""

from __future__ import annotations

import re

import pytest

from dmbot import Bot, Context, DmbotError, Ending, Flow, LimitError, Option, Step, Trigger
from dmbot.engine.routing import Incoming, OverlapClassifier
from dmbot.errors import UnknownNameError
from dmbot.flows.labels import contains_keyword
from dmbot.testing import ChatTest


def test_decorators_return_the_function_unchanged() -> None:
    bot = Bot()

    def handler(ctx: Context) -> None:
        pass

    for decorator in (
        bot.on_message("hi"),
        bot.on_message(regex=r"\d+"),
        bot.on_quick_reply("Yes"),
        bot.on_event("follow"),
        bot.intent("greet", examples=["hello there"]),
        bot.on_flow_end("order"),
    ):
        assert decorator(handler) is handler
    assert bot.fallback(handler) is handler
    assert bot.on_error(handler) is handler
    assert bot.on_stale_reply(handler) is handler


def test_keywords_match_whole_words_case_insensitively() -> None:
    assert contains_keyword("I want PIZZA!", "pizza")
    assert contains_keyword("order a large pizza now", "large pizza")
    assert not contains_keyword("pizzas", "pizza")
    assert not contains_keyword("", "pizza")


def test_overlap_classifier_names_the_closest_intent() -> None:
    from dmbot.engine.routing import Intent

    intents = [
        Intent("hours", ("when are you open", "opening hours")),
        Intent("price", ("how much is a pizza", "what does it cost")),
    ]
    classifier = OverlapClassifier()
    assert classifier.classify("When are you open today?", intents) == (
        "hours",
        pytest.approx(1.0, abs=0.2),
    )
    found = classifier.classify("how much does a large pizza cost", intents)
    assert found is not None and found[0] == "price"
    assert classifier.classify("purple elephants", intents) is None


async def test_routing_order_and_first_match_wins() -> None:
    bot = Bot()
    bot.add_intent("thanks", ["thank you", "thanks a lot"])

    @bot.on_message("hello", "hi")
    async def greet(ctx: Context) -> None:
        await ctx.reply(f"Hello {ctx.user.screen_name}!")

    @bot.on_message(regex=r"^\d{5}$")
    def zip_code(ctx: Context) -> None:  # sync handlers run in a thread
        ctx.reply(f"zip {ctx.text}")

    @bot.on_message(when=lambda text: text.endswith("?"))
    async def question(ctx: Context) -> None:
        await ctx.reply("Good question.")

    @bot.intent("bye", examples=["goodbye", "see you later"])
    async def bye(ctx: Context) -> None:
        await ctx.reply("Bye!")

    @bot.fallback
    async def other(ctx: Context) -> None:
        await ctx.reply("?", quick_replies=["Help", {"label": "Menu", "value": "menu"}])

    @bot.on_quick_reply("menu")
    async def menu(ctx: Context) -> None:
        await ctx.reply("Here is the menu.")

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        assert (await alice.send("Hi there")).text == "Hello alice!"
        assert (await alice.send("12345")).text == "zip 12345"
        assert (await alice.send("is it raining?")).text == "Good question."
        assert (await alice.send("ok goodbye")).text == "Bye!"
        reply = await alice.send("blah")
        assert reply.options == ["Help", "Menu"]
        assert (await alice.tap("Menu")).text == "Here is the menu."
        # Typed instead of tapped.
        assert (await alice.send("  MENU ")).text == "Here is the menu."


async def test_ctx_exposes_user_account_event_and_state() -> None:
    bot = Bot()
    seen: list[tuple[str, str, str, str]] = []

    @bot.on_message()
    async def remember(ctx: Context) -> None:
        seen.append((ctx.user.id, ctx.user.screen_name, ctx.account.id, ctx.event.kind))
        ctx.state["count"] = ctx.state.get("count", 0) + 1
        await ctx.typing()
        await ctx.mark_read()
        await ctx.reply(
            f"message {ctx.state['count']}",
            buttons=[("Website", "https://example.com")],
        )

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        await alice.send("one")
        reply = await alice.send("two")
        assert reply.text == "message 2"
        assert reply.buttons == [("Website", "https://example.com")]
        assert seen[0] == (alice.id, "alice", chat.bot_id, "message")
        kinds = {indicator.kind for indicator in chat.emulator.indicators}
        assert {"typing", "read"} <= kinds


@pytest.mark.parametrize(
    ("kwargs", "limit"),
    [
        ({"quick_replies": [str(i) for i in range(21)]}, "at most 20"),
        ({"quick_replies": ["x" * 37]}, "at most 36"),
        ({"quick_replies": ["see https://example.com"]}, "URL"),
        ({"buttons": [("a", "ftp://example.com")]}, "http"),
        ({"buttons": [("a", "https://a.example")] * 4}, "at most 3"),
    ],
)
def test_reply_checks_x_limits_when_called(kwargs: dict[str, object], limit: str) -> None:
    from dmbot.edge.events import DirectMessage, User

    async def scenario() -> None:
        ctx = Context(
            event=DirectMessage(id="1", sender_id="2", text="hi"),
            account=User("1"),
            user=User("2"),
            now=0.0,
        )
        with pytest.raises(LimitError, match=limit):
            ctx.reply("hello", **kwargs)  # type: ignore[arg-type]
        assert ctx.actions == []

    import asyncio

    asyncio.run(scenario())


def test_text_over_10000_characters_is_refused() -> None:
    import asyncio

    from dmbot.edge.events import DirectMessage, User

    async def scenario() -> None:
        ctx = Context(
            event=DirectMessage(id="1", sender_id="2", text="hi"),
            account=User("1"),
            user=User("2"),
            now=0.0,
        )
        with pytest.raises(LimitError, match="10000"):
            ctx.reply("x" * 10_001)

    asyncio.run(scenario())


def survey_flow() -> Flow:
    return Flow(
        "survey",
        steps=[
            Step("color", "Favourite colour?", options=["Red", "Blue"]),
            Step(
                "email",
                "Your email, {color} fan?",
                input="text",
                pattern=r"[^@\s]+@[^@\s]+\.\w+",
                retry="That does not look like an email address.",
                goto="done",
            ),
        ],
        endings={"done": Ending("done", "Thanks! {color}, {email}.")},
        trigger=Trigger(keywords=("survey",)),
    )


async def test_flows_built_in_python_with_text_input_and_hooks() -> None:
    bot = Bot()
    bot.add_flow(survey_flow())
    finished: list[dict[str, str]] = []

    @bot.on_flow_end("survey")
    async def done(ctx: Context, answers: dict[str, str]) -> None:
        assert ctx.flow is not None and ctx.flow.ending == "done"
        finished.append(answers)

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        reply = await alice.send("survey please")
        assert reply.options == ["Red", "Blue"]
        reply = await alice.tap("Blue")
        assert reply.text == "Your email, Blue fan?"
        reply = await alice.send("not an email")
        assert reply.texts[0] == "That does not look like an email address."
        assert reply.text == "Your email, Blue fan?"
        reply = await alice.send("alice@example.com")
        assert reply.text == "Thanks! Blue, alice@example.com."
        assert finished == [{"color": "Blue", "email": "alice@example.com"}]


async def test_start_flow_cancel_flow_and_ctx_flow_from_handlers() -> None:
    bot = Bot()
    bot.add_flow(survey_flow())
    states: list[str] = []

    @bot.on_message("begin")
    async def begin(ctx: Context) -> None:
        await ctx.start_flow("survey")

    @bot.on_message("status")
    async def status(ctx: Context) -> None:
        states.append(f"{ctx.flow.name}/{ctx.flow.step}" if ctx.flow else "none")
        await ctx.reply("noted")

    @bot.on_message("stop it")
    async def stop(ctx: Context) -> None:
        await ctx.cancel_flow()
        await ctx.reply("Stopped.")

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        assert (await alice.send("begin")).options == ["Red", "Blue"]
        reply = await alice.send("status")
        assert reply.texts[0] == "noted" and reply.options == ["Red", "Blue"]
        reply = await alice.send("stop it")
        assert reply.texts == ["Stopped."]
        await alice.send("status")
        assert states == ["survey/color", "none"]


async def test_custom_stale_reply_hook() -> None:
    bot = Bot()
    bot.add_flow(survey_flow())

    @bot.on_stale_reply
    async def stale(ctx: Context) -> None:
        await ctx.reply(f"Old button ({ctx.tap.label if ctx.tap else '?'}).")

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        first = await alice.send("survey")
        await alice.send("cancel")
        reply = await alice.tap("Red", of=first)
        assert reply.texts == ["Old button (Red)."]


async def test_numbered_options_when_sending_through_v2() -> None:
    bot = Bot(options_as_text=True)
    bot.add_flow(survey_flow())
    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        reply = await alice.send("survey")
        assert reply.options == []
        assert reply.text.endswith("1. Red\n2. Blue")
        reply = await alice.send("2")
        assert reply.text == "Your email, Blue fan?"


async def test_handler_error_runs_on_error_and_keeps_state() -> None:
    bot = Bot()

    @bot.on_message("count")
    async def count(ctx: Context) -> None:
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        await ctx.reply(str(ctx.state["n"]))

    @bot.on_message("crash")
    async def crash(ctx: Context) -> None:
        ctx.state["n"] = 100
        raise RuntimeError("boom")

    @bot.on_error
    async def report(ctx: Context) -> None:
        await ctx.reply(f"Oops: {ctx.error}")

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        await alice.send("count")
        assert (await alice.send("crash")).text == "Oops: boom"
        assert (await alice.send("count")).text == "2"


def test_unknown_intent_and_flow_are_clear_errors() -> None:
    bot = Bot()
    with pytest.raises(KeyError, match="add_intent"):
        bot.add_handler(lambda ctx: None, intent="nope")


def test_an_unknown_intent_is_a_dmbot_error_that_says_how_to_declare_it() -> None:
    bot = Bot()
    bot.add_intent("greet", ["hello"])
    with pytest.raises(UnknownNameError) as caught:
        bot.add_handler(lambda ctx: None, intent="order")
    assert isinstance(caught.value, DmbotError)
    assert str(caught.value) == (
        "no intent named 'order' (intents: greet); declare it first "
        "with bot.add_intent('order', [example phrases])"
    )


async def test_starting_an_unknown_flow_is_a_dmbot_error_naming_the_flows() -> None:
    bot = Bot()
    bot.add_flow(survey_flow())

    @bot.on_message("go")
    async def go(ctx: Context) -> None:
        await ctx.start_flow("surveys")

    @bot.on_error
    async def report(ctx: Context) -> None:
        assert isinstance(ctx.error, UnknownNameError)
        await ctx.reply(str(ctx.error))

    async with ChatTest(bot) as chat:
        reply = await chat.user("alice").send("go")
        assert reply.text.startswith("no flow named 'surveys' (flows: survey); check the name")


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"quick_replies": [{"value": "v"}]}, "has no label"),
        ({"buttons": [{"label": "Map"}]}, "needs a label and a url"),
        ({"buttons": [("Map",)]}, r"\(label, url\) pair"),
    ],
)
async def test_malformed_options_and_buttons_are_limit_errors(
    item: dict[str, object], problem: str
) -> None:
    from dmbot.edge.events import DirectMessage, User

    ctx = Context(
        event=DirectMessage(id="1", sender_id="2", text="hi"),
        account=User("1"),
        user=User("2"),
        now=0.0,
    )
    with pytest.raises(LimitError, match=problem):
        ctx.reply("hello", **item)  # type: ignore[arg-type]


def test_regex_may_be_precompiled() -> None:
    bot = Bot()
    bot.on_message(regex=re.compile("ab+c"))(lambda ctx: None)
    route = bot._messages[0]
    assert route.matcher(Incoming("message", "xxabbbcxx"))
    assert not route.matcher(Incoming("message", "ac"))


def test_option_objects_and_plain_labels_compile_alike() -> None:
    assert Step("s", "q", options=["A"]).options == (Option("A"),)


async def test_a_handler_with_its_own_quick_replies_mid_flow_still_gets_the_question_again() -> (
    None
):
    bot = Bot()
    bot.add_flow(survey_flow())

    @bot.on_message("menu")
    async def menu(ctx: Context) -> None:
        await ctx.reply("Our menu:", quick_replies=["Coffee", "Tea"])

    async with ChatTest(bot) as chat:
        alice = chat.user("alice")
        await alice.send("survey")
        reply = await alice.send("menu")
        assert reply.texts == ["Our menu:", "Favourite colour?"]
        assert reply.options == ["Red", "Blue"]
        reply = await alice.tap("Blue")
        assert reply.text == "Your email, Blue fan?"
