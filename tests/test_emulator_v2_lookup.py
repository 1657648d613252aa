"""Reading today's X in the emulator: ``GET /2/users/me`` and the one-to-one DM lookup.

Answers are checked against X's OpenAPI schemas. The lookup shows the very
ids and texts that were sent and delivered, so a bot unsure whether a send
went through can ask X.
"""

from __future__ import annotations

from typing import Any

import pytest
import v2api
from images import png
from test_emulator_api import ALICE_ID, BOT_ID, Receiver
from v2api import (
    INVALID_REQUEST,
    NOT_FOUND,
    SUPPORT_ID,
    UNSUPPORTED,
    app,
    conforms,
    problem,
    user,
    v2_hook,
)

from dmbot.emulator import Emulator

ME = "/2/users/me"
WITH_ALICE = f"/2/dm_conversations/with/{ALICE_ID}/dm_events"
LOOKUP = "GetDirectMessagesEventsByParticipantIdResponse"


# /2/users/me


async def test_users_me_names_the_acting_account(emu: Emulator) -> None:
    async with user(emu) as bot, user(emu, v2api.SUPPORT_TOKEN, v2api.SUPPORT_SECRET) as support:
        mine = await bot.get(ME)
        theirs = await support.get(ME)
    assert conforms(mine, "GetUsersMeResponse") == {
        "data": {"id": BOT_ID, "name": "pizzabot", "username": "pizzabot"}
    }
    assert conforms(theirs, "GetUsersMeResponse")["data"]["id"] == SUPPORT_ID
    assert mine.headers["x-rate-limit-limit"] == "75"


async def test_users_me_shows_the_fields_asked_for(emu: Emulator) -> None:
    fields = "created_at,public_metrics,protected,location,verified_type"
    async with user(emu) as bot:
        answer = await bot.get(ME, params={"user.fields": fields, "expansions": "pinned_tweet_id"})
    data = conforms(answer, "GetUsersMeResponse")["data"]
    # location: the emulator's users have none, and X leaves out what a user lacks.
    assert set(data) == {"id", "name", "username", "created_at", "public_metrics"} | {
        "protected",
        "verified_type",
    }
    assert data["public_metrics"]["post_count"] == 0


REFUSED_ME = {
    "unknown field": ({"user.fields": "id,shoe_size"}, "user.fields"),
    "unknown expansion": ({"expansions": "sender_id"}, "expansions"),
    "unknown parameter": ({"max_results": "5"}, "max_results"),
}


@pytest.mark.parametrize(("query", "parameter"), REFUSED_ME.values(), ids=REFUSED_ME.keys())
async def test_users_me_refuses_what_the_spec_does_not_list(
    emu: Emulator, query: dict[str, str], parameter: str
) -> None:
    async with user(emu) as bot:
        answer = await bot.get(ME, params=query)
    assert parameter in problem(answer, 400, INVALID_REQUEST)["errors"][0]["parameters"]


async def test_users_me_needs_a_user_context(emu: Emulator) -> None:
    async with app(emu) as api:
        answer = await api.get(ME)
    assert "User Context" in problem(answer, 403, UNSUPPORTED)["detail"]


# the one-to-one DM lookup


async def conversation(emu: Emulator) -> list[str]:
    """DMs between the bot and alice through every path (and one with support), as sent."""
    await emu.send(ALICE_ID, BOT_ID, "hi")
    v1 = {
        "event": {
            "type": "message_create",
            "message_create": {
                "target": {"recipient_id": ALICE_ID},
                "message_data": {"text": "v1.1 answer"},
            },
        }
    }
    async with user(emu) as bot:
        await bot.post("/1.1/direct_messages/events/new.json", json=v1)
        await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "v2"})
        await bot.post(f"/2/dm_conversations/with/{SUPPORT_ID}/messages", json={"text": "aside"})
    await emu.send(ALICE_ID, BOT_ID, "thanks")
    return [m.id for m in emu.messages if ALICE_ID in (m.sender_id, m.recipient_id)]


async def test_the_lookup_lists_the_conversation_newest_first_with_the_sent_ids(
    emu: Emulator,
) -> None:
    ids = await conversation(emu)
    async with user(emu) as bot:
        answer = await bot.get(WITH_ALICE)
    body = conforms(answer, LOOKUP)
    assert [e["id"] for e in body["data"]] == ids[::-1]
    assert [e["text"] for e in body["data"]] == ["thanks", "v2", "v1.1 answer", "hi"]
    # X's default fields: id, event_type and text only.
    assert {tuple(e) for e in body["data"]} == {("id", "event_type", "text")}
    assert {e["event_type"] for e in body["data"]} == {"MessageCreate"}
    assert body["meta"] == {"result_count": 4}
    assert answer.headers["x-rate-limit-limit"] == "300"


async def test_the_lookup_shows_the_fields_asked_for_and_the_same_id_everywhere(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.received")
    sent = await emu.send(ALICE_ID, BOT_ID, "where is my pizza?")
    await emu.deliveries_settled()
    fields = "id,text,sender_id,created_at,dm_conversation_id,attachments"
    async with user(emu) as bot:
        answer = await bot.get(WITH_ALICE, params={"dm_event.fields": fields})
        listed = await bot.get("/1.1/direct_messages/events/list.json")
    [event] = conforms(answer, LOOKUP)["data"]
    assert event == {
        "id": sent.id,
        "event_type": "MessageCreate",
        "text": "where is my pizza?",
        "sender_id": ALICE_ID,
        "created_at": event["created_at"],
        "dm_conversation_id": f"{BOT_ID}-{ALICE_ID}",
    }
    assert event["created_at"].endswith("Z") and event["created_at"][10] == "T"
    [aaa] = receiver.payloads()
    assert aaa["direct_message_events"][0]["id"] == sent.id
    [xaa] = emu.activity_log
    assert xaa.envelope["data"]["payload"]["direct_message_events"][0]["id"] == sent.id
    assert listed.json()["events"][0]["id"] == sent.id


async def test_a_media_dm_shows_its_media_key(emu: Emulator) -> None:
    media = emu.media.upload(BOT_ID, png(), category="dm_image")
    body: dict[str, Any] = {"text": "menu", "attachments": [{"media_id": media.id}]}
    async with user(emu) as bot:
        await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json=body)
        answer = await bot.get(WITH_ALICE, params={"dm_event.fields": "attachments"})
    [event] = conforms(answer, LOOKUP)["data"]
    assert event["attachments"] == {"media_keys": [f"3_{media.id}"]}


async def test_the_lookup_pages_with_max_results_and_next_token(emu: Emulator) -> None:
    ids = await conversation(emu)
    seen: list[str] = []
    pages = 0
    async with user(emu) as bot:
        token: str | None = None
        while True:
            params = {"max_results": "3", **({"pagination_token": token} if token else {})}
            body = conforms(
                await bot.get(WITH_ALICE, params=params),
                LOOKUP,
            )
            seen += [e["id"] for e in body["data"]]
            pages += 1
            assert body["meta"]["result_count"] == len(body["data"])
            token = body["meta"].get("next_token")
            if token is None:
                break
            assert len(token) >= 16
    assert seen == ids[::-1] and pages == 2
    assert "previous_token" in body["meta"]


async def test_the_lookup_expands_the_senders(emu: Emulator) -> None:
    await conversation(emu)
    params = {"expansions": "sender_id", "user.fields": "created_at", "max_results": "1"}
    async with user(emu) as bot:
        answer = await bot.get(WITH_ALICE, params=params)
    body = conforms(answer, LOOKUP)
    [alice] = body["includes"]["users"]
    assert (alice["id"], alice["username"]) == (ALICE_ID, "alice") and "created_at" in alice


async def test_an_empty_conversation_or_other_event_types_give_no_data(emu: Emulator) -> None:
    await conversation(emu)
    async with user(emu, v2api.SUPPORT_TOKEN, v2api.SUPPORT_SECRET) as support, user(emu) as bot:
        none = await support.get(WITH_ALICE)
        joins = await bot.get(WITH_ALICE, params={"event_types": "ParticipantsJoin"})
    for answer in (none, joins):
        body = conforms(answer, LOOKUP)
        assert body == {"meta": {"result_count": 0}}


REFUSED_LOOKUPS = {
    "max_results 0": ({"max_results": "0"}, "max_results"),
    "max_results 101": ({"max_results": "101"}, "max_results"),
    "a token not ours": ({"pagination_token": "not-a-token-of-ours"}, "pagination_token"),
    "unknown field": ({"dm_event.fields": "id,mood"}, "dm_event.fields"),
    "unknown event type": ({"event_types": "MessageDelete"}, "event_types"),
    "unknown parameter": ({"since_id": "1"}, "since_id"),
}


@pytest.mark.parametrize(
    ("query", "parameter"), REFUSED_LOOKUPS.values(), ids=REFUSED_LOOKUPS.keys()
)
async def test_the_lookup_refuses_what_the_spec_refuses(
    emu: Emulator, query: dict[str, str], parameter: str
) -> None:
    async with user(emu) as bot:
        answer = await bot.get(WITH_ALICE, params=query)
    assert parameter in problem(answer, 400, INVALID_REQUEST)["errors"][0]["parameters"]


async def test_the_lookup_needs_a_user_context_and_a_known_participant(emu: Emulator) -> None:
    async with app(emu) as api, user(emu) as bot:
        as_app = await api.get(WITH_ALICE)
        unknown = await bot.get("/2/dm_conversations/with/1999999999999/dm_events")
        malformed = await bot.get("/2/dm_conversations/with/alice/dm_events")
    problem(as_app, 403, UNSUPPORTED)
    assert problem(unknown, 404, NOT_FOUND)["resource_id"] == "1999999999999"
    problem(malformed, 400, INVALID_REQUEST)


async def test_the_lookup_has_its_own_faults_and_rate_window(emu: Emulator) -> None:
    emu.faults.add("dm_events", status=503)
    async with user(emu) as bot:
        failed = await bot.get(WITH_ALICE)
        worked = await bot.get(WITH_ALICE)
        me = await bot.get(ME)
    problem(failed, 503)
    # A failed call spends no call of the window, as with every injected fault.
    assert worked.status_code == 200 and worked.headers["x-rate-limit-remaining"] == "299"
    assert me.headers["x-rate-limit-remaining"] == "74"
