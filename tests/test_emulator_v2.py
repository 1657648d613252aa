"""Today's X in the emulator: v2 webhooks, AAA v2 subscriptions, replay, v2 DM send, problems.

Every answer is checked against the schema X's OpenAPI spec (v2.167) gives for
it (tests/fixtures/openapi/), and against X's published examples where there
are some. Requests are signed by authlib or carry the app's bearer token from
``/oauth2/token``; the webhook is a real Starlette app over ``ASGITransport``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openapi import problems
from test_emulator_api import (
    ALICE_ID,
    API,
    BOT_ID,
    CK,
    CS,
    HOOK_URL,
    OAuth1,
    Receiver,
    example,
    same_shape,
)

from dmbot import signature
from dmbot.emulator import Emulator, Problem
from dmbot.emulator.webhooks import V2_SUBSCRIPTIONS, V2_WEBHOOKS

BOT_TOKEN, BOT_SECRET = "1000000000001-abc", "bot-token-secret"
SUPPORT_ID, SUPPORT_TOKEN, SUPPORT_SECRET = "1000000000002", "1000000000002-sup", "support-secret"
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
INVALID_REQUEST = "https://api.x.com/2/problems/invalid-request"
NOT_FOUND = "https://api.x.com/2/problems/resource-not-found"
UNSUPPORTED = "https://api.x.com/2/problems/unsupported-authentication"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[Emulator]:
    emulator = Emulator(CK, CS, webhook_transport=httpx.ASGITransport(app=receiver.app))
    emulator.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emulator.add_account(SUPPORT_ID, "support", token=SUPPORT_TOKEN, token_secret=SUPPORT_SECRET)
    emulator.add_user(ALICE_ID, "alice", name="Alice")
    emulator.realism.timeout = 0.2
    yield emulator
    await emulator.aclose()


class Bearer(httpx.Auth):
    """The app-only bearer token, fetched from the emulator's ``/oauth2/token`` on first use."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncIterator[httpx.Request]:  # type: ignore[override]
        if self.token is None:
            basic = base64.b64encode(f"{CK}:{CS}".encode()).decode()
            answer = yield httpx.Request(
                "POST",
                f"{API}/oauth2/token",
                headers={"Authorization": f"Basic {basic}"},
                data={"grant_type": "client_credentials"},
            )
            await answer.aread()
            assert answer.json()["token_type"] == "bearer"
            self.token = answer.json()["access_token"]
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def app(emu: Emulator) -> httpx.AsyncClient:
    """A client acting as the app (bearer token)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=Bearer()
    )


def user(emu: Emulator, token: str = BOT_TOKEN, secret: str = BOT_SECRET) -> httpx.AsyncClient:
    """A client acting as an account (OAuth 1.0a user context)."""
    auth = OAuth1(token, secret)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=auth)


def conforms(response: httpx.Response, schema: str, status: int = 200) -> dict[str, Any]:
    """The answer's JSON, once its status and its shape (the spec's ``schema``) are right."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert problems(body, schema) == []
    return body


def problem(response: httpx.Response, status: int, type_: str = "about:blank") -> dict[str, Any]:
    """An RFC 7807 answer of ``status`` and ``type_``; spec'd types are checked by the spec."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"title", "type", "status", "detail"} <= set(body) and body["status"] == status
    assert body["type"] == type_ and body["detail"]
    if type_.startswith("https://api.x.com/2/problems/") and type_ != UNSUPPORTED:
        assert problems(body, "Problem") == []
    return body


async def v2_hook(emu: Emulator, url: str = HOOK_URL) -> str:
    async with app(emu) as api:
        answer = await api.post("/2/webhooks", json={"url": url})
    return str(conforms(answer, "CreateWebhooksResponse")["data"]["id"])


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


# v2 DM send


async def test_v2_send_answers_201_with_the_ids(emu: Emulator) -> None:
    body = example("request_v2_dm_with_media_attachment.json")
    assert problems(body, "CreateDirectMessagesByParticipantIdRequest") == []
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
        "media": {"id": "1583157113245011970"},
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


# replay


async def test_replay_delivers_the_windows_dms_in_every_shape_then_the_job_status(
    receiver: Receiver,
) -> None:
    now = [1_760_000_000.0]
    emu = Emulator(
        CK, CS, webhook_transport=httpx.ASGITransport(app=receiver.app), clock=lambda: now[0]
    )
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_user(ALICE_ID, "alice")
    old = await emu.send(ALICE_ID, BOT_ID, "before the webhook")  # 2 h before the window
    now[0] += 2 * 3600
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id, tag="inbound")
    recent = await emu.send(ALICE_ID, BOT_ID, "missed it")
    now[0] += 120
    await emu.deliveries_settled()
    live = len(receiver.posts)
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(now[0] - 600))
    until = time.strftime("%Y%m%d%H%M", time.gmtime(now[0]))
    async with app(emu) as api:
        answer = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": hook_id, "from_date": minute, "to_date": until},
        )
    job = conforms(answer, "CreateWebhookReplayJobResponse")["data"]
    assert time.strptime(job["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    await emu.deliveries_settled()
    aaa, xaa, status = receiver.payloads()[live:]
    assert aaa["for_user_id"] == BOT_ID and aaa["direct_message_events"][0]["id"] == recent.id
    assert xaa["data"]["event_type"] == "dm.received"
    assert xaa["data"]["payload"]["direct_message_events"][0]["id"] == recent.id
    assert same_shape(status, example("management/v2_aaa_replay_job_status_complete.json"))
    assert status["replay_job_status"] == {
        "webhook_id": hook_id,
        "job_state": "Complete",
        "job_state_description": "Job completed successfully",
        "job_id": job["job_id"],
    }
    assert old.id not in str(receiver.payloads()[live:])
    assert emu.delivery_log[-1].kind == "replay_job_status"
    assert len(emu.activity_log) == 1  # replays do not reach the stream again
    await emu.aclose()


async def test_replay_refuses_windows_x_would_refuse(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    now = time.time()

    def minute(seconds_ago: float) -> str:
        return time.strftime("%Y%m%d%H%M", time.gmtime(now - seconds_ago))

    windows = {
        "older than 24 h": (minute(25 * 3600), minute(0), "from_date"),
        "in the future": (minute(60), minute(-3600), "to_date"),
        "backwards": (minute(60), minute(600), "from_date"),
        "not yyyymmddhhmm": ("2026-01-01", minute(0), "from_date"),
        "not a date": ("202613011200", minute(0), "from_date"),
    }
    async with app(emu) as api:
        for name, (start, end, parameter) in windows.items():
            answer = await api.post(
                "/2/webhooks/replay",
                json={"webhook_id": hook_id, "from_date": start, "to_date": end},
            )
            refused = problem(answer, 400, INVALID_REQUEST)
            assert parameter in refused["errors"][0]["parameters"], name
        unknown = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": "42", "from_date": minute(60), "to_date": minute(0)},
        )
        missing = await api.post("/2/webhooks/replay", json={"webhook_id": hook_id})
        receiver.crc = "wrong"
        await api.put(f"/2/webhooks/{hook_id}")
        invalid = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": hook_id, "from_date": minute(60), "to_date": minute(0)},
        )
    problem(unknown, 404, NOT_FOUND)
    problem(missing, 400, INVALID_REQUEST)
    assert f"PUT /2/webhooks/{hook_id}" in problem(invalid, 400, INVALID_REQUEST)["detail"]
