"""The pizza bot through the whole pipeline: every tolerance rule of DESIGN.md §2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dmbot.emulator import Realism
from dmbot.testing import ChatTest

PIZZA = Path(__file__).resolve().parents[1] / "bots" / "pizza.py"


@pytest.fixture
async def chat() -> AsyncIterator[ChatTest]:
    async with ChatTest(PIZZA) as chat:
        yield chat


async def test_happy_path(chat: ChatTest) -> None:
    alice = chat.user("alice")
    reply = await alice.send("I want pizza")
    assert reply.options == ["Small", "Medium", "Large"]
    reply = await alice.tap("Large")
    assert "crust" in reply.text.lower()
    assert reply.options == ["Thin", "Thick"]
    reply = await alice.tap("Thin")
    assert "Large" in reply.text and "Thin" in reply.text
    assert reply.options == ["Yes", "No"]
    reply = await alice.tap("Yes")
    assert "Large" in reply.text and "Thin" in reply.text
    assert reply.options == []
    assert chat.bot.flows["order"].name == "order"


async def test_late_tap_on_size_while_crust_is_pending(chat: ChatTest) -> None:
    alice = chat.user("alice")
    size_prompt = await alice.send("pizza please")
    await alice.tap("Large")
    reply = await alice.tap("Small", of=size_prompt)
    assert "Small" in reply.text and "crust" in reply.text.lower()
    assert reply.options == ["Thin", "Thick"]
    await alice.tap("Thick")
    reply = await alice.tap("Yes")
    assert "Small" in reply.text and "Thick" in reply.text


async def test_late_tap_on_crust_after_confirmation_was_asked(chat: ChatTest) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    await alice.tap("Medium")
    crust_prompt = await alice.tap("Thin")
    crust_prompt_message = alice.replies[-2]
    assert crust_prompt.options == ["Yes", "No"]
    reply = await alice.tap("Thick", of=crust_prompt_message)
    assert reply.options == ["Yes", "No"]
    assert "Medium" in reply.text and "Thick" in reply.text
    reply = await alice.tap("Yes")
    assert "Thick" in reply.text


@pytest.mark.parametrize("typed", ["large", "  LARGE ", "Large", "lArGe"])
async def test_typed_labels_in_odd_case_and_spacing(chat: ChatTest, typed: str) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    reply = await alice.send(typed)
    assert reply.options == ["Thin", "Thick"]
    reply = await alice.send("thick")
    assert "Large" in reply.text and "Thick" in reply.text


async def test_unrelated_question_mid_flow_is_answered_then_crust_is_asked_again(
    chat: ChatTest,
) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    await alice.tap("Large")
    reply = await alice.send("when are you open?")
    assert "11:00" in reply.texts[0]
    assert "crust" in reply.text.lower()
    assert reply.options == ["Thin", "Thick"]


async def test_gibberish_mid_flow_gets_an_answer_and_the_question_again(chat: ChatTest) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    reply = await alice.send("qwerty")
    assert len(reply.messages) == 2
    assert reply.options == ["Small", "Medium", "Large"]


@pytest.mark.parametrize("step", [0, 1, 2])
async def test_cancel_at_any_point(chat: ChatTest, step: int) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    for label in ["Small", "Thin"][:step]:
        await alice.tap(label)
    reply = await alice.send("cancel")
    assert "cancel" in reply.text.lower()
    assert reply.options == []
    # The flow is over: a plain message gets the help text again.
    reply = await alice.send("hello")
    assert reply.options == ["Order pizza"]


async def test_no_cancels(chat: ChatTest) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    await alice.tap("Small")
    await alice.tap("Thin")
    reply = await alice.tap("No")
    assert "cancel" in reply.text.lower()


async def test_other_messages_get_help_with_order_pizza_which_starts_the_flow(
    chat: ChatTest,
) -> None:
    alice = chat.user("alice")
    reply = await alice.send("hello")
    assert reply.options == ["Order pizza"]
    reply = await alice.tap("Order pizza")
    assert reply.options == ["Small", "Medium", "Large"]


async def test_forged_metadata_is_never_accepted_as_a_choice(chat: ChatTest) -> None:
    alice = chat.user("alice")
    prompt = await alice.send("pizza")
    assert prompt.last is not None
    real = str(prompt.last.options[2]["metadata"])  # "Large"
    forged = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    reply = await chat.act(
        alice, lambda: chat.emulator.send(alice.id, chat.bot_id, "Small", metadata=forged)
    )
    # The tap is treated as text: "Small" is then read as the typed label, not the forged "Large".
    assert "Small" in reply.text
    assert "Large" not in reply.text
    other = await chat.act(
        alice, lambda: chat.emulator.send(alice.id, chat.bot_id, "zzz", metadata="external_id_2")
    )
    assert other.options == ["Thin", "Thick"]


async def test_stale_tap_after_the_order_ended(chat: ChatTest) -> None:
    alice = chat.user("alice")
    size_prompt = await alice.send("pizza")
    await alice.tap("Small")
    await alice.tap("Thin")
    await alice.tap("Yes")
    reply = await alice.tap("Large", of=size_prompt)
    assert "ended" in reply.text.lower()
    assert all("on its way" not in text for text in reply.texts)


async def test_stale_tap_of_an_earlier_order_does_not_change_the_new_one(chat: ChatTest) -> None:
    alice = chat.user("alice")
    old = await alice.send("pizza")
    await alice.send("cancel")
    await alice.send("pizza")
    reply = await alice.tap("Large", of=old)
    assert "ended" in reply.texts[0].lower()
    assert reply.options == ["Small", "Medium", "Large"]  # what is pending now


async def test_the_echo_of_the_bots_own_question_is_ignored(chat: ChatTest) -> None:
    alice = chat.user("alice")
    await alice.send("pizza")
    echoes = [r for r in chat.emulator.delivery_log if r.for_user_id == chat.bot_id]
    assert any(record.kind == "direct_message_events" for record in echoes)
    # The echo of "What size?" came back to the webhook and produced nothing.
    assert len(alice.replies) == 1


async def test_expired_flow_treats_taps_as_stale(tmp_path: Path) -> None:
    async with ChatTest(PIZZA, settings={"engine": {"flow_expiry": "1ms"}}) as chat:
        alice = chat.user("alice")
        await alice.send("pizza")
        reply = await alice.tap("Large")
        assert "ended" in reply.text.lower()


async def test_two_taps_in_one_burst(chat: ChatTest) -> None:
    alice = chat.user("alice")
    prompt = await alice.send("pizza")
    assert prompt.last is not None
    await chat.emulator.tap(alice.id, prompt.last, "Small")
    await chat.emulator.tap(alice.id, prompt.last, "Large")
    await chat.settle()
    crusts = [m for m in alice.replies if m.options and m.options[0]["label"] == "Thin"]
    assert crusts, "crust is asked"
    assert "Large" in crusts[-1].text
    await alice.tap("Thick")
    reply = await alice.tap("Yes")
    assert "Large" in reply.text and "Thick" in reply.text


async def test_the_same_tap_delivered_twice_counts_once(chat: ChatTest) -> None:
    alice = chat.user("alice")
    chat.realism = Realism(duplicates=True)
    await alice.send("pizza")
    reply = await alice.tap("Large")
    assert len(reply.messages) == 1
    assert reply.options == ["Thin", "Thick"]
