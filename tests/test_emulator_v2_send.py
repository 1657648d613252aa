"""v2 DM send in the emulator: ``POST /2/dm_conversations/with/:participant_id/messages``.

Answers are checked against X's OpenAPI schemas; the send spends the same
daily budget and free replies as v1.1 sends, and is delivered like any DM.
"""

from __future__ import annotations

from typing import Any

import pytest
from images import png
from openapi import problems
from test_emulator_api import ALICE_ID, BOT_ID, Receiver, example, same_shape
from v2api import (
    BOT_TOKEN,
    INVALID_REQUEST,
    NOT_FOUND,
    UNSUPPORTED,
    app,
    conforms,
    problem,
    user,
    v2_hook,
)

from dmbot.emulator import Emulator


async def test_v2_send_answers_201_with_the_ids(emu: Emulator) -> None:
    body = example("request_v2_dm_with_media_attachment.json")
    assert problems(body, "CreateDirectMessagesByParticipantIdRequest") == []
    # X's example names media the bot uploaded (for DMs, within 24 hours): so does this one.
    media = emu.media.upload(BOT_ID, png(), category="dm_image")
    body["attachments"][0]["media_id"] = media.id
    async with user(emu) as bot:
        sent = await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json=body)
    data = conforms(sent, "CreateDirectMessagesByParticipantIdResponse", 201)
    assert same_shape(data, example("response_v2_dm_conversations_with_participant_messages.json"))
    [message] = emu.messages
    assert data["data"] == {"dm_conversation_id": f"{BOT_ID}-{ALICE_ID}", "dm_event_id": message.id}
    assert (message.sender_id, message.recipient_id, message.text) == (
        BOT_ID,
        ALICE_ID,
        "Check out this image!",
    )
    assert message.message_data["attachment"] == {
        "type": "media",
        "media": {"id": media.id},
    }
    assert message.source_app_id == emu.world.app.id
    assert sent.headers["x-rate-limit-limit"] == "1000"
    assert sent.headers["x-rate-limit-remaining"] == "999"


REFUSED_V2 = {
    "quick replies": ({"text": "Pick one", "quick_reply": {"type": "options"}}, "quick_reply"),
    "buttons": ({"text": "Open", "ctas": []}, "ctas"),
    "nothing": ({}, None),
    "empty text": ({"text": ""}, "text"),
    "text over 10,000": ({"text": "x" * 10_001}, "text"),
    "text not a string": ({"text": 5}, "text"),
    "two attachments": ({"attachments": [{"media_id": "1"}, {"media_id": "2"}]}, "attachments"),
    "media id not a number": ({"attachments": [{"media_id": "abc"}]}, "attachments[0].media_id"),
    "extra attachment member": ({"attachments": [{"media_id": "1", "x": 1}]}, "x"),
}


@pytest.mark.parametrize(("body", "parameter"), REFUSED_V2.values(), ids=REFUSED_V2.keys())
async def test_v2_send_refuses_what_the_schema_refuses(
    emu: Emulator, body: dict[str, Any], parameter: str | None
) -> None:
    async with user(emu) as bot:
        answer = await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json=body)
    refused = problem(answer, 400, INVALID_REQUEST)
    if parameter is not None:
        assert parameter in refused["errors"][0]["parameters"]
    assert emu.messages == []


async def test_v2_send_to_nobody_or_as_the_app_is_refused(emu: Emulator) -> None:
    async with user(emu) as bot, app(emu) as api:
        nobody = await bot.post(
            "/2/dm_conversations/with/2999999999999/messages", json={"text": "x"}
        )
        not_an_id = await bot.post("/2/dm_conversations/with/alice/messages", json={"text": "x"})
        as_app = await api.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "x"})
    assert problem(nobody, 404, NOT_FOUND)["resource_type"] == "user"
    problem(not_an_id, 400, INVALID_REQUEST)
    problem(as_app, 403, UNSUPPORTED)
    assert emu.messages == []


async def test_v2_sends_spend_the_same_daily_budget_and_free_replies(emu: Emulator) -> None:
    def remaining() -> int:
        return int(emu.limits.headers("dm_send", BOT_TOKEN)["x-rate-limit-remaining"])

    v2 = f"/2/dm_conversations/with/{ALICE_ID}/messages"
    async with user(emu) as bot:
        await bot.post(v2, json={"text": "unprompted"})
        await bot.post(
            "/1.1/direct_messages/events/new.json",
            json={
                "event": {
                    "type": "message_create",
                    "message_create": {
                        "target": {"recipient_id": ALICE_ID},
                        "message_data": {"text": "v1"},
                    },
                }
            },
        )
        assert remaining() == 998
        await emu.send(ALICE_ID, BOT_ID, "hi")
        for _ in range(5):
            free = await bot.post(v2, json={"text": "thanks"})
        assert remaining() == 998 and free.headers["x-rate-limit-remaining"] == "998"
        await bot.post(v2, json={"text": "one more"})
    assert remaining() == 997


async def test_a_v2_send_is_echoed_to_the_senders_aaa_subscription(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.subscribe(await v2_hook(emu), BOT_ID)
    async with user(emu) as bot:
        sent = (
            await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "yo"})
        ).json()
    await emu.deliveries_settled()
    [echo] = receiver.payloads()
    [event] = echo["direct_message_events"]
    assert event["id"] == sent["data"]["dm_event_id"]
    assert event["message_create"]["source_app_id"] == emu.world.app.id
    assert echo["apps"][emu.world.app.id]["name"] == "dmbot dev"
