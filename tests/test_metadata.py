"""Signed Quick Reply metadata: what dmbot issued comes back intact; nothing else is trusted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string

import pytest

from dmbot.flows import metadata
from dmbot.flows.file import validate_flows
from dmbot.flows.metadata import Tap, decode, derive_key, encode, max_length
from dmbot.flows.model import Flow, Option, Step

KEY = derive_key("consumer-secret")
TAP = Tap(flow="order", step="size", value="L", label="Large", prompt=7)
# Every kind of character a label or value may hold, astral planes included.
CHARS = string.printable + "éßñ漢字🍕👍🏽\u200d\u0000\"'\\.{}"


def random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, longest)))


def test_the_key_is_derived_not_the_secret_itself() -> None:
    assert derive_key("consumer-secret") == KEY
    assert len(KEY) == 32
    assert b"consumer-secret" not in KEY
    assert derive_key("another-secret") != KEY


def test_a_tap_survives_the_round_trip() -> None:
    text = encode(TAP, KEY)
    assert text.startswith("dm1.")
    assert decode(text, KEY) == TAP


def test_plain_quick_replies_and_equal_labels_round_trip() -> None:
    plain = Tap(flow="", step="", value="Opening hours", label="Opening hours", prompt=0)
    assert decode(encode(plain, KEY), KEY) == plain


def test_metadata_is_compact() -> None:
    assert len(encode(TAP, KEY)) < 60


def test_changing_any_character_makes_it_plain_text() -> None:
    text = encode(TAP, KEY)
    alphabet = string.ascii_letters + string.digits + "-_.=+/ "
    for i, original in enumerate(text):
        for replacement in alphabet:
            if replacement != original:
                forged = text[:i] + replacement + text[i + 1 :]
                assert decode(forged, KEY) is None, forged


def test_truncated_or_extended_metadata_is_plain_text() -> None:
    text = encode(TAP, KEY)
    for end in range(len(text)):
        assert decode(text[:end], KEY) is None
    assert decode(text + "A", KEY) is None
    assert decode(text + ".x", KEY) is None


def test_metadata_signed_with_another_key_is_plain_text() -> None:
    assert decode(encode(TAP, derive_key("someone else")), KEY) is None


@pytest.mark.parametrize(
    "foreign",
    [None, "", "external_id_2", "dm1.", "dm1..", "dm1.e30.AAAAAAAAAAAA", "dm2.x.y", "a.b.c", "..."],
)
def test_foreign_metadata_is_plain_text(foreign: str | None) -> None:
    assert decode(foreign, KEY) is None


def test_another_format_version_is_plain_text() -> None:
    _, payload, tag = encode(TAP, KEY).split(".")
    assert decode(f"dm2.{payload}.{tag}", KEY) is None


def _signed(body: bytes) -> str:
    # A payload signed with the right key but not written by encode(): still not a Tap.
    payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    digest = hmac.new(KEY, f"dm1.{payload}".encode(), hashlib.sha256).digest()
    return f"dm1.{payload}.{base64.urlsafe_b64encode(digest).decode()[:12]}"


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"not json",
        b'["a","b",1]',
        b'["a","b","c",-1]',
        b'["a","b","c",true]',
        b'["a",2,"c",1]',
        b"\xff",
    ],
)
def test_signed_but_malformed_payloads_are_plain_text(body: bytes) -> None:
    assert decode(_signed(body), KEY) is None


def test_garbage_never_raises() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        text = random_text(rng, 40)
        assert decode(text, KEY) is None
        assert decode("dm1." + text, KEY) is None


def test_random_taps_round_trip_in_url_safe_ascii() -> None:
    rng = random.Random(11)
    safe = set(string.ascii_letters + string.digits + "-_.")
    for _ in range(1000):
        tap = Tap(
            flow=random_text(rng, 20),
            step=random_text(rng, 20),
            value=random_text(rng, 60),
            label=random_text(rng, 36),
            prompt=rng.randint(0, 10**12),
        )
        text = encode(tap, KEY)
        assert set(text) <= safe
        assert decode(text, KEY) == tap


def test_a_negative_prompt_is_refused() -> None:
    with pytest.raises(ValueError, match="prompt counter"):
        encode(Tap("f", "s", "v", "l", -1), KEY)


def test_long_values_stay_under_the_limit() -> None:
    # Long names, the longest label X takes, a 500-character value, a huge prompt counter.
    tap = Tap("a" * 40, "b" * 40, "v" * 500, "L" * 36, metadata.MAX_PROMPT)
    assert len(encode(tap, KEY)) < 900
    emoji = Tap("order", "size", "🍕" * 100, "🍕" * 36, metadata.MAX_PROMPT)
    assert len(encode(emoji, KEY)) < 800


def test_max_length_is_the_longest_option_with_a_large_prompt_counter() -> None:
    flow = Flow(
        "order",
        (
            Step("size", "?", options=(Option("Small"), Option("Large", value="x" * 100))),
            Step("note", "?", input="text"),
        ),
    )
    longest = encode(Tap("order", "size", "x" * 100, "Large", 10**9), KEY)
    assert max_length(flow) == len(longest)
    assert max_length(Flow("empty", (Step("note", "?", input="text"),))) == 0


def test_validation_flags_an_option_whose_metadata_is_too_long() -> None:
    ok = Flow("order", (Step("size", "?", options=(Option("Big", value="x" * 600),)),))
    assert max_length(ok) <= metadata.MAX_METADATA
    assert validate_flows([ok], metadata_key=KEY) == []
    long = Flow("order", (Step("size", "?", options=(Option("Big", value="x" * 800),)),))
    assert max_length(long) > metadata.MAX_METADATA
    (problem,) = validate_flows([long], metadata_key=KEY)
    assert problem.step == "size"
    assert "metadata of 'Big' would be" in problem.message
    assert "limit of 1,000; shorten its value" in problem.message
