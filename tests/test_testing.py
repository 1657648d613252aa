"""ChatTest, the test kit bot authors use: it must tell the truth about the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmbot import Bot, Context
from dmbot.testing import ChatTest, Realism

PIZZA = Path(__file__).resolve().parents[1] / "bots" / "pizza.py"


async def test_the_documented_example() -> None:
    async with ChatTest(PIZZA) as chat:
        alice = chat.user("alice")
        reply = await alice.send("I want pizza")
        assert reply.options == ["Small", "Medium", "Large"]
        reply = await alice.tap("Large")
        assert "crust" in reply.text.lower()


async def test_late_tap_with_of() -> None:
    async with ChatTest(PIZZA) as chat:
        alice = chat.user("alice")
        sizes = await alice.send("pizza")
        await alice.tap("Small")
        reply = await alice.tap("Medium", of=sizes)
        assert "Medium" in reply.text
        assert alice.options == ["Thin", "Thick"]
        assert len(alice.replies) == 3


async def test_tapping_an_option_that_was_never_offered_is_a_clear_error() -> None:
    async with ChatTest(PIZZA) as chat:
        alice = chat.user("alice")
        await alice.send("pizza")
        with pytest.raises(LookupError, match="Huge"):
            await alice.tap("Huge")


@pytest.mark.parametrize(
    "realism",
    [
        Realism(duplicates=True),
        Realism(out_of_order=True),
        Realism(drop_metadata=True),
        Realism(typing_events=True, read_events=True),
        Realism(duplicates=True, drop_metadata=True, typing_events=True),
    ],
    ids=["duplicates", "out-of-order", "no-metadata", "typing-read", "all"],
)
async def test_pizza_order_survives_each_realism_switch(realism: Realism) -> None:
    async with ChatTest(PIZZA, realism=realism) as chat:
        alice = chat.user("alice")
        await alice.send("pizza")
        await alice.tap("Large")
        await alice.tap("Thick")
        reply = await alice.tap("Yes")
        assert reply.texts == ["Your Large pizza with Thick crust is on its way!"]
        # Every bot message was sent once: duplicates and echoes never produced a reply.
        assert [m.text for m in alice.replies] == [
            "What size would you like?",
            "Which crust for your Large pizza?",
            "A Large pizza with Thick crust?",
            "Your Large pizza with Thick crust is on its way!",
        ]


async def test_echoes_reach_the_webhook_and_are_ignored() -> None:
    bot = Bot()

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(ctx.text)

    async with ChatTest(bot, realism=Realism(duplicates=True)) as chat:
        alice = chat.user("alice")
        reply = await alice.send("hello")
        assert reply.texts == ["hello"]
        echoes = [r for r in chat.emulator.delivery_log if r.for_user_id == chat.bot_id]
        # The user's DM (twice) and the bot's own echo (twice) were all delivered.
        assert len(echoes) >= 4


async def test_several_users_are_separate_conversations() -> None:
    async with ChatTest(PIZZA) as chat:
        alice, bob = chat.user("alice"), chat.user("bob")
        await alice.send("pizza")
        reply = await bob.send("hello")
        assert reply.options == ["Order pizza"]
        reply = await alice.tap("Small")
        assert "Small" in reply.text


async def test_sqlite_store_works_too(tmp_path: Path) -> None:
    async with ChatTest(PIZZA, store=f"sqlite:///{tmp_path / 'chat.db'}") as chat:
        reply = await chat.user("alice").send("pizza")
        assert reply.options == ["Small", "Medium", "Large"]
