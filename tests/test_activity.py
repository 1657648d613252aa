"""X Activity API deliveries: parsed into the same events as AAA ones, handled once.

The engine tests post signed XAA bodies straight to the bot's webhook (the
sandbox's service, over httpx's ASGI transport), as X would; the bot's sends
go to the emulated X.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from payloads import dm, dm_event, example, next_id

from dmbot import Bot, Context
from dmbot.dev.sandbox import BOT_ID, Sandbox
from dmbot.edge.activity import ActivityEvent, ChatEvent, canonical_type, event_kind
from dmbot.edge.envelope import parse_delivery
from dmbot.edge.events import DirectMessage, ReadReceipt, Relationship, User
from dmbot.emulator.delivery import SIGNATURE_HEADER, sign

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "bots" / "echo.py"
SECRET = "xaa-secret"
ALICE = ("2000000000001", "alice", "Alice")


def envelope(
    event_type: str, account: str, payload: dict[str, Any], *, tag: str = "dmbot"
) -> dict[str, Any]:
    """An XAA delivery, shaped like x-api-examples/xaa/dm.received.json."""
    return {
        "data": {
            "event_uuid": next_id(),
            "filter": {"user_id": account},
            "event_type": event_type,
            "tag": tag,
            "payload": payload,
        }
    }


def v2_user(user_id: str, username: str) -> dict[str, Any]:
    return {"data": {"id": user_id, "username": username, "name": username.title()}}


def xaa_dm(event: dict[str, Any], event_type: str = "dm.received") -> dict[str, Any]:
    """``event`` (a message_create) as XAA delivers it to the account it concerns."""
    create = event["message_create"]
    sender, recipient = create["sender_id"], create["target"]["recipient_id"]
    account = recipient if event_type == "dm.received" else sender
    event = copy.deepcopy(event)
    event["message_create"].pop("source_app_id", None)  # XAA has no apps
    users = {sender: v2_user(sender, "alice"), recipient: v2_user(recipient, "bot")}
    return envelope(event_type, account, {"direct_message_events": [event], "users": users})


# -- parsing ------------------------------------------------------------------------------------


def test_x_documented_dm_received_is_a_direct_message_from_a_v2_user() -> None:
    parsed = parse_delivery(example("xaa/dm.received.json"))
    [event] = parsed.events
    assert isinstance(event, DirectMessage)
    assert (event.id, event.for_user_id) == ("2080765901528535096", "1111111111111111111")
    assert (event.sender_id, event.recipient_id, event.text) == (
        "2222222222222222222",
        "1111111111111111111",
        "hello!",
    )
    assert event.sender == User("2222222222222222222", "OtherUser", "OtherUser")
    assert event.source_app_id is None and event.app is None


def test_one_dm_in_both_shapes_has_one_dedupe_key() -> None:
    event = dm_event("hi", sender=ALICE[0], recipient=BOT_ID)
    aaa = parse_delivery({"for_user_id": BOT_ID, "direct_message_events": [event]})
    xaa = parse_delivery(xaa_dm(event))
    assert [e.dedupe_key for e in aaa.events] == [e.dedupe_key for e in xaa.events]
    assert xaa.events[0].for_user_id == aaa.events[0].for_user_id == BOT_ID


def test_chat_and_other_kinds_are_typed_events_never_errors() -> None:
    [chat] = parse_delivery(example("xaa/chat.received.json")).events
    assert isinstance(chat, ChatEvent) and chat.kind == "chat.received"
    assert chat.sender_id == "2222222222222222222" and chat.encoded_event
    [mention] = parse_delivery(example("xaa/post.mention.create.json")).events
    assert isinstance(mention, ActivityEvent) and mention.kind == "post.mention.create"
    assert mention.user == User("2222222222222222222", "OtherUser", "OtherUser")
    assert mention.payload["text"] == "hey @ExampleUser"
    assert mention.dedupe_key == "post.mention.create:2080765813578191303"
    [post] = parse_delivery(example("xaa/event_envelope.json")).events
    assert isinstance(post, ActivityEvent) and post.kind == "post.create"


def test_pascal_case_names_from_before_march_2026_are_read() -> None:
    assert canonical_type("DmReceived") == "dm.received"
    assert canonical_type("DMIndicateTyping") == "dm.indicate_typing"
    assert canonical_type("PostMentionCreate") == "post.mention.create"
    assert canonical_type("chat.conversation_join") == "chat.conversation.join"
    assert canonical_type("something.new") == "something.new"
    body = xaa_dm(dm_event("hi", sender=ALICE[0], recipient=BOT_ID))
    body["data"]["event_type"] = "DmReceived"
    [event] = parse_delivery(body).events
    assert isinstance(event, DirectMessage) and event.text == "hi"


def test_a_list_of_envelopes_keeps_each_account() -> None:
    first = xaa_dm(dm_event("one", sender=ALICE[0], recipient=BOT_ID))["data"]
    second = xaa_dm(dm_event("two", sender=ALICE[0], recipient="1000000000002"))["data"]
    parsed = parse_delivery({"data": [first, second]})
    assert [(e.for_user_id, getattr(e, "text", "")) for e in parsed.events] == [
        (BOT_ID, "one"),
        ("1000000000002", "two"),
    ]


def test_follows_reads_and_typing_are_the_aaa_events() -> None:
    follow = envelope(
        "follow.follow",
        BOT_ID,
        {"source": {"id": ALICE[0], "username": "alice"}, "target": {"id": BOT_ID}},
    )
    [event] = parse_delivery(follow).events
    assert isinstance(event, Relationship) and event.kind == "follow"
    assert event.source == User(ALICE[0], "alice")
    read = envelope(
        "dm.read",
        BOT_ID,
        {
            "direct_message_mark_read_events": [
                {
                    "created_timestamp": "1784928224372",
                    "sender_id": ALICE[0],
                    "target": {"recipient_id": BOT_ID},
                    "last_read_event_id": "2080765901528535096",
                }
            ]
        },
    )
    [receipt] = parse_delivery(read).events
    assert isinstance(receipt, ReadReceipt) and receipt.last_read_event_id
    assert [event_kind(n) for n in ("follow.follow", "dm.read", "dm.indicate_typing")] == [
        "follow",
        "read",
        "typing",
    ]


def test_an_envelope_x_could_not_send_is_malformed_not_a_crash() -> None:
    for body in (
        {"data": {"event_type": "dm.received", "filter": {"user_id": BOT_ID}, "payload": 5}},
        {"data": {"event_type": "dm.received", "filter": {}, "payload": {}}},
        {"data": [{"event_type": "follow.follow", "payload": {"source": "x"}}, 7]},
    ):
        events = parse_delivery(body).events
        assert events and all(getattr(e, "malformed", False) for e in events), body


# -- through the engine -------------------------------------------------------------------------


def open_to_replies(box: Sandbox) -> None:
    """The deliveries here are posted straight to the webhook: the emulator never saw alice
    write, so she accepts message requests for the bot's answers to reach her."""
    box.emulator.set_dm_settings(ALICE[0], accepts_requests=True)


@pytest.fixture
async def box() -> Any:
    async with Sandbox(ECHO, people=[ALICE], consumer_secret=SECRET) as sandbox:
        open_to_replies(sandbox)
        yield sandbox


async def post(box: Sandbox, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "content-type": "application/json"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.service.app), base_url="https://bot.test"
    ) as client:
        return (await client.post("/webhooks/twitter", content=body, headers=headers)).status_code


def replies(box: Sandbox) -> list[str]:
    return [m.text for m in box.emulator.messages if m.sender_id == BOT_ID]


async def test_an_xaa_dm_is_answered(box: Sandbox) -> None:
    assert await post(box, xaa_dm(dm_event("hello XAA", sender=ALICE[0], recipient=BOT_ID))) == 200
    await box.settle()
    assert replies(box) == ["hello XAA"]


@pytest.mark.parametrize("order", ["aaa-first", "xaa-first", "concurrent"])
async def test_one_dm_delivered_as_aaa_and_as_xaa_gets_one_reply(box: Sandbox, order: str) -> None:
    event = dm_event("only once", sender=ALICE[0], recipient=BOT_ID)
    aaa = {"for_user_id": BOT_ID, "direct_message_events": [event]}
    xaa = xaa_dm(event)
    if order == "concurrent":
        statuses = await asyncio.gather(post(box, aaa), post(box, xaa), post(box, xaa))
        assert statuses == [200, 200, 200]
    else:
        for body in (aaa, xaa) if order == "aaa-first" else (xaa, aaa):
            assert await post(box, body) == 200
            await box.settle()
    await box.settle()
    assert replies(box) == ["only once"]


async def test_the_bots_own_reply_as_dm_sent_is_an_echo_not_the_owner(box: Sandbox) -> None:
    assert await post(box, xaa_dm(dm_event("first", sender=ALICE[0], recipient=BOT_ID))) == 200
    await box.settle()
    [reply] = [m for m in box.emulator.messages if m.sender_id == BOT_ID]
    # X delivers the bot's reply back as dm.sent, with the id X gave it and no app id.
    echo = dm_event("first", sender=BOT_ID, recipient=ALICE[0], id=reply.id)
    assert await post(box, xaa_dm(echo, "dm.sent")) == 200
    # ...and even one whose id dmbot has not recorded yet is recognised by its text.
    early = dm_event("first", sender=BOT_ID, recipient=ALICE[0])
    assert await post(box, xaa_dm(early, "dm.sent")) == 200
    await box.settle()
    assert replies(box) == ["first"]  # the echo got no answer
    assert await post(box, xaa_dm(dm_event("second", sender=ALICE[0], recipient=BOT_ID))) == 200
    await box.settle()
    assert replies(box) == ["first", "second"]  # and did not silence the conversation


@pytest.mark.parametrize("shape", ["one envelope", "a list of one"])
async def test_the_dm_sent_echo_of_the_bots_reply_is_settled_at_the_webhook(
    box: Sandbox, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Like AAA's echo, XAA's dm.sent of a reply this process sent never enters the inbox,
    whichever shape ``data`` has."""
    assert await post(box, xaa_dm(dm_event("first", sender=ALICE[0], recipient=BOT_ID))) == 200
    await box.settle()
    await box.emulator.deliveries_settled()
    [reply] = [m for m in box.emulator.messages if m.sender_id == BOT_ID]
    echo = xaa_dm(dm_event("first", sender=BOT_ID, recipient=ALICE[0], id=reply.id), "dm.sent")
    if shape == "a list of one":
        echo["data"] = [echo["data"]]
    caplog.clear()
    with caplog.at_level("INFO", logger="dmbot"):
        assert await post(box, echo) == 200
    settled = [r.getMessage() for r in caplog.records if "settled without the inbox" in r.message]
    assert settled == [
        f"delivery settled without the inbox: message {reply.id} echo (marked delivered)"
    ]


async def test_a_reply_whose_link_x_wrapped_is_still_our_echo() -> None:
    bot = Bot("linker")

    @bot.on_message()
    async def link(ctx: Context) -> None:
        await ctx.reply("Menu:  https://example.com/menu?day=1 ")

    async with Sandbox(bot, people=[ALICE], consumer_secret=SECRET) as box:
        open_to_replies(box)
        assert await post(box, xaa_dm(dm_event("menu?", sender=ALICE[0], recipient=BOT_ID))) == 200
        await box.settle()
        echo = dm_event("Menu: https://t.co/AbCdEf123", sender=BOT_ID, recipient=ALICE[0])
        assert await post(box, xaa_dm(echo, "dm.sent")) == 200
        assert await post(box, xaa_dm(dm_event("again", sender=ALICE[0], recipient=BOT_ID))) == 200
        await box.settle()
        assert len(replies(box)) == 2  # not taken for the owner writing: no handoff


async def test_the_owner_writing_from_the_x_app_as_dm_sent_hands_off(box: Sandbox) -> None:
    owner = dm_event("Hi Alice, a human here.", sender=BOT_ID, recipient=ALICE[0])
    assert await post(box, xaa_dm(owner, "dm.sent")) == 200
    assert await post(box, xaa_dm(dm_event("hello?", sender=ALICE[0], recipient=BOT_ID))) == 200
    await box.settle()
    assert replies(box) == []  # the bot stays quiet (engine.handoff)


async def test_on_event_handlers_get_xaa_kinds() -> None:
    bot = Bot("watcher")
    seen: list[str] = []

    @bot.on_event("post.mention.create", "follow.follow")
    async def noted(ctx: Context) -> None:
        seen.append(ctx.event.kind)
        await ctx.reply(f"thanks for the {ctx.event.kind}")

    async with Sandbox(bot, people=[ALICE], consumer_secret=SECRET) as box:
        open_to_replies(box)
        mention = example("xaa/post.mention.create.json")
        text = json.dumps(mention).replace("1111111111111111111", BOT_ID)
        assert await post(box, json.loads(text.replace("2222222222222222222", ALICE[0]))) == 200
        follow = envelope(
            "follow.follow", BOT_ID, {"source": {"id": ALICE[0]}, "target": {"id": BOT_ID}}
        )
        assert await post(box, follow) == 200
        chat = example("xaa/chat.received.json")  # nobody registered: acknowledged, ignored
        assert await post(box, chat) == 200
        await box.settle()
    assert sorted(seen) == ["follow", "post.mention.create"]
    sent = [(m.recipient_id, m.text) for m in box.emulator.messages if m.sender_id == BOT_ID]
    assert sorted(sent) == [
        (ALICE[0], "thanks for the follow"),
        (ALICE[0], "thanks for the post.mention.create"),
    ]


async def test_an_aaa_delivery_is_unchanged(box: Sandbox) -> None:
    assert await post(box, dm("plain AAA", sender=ALICE[0], recipient=BOT_ID)) == 200
    await box.settle()
    assert replies(box) == ["plain AAA"]
