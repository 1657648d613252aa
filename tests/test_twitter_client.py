"""The X client: OAuth 1.0a signing, calls and answers, through real HTTP seams."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from clock import Clock
from images import png
from streams import served

from dmbot.edge.webhook import create_webhook_app
from dmbot.emulator import Emulator
from dmbot.errors import ConfigError, PermanentError, RateLimited, TransientError
from dmbot.store.memory import MemoryStore
from dmbot.x.client import XClient
from dmbot.x.paths import paths_for
from dmbot.x.ratelimit import RateLimiter


class Capture:
    """An httpx transport that records requests and answers with a fixed response."""

    def __init__(
        self, status: int = 200, body: object = None, headers: dict[str, str] | None = None
    ) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = {} if body is None else body
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status == 204:
            return httpx.Response(204, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def oauth_params(request: httpx.Request) -> dict[str, str]:
    scheme, _, rest = request.headers["authorization"].partition(" ")
    assert scheme == "OAuth"
    pairs = (item.strip().split("=", 1) for item in rest.split(","))
    return {k: unquote(v.strip('"')) for k, v in pairs}


# -- X's worked example ("Creating a signature", developer.twitter.com) --------


async def test_signature_matches_xs_published_worked_example() -> None:
    capture = Capture()
    client = XClient(
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        transport=capture.transport,
        nonce=lambda: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        clock=lambda: 1318622958.0,
    )
    async with client:
        await client.request(
            "POST",
            "/1.1/statuses/update.json",
            params={"include_entities": "true"},
            data={"status": "Hello Ladies + Gentlemen, a signed OAuth request!"},
        )
    (request,) = capture.requests
    assert (
        str(request.url) == "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
    )
    assert request.content == b"status=Hello+Ladies+%2B+Gentlemen%2C+a+signed+OAuth+request%21"
    params = oauth_params(request)
    assert params["oauth_signature"] == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    assert params == {
        "oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
        "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        "oauth_signature": "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1318622958",
        "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        "oauth_version": "1.0",
    }


async def test_json_bodies_are_sent_whole_and_left_out_of_the_signature() -> None:
    capture = Capture(body={"event": {"id": "1", "created_timestamp": "2"}})
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        transport=capture.transport,
    ) as client:
        await client.send_dm("2", {"text": "hi"})
    (request,) = capture.requests
    assert json.loads(request.content) == {
        "event": {
            "type": "message_create",
            "message_create": {"target": {"recipient_id": "2"}, "message_data": {"text": "hi"}},
        }
    }
    assert "oauth_body_hash" not in oauth_params(request)
    assert request.headers["content-type"] == "application/json"


# -- bearer token ---------------------------------------------------------------


@pytest.fixture
async def bearer_client() -> AsyncIterator[tuple[XClient, Capture]]:
    capture = Capture(status=204)
    client = XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        bearer_token="AAAA-bearer",
        transport=capture.transport,
    )
    yield client, capture
    await client.aclose()


async def test_calls_documented_with_a_bearer_token_use_it(
    bearer_client: tuple[XClient, Capture],
) -> None:
    client, capture = bearer_client
    await client.remove_subscription("42")
    await client.subscribe()
    remove, subscribe = capture.requests
    assert remove.method == "DELETE"
    assert remove.url.path == "/1.1/account_activity/all/production/subscriptions/42.json"
    assert remove.headers["authorization"] == "Bearer AAAA-bearer"
    # Subscribing acts for the account itself: always its own tokens.
    assert subscribe.headers["authorization"].startswith("OAuth ")
    assert oauth_params(subscribe)["oauth_token"] == "1-t"


@pytest.mark.parametrize("api", ["premium", "enterprise", "v2", "activity"])
async def test_the_webhook_id_comes_last_in_every_generation(api: str) -> None:
    paths = paths_for(api)
    removal = paths.remove_subscription("42", "77").path
    assert "/subscriptions/42" in removal and ("77" in removal) == paths.needs_webhook_id
    if api != "premium":  # premium has no replay
        replay = paths.replay("202612061000", "202612061100", "77")
        fields = {**replay.params, **(replay.json or {})}
        assert (fields["from_date"], fields["to_date"]) == ("202612061000", "202612061100")
        assert "77" in replay.path or fields["webhook_id"] == "77"


def test_a_bearer_token_that_cannot_be_sent_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"twitter\.bearer_token"):
        XClient(consumer_key="ck", consumer_secret="cs", bearer_token="AAAA\u00e9")


async def test_without_a_bearer_token_user_context_is_used() -> None:
    capture = Capture(body={"subscriptions_count_all": "3", "provisioned_count": "15"})
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        transport=capture.transport,
    ) as client:
        count = await client.subscription_count()
    assert (count.subscriptions_count_all, count.provisioned_count) == (3, 15)
    assert capture.requests[0].headers["authorization"].startswith("OAuth ")


async def test_enterprise_paths_find_the_only_webhook() -> None:
    hooks = [{"id": "77", "url": "https://b.example/x", "valid": True, "created_at": "c"}]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/1.1/account_activity/webhooks.json":
            return httpx.Response(200, json=hooks)
        return httpx.Response(204)

    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return answer(request)

    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        api="enterprise",
        transport=httpx.MockTransport(record),
    ) as client:
        assert await client.check_subscription() is True
    assert seen == [
        "GET /1.1/account_activity/webhooks.json",
        "GET /1.1/account_activity/webhooks/77/subscriptions/all.json",
    ]


# -- against the emulator ------------------------------------------------------

BOT_ID, BOT_TOKEN, BOT_SECRET = "1000000000001", "1000000000001-abc", "ts"
ALICE_ID = "2000000000001"
HOOK_URL = "https://bot.example.com/webhooks/twitter"


@pytest.fixture
async def emu(clock: Clock) -> AsyncIterator[Emulator]:
    bot_server = create_webhook_app(consumer_secret="cs", store=MemoryStore())
    emulator = Emulator(
        consumer_key="ck",
        consumer_secret="cs",
        app_id="13090192",
        webhook_transport=httpx.ASGITransport(app=bot_server),
        clock=clock,
    )
    emulator.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    # The client writes to her first here: she accepts message requests.
    emulator.add_user(ALICE_ID, "alice", accepts_requests=True)
    yield emulator
    await emulator.aclose()


@pytest.fixture(params=["in process", "loopback"])
async def route(request: pytest.FixtureRequest, emu: Emulator) -> AsyncIterator[dict[str, Any]]:
    """How the client reaches the emulator: httpx's ASGI transport, or HTTP on loopback
    through dmbot's own transport, where the client writes its requests itself."""
    if request.param == "in process":
        yield {"api_url": "http://x.test", "transport": httpx.ASGITransport(app=emu.app)}
    else:
        async with served(emu) as base:
            yield {"api_url": base, "transport": None}


def x_client(route: dict[str, Any], now: Clock, **overrides: Any) -> XClient:
    options: dict[str, Any] = {
        "consumer_key": "ck",
        "consumer_secret": "cs",
        "token": BOT_TOKEN,
        "token_secret": BOT_SECRET,
        **route,
        "clock": now,
        "limiter": RateLimiter(clock=now),
    }
    return XClient(**(options | overrides))


@pytest.fixture
async def client(route: dict[str, Any], clock: Clock) -> AsyncIterator[XClient]:
    async with x_client(route, clock) as c:
        yield c


async def test_send_dm_with_quick_replies_buttons_and_media(emu: Emulator, client: XClient) -> None:
    media = emu.media.upload(BOT_ID, png(), category="dm_image")
    message_data = {
        "text": "Which size?",
        "quick_reply": {
            "type": "options",
            "options": [
                {"label": "Small", "description": "25 cm", "metadata": "size:s"},
                {"label": "Large", "description": "35 cm", "metadata": "size:l"},
            ],
        },
        "ctas": [{"type": "web_url", "label": "Menu", "url": "https://pizza.example/menu"}],
        "attachment": {"type": "media", "media": {"id": media.id}},
    }
    sent = await client.send_dm(ALICE_ID, message_data)
    (message,) = emu.messages
    assert sent.id == message.id and sent.created_timestamp == str(message.created_ms)
    assert (message.sender_id, message.recipient_id) == (BOT_ID, ALICE_ID)
    assert message.source_app_id == "13090192"
    assert message.message_data["quick_reply"] == message_data["quick_reply"]
    assert message.message_data["ctas"][0]["url"] == "https://pizza.example/menu"
    assert message.message_data["attachment"] == {"type": "media", "media": {"id": media.id}}


async def test_a_wrong_consumer_secret_is_refused_with_a_fix(
    emu: Emulator, route: dict[str, Any], clock: Clock
) -> None:
    async with x_client(route, clock, consumer_secret="not-the-secret") as client:
        with pytest.raises(PermanentError) as caught:
            await client.send_dm(ALICE_ID, {"text": "hi"})
    assert (caught.value.status, caught.value.code) == (401, 32)
    assert "consumer_secret" in str(caught.value) and "env_name" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    assert emu.messages == []


async def test_a_wrong_token_secret_is_refused(
    emu: Emulator, route: dict[str, Any], clock: Clock
) -> None:
    async with x_client(route, clock, token_secret="wrong") as client:
        with pytest.raises(PermanentError) as caught:
            await client.verify_credentials()
    assert caught.value.code == 32


async def test_a_clock_far_off_is_refused_with_code_135(
    emu: Emulator, route: dict[str, Any], clock: Clock
) -> None:
    async with x_client(route, clock, clock=lambda: clock.now - 3600) as client:
        with pytest.raises(PermanentError) as caught:
            await client.verify_credentials()
    assert caught.value.code == 135 and "clock" in str(caught.value)


async def test_typing_read_receipts_and_credentials(emu: Emulator, client: XClient) -> None:
    sent = await client.send_dm(ALICE_ID, {"text": "hi"})
    await client.indicate_typing(ALICE_ID)
    await client.mark_read(ALICE_ID, sent.id)
    typing, read = emu.indicators
    assert (typing.kind, typing.sender_id, typing.recipient_id) == ("typing", BOT_ID, ALICE_ID)
    assert (read.kind, read.last_read_event_id) == ("read", sent.id)
    me = await client.verify_credentials()
    assert (me.id, me.screen_name) == (BOT_ID, "pizzabot")


async def test_welcome_messages_and_rules(client: XClient) -> None:
    welcome = await client.welcome.create({"text": "Welcome!"}, name="hello")
    assert (welcome.name, welcome.message_data["text"]) == ("hello", "Welcome!")
    assert [w.id for w in await client.welcome.all()] == [welcome.id]
    rule = await client.welcome.create_rule(welcome.id)
    assert rule.welcome_message_id == welcome.id
    await client.welcome.delete_rule(rule.id)
    await client.welcome.delete(welcome.id)
    assert await client.welcome.all() == []


@pytest.mark.parametrize("api", ["premium", "enterprise"])
async def test_webhook_and_subscription_management(
    emu: Emulator, route: dict[str, Any], clock: Clock, api: str
) -> None:
    async with x_client(route, clock, api=api) as client:
        hook = await client.register_webhook(HOOK_URL)
        assert (hook.url, hook.valid) == (HOOK_URL, True)
        assert [h.id for h in await client.list_webhooks()] == [hook.id]
        assert await client.crc_check(hook.id) is True
        assert await client.check_subscription() is False
        await client.subscribe()
        assert (hook.id, BOT_ID) in emu.subscriptions
        assert await client.check_subscription() is True
        assert (await client.list_subscriptions()).user_ids == (BOT_ID,)
        assert (await client.subscription_count()).subscriptions_count_all == 1
        with pytest.raises(PermanentError) as caught:
            await client.subscribe()
        assert caught.value.code == 355 and "nothing to do" in str(caught.value)
        await client.remove_subscription(BOT_ID)
        assert emu.subscriptions == set()
        await client.delete_webhook(hook.id)
        assert await client.list_webhooks() == []


async def test_registering_a_webhook_whose_crc_fails_explains_214(
    emu: Emulator, client: XClient
) -> None:
    with pytest.raises(PermanentError) as caught:
        await client.register_webhook("https://bot.example.com/not-the-webhook-path")
    assert caught.value.code == 214
    assert "CRC within 3 seconds" in str(caught.value)
    assert emu.webhooks == []


async def test_pin_flow_gives_an_accounts_tokens(
    emu: Emulator, route: dict[str, Any], clock: Clock
) -> None:
    async with x_client(route, clock, token="", token_secret="") as app:
        request = await app.authorization.request_token()
        url = app.authorization.authorize_url(request.token)
        assert url == f"{route['api_url']}/oauth/authorize?oauth_token={request.token}"
        # The account's owner signs in and approves in a browser; X shows a PIN.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app), base_url="http://x.test"
        ) as browser:
            assert (await browser.get(url)).status_code == 200
            page = await browser.post(
                "/oauth/authorize", data={"oauth_token": request.token, "user_id": ALICE_ID}
            )
        pin = re.search(r'id="oauth_pin">(\d+)<', page.text)
        assert pin is not None
        token = await app.authorization.access_token(request.token, request.secret, pin.group(1))
    assert (token.user_id, token.screen_name) == (ALICE_ID, "alice")
    async with x_client(route, clock, token=token.token, token_secret=token.secret) as alice:
        assert (await alice.verify_credentials()).id == ALICE_ID


async def test_a_wrong_pin_is_refused(emu: Emulator, route: dict[str, Any], clock: Clock) -> None:
    async with x_client(route, clock, token="", token_secret="") as app:
        request = await app.authorization.request_token()
        with pytest.raises(PermanentError) as caught:
            await app.authorization.access_token(request.token, request.secret, "0000000")
    assert caught.value.status == 401


async def test_429_is_honoured_until_the_reset(
    emu: Emulator, route: dict[str, Any], clock: Clock
) -> None:
    emu.faults.add("dm_send", status=429, code=88, count=1, reset_in=30.0)
    async with x_client(route, clock) as client:
        with pytest.raises(RateLimited) as first:
            await client.send_dm(ALICE_ID, {"text": "hi"})
        assert first.value.reset_at == pytest.approx(clock.now + 30, abs=1)
        # The fault is used up: only our own limiter can refuse this one.
        with pytest.raises(RateLimited) as second:
            await client.send_dm(ALICE_ID, {"text": "hi"})
        assert second.value.status == 0 and second.value.reset_at == first.value.reset_at
        assert emu.messages == []
        clock.now = first.value.reset_at + 0.5
        await client.send_dm(ALICE_ID, {"text": "hi"})
    assert [m.text for m in emu.messages] == ["hi"]


async def test_remaining_zero_stops_calls_before_x_says_429() -> None:
    capture = Capture(
        body={"id_str": "1", "screen_name": "b", "name": "B"},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 600)},
    )
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        transport=capture.transport,
    ) as client:
        await client.verify_credentials()
        with pytest.raises(RateLimited):
            await client.verify_credentials()
        await client.indicate_typing("2")  # another endpoint, another window
    assert len(capture.requests) == 2


async def test_server_errors_are_transient(emu: Emulator, client: XClient) -> None:
    emu.faults.add("dm_send", status=503, code=131, count=1)
    with pytest.raises(TransientError) as caught:
        await client.send_dm(ALICE_ID, {"text": "hi"})
    assert caught.value.status == 503
    await client.send_dm(ALICE_ID, {"text": "hi"})
    assert len(emu.messages) == 1


async def test_network_failures_are_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        transport=httpx.MockTransport(refuse),
    ) as client:
        with pytest.raises(TransientError) as caught:
            await client.send_dm("2", {"text": "hi"})
    assert caught.value.status == 0 and "connection refused" in str(caught.value)


async def test_v2_send_posts_text_and_one_media() -> None:
    capture = Capture(status=201, body={"data": {"dm_conversation_id": "1-2", "dm_event_id": "99"}})
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1-t",
        token_secret="ts",
        transport=capture.transport,
    ) as client:
        sent = await client.send_dm_v2("2", "hello", media_id="555")
    assert sent.id == "99"
    (request,) = capture.requests
    assert request.url.path == "/2/dm_conversations/with/2/messages"
    assert json.loads(request.content) == {"text": "hello", "attachments": [{"media_id": "555"}]}


async def test_v2_management_paths_and_answers() -> None:
    answers = {
        ("POST", "/2/webhooks"): {
            "data": {"id": "1", "url": HOOK_URL, "valid": True, "created_at": "2025-01-15"}
        },
        ("GET", "/2/webhooks"): {"data": [], "meta": {"result_count": 0}},
        ("PUT", "/2/webhooks/1"): {"data": {"valid": True}},
        ("GET", "/2/account_activity/webhooks/1/subscriptions/all"): {"data": {"subscribed": True}},
        ("GET", "/2/account_activity/subscriptions/count"): {
            "data": {"provisioned_count": "3", "subscriptions_count_all": "1"}
        },
    }
    seen: list[httpx.Request] = []

    def x(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answers[(request.method, request.url.path)])

    async with XClient(
        consumer_key="ck", consumer_secret="cs", token="1-t", token_secret="ts", api="v2",
        bearer_token="B", transport=httpx.MockTransport(x),
    ) as client:  # fmt: skip
        hook = await client.register_webhook(HOOK_URL)
        assert (hook.id, hook.valid) == ("1", True)
        assert await client.list_webhooks() == []
        assert await client.crc_check("1") is True
        assert await client.check_subscription("1") is True
        assert (await client.subscription_count()).provisioned_count == 3
    assert json.loads(seen[0].content) == {"url": HOOK_URL}
    assert seen[0].headers["authorization"] == "Bearer B"
    assert seen[3].headers["authorization"].startswith("OAuth ")  # the user's own check


async def test_request_answers_an_httpx_response_with_its_request_either_way(
    client: XClient,
) -> None:
    """A bot author's own call gets a whole httpx.Response, even when the client wrote
    the request itself: raise_for_status() works and says which URL was asked."""
    response = await client.request(
        "GET", "/1.1/account/verify_credentials.json", params={"skip_status": "true"}
    )
    response.raise_for_status()
    assert response.json()["id_str"] == BOT_ID
    assert response.request.method == "GET"
    assert str(response.request.url).endswith(
        "/1.1/account/verify_credentials.json?skip_status=true"
    )
    assert response.headers["content-type"].startswith("application/json")
