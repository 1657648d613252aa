"""The X client: OAuth 1.0a signing, calls and answers, through real HTTP seams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest

from dmbot.twitter.client import XClient


class Capture:
    """An httpx transport that records requests and answers with a fixed response."""

    def __init__(self, status: int = 200, body: object = None, **headers: str) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = {} if body is None else body
        self.headers = headers

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
