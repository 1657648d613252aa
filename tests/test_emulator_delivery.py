"""Webhook deliveries from the emulated X: shapes, signatures, echoes, copies, realism.

The webhook is a real Starlette app reached through ``httpx.ASGITransport``;
schedules are compressed so every test runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from test_emulator_api import (
    ALICE_ID,
    API,
    BOT_ID,
    BOT_SECRET,
    BOT_TOKEN,
    CK,
    CS,
    HOOK_URL,
    OAuth1,
    Receiver,
    example,
    same_shape,
)

from dmbot.edge import signature
from dmbot.emulator import Emulator, Message
from dmbot.emulator.delivery import sign

SUPPORT_ID, SUPPORT_TOKEN, SUPPORT_SECRET = "1000000000002", "1000000000002-sup", "support-secret"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[Emulator]:
    """An emulator whose webhook is registered and the bot subscribed."""
    emulator = Emulator(CK, CS, webhook_transport=httpx.ASGITransport(app=receiver.app))
    emulator.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    # The bot writes to her first here: she accepts message requests from everyone.
    emulator.add_user(ALICE_ID, "alice", name="Alice", accepts_requests=True)
    emulator.realism.timeout = 5.0  # an in-process answer: far more than it ever takes
    hook = await emulator.register_webhook(HOOK_URL)
    emulator.subscribe(hook.id, BOT_ID)
    yield emulator
    await emulator.aclose()


async def bot_sends(emu: Emulator, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=OAuth1()
    ) as api:
        return await api.post("/1.1/direct_messages/events/new.json", json=body)


def dm_body(text: str, **data: Any) -> dict[str, Any]:
    return {
        "event": {
            "type": "message_create",
            "message_create": {
                "target": {"recipient_id": ALICE_ID},
                "message_data": {"text": text, **data},
            },
        }
    }


def events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = payload["direct_message_events"]
    return result


def test_signing_matches_xs_known_answers() -> None:
    assert (
        sign("test", b"test=1&other_test=2")
        == "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="
    )
    body = b'{"test_number":1,"test_string":"two"}'
    assert sign("test", body) == "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="


async def test_a_users_dm_is_delivered_like_xs_example_and_signed(
    emu: Emulator, receiver: Receiver
) -> None:
    message = await emu.send(ALICE_ID, BOT_ID, "Hello Wörld! 🍕")
    await emu.deliveries_settled()
    [(headers, body)] = receiver.posts
    assert headers["content-type"] == "application/json"
    mac = hmac.new(CS.encode(), body, hashlib.sha256).digest()
    assert headers["x-twitter-webhooks-signature"] == "sha256=" + base64.b64encode(mac).decode()
    assert signature.verify(CS, body, headers["x-twitter-webhooks-signature"])
    [payload] = receiver.payloads()
    documented = example("direct_message_events.json")
    del documented["apps"]  # only on the sender's own copy
    del documented["direct_message_events"][0]["message_create"]["source_app_id"]
    assert same_shape(payload, documented)
    assert "apps" not in payload
    assert payload["for_user_id"] == BOT_ID
    [event] = events(payload)
    assert event["id"] == message.id
    assert event["created_timestamp"] == str(message.created_ms)
    assert event["message_create"]["sender_id"] == ALICE_ID
    assert event["message_create"]["target"] == {"recipient_id": BOT_ID}
    assert event["message_create"]["message_data"] == {
        "text": "Hello Wörld! 🍕",
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
    }
    assert payload["users"][ALICE_ID]["screen_name"] == "alice"
    assert payload["users"][BOT_ID]["screen_name"] == "pizzabot"
    [record] = emu.delivery_log[1:]  # after the registration's CRC
    assert (record.status, record.attempt, record.kind) == (200, 1, "direct_message_events")
    assert record.body == body and record.for_user_id == BOT_ID


async def test_the_bots_own_send_comes_back_as_an_echo(emu: Emulator, receiver: Receiver) -> None:
    response = await bot_sends(emu, dm_body("Hi Alice"))
    await emu.deliveries_settled()
    [payload] = receiver.payloads()
    [event] = events(payload)
    assert payload["for_user_id"] == BOT_ID
    assert event["id"] == response.json()["event"]["id"]
    assert event["message_create"]["sender_id"] == BOT_ID
    assert event["message_create"]["source_app_id"] == "13090192"
    assert payload["apps"] == {
        "13090192": {"id": "13090192", "name": "dmbot dev", "url": "https://x.com"}
    }
    assert same_shape(payload, example("direct_message_events.json"))


async def test_a_person_writing_from_the_x_app_names_xs_web_client(
    emu: Emulator, receiver: Receiver
) -> None:
    await emu.send(BOT_ID, ALICE_ID, "a human here")
    await emu.deliveries_settled()
    [payload] = receiver.payloads()
    assert events(payload)[0]["message_create"]["source_app_id"] == "268278"
    assert payload["apps"]["268278"]["name"] == "Twitter Web Client"


async def test_two_subscribed_accounts_each_get_their_own_copy(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.add_account(SUPPORT_ID, "support", token=SUPPORT_TOKEN, token_secret=SUPPORT_SECRET)
    emu.subscribe(emu.webhooks[0].id, SUPPORT_ID)
    message = await emu.send(SUPPORT_ID, BOT_ID, "hand-over")
    await emu.deliveries_settled()
    copies = {p["for_user_id"]: p for p in receiver.payloads()}
    assert set(copies) == {BOT_ID, SUPPORT_ID}
    assert {events(p)[0]["id"] for p in copies.values()} == {message.id}
    assert "source_app_id" not in events(copies[BOT_ID])[0]["message_create"]
    assert "source_app_id" in events(copies[SUPPORT_ID])[0]["message_create"]


async def test_a_tap_carries_the_options_metadata_and_label(
    emu: Emulator, receiver: Receiver
) -> None:
    body = example("request_send_dm_quick_reply_options.json")
    body["event"]["message_create"]["target"]["recipient_id"] = ALICE_ID
    await bot_sends(emu, body)
    [prompt] = emu.messages
    tap = await emu.tap(ALICE_ID, prompt, "Blue Bird")
    await emu.deliveries_settled()
    payload = receiver.payloads()[-1]
    [event] = events(payload)
    documented = example("direct_message_event_quick_reply_response.json")["event"]
    assert same_shape(event, documented)
    assert event["message_create"]["message_data"]["text"] == "Blue Bird"
    assert event["message_create"]["message_data"]["quick_reply_response"] == {
        "type": "options",
        "metadata": "external_id_2",
    }
    assert tap.quick_reply_metadata == "external_id_2"
    with pytest.raises(LookupError, match="Red Bird"):
        await emu.tap(ALICE_ID, prompt, "Green Bird")


async def test_drop_metadata_delivers_taps_as_bare_labels(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.realism.drop_metadata = True
    await emu.send(ALICE_ID, BOT_ID, "Medium", metadata="flow:size:medium")
    await emu.deliveries_settled()
    data = events(receiver.payloads()[0])[0]["message_create"]["message_data"]
    assert data["text"] == "Medium"
    assert "quick_reply_response" not in data


async def test_duplicates_send_every_delivery_twice(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.duplicates = True
    await emu.send(ALICE_ID, BOT_ID, "once")
    await emu.deliveries_settled()
    assert len(receiver.posts) == 2
    assert receiver.posts[0][1] == receiver.posts[1][1]
    assert [r.duplicate for r in emu.delivery_log if r.kind != "crc"] == [False, True]


async def test_out_of_order_releases_a_held_delivery_after_the_next(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.realism.out_of_order = True
    first = await emu.send(ALICE_ID, BOT_ID, "first")
    second = await emu.send(ALICE_ID, BOT_ID, "second")
    await emu.deliveries_settled()
    assert [events(p)[0]["id"] for p in receiver.payloads()] == [second.id, first.id]


async def test_out_of_order_flushes_a_lone_held_delivery_when_settling(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.realism.out_of_order = True
    await emu.send(ALICE_ID, BOT_ID, "alone")
    assert receiver.posts == []
    await emu.deliveries_settled()
    assert len(receiver.posts) == 1


async def until(condition: Any, within: float = 5.0) -> None:
    """Poll ``condition`` until true, failing after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - what changes here signals no event
            await asyncio.sleep(0.01)


async def test_out_of_order_holds_a_lone_delivery_for_hold_seconds_at_most(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.set_realism({"out_of_order": True, "hold": 0.2})
    message = await emu.send(ALICE_ID, BOT_ID, "alone")
    [held] = emu.held
    assert (held.event_id, held.for_user_id, held.kind) == (
        message.id,
        BOT_ID,
        "direct_message_events",
    )
    assert receiver.posts == []
    await until(lambda: len(receiver.posts) == 1)  # nobody wrote again: the hold ran out
    assert emu.held == []


async def test_switching_out_of_order_off_releases_what_it_held(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.set_realism({"out_of_order": True, "hold": 600.0})
    await emu.send(ALICE_ID, BOT_ID, "held")
    assert len(emu.held) == 1
    emu.set_realism({"out_of_order": False})
    assert emu.held == []
    await until(lambda: len(receiver.posts) == 1, within=10)


async def test_the_admin_state_lists_held_deliveries(emu: Emulator, receiver: Receiver) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as admin:
        switched = await admin.post("/_emulator/realism", json={"out_of_order": True, "hold": 600})
        assert switched.json()["out_of_order"] is True
        message = await emu.send(ALICE_ID, BOT_ID, "held")
        [held] = (await admin.get("/_emulator/state")).json()["held"]
        assert held["event_id"] == message.id and 0 < held["release_in"] <= 600
        await admin.post("/_emulator/realism", json={"out_of_order": False})
        assert (await admin.get("/_emulator/state")).json()["held"] == []


async def test_in_order_by_default(emu: Emulator, receiver: Receiver) -> None:
    sent = [await emu.send(ALICE_ID, BOT_ID, f"m{n}") for n in range(5)]
    await emu.deliveries_settled()
    assert [events(p)[0]["id"] for p in receiver.payloads()] == [m.id for m in sent]


async def test_delay_holds_deliveries_back(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.delay = 0.2
    started = time.monotonic()
    await emu.send(ALICE_ID, BOT_ID, "later")
    await asyncio.wait_for(receiver.got_post.wait(), 5)
    # It arrived, and not before the delay (a lower bound: a slow machine only adds to it).
    assert time.monotonic() - started >= 0.2
    await emu.deliveries_settled()
    assert len(receiver.posts) == 1


async def test_retries_follow_the_schedule_until_a_200(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.retries = True
    emu.realism.retry_schedule = (0.01, 0.02, 0.03)
    receiver.answers = [500, 503]
    await emu.send(ALICE_ID, BOT_ID, "try again")
    await emu.deliveries_settled()
    attempts = [(r.attempt, r.status) for r in emu.delivery_log if r.kind != "crc"]
    assert attempts == [(1, 500), (2, 503), (3, 200)]
    assert len({body for _, body in receiver.posts}) == 1


async def test_retries_give_up_after_the_last_pause(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.retries = True
    emu.realism.retry_schedule = (0.01, 0.01, 0.01)
    receiver.answers = [500] * 10
    await emu.send(ALICE_ID, BOT_ID, "lost")
    await emu.deliveries_settled()
    assert [r.attempt for r in emu.delivery_log if r.kind != "crc"] == [1, 2, 3, 4]


async def test_a_slow_answer_counts_as_failed_and_is_retried(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.realism.retries = True
    emu.realism.retry_schedule = (0.01,)
    # The first answer never comes; the retry's must come within the timeout, which a
    # loaded machine cannot miss by half a second for an in-process answer.
    emu.realism.timeout = 0.5
    receiver.hang_posts = 1
    await emu.send(ALICE_ID, BOT_ID, "slow")
    await emu.deliveries_settled()
    records = [r for r in emu.delivery_log if r.kind != "crc"]
    assert [(r.attempt, r.status) for r in records] == [(1, None), (2, 200)]
    assert records[0].error is not None and "0.5 s" in records[0].error


async def test_without_retries_a_failure_is_recorded_once(
    emu: Emulator, receiver: Receiver
) -> None:
    receiver.answers = [500]
    await emu.send(ALICE_ID, BOT_ID, "once")
    await emu.deliveries_settled()
    [record] = [r for r in emu.delivery_log if r.kind != "crc"]
    assert record.status == 500 and "500" in (record.error or "")


async def test_typing_events_come_before_each_users_dm(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.typing_events = True
    await emu.send(ALICE_ID, BOT_ID, "typed")
    await emu.deliveries_settled()
    typing, message = receiver.payloads()
    [event] = typing["direct_message_indicate_typing_events"]
    assert same_shape(typing, example("direct_message_indicate_typing_events.json"))
    assert event["sender_id"] == ALICE_ID and event["target"] == {"recipient_id": BOT_ID}
    assert "direct_message_events" in message


async def test_read_events_mark_the_bots_messages_read_before_the_next_dm(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.realism.read_events = True
    await emu.send(ALICE_ID, BOT_ID, "hi")
    reply = await bot_sends(emu, dm_body("hello"))
    await emu.send(ALICE_ID, BOT_ID, "thanks")
    await emu.send(ALICE_ID, BOT_ID, "again")
    await emu.deliveries_settled()
    kinds = [next(k for k in p if k.endswith("_events")) for p in receiver.payloads()]
    assert kinds == [
        "direct_message_events",
        "direct_message_events",
        "direct_message_mark_read_events",
        "direct_message_events",
        "direct_message_events",
    ]
    read = receiver.payloads()[2]
    assert same_shape(read, example("direct_message_mark_read_events.json"))
    [event] = read["direct_message_mark_read_events"]
    assert event["last_read_event_id"] == reply.json()["event"]["id"]
    assert event["sender_id"] == ALICE_ID


async def test_an_invalid_webhook_gets_nothing(emu: Emulator, receiver: Receiver) -> None:
    receiver.crc = "wrong"
    hook, reason = await emu.check_webhook(emu.webhooks[0].id)
    assert hook.valid is False and "response_token" in reason
    await emu.send(ALICE_ID, BOT_ID, "anyone?")
    await emu.deliveries_settled()
    assert receiver.posts == []


async def test_unsubscribed_accounts_get_nothing(emu: Emulator, receiver: Receiver) -> None:
    emu.add_user("2000000000002", "bob", accepts_requests=True)
    await emu.send(ALICE_ID, "bob", "just between us")
    await emu.deliveries_settled()
    assert receiver.posts == []
    assert [m.text for m in emu.messages] == ["just between us"]


async def test_a_crashing_webhook_is_recorded_never_raised(receiver: Receiver) -> None:
    def crash(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            token = request.url.params["crc_token"]
            return httpx.Response(200, json={"response_token": receiver.token_for(token)})
        raise httpx.ConnectError("connection refused")

    emu = Emulator(CK, CS, webhook_transport=httpx.MockTransport(crash))
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_user(ALICE_ID, "alice")
    emu.subscribe((await emu.register_webhook(HOOK_URL)).id, BOT_ID)
    message = await emu.send(ALICE_ID, BOT_ID, "x")
    await emu.deliveries_settled()
    record = emu.delivery_log[-1]
    assert record.status is None and "ConnectError" in (record.error or "")
    assert emu.messages == [message]
    await emu.aclose()


async def test_aclose_cancels_pending_deliveries(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.delay = 60.0
    await emu.send(ALICE_ID, BOT_ID, "never")
    await asyncio.wait_for(emu.aclose(), timeout=10.0)  # not the 60 s of the delay
    assert receiver.posts == []


async def test_wait_for_messages_wakes_on_the_reply(emu: Emulator) -> None:
    waiting = asyncio.create_task(emu.wait_for_messages(1, sender=BOT_ID))
    anyone = asyncio.create_task(emu.wait_for_messages(1))  # started second, woken second
    await emu.send(ALICE_ID, BOT_ID, "question")
    [question] = await asyncio.wait_for(anyone, 5)  # Alice's DM woke the waiters...
    assert question.text == "question"
    assert not waiting.done()  # ...and it is not the bot's
    await bot_sends(emu, dm_body("answer"))
    [reply] = await waiting
    assert isinstance(reply, Message) and reply.text == "answer"
    newer = await emu.wait_for_messages(0, after=reply)
    assert newer == []


async def test_wait_for_messages_says_what_arrived_on_timeout(emu: Emulator) -> None:
    await emu.send(ALICE_ID, BOT_ID, "hello?")
    with pytest.raises(TimeoutError, match="1 arrived: 'hello\\?'"):
        await emu.wait_for_messages(2, timeout=0.01)


async def test_revoking_delivers_a_user_event_and_unsubscribes(
    emu: Emulator, receiver: Receiver
) -> None:
    await emu.revoke(BOT_ID)
    await emu.deliveries_settled()
    [payload] = receiver.payloads()
    assert same_shape(payload, example("user_event_revoke.json"))
    assert payload["user_event"]["revoke"]["source"] == {"user_id": BOT_ID}
    assert emu.subscriptions == set()
    assert emu.world.user_for_token(BOT_TOKEN) is None


async def test_crc_and_deliveries_travel_over_real_loopback_http(receiver: Receiver) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(receiver.app, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    emu = Emulator(CK, CS)  # no transport: a real HTTP client
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_user(ALICE_ID, "alice")
    try:
        hook = await emu.register_webhook(f"http://127.0.0.1:{port}/webhooks/twitter")
        emu.subscribe(hook.id, BOT_ID)
        message = await emu.send(ALICE_ID, BOT_ID, "over the wire")
        await emu.deliveries_settled()
    finally:
        await emu.aclose()
        server.should_exit = True
        await serving
        sock.close()
    [payload] = receiver.payloads()
    assert events(payload)[0]["id"] == message.id
    headers, body = receiver.posts[0]
    assert signature.verify(CS, body, headers["x-twitter-webhooks-signature"])
