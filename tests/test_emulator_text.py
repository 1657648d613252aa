"""X's text processing on the emulated X: t.co links, entities, and the length X counts.

A URL in a DM becomes a t.co link described in ``entities.urls``; hashtags,
mentions of existing users and cashtags are listed with indices into that
text. The sender's answer, the AAA delivery, the XAA envelope, ``events/list``
and the v2 lookup all show the same processed text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_emulator_api import ALICE_ID, BOT_ID, Receiver, dm
from v2api import conforms, user, v2_hook

from dmbot.emulator import Emulator
from dmbot.emulator.entities import display_url, find_urls, weighted_length

TCO = re.compile(r"https://t\.co/[0-9A-Za-z]{10}")
SEND = "/1.1/direct_messages/events/new.json"
TEXT = "Menu at https://pizza.example/menu?day=mon, #pizza for $DOMO fans, ask @alice or @nobody."


def check_entities(data: dict[str, Any]) -> None:
    """``data`` (a ``message_data``) holds X's processing of :data:`TEXT`."""
    text, entities = data["text"], data["entities"]
    [link] = TCO.findall(text)
    assert text == TEXT.replace("https://pizza.example/menu?day=mon", link)
    [url] = entities["urls"]
    assert url == {
        "url": link,
        "expanded_url": "https://pizza.example/menu?day=mon",
        "display_url": "pizza.example/menu?day=mon",
        "indices": [8, 8 + len(link)],
    }
    assert text[slice(*url["indices"])] == link
    [hashtag] = entities["hashtags"]
    assert hashtag["text"] == "pizza" and text[slice(*hashtag["indices"])] == "#pizza"
    [symbol] = entities["symbols"]
    assert symbol["text"] == "DOMO" and text[slice(*symbol["indices"])] == "$DOMO"
    # X lists mentions of users that exist only.
    [mention] = entities["user_mentions"]
    assert mention == {
        "screen_name": "alice",
        "name": "Alice",
        "id": int(ALICE_ID),
        "id_str": ALICE_ID,
        "indices": mention["indices"],
    }
    assert text[slice(*mention["indices"])] == "@alice"


async def test_a_sent_dm_shows_t_co_links_and_entities_everywhere(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.sent", webhook_id=hook_id)
    async with user(emu) as bot:
        sent = (await bot.post(SEND, json=dm(TEXT))).json()["event"]
        listed = (await bot.get("/1.1/direct_messages/events/list.json")).json()["events"]
    await emu.deliveries_settled()
    [aaa, xaa] = receiver.payloads()
    check_entities(sent["message_create"]["message_data"])
    delivered = aaa["direct_message_events"][0]["message_create"]["message_data"]
    enveloped = xaa["data"]["payload"]["direct_message_events"][0]["message_create"]
    assert delivered == sent["message_create"]["message_data"]
    assert enveloped["message_data"] == delivered
    assert listed[0]["message_create"]["message_data"] == delivered
    # What the bot asked to send is kept as it was, for tests that read it back.
    assert emu.messages[0].text == TEXT


async def test_a_persons_dm_arrives_processed(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    await emu.send("alice", BOT_ID, "see www.example.com/a_(b) and example.org.")
    await emu.deliveries_settled()
    [payload] = receiver.payloads()
    data = payload["direct_message_events"][0]["message_create"]["message_data"]
    urls = data["entities"]["urls"]
    assert [u["expanded_url"] for u in urls] == [
        "http://www.example.com/a_(b)",
        "http://example.org",
    ]
    assert [u["display_url"] for u in urls] == ["www.example.com/a_(b)", "example.org"]
    assert data["text"] == f"see {urls[0]['url']} and {urls[1]['url']}."


async def test_the_v2_lookup_shows_the_text_and_entities_in_v2s_shape(emu: Emulator) -> None:
    async with user(emu) as bot:
        await bot.post(SEND, json=dm(TEXT))
        answer = await bot.get(
            f"/2/dm_conversations/with/{ALICE_ID}/dm_events",
            params={"dm_event.fields": "text,entities"},
        )
    [event] = conforms(answer, "GetDirectMessagesEventsResponse")["data"]
    [link] = TCO.findall(event["text"])
    assert event["entities"]["urls"] == [
        {
            "start": 8,
            "end": 8 + len(link),
            "url": link,
            "expanded_url": "https://pizza.example/menu?day=mon",
            "display_url": "pizza.example/menu?day=mon",
        }
    ]
    assert [h["tag"] for h in event["entities"]["hashtags"]] == ["pizza"]
    assert [c["tag"] for c in event["entities"]["cashtags"]] == ["DOMO"]
    assert [(m["username"], m["id"]) for m in event["entities"]["mentions"]] == [
        ("alice", ALICE_ID)
    ]


async def test_a_url_counts_23_characters_towards_the_limit(emu: Emulator) -> None:
    long_url = "https://example.com/" + "p" * 200
    fits = "x" * (10_000 - 24) + " " + long_url
    too_long = "x" * 9_980 + " https://e.co"
    assert len(fits) > 10_000 and weighted_length(fits) == 10_000
    assert len(too_long) < 10_000 and weighted_length(too_long) == 10_004
    async with user(emu) as bot:
        accepted = await bot.post(SEND, json=dm(fits))
        refused = await bot.post(SEND, json=dm(too_long))
        refused_v2 = await bot.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": too_long}
        )
    assert accepted.status_code == 200
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == 354
    assert refused_v2.status_code == 400 and "URL counts 23" in refused_v2.json()["detail"]
    with pytest.raises(ValueError, match="a URL counts 23"):
        await emu.send("alice", BOT_ID, too_long)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("no links here, e.g. v1.2 or node.js", []),
        ("mail bob@example.com", []),
        ("(see https://x.com/a)", ["https://x.com/a"]),
        (
            "https://en.wikipedia.org/wiki/Pizza_(disambiguation)!",
            ["https://en.wikipedia.org/wiki/Pizza_(disambiguation)"],
        ),
        ("two: a.io/x, http://b.dev", ["a.io/x", "http://b.dev"]),
    ],
)
def test_urls_are_found_as_x_links_them(text: str, found: list[str]) -> None:
    assert [span.url for span in find_urls(text)] == found


def test_a_long_display_url_is_cut_with_an_ellipsis() -> None:
    assert display_url("https://twitter.com/i/web/status/1924465506158878979") == (
        "twitter.com/i/web/status/1…"
    )
