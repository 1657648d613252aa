"""Clients and checks for tests of the emulator's v2 endpoints.

``app(emu)`` acts as the app (the bearer token from ``/oauth2/token``),
``user(emu)`` as an account (OAuth 1.0a, signed by authlib); ``conforms``
checks an answer against X's OpenAPI schema, ``problem`` an RFC 7807 error.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from openapi import problems
from test_emulator_api import ALICE_ID, API, BOT_ID, CK, CS, HOOK_URL, OAuth1, Receiver

from dmbot.emulator import Emulator

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


def emulator(receiver: Receiver, clock: Callable[[], float] = time.time) -> Emulator:
    """An emulator delivering to ``receiver``, with the bot, a support account and alice."""
    transport = httpx.ASGITransport(app=receiver.app)
    emu = Emulator(CK, CS, webhook_transport=transport, clock=clock)
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_account(SUPPORT_ID, "support", token=SUPPORT_TOKEN, token_secret=SUPPORT_SECRET)
    # The bot writes to her first in these tests: she accepts message requests.
    emu.add_user(ALICE_ID, "alice", name="Alice", accepts_requests=True)
    emu.realism.timeout = 5.0  # an in-process answer: far more than it ever takes
    return emu


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
