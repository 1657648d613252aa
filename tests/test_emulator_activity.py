"""The X Activity API in the emulator: subscriptions over HTTP, and the envelopes they deliver.

Subscriptions are checked against X's OpenAPI schemas; deliveries against
X's published ``xaa/`` examples, signed as every delivery is, and through
the same realism switches as Account Activity deliveries.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from openapi import problems
from test_emulator_api import ALICE_ID, BOT_ID, CS, HOOK_URL, Receiver, example, same_shape
from v2api import (
    INVALID_REQUEST,
    NOT_FOUND,
    SUPPORT_ID,
    SUPPORT_SECRET,
    SUPPORT_TOKEN,
    UNSUPPORTED,
    app,
    conforms,
    problem,
    user,
    v2_hook,
)

from dmbot.edge import signature
from dmbot.emulator import Emulator, Problem

SUBS = "/2/activity/subscriptions"


def dm_sub(user_id: str = BOT_ID, event_type: str = "dm.received", **extra: Any) -> dict[str, Any]:
    return {"event_type": event_type, "filter": {"user_id": user_id}, **extra}


def documented(name: str) -> dict[str, Any]:
    """X's example envelope, without the v2 user members X shows only when a user has
    them (``affiliation``, ``location``, ``entities``): the emulator's users have none."""
    envelope: dict[str, Any] = example(name)
    for entry in envelope["data"]["payload"]["users"].values():
        for optional in ("affiliation", "location", "entities"):
            entry["data"].pop(optional, None)
    return envelope


def envelopes(receiver: Receiver) -> list[dict[str, Any]]:
    return [p["data"] for p in receiver.payloads() if "data" in p]


# subscriptions


async def test_an_account_subscribes_to_its_own_dms(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    async with user(emu) as bot:
        created = await bot.post(SUBS, json=dm_sub(tag="dm-inbound", webhook_id=hook_id))
        again = await bot.post(SUBS, json=dm_sub(webhook_id=hook_id))
    sub = conforms(created, "CreateActivitySubscriptionResponse")["data"]["subscription"]
    assert sub["event_type"] == "dm.received" and sub["filter"] == {"user_id": BOT_ID}
    assert (sub["tag"], sub["webhook_id"]) == ("dm-inbound", hook_id)
    assert sub["created_at"] == sub["updated_at"]
    assert sub["subscription_id"] in problem(again, 409)["detail"]
    assert [s.to_json() for s in emu.activity_subscriptions] == [sub]


async def test_private_events_need_that_accounts_own_user_context(emu: Emulator) -> None:
    async with app(emu) as api, user(emu, SUPPORT_TOKEN, SUPPORT_SECRET) as support:
        by_app = await api.post(SUBS, json=dm_sub())
        by_other = await support.post(SUBS, json=dm_sub(event_type="dm.sent"))
        public = await api.post(SUBS, json=dm_sub(event_type="follow.follow"))
        muted = await api.post(SUBS, json=dm_sub(event_type="mute.mute"))
    assert "user context" in problem(by_app, 403, UNSUPPORTED)["detail"]
    refused = problem(by_other, 403, "https://api.x.com/2/problems/not-authorized-for-resource")
    assert refused["resource_id"] == BOT_ID
    conforms(public, "CreateActivitySubscriptionResponse")
    problem(muted, 403, UNSUPPORTED)
    assert [s.event_type for s in emu.activity_subscriptions] == ["follow.follow"]


async def test_the_deprecated_alias_is_accepted_and_answered_canonically(emu: Emulator) -> None:
    async with user(emu) as bot:
        created = await bot.post(SUBS, json=dm_sub(event_type="chat.conversation_join"))
    sub = conforms(created, "CreateActivitySubscriptionResponse")["data"]["subscription"]
    assert sub["event_type"] == "chat.conversation.join"


REFUSED = {
    "unknown event type": (dm_sub(event_type="dm.created"), "event_type"),
    "PascalCase": (dm_sub(event_type="DmReceived"), "event_type"),
    "no filter": ({"event_type": "dm.received"}, "filter"),
    "no user": ({"event_type": "dm.received", "filter": {}}, "filter.user_id"),
    "unknown member": (dm_sub(expires="never"), "expires"),
    "unknown filter member": (
        {"event_type": "dm.received", "filter": {"user_id": BOT_ID, "since": 1}},
        "since",
    ),
    "bad direction": (
        {"event_type": "dm.received", "filter": {"user_id": BOT_ID, "direction": "both"}},
        "filter.direction",
    ),
    "empty tag": (dm_sub(tag=""), "tag"),
    "tag over 200": (dm_sub(tag="t" * 201), "tag"),
    "unknown webhook": (dm_sub(webhook_id="42"), "webhook_id"),
    "unknown user": (dm_sub(user_id="1999999999999"), "filter.user_id"),
}


@pytest.mark.parametrize(("body", "parameter"), REFUSED.values(), ids=REFUSED.keys())
async def test_create_refuses_what_the_spec_refuses(
    emu: Emulator, body: dict[str, Any], parameter: str
) -> None:
    async with user(emu) as bot:
        answer = await bot.post(SUBS, json=body)
    assert parameter in problem(answer, 400, INVALID_REQUEST)["errors"][0]["parameters"]
    assert emu.activity_subscriptions == []


async def test_list_pages_with_max_results_and_next_token(emu: Emulator) -> None:
    for event_type in ("dm.received", "dm.sent", "dm.read", "dm.indicate_typing"):
        emu.subscribe_activity(BOT_ID, event_type)
    emu.subscribe_activity(ALICE_ID, "follow.follow")
    seen: list[str] = []
    async with app(emu) as api, user(emu) as bot:
        token: str | None = None
        while True:
            params = {"max_results": "2", **({"pagination_token": token} if token else {})}
            page = conforms(await api.get(SUBS, params=params), "GetActivitySubscriptionsResponse")
            assert page["meta"]["result_count"] == len(page["data"])
            seen += [s["subscription_id"] for s in page["data"]]
            token = page["meta"].get("next_token")
            if token is None:
                break
            assert len(token) >= 16
        by_user = await bot.get(SUBS)
        bad = [await api.get(SUBS, params={"max_results": v}) for v in ("0", "1001", "x")]
        bad_token = await api.get(SUBS, params={"pagination_token": "not-a-token-of-ours"})
    assert seen == [s.id for s in emu.activity_subscriptions] and len(seen) == 5
    assert len(by_user.json()["data"]) == 5
    for answer in [*bad, bad_token]:
        problem(answer, 400, INVALID_REQUEST)


async def test_put_changes_only_the_tag_and_webhook(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    sub = emu.subscribe_activity(BOT_ID, "dm.received", tag="old")
    async with app(emu) as api, user(emu) as bot:
        updated = await api.put(f"{SUBS}/{sub.id}", json={"tag": "new", "webhook_id": hook_id})
        retyped = await api.put(f"{SUBS}/{sub.id}", json={"event_type": "dm.sent"})
        nothing = await api.put(f"{SUBS}/{sub.id}", json={})
        missing = await api.put(f"{SUBS}/42", json={"tag": "x"})
        as_user = await bot.put(f"{SUBS}/{sub.id}", json={"tag": "mine"})
    data = conforms(updated, "UpdateActivitySubscriptionResponse")["data"]
    assert data["total_subscriptions"] == 1
    assert (data["subscription"]["tag"], data["subscription"]["webhook_id"]) == ("new", hook_id)
    assert "event_type" in problem(retyped, 400, INVALID_REQUEST)["errors"][0]["parameters"]
    problem(nothing, 400, INVALID_REQUEST)
    problem(missing, 404, NOT_FOUND)
    problem(as_user, 403, UNSUPPORTED)
    [now] = emu.activity_subscriptions
    assert (now.tag, now.webhook_id, now.event_type) == ("new", hook_id, "dm.received")


async def test_delete_one_or_several(emu: Emulator) -> None:
    a, b, c = (emu.subscribe_activity(BOT_ID, t) for t in ("dm.received", "dm.sent", "dm.read"))
    async with app(emu) as api:
        one = await api.delete(f"{SUBS}/{a.id}")
        gone = await api.delete(f"{SUBS}/{a.id}")
        several = await api.delete(SUBS, params={"ids": f"{b.id},{c.id},42"})
        none = await api.delete(SUBS)
    assert conforms(one, "DeleteActivitySubscriptionResponse") == {"data": {"deleted": True}}
    problem(gone, 404, NOT_FOUND)
    body = conforms(several, "DeleteActivitySubscriptionsByIdsResponse")
    assert body["data"] == [
        {"subscription_id": b.id, "deleted": True},
        {"subscription_id": c.id, "deleted": True},
    ]
    assert [e["subscription_id"] for e in body["errors"]] == ["42"]
    assert body["meta"] == {"total_subscriptions": 0}
    problem(none, 400, INVALID_REQUEST)


async def test_the_facade_raises_what_the_api_answers(emu: Emulator) -> None:
    emu.subscribe_activity(BOT_ID, "dm.received")
    with pytest.raises(Problem) as conflict:
        emu.subscribe_activity(BOT_ID, "dm.received")
    with pytest.raises(Problem) as person:
        emu.subscribe_activity(ALICE_ID, "dm.received")  # alice gave the app no tokens
    with pytest.raises(Problem) as unknown:
        emu.subscribe_activity(BOT_ID, "dm.sent", webhook_id="42")
    assert (conflict.value.status, person.value.status, unknown.value.status) == (409, 403, 400)
    assert problems(unknown.value.to_json(), "Problem") == []


# deliveries


async def test_a_received_dm_arrives_as_xs_dm_received_envelope(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id, tag="dm-inbound")
    message = await emu.send(ALICE_ID, BOT_ID, "hello!")
    await emu.deliveries_settled()
    [(headers, body)] = receiver.posts
    assert signature.verify(CS, body, headers["x-twitter-webhooks-signature"])
    [payload] = receiver.payloads()
    assert same_shape(payload, documented("xaa/dm.received.json"))
    data = payload["data"]
    assert (data["event_type"], data["tag"], data["filter"]) == (
        "dm.received",
        "dm-inbound",
        {"user_id": BOT_ID},
    )
    assert "for_user_id" not in payload and "apps" not in data["payload"]
    [event] = data["payload"]["direct_message_events"]
    assert event["id"] == message.id and "source_app_id" not in event["message_create"]
    assert event["message_create"]["sender_id"] == ALICE_ID
    assert event["message_create"]["message_data"]["text"] == "hello!"
    users = data["payload"]["users"]
    assert users[ALICE_ID]["data"]["username"] == "alice"
    assert users[BOT_ID]["data"]["username"] == "pizzabot"
    record = emu.delivery_log[-1]
    assert (record.kind, record.for_user_id, record.event_id) == ("dm.received", BOT_ID, message.id)


async def test_the_accounts_own_send_arrives_as_dm_sent(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.sent", webhook_id=hook_id, tag="dm-outbound")
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    v1_body = {
        "event": {
            "type": "message_create",
            "message_create": {
                "target": {"recipient_id": ALICE_ID},
                "message_data": {"text": "v1.1"},
            },
        }
    }
    async with user(emu) as bot:
        v1 = (await bot.post("/1.1/direct_messages/events/new.json", json=v1_body)).json()
        v2 = (
            await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "v2"})
        ).json()
    await emu.deliveries_settled()
    sent = envelopes(receiver)
    assert [e["event_type"] for e in sent] == ["dm.sent", "dm.sent"]
    assert same_shape(receiver.payloads()[0], documented("xaa/dm.sent.json"))
    ids = [e["payload"]["direct_message_events"][0]["id"] for e in sent]
    assert ids == [v1["event"]["id"], v2["data"]["dm_event_id"]]
    assert all(e["filter"] == {"user_id": BOT_ID} for e in sent)


async def test_a_webhook_with_aaa_and_xaa_gets_both_shapes_of_one_dm(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    message = await emu.send(ALICE_ID, BOT_ID, "twice, in two shapes")
    await emu.deliveries_settled()
    aaa, xaa = receiver.payloads()
    assert aaa["direct_message_events"][0]["id"] == message.id
    assert xaa["data"]["payload"]["direct_message_events"][0]["id"] == message.id
    assert [r.kind for r in emu.delivery_log if r.kind != "crc"] == [
        "direct_message_events",
        "dm.received",
    ]


async def test_each_subscribed_account_gets_its_own_envelope(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.sent", webhook_id=hook_id)
    emu.subscribe_activity(SUPPORT_ID, "dm.received", webhook_id=hook_id)
    message = await emu.send(BOT_ID, SUPPORT_ID, "hand-over")
    await emu.deliveries_settled()
    got = {(e["event_type"], e["filter"]["user_id"]) for e in envelopes(receiver)}
    assert got == {("dm.sent", BOT_ID), ("dm.received", SUPPORT_ID)}
    uuids = {e["event_uuid"] for e in envelopes(receiver)}
    dm_ids = {e["payload"]["direct_message_events"][0]["id"] for e in envelopes(receiver)}
    assert len(uuids) == 2 and dm_ids == {message.id}


async def test_a_stream_only_subscription_feeds_the_activity_log(
    emu: Emulator, receiver: Receiver
) -> None:
    sub = emu.subscribe_activity(BOT_ID, "dm.received", tag="stream")
    before = emu.clock()
    message = await emu.send(ALICE_ID, BOT_ID, "for the stream")
    await emu.deliveries_settled()
    assert receiver.posts == []
    [event] = emu.activity_log
    assert (event.subscription_id, event.event_type, event.webhook_id) == (
        sub.id,
        "dm.received",
        None,
    )
    assert before <= event.at <= emu.clock()
    assert same_shape(event.envelope, documented("xaa/dm.received.json"))
    assert event.envelope["data"]["payload"]["direct_message_events"][0]["id"] == message.id


async def test_typing_and_read_receipts_reach_xaa_subscribers(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    for event_type in ("dm.indicate_typing", "dm.read"):
        emu.subscribe_activity(BOT_ID, event_type, webhook_id=hook_id)
    emu.set_realism({"typing_events": True, "read_events": True})
    await emu.send(ALICE_ID, BOT_ID, "hi")
    reply = await emu.post_message(BOT_ID, ALICE_ID, {"text": "hello"}, source_app_id="1")
    await emu.send(ALICE_ID, BOT_ID, "thanks")
    await emu.deliveries_settled()
    kinds = [e["event_type"] for e in envelopes(receiver)]
    assert kinds == ["dm.indicate_typing", "dm.read", "dm.indicate_typing"]
    typing, read, _ = envelopes(receiver)
    [typed] = typing["payload"]["direct_message_indicate_typing_events"]
    assert same_shape(
        typed,
        example("direct_message_indicate_typing_events.json")[
            "direct_message_indicate_typing_events"
        ][0],
    )
    assert typed["sender_id"] == ALICE_ID and set(typing["payload"]["users"]) == {ALICE_ID, BOT_ID}
    [seen] = read["payload"]["direct_message_mark_read_events"]
    assert seen["last_read_event_id"] == reply.id


async def test_realism_switches_apply_to_xaa_deliveries(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    emu.set_realism(
        {"duplicates": True, "drop_metadata": True, "retries": True, "retry_schedule": [0.01]}
    )
    receiver.answers = [500]
    await emu.send(ALICE_ID, BOT_ID, "Medium", metadata="size:medium")
    await emu.deliveries_settled()
    attempts = [(r.attempt, r.status, r.duplicate) for r in emu.delivery_log if r.kind != "crc"]
    assert attempts == [(1, 500, False), (1, 200, True), (2, 200, False)]
    assert len({body for _, body in receiver.posts}) == 1
    data = envelopes(receiver)[0]["payload"]["direct_message_events"][0]["message_create"]
    assert "quick_reply_response" not in data["message_data"]


async def test_out_of_order_holds_xaa_deliveries_too(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    emu.set_realism({"out_of_order": True, "hold": 600.0})
    first = await emu.send(ALICE_ID, BOT_ID, "first")
    [held] = emu.held
    assert (held.kind, held.event_id) == ("dm.received", first.id)
    second = await emu.send(ALICE_ID, BOT_ID, "second")
    await emu.deliveries_settled()
    ids = [e["payload"]["direct_message_events"][0]["id"] for e in envelopes(receiver)]
    assert ids == [second.id, first.id]


async def test_an_invalid_webhook_gets_no_envelopes(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    receiver.crc = "wrong"
    await emu.check_webhook(hook_id)
    await emu.send(ALICE_ID, BOT_ID, "anyone?")
    await emu.deliveries_settled()
    assert receiver.posts == [] and len(emu.activity_log) == 1


async def test_revoking_ends_the_accounts_private_subscriptions(emu: Emulator) -> None:
    emu.subscribe_activity(BOT_ID, "dm.received")
    public = emu.subscribe_activity(BOT_ID, "follow.follow")
    await emu.revoke(BOT_ID)
    assert emu.activity_subscriptions == [public]


# the admin controls


async def test_admin_controls_register_subscribe_list_and_replay(
    emu: Emulator, receiver: Receiver
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://127.0.0.1"
    ) as admin:
        hook = (await admin.post("/_emulator/webhooks", json={"url": HOOK_URL, "api": "v2"})).json()
        added = await admin.post(
            "/_emulator/activity", json={"user_id": "pizzabot", "webhook_id": hook["id"]}
        )
        stream = await admin.post(
            "/_emulator/activity", json={"user_id": BOT_ID, "event_type": "dm.sent"}
        )
        refused = await admin.post("/_emulator/activity", json={"user_id": BOT_ID})
        await admin.post("/_emulator/send", json={"from": "alice", "to": BOT_ID, "text": "hi"})
        state = (await admin.get("/_emulator/state")).json()
        listed = (await admin.get("/_emulator/activity")).json()
        replayed = await admin.post("/_emulator/replay", json={"webhook_id": hook["id"]})
        await admin.post("/_emulator/settle")
    assert hook["api"] == "v2" and added.status_code == 201 and stream.status_code == 201
    assert refused.status_code == 409 and refused.json()["problem"]["status"] == 409
    assert [s["event_type"] for s in state["activity_subscriptions"]] == ["dm.received", "dm.sent"]
    assert [w["api"] for w in state["webhooks"]] == ["v2"]
    [event] = listed["events"]
    assert event["event_type"] == "dm.received" and event["webhook_id"] == hook["id"]
    assert replayed.status_code == 201 and replayed.json()["replayed"] == 1
    assert [p.get("data", {}).get("event_type") for p in receiver.payloads()] == [
        "dm.received",
        "dm.received",
        None,
    ]
    assert "replay_job_status" in receiver.payloads()[-1]


async def test_xaa_envelopes_survive_a_json_round_trip_as_x_sends_them(
    emu: Emulator, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    await asyncio.gather(*(emu.send(ALICE_ID, BOT_ID, f"n{n} é🍕") for n in range(3)))
    await emu.deliveries_settled()
    for _, body in receiver.posts:
        data = json.loads(body)["data"]
        assert data["payload"]["direct_message_events"][0]["message_create"]["message_data"][
            "text"
        ].endswith("é🍕")
