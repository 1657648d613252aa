"""What dmbot sent and what X shows of it compare equal, whatever links X made of it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dmbot.emulator.entities import processed
from dmbot.x.texts import comparable

WORDS = st.sampled_from(
    [
        "Your order",
        "is ready:",
        "https://pizza.example.com/orders/42?x=1",
        "http://example.org.",
        "www.example.net/menu",
        "(see example.com)",
        "example.co.uk,",
        "docs.python.org/3/",
        "see:example.io",
        "e.g.",
        "3.14",
        "file.txt",
        "Mr.Smith",
        "@someone",
        "#pizza",
        "$TWTR",
        "émoji 🍕",
        "",
        "  ",
        "\n",
    ]
)


@settings(max_examples=400, deadline=None)
@given(words=st.lists(WORDS, max_size=8), media=st.booleans())
def test_the_text_x_shows_compares_equal_to_the_text_sent(words: list[str], media: bool) -> None:
    sent = " ".join(words)
    shown, _, _ = processed(
        sent,
        "1234567890",
        lambda name: None,
        media_url="https://t.co/AbCdEf1234" if media else None,
    )
    assert comparable(shown.strip()) == comparable(sent)


def test_different_messages_stay_different() -> None:
    assert comparable("Your order is ready: https://a.example.com/1") != comparable(
        "Your order is late: https://a.example.com/1"
    )
    assert comparable("Pick one") != comparable("Pick two")
