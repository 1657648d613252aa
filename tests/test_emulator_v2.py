"""Today's X in the emulator: v2 webhooks, AAA v2 subscriptions, and v2's RFC 7807 errors.

Every answer is checked against the schema X's OpenAPI spec (v2.167) gives for
it (tests/fixtures/openapi/), and against X's published examples where there
are some. Requests are signed by authlib or carry the app's bearer token from
``/oauth2/token``; the webhook is a real Starlette app over ``ASGITransport``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from openapi import problems
from test_emulator_api import ALICE_ID, API, BOT_ID, CS, HOOK_URL, Receiver, example, same_shape
from v2api import (
    INVALID_REQUEST,
    NOT_FOUND,
    UNAUTHORIZED,
    UNSUPPORTED,
    app,
    conforms,
    problem,
    user,
    v2_hook,
)

from dmbot.edge import signature
from dmbot.emulator import Emulator, Problem
from dmbot.emulator.webhooks import V2_SUBSCRIPTIONS, V2_WEBHOOKS


def test_the_openapi_validator_finds_what_breaks_a_schema() -> None:
    hook = {"id": "1", "url": "u", "valid": True, "created_at": "t"}
    assert problems({"data": hook}, "CreateWebhooksResponse") == []
    assert problems({"data": {**hook, "valid": "yes"}}, "CreateWebhooksResponse")
    assert problems({"data": {"id": "1"}}, "CreateWebhooksResponse")  # required members
    send = "CreateDirectMessagesByParticipantIdRequest"
    assert problems({"text": "hi", "quick_reply": {}}, send)  # additionalProperties: false
    assert problems({}, send)  # anyOf: text or attachments
    unknown = {"type": "https://api.x.com/2/problems/nope", "title": "t", "detail": "d"}
    assert problems(unknown, "Problem")  # the discriminator maps no such type


# v2 webhooks


async def test_register_runs_a_crc_and_answers_the_specs_shape(
    emu: Emulator, receiver: Receiver
) -> None:
    async with app(emu) as api:
        empty = await api.get("/2/webhooks")
        created = await api.post("/2/webhooks", json={"url": HOOK_URL})
        listed = await api.get("/2/webhooks")
    assert empty.json() == example("management/v2_get_webhooks_empty_response_200.json")
    body = conforms(created, "CreateWebhooksResponse")
    assert same_shape(body, example("management/v2_post_webhooks_response_200.json"))
    hook = body["data"]
    assert (hook["url"], hook["valid"]) == (HOOK_URL, True)
    assert time.strptime(hook["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    [crc] = receiver.crc_queries
    assert set(crc) == {"crc_token", "nonce"}
    assert conforms(listed, "GetWebhooksResponse") == {"data": [hook], "meta": {"result_count": 1}}
    assert same_shape(listed.json(), example("management/v2_get_webhooks_response_200.json"))
    assert [w.api for w in emu.webhooks] == ["v2"]
    assert created.headers["x-rate-limit-limit"] == "15"


async def test_register_takes_oauth1_user_context_too(emu: Emulator) -> None:
    async with user(emu) as api:
        created = await api.post("/2/webhooks", json={"url": HOOK_URL})
        listed = await api.get("/2/webhooks")  # listing takes the bearer token only
    assert conforms(created, "CreateWebhooksResponse")["data"]["valid"] is True
    assert "OAuth 2.0 Application-Only" in problem(listed, 403, UNSUPPORTED)["detail"]


@pytest.mark.parametrize("mode", ["wrong", "hang"])
async def test_a_failed_crc_is_an_invalid_request(
    emu: Emulator, receiver: Receiver, mode: str
) -> None:
    receiver.crc = mode
    emu.realism.timeout = 0.05
    async with app(emu) as api:
        answer = await api.post("/2/webhooks", json={"url": HOOK_URL})
    body = problem(answer, 400, INVALID_REQUEST)
    assert "CRC" in body["detail"] and emu.webhooks == []


@pytest.mark.parametrize(
    "body",
    [{}, {"url": ""}, {"url": "https://x.test/" + "a" * 200}, {"url": HOOK_URL, "env_name": "p"}],
    ids=["no url", "empty url", "url over 200", "env_name"],
)
async def test_register_refuses_what_the_schema_refuses(emu: Emulator, body: Any) -> None:
    async with app(emu) as api:
        answer = await api.post("/2/webhooks", json=body)
    problem(answer, 400, INVALID_REQUEST)
    assert emu.webhooks == []


async def test_an_app_has_at_most_v2_webhooks_webhooks(emu: Emulator) -> None:
    async with app(emu) as api:
        for n in range(V2_WEBHOOKS):
            answer = await api.post("/2/webhooks", json={"url": f"{HOOK_URL}?n={n}"})
            conforms(answer, "CreateWebhooksResponse")
        refused = await api.post("/2/webhooks", json={"url": f"{HOOK_URL}?n=9"})
    assert V2_WEBHOOKS == 5
    assert "DELETE /2/webhooks" in problem(refused, 403)["detail"]
    with pytest.raises(Problem) as raised:
        await emu.register_webhook_v2(f"{HOOK_URL}?n=10")
    assert raised.value.status == 403


async def test_put_reruns_the_crc(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    async with app(emu) as api:
        passed = await api.put(f"/2/webhooks/{hook_id}")
        receiver.crc = "wrong"
        failed = await api.put(f"/2/webhooks/{hook_id}")
        listed = (await api.get("/2/webhooks")).json()
        missing = await api.put("/2/webhooks/123")
        malformed = await api.put("/2/webhooks/abc")
    assert conforms(passed, "ValidateWebhooksResponse") == example(
        "management/v2_put_webhook_validate_response_200.json"
    )
    assert conforms(failed, "ValidateWebhooksResponse") == {"data": {"valid": False}}
    assert listed["data"][0]["valid"] is False
    assert problem(missing, 404, NOT_FOUND)["resource_type"] == "webhook"
    problem(malformed, 400, INVALID_REQUEST)
    assert len(receiver.crc_queries) == 3


async def test_v1_and_v2_webhooks_do_not_see_each_other(emu: Emulator) -> None:
    v1 = await emu.register_webhook(HOOK_URL)
    v2 = await v2_hook(emu, HOOK_URL + "?v2")
    async with app(emu) as api:
        v2_list = (await api.get("/2/webhooks")).json()["data"]
        v1_list = (await api.get("/1.1/account_activity/webhooks.json")).json()
        wrong = await api.put(f"/2/webhooks/{v1.id}")
    assert [h["id"] for h in v2_list] == [v2] and [h["id"] for h in v1_list] == [v1.id]
    problem(wrong, 404, NOT_FOUND)


async def test_delete_takes_the_webhooks_subscriptions_with_it(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id)
    stream_only = emu.subscribe_activity(BOT_ID, "dm.sent")
    async with app(emu) as api:
        deleted = await api.delete(f"/2/webhooks/{hook_id}")
        again = await api.delete(f"/2/webhooks/{hook_id}")
    assert conforms(deleted, "DeleteWebhooksResponse") == example(
        "management/v2_delete_webhook_response_200.json"
    )
    problem(again, 404, NOT_FOUND)
    assert emu.webhooks == [] and emu.subscriptions == set()
    assert emu.activity_subscriptions == [stream_only]


# AAA v2 subscriptions


async def test_aaa_v2_subscription_lifecycle(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    base = f"/2/account_activity/webhooks/{hook_id}/subscriptions"
    async with user(emu) as bot, app(emu) as api:
        added = await bot.post(f"{base}/all")
        again = await bot.post(f"{base}/all", json={})
        check = await bot.get(f"{base}/all")
        listed = await api.get(f"{base}/all/list")
        count = await api.get("/2/account_activity/subscriptions/count")
        removed = await api.delete(f"{base}/{BOT_ID}/all")
        gone = await bot.get(f"{base}/all")
        removed_again = await api.delete(f"{base}/{BOT_ID}/all")
    assert conforms(added, "CreateAccountActivitySubscriptionResponse") == example(
        "management/v2_post_subscription_response_200.json"
    )
    assert "already exists" in problem(again, 409)["detail"]
    assert conforms(check, "ValidateAccountActivitySubscriptionResponse") == example(
        "management/v2_get_subscription_check_response_200.json"
    )
    subscribers = conforms(listed, "GetAccountActivitySubscriptionsResponse")
    assert same_shape(
        subscribers, example("management/v2_get_subscriptions_list_response_200.json")
    )
    assert subscribers["data"] == {
        "application_id": emu.world.app.id,
        "webhook_id": hook_id,
        "webhook_url": HOOK_URL,
        "subscriptions": [{"user_id": BOT_ID}],
    }
    counted = conforms(count, "GetAccountActivitySubscriptionCountResponse")
    assert same_shape(counted, example("management/v2_get_subscriptions_count_response_200.json"))
    assert counted["data"]["subscriptions_count_all"] == "1"
    assert counted["data"]["provisioned_count"] == str(V2_SUBSCRIPTIONS)
    assert conforms(removed, "DeleteAccountActivitySubscriptionResponse") == example(
        "management/v2_delete_subscription_response_200.json"
    )
    assert conforms(gone, "ValidateAccountActivitySubscriptionResponse") == {
        "data": {"subscribed": False}
    }
    problem(removed_again, 404, NOT_FOUND)


async def test_aaa_v2_credentials_follow_the_spec(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    base = f"/2/account_activity/webhooks/{hook_id}/subscriptions"
    async with app(emu) as api, user(emu) as bot:
        app_subscribes = await api.post(f"{base}/all")
        bot_lists = await bot.get(f"{base}/all/list")
        unknown_hook = await bot.post("/2/account_activity/webhooks/42/subscriptions/all")
    body = problem(app_subscribes, 403, UNSUPPORTED)
    assert body["title"] == "Unsupported Authentication"
    assert "OAuth 1.0a User Context" in body["detail"]
    problem(bot_lists, 403, UNSUPPORTED)
    problem(unknown_hook, 404, NOT_FOUND)
    assert emu.subscriptions == set()


async def test_aaa_v2_deliveries_are_the_v1_payloads(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    async with user(emu) as bot:
        await bot.post(f"/2/account_activity/webhooks/{hook_id}/subscriptions/all")
    message = await emu.send(ALICE_ID, BOT_ID, "hello v2")
    await emu.deliveries_settled()
    [(headers, body)] = receiver.posts
    assert signature.verify(CS, body, headers["x-twitter-webhooks-signature"])
    [payload] = receiver.payloads()
    documented = example("direct_message_events.json")
    del (
        documented["apps"],
        documented["direct_message_events"][0]["message_create"]["source_app_id"],
    )
    assert same_shape(payload, documented) and payload["for_user_id"] == BOT_ID
    assert payload["direct_message_events"][0]["id"] == message.id


# credentials, faults and limits on /2/


async def test_missing_or_wrong_credentials_get_xs_v2_401(emu: Emulator) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as raw:
        unsigned = await raw.get("/2/webhooks")
        wrong = await raw.get("/2/webhooks", headers={"Authorization": "Bearer nope"})
        user_path = await raw.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "x"}
        )
    async with user(emu, token="1000000000001-unknown") as stranger:
        unknown_token = await stranger.post("/2/webhooks", json={"url": HOOK_URL})
    for answer in (unsigned, wrong, user_path, unknown_token):
        assert answer.status_code == 401 and answer.json() == UNAUTHORIZED


async def test_injected_faults_answer_in_the_v2_shape(emu: Emulator) -> None:
    emu.faults.add("webhooks_v2", status=503)
    emu.faults.add("dm_send_v2", status=429, reset_in=30)
    emu.faults.add("activity_subscriptions", status=500)
    emu.faults.add("replay", status=403, code=326)
    async with app(emu) as api, user(emu) as bot:
        unavailable = await api.get("/2/webhooks")
        limited = await bot.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "x"}
        )
        broken = await api.get("/2/activity/subscriptions")
        locked = await api.post("/2/webhooks/replay", json={})
        fine = await api.get("/2/webhooks")
    assert problem(unavailable, 503)["title"] == "Service Unavailable"
    assert problem(limited, 429) == {
        "title": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
        "detail": "Too Many Requests",
    }
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert time.time() + 28 <= int(limited.headers["x-rate-limit-reset"]) <= time.time() + 31
    problem(broken, 500, "https://api.x.com/2/problems/internal-error")
    assert "locked" in problem(locked, 403)["detail"]
    assert fine.status_code == 200 and emu.messages == []


async def test_a_spent_window_answers_a_429_problem(emu: Emulator) -> None:
    async with app(emu) as api:
        answers = [await api.get("/2/webhooks") for _ in range(16)]
    assert [a.status_code for a in answers] == [200] * 15 + [429]
    problem(answers[15], 429)
    assert answers[15].headers["x-rate-limit-remaining"] == "0"


async def test_subscribing_a_person_on_a_v2_webhook_says_why_it_cannot(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    with pytest.raises(Problem) as raised:
        emu.subscribe(hook_id, ALICE_ID)
    assert raised.value.status == 401 and "has not authorized the app" in raised.value.detail
    with pytest.raises(Problem) as twice:
        emu.subscribe(hook_id, BOT_ID)
        emu.subscribe(hook_id, BOT_ID)
    assert twice.value.status == 409


async def test_an_app_has_at_most_v2_subscriptions_aaa_subscriptions(emu: Emulator) -> None:
    hook_id = await v2_hook(emu)
    # The other accounts' subscriptions, as X would count them: the app's whole quota.
    emu.world.subscriptions.update((hook_id, str(n)) for n in range(V2_SUBSCRIPTIONS))
    async with user(emu) as bot:
        refused = await bot.post(f"/2/account_activity/webhooks/{hook_id}/subscriptions/all")
    assert "subscriptions/:user_id/all" in problem(refused, 403)["detail"]
    assert (hook_id, BOT_ID) not in emu.subscriptions
