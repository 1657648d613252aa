from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STORE_KINDS, make_store, wipe
from faults import Down, HeldAppends
from starlette.applications import Starlette
from starlette.routing import Mount

from dmbot.edge import signature
from dmbot.edge.webhook import create_webhook_app
from dmbot.store.memory import MemoryStore

SECRET = "consumer-secret"
PATH = "/webhooks/twitter"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def client(store: MemoryStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_webhook_app(consumer_secret=SECRET, store=store, path=PATH, max_body_bytes=4096)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as c:
        yield c


def signed(body: bytes) -> dict[str, str]:
    return {signature.HEADER: signature.sign(SECRET, body), "content-type": "application/json"}


async def test_crc_answers_with_hmac_of_token(client: httpx.AsyncClient) -> None:
    token = "aGVsbG8gd29ybGQ_from-X=="
    response = await client.get(PATH, params={"crc_token": token, "nonce": "ignored"})
    assert response.status_code == 200
    mac = hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()
    assert response.json() == {"response_token": "sha256=" + base64.b64encode(mac).decode()}


@pytest.mark.parametrize("params", [{}, {"crc_token": '{"for_user_id":"1"}'}, {"crc_token": "x"}])
async def test_crc_refuses_missing_or_malformed_token_unsigned(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(PATH, params=params)
    assert response.status_code == 400
    assert "sha256=" not in response.text


async def test_signed_delivery_is_stored_and_acknowledged(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    body = json.dumps({"for_user_id": "1", "follow_events": []}).encode()
    response = await client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 200
    [item] = await store.read()
    assert item.body == body


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "has no x-twitter-webhooks-signature header"),
        ({signature.HEADER: "AAAA"}, "is not of the form sha256="),
        ({signature.HEADER: "sha256=AAAA"}, "another consumer secret"),
        ({signature.HEADER: signature.sign("another-secret", b'{"a":1}')}, "another consumer"),
    ],
)
async def test_missing_or_wrong_signature_is_401_and_not_stored(
    client: httpx.AsyncClient,
    store: MemoryStore,
    headers: dict[str, str],
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = await client.post(PATH, content=b'{"a":1}', headers=headers)
    assert response.status_code == 401
    assert await store.inbox_size() == 0
    [refused] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused.startswith("delivery refused (401): ") and why in refused


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
async def test_body_that_is_not_a_json_object_is_400_and_not_stored(
    client: httpx.AsyncClient, store: MemoryStore, body: bytes
) -> None:
    response = await client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 400
    assert await store.inbox_size() == 0


async def test_body_over_the_limit_is_413_and_not_stored(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    body = json.dumps({"pad": "x" * 5000}).encode()
    response = await client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 413
    assert await store.inbox_size() == 0


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    body = json.dumps({"pad": "x" * 5000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await client.post(PATH, content=chunks(), headers=signed(body))
    assert response.status_code == 413
    assert await store.inbox_size() == 0


async def test_x_gets_its_200_only_once_the_delivery_is_stored() -> None:
    store = HeldAppends(MemoryStore())
    app = create_webhook_app(consumer_secret=SECRET, store=store, path=PATH)
    body = json.dumps({"for_user_id": "1", "follow_events": []}).encode()
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in signed(body).items()],
    }
    # Plain ASGI, so the answer is seen when it is sent, not when the app returns.
    request = asyncio.ensure_future(app(scope, receive, send))
    try:
        await asyncio.wait_for(store.started.wait(), 5)  # the delivery is being stored...
        assert answer == []  # ...and X has no answer yet
        assert await store.inbox_size() == 0
        store.finish.set()
        await asyncio.wait_for(request, 5)
    finally:
        request.cancel()
    assert answer[0]["type"] == "http.response.start" and answer[0]["status"] == 200
    [item] = await store.read()
    assert item.body == body


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_store_outage_answers_503_so_x_retries_and_healthz_reports_it(
    kind: str, tmp_path: Path
) -> None:
    backend = await make_store(kind, tmp_path)
    store = Down(backend)
    app = create_webhook_app(consumer_secret=SECRET, store=store, path=PATH)
    body = json.dumps({"for_user_id": "1", "follow_events": []}).encode()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as c:
            refused = await c.post(PATH, content=body, headers=signed(body))
            assert refused.status_code == 503  # not 200: X delivers it again later
            health = await c.get("/healthz")
            assert health.status_code == 503
            assert health.json() == {"status": "unavailable", "store": False}
            assert await backend.inbox_size() == 0

            store.down = False  # the store is back; X's retry arrives
            assert (await c.post(PATH, content=body, headers=signed(body))).status_code == 200
            health = await c.get("/healthz")
            assert health.status_code == 200 and health.json()["store"] is True
        [item] = await backend.read()
        assert item.body == body
    finally:
        await backend.close()
        await wipe(kind, tmp_path)


async def test_healthz_reports_the_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["store"] is True


async def test_other_paths_are_not_served(client: httpx.AsyncClient) -> None:
    assert (await client.post("/elsewhere", content=b"{}")).status_code == 404


async def test_chunked_delivery_within_the_limit_is_stored_whole(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    body = json.dumps({"for_user_id": "1", "pad": "x" * 2500}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await client.post(PATH, content=chunks(), headers=signed(body))
    assert response.status_code == 200
    [item] = await store.read()
    assert item.body == body


async def test_refusals_say_why_in_plain_text(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, content=b'{"a":1}')
    assert response.headers["content-type"].startswith("text/plain")
    assert signature.HEADER in response.text


async def test_deliveries_are_taken_when_the_app_is_mounted_under_a_prefix(
    store: MemoryStore,
) -> None:
    inner = create_webhook_app(consumer_secret=SECRET, store=store, path=PATH)
    outer = Starlette(routes=[Mount("/bot", app=inner)])
    body = json.dumps({"for_user_id": "1", "follow_events": []}).encode()
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as c:
        assert (await c.post("/bot" + PATH, content=body)).status_code == 401
        assert (await c.post("/bot" + PATH, content=body, headers=signed(body))).status_code == 200
        assert (
            await c.get("/bot" + PATH, params={"crc_token": "aGVsbG8gd29ybGQ_from-X=="})
        ).status_code == 200
    [item] = await store.read()
    assert item.body == body
