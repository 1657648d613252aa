"""The emulated X API: OAuth 1.0a checks, DM endpoints, management, admin, limits.

Requests are signed on the client side by authlib (the library dmbot's own
client uses) and travel through ``httpx.ASGITransport``; webhooks are a
small real Starlette app in the same process.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from authlib.oauth1 import ClientAuth
from payloads import EXAMPLES_DIR
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dmbot.emulator import ApiError, Emulator, emulator_from_settings
from dmbot.emulator.oauth import hmac_sha1, signature_base_string

CK, CS = "emu-consumer-key", "emu-consumer-secret"
BOT_ID, BOT_TOKEN, BOT_SECRET = "1000000000001", "1000000000001-abc", "bot-token-secret"
ALICE_ID = "2000000000001"
API = "https://api.twitter.com"
HOOK_URL = "https://bot.example/webhooks/twitter"


def example(name: str) -> Any:
    return json.loads((EXAMPLES_DIR / name).read_text())


def same_shape(actual: Any, documented: Any) -> bool:
    """True when ``actual`` has every key of ``documented``, recursively, with like types.

    Maps keyed by ids (``users``, ``apps``) are compared entry by entry against
    the keys every documented entry shares.
    """
    if isinstance(documented, dict) and documented and all(k.isdigit() for k in documented):
        entries = list(documented.values())
        common = {k: v for k, v in entries[0].items() if all(k in e for e in entries)}
        return isinstance(actual, dict) and all(same_shape(a, common) for a in actual.values())
    if isinstance(documented, dict):
        return isinstance(actual, dict) and all(
            k in actual and same_shape(actual[k], v) for k, v in documented.items()
        )
    if isinstance(documented, list):
        return isinstance(actual, list) and all(
            same_shape(a, documented[0]) for a in actual[: 1 if documented else 0]
        )
    return type(actual) is type(documented)


class OAuth1(httpx.Auth):
    """Signs requests with authlib's OAuth 1.0a client (form bodies signed, JSON not)."""

    def __init__(
        self,
        token: str | None = BOT_TOKEN,
        token_secret: str | None = BOT_SECRET,
        *,
        consumer_secret: str = CS,
        callback: str | None = None,
        verifier: str | None = None,
    ) -> None:
        self.client = ClientAuth(
            CK,
            consumer_secret,
            token=token,
            token_secret=token_secret,
            redirect_uri=callback,
            verifier=verifier,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        content_type = request.headers.get("content-type", "")
        headers = {"Content-Type": content_type} if content_type else {}
        body = request.content.decode() if "form-urlencoded" in content_type else b""
        _, signed, _ = self.client.sign(request.method, str(request.url), headers, body)
        request.headers["Authorization"] = signed["Authorization"]
        yield request


@dataclass
class Receiver:
    """A bot's webhook: answers CRC (correctly, wrongly or never) and records POSTs."""

    secret: str = CS
    crc: str = "ok"
    answers: list[int] = field(default_factory=list)
    hang_posts: int = 0
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    crc_queries: list[dict[str, str]] = field(default_factory=list)
    got_post: asyncio.Event = field(default_factory=asyncio.Event)

    def token_for(self, crc_token: str) -> str:
        mac = hmac.new(self.secret.encode(), crc_token.encode(), hashlib.sha256).digest()
        return "sha256=" + base64.b64encode(mac).decode()

    async def get(self, request: Request) -> Response:
        self.crc_queries.append(dict(request.query_params))
        if self.crc == "hang":
            await asyncio.Event().wait()
        token = request.query_params["crc_token"]
        answer = self.token_for(token if self.crc == "ok" else token + "x")
        return JSONResponse({"response_token": answer})

    async def post(self, request: Request) -> Response:
        body = await request.body()
        self.posts.append((dict(request.headers), body))
        self.got_post.set()
        if self.hang_posts > 0:
            self.hang_posts -= 1
            await asyncio.Event().wait()
        status = self.answers.pop(0) if self.answers else 200
        return PlainTextResponse("ok", status_code=status)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/webhooks/twitter", self.get, methods=["GET"]),
                Route("/webhooks/twitter", self.post, methods=["POST"]),
            ]
        )

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[Emulator]:
    emulator = Emulator(CK, CS, webhook_transport=httpx.ASGITransport(app=receiver.app))
    emulator.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    # The bot writes to alice first in these tests: she accepts message requests from
    # everyone (who may write to whom is tests/test_emulator_permission.py's).
    emulator.add_user(ALICE_ID, "alice", name="Alice", accepts_requests=True)
    emulator.realism.timeout = 5.0  # an in-process answer: far more than it ever takes
    yield emulator
    await emulator.aclose()


def client(emu: Emulator, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=auth or OAuth1()
    )


# OAuth 1.0a


def test_signature_matches_xs_published_worked_example() -> None:
    params = [
        ("include_entities", "true"),
        ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
    ]
    base = signature_base_string("POST", f"{API}/1.1/statuses/update.json", params)
    signature = hmac_sha1(
        base,
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


async def test_a_request_signed_by_authlib_is_accepted(emu: Emulator) -> None:
    async with client(emu) as api:
        response = await api.get("/1.1/account/verify_credentials.json", params={"q": "a b+c/é~"})
    assert response.status_code == 200
    assert response.json()["screen_name"] == "pizzabot"
    assert response.json()["id_str"] == BOT_ID
    assert response.headers["x-rate-limit-limit"] == "75"
    assert response.headers["x-rate-limit-remaining"] == "74"


@pytest.mark.parametrize(
    "auth",
    [
        OAuth1(consumer_secret="not-the-secret"),
        OAuth1(token_secret="not-the-token-secret"),
    ],
    ids=["wrong consumer secret", "wrong token secret"],
)
async def test_bad_credentials_get_xs_401_code_32(emu: Emulator, auth: httpx.Auth) -> None:
    async with client(emu, auth) as api:
        response = await api.get("/1.1/account/verify_credentials.json")
    assert response.status_code == 401
    assert response.json() == example("management/v1.1_enterprise_error_401_code32.json")


async def test_an_unknown_or_revoked_access_token_gets_code_89(emu: Emulator) -> None:
    expired = {"errors": [{"code": 89, "message": "Invalid or expired token."}]}
    async with client(emu, OAuth1(token="1000000000001-unknown")) as api:
        unknown = await api.get("/1.1/account/verify_credentials.json")
    assert (unknown.status_code, unknown.json()) == (401, expired)
    await emu.revoke("pizzabot")
    async with client(emu) as api:
        revoked = await api.get("/1.1/account/verify_credentials.json")
    assert (revoked.status_code, revoked.json()) == (401, expired)


async def test_unsigned_request_is_refused(emu: Emulator) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as api:
        response = await api.get("/1.1/account/verify_credentials.json")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == 32


async def test_a_tampered_query_parameter_breaks_the_signature(emu: Emulator) -> None:
    async with client(emu) as api:
        signed = api.build_request("GET", "/1.1/direct_messages/events/list.json?count=5")
        request = next(OAuth1().auth_flow(signed))
        tampered = httpx.Request(
            "GET", f"{API}/1.1/direct_messages/events/list.json?count=6", headers=request.headers
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app)) as raw:
            assert (await raw.send(request)).status_code == 200
            response = await raw.send(tampered)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == 32


async def test_a_tampered_form_parameter_breaks_the_signature(emu: Emulator) -> None:
    signed = httpx.Request(
        "POST",
        f"{API}/1.1/direct_messages/indicate_typing.json",
        data={"recipient_id": ALICE_ID},
    )
    request = next(OAuth1().auth_flow(signed))
    tampered = httpx.Request(
        "POST",
        request.url,
        headers={k: v for k, v in request.headers.items() if k != "content-length"},
        content=b"recipient_id=2000000000002",
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app)) as raw:
        response = await raw.send(tampered)
    assert response.status_code == 401
    assert emu.indicators == []


async def test_a_replayed_request_with_a_stale_timestamp_gets_code_135(receiver: Receiver) -> None:
    now = [time.time()]
    emu = Emulator(CK, CS, clock=lambda: now[0])
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    request = next(
        OAuth1().auth_flow(httpx.Request("GET", f"{API}/1.1/account/verify_credentials.json"))
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app)) as raw:
        assert (await raw.send(request)).status_code == 200
        now[0] += 6 * 60
        replayed = await raw.send(request)
    assert replayed.status_code == 401
    assert replayed.json() == {"errors": [{"code": 135, "message": "Timestamp out of bounds."}]}


# sending


def dm(text: str = "Hello World!", recipient: str = ALICE_ID, **data: Any) -> dict[str, Any]:
    message_data = {"text": text, **data}
    return {
        "event": {
            "type": "message_create",
            "message_create": {"target": {"recipient_id": recipient}, "message_data": message_data},
        }
    }


async def test_send_answers_the_created_event_and_records_it(emu: Emulator) -> None:
    body = example("request_send_dm_quick_reply_options.json")
    body["event"]["message_create"]["target"]["recipient_id"] = ALICE_ID
    async with client(emu) as api:
        response = await api.post("/1.1/direct_messages/events/new.json", json=body)
    assert response.status_code == 200
    event = response.json()["event"]
    assert event["type"] == "message_create"
    assert event["message_create"]["target"] == {"recipient_id": ALICE_ID}
    assert event["message_create"]["sender_id"] == BOT_ID
    assert event["message_create"]["message_data"]["text"] == "What's your favorite type of bird?"
    [message] = emu.messages
    assert message.id == event["id"]
    assert event["created_timestamp"] == str(message.created_ms)
    assert (message.sender_id, message.recipient_id) == (BOT_ID, ALICE_ID)
    assert message.source_app_id == "13090192"
    assert [o["metadata"] for o in message.options] == [f"external_id_{i}" for i in range(1, 5)]
    assert response.headers["x-rate-limit-remaining"] == "999"


async def test_message_ids_increase(emu: Emulator) -> None:
    async with client(emu) as api:
        for n in range(5):
            await api.post("/1.1/direct_messages/events/new.json", json=dm(f"n{n}"))
    ids = [int(m.id) for m in emu.messages]
    assert ids == sorted(ids) and len(set(ids)) == 5


def options(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "options",
        "options": [{"label": f"Option {i}", **extra} for i in range(n)],
    }


def cta(url: str = "https://example.com/", label: str = "Open") -> dict[str, str]:
    return {"type": "web_url", "label": label, "url": url}


ACCEPTED = {
    "text at the limit": dm("x" * 10_000),
    "20 options": dm(quick_reply=options(20)),
    "label of 36": dm(quick_reply={"type": "options", "options": [{"label": "L" * 36}]}),
    "descriptions of 72": dm(quick_reply=options(2, description="d" * 72)),
    "metadata of 1000": dm(quick_reply=options(1, metadata="m" * 1000)),
    "3 buttons": dm(ctas=[cta(), cta("http://example.com/2"), cta(label="B" * 36)]),
    "buttons from X's example": example("request_send_dm_ctas_buttons.json"),
}

REFUSED = {
    "text over the limit": (dm("x" * 10_001), 354),
    "21 options": (dm(quick_reply=options(21)), 214),
    "no options": (dm(quick_reply=options(0)), 214),
    "label of 37": (dm(quick_reply={"type": "options", "options": [{"label": "L" * 37}]}), 214),
    "URL in a label": (
        dm(quick_reply={"type": "options", "options": [{"label": "see https://x.co"}]}),
        214,
    ),
    "description of 73": (dm(quick_reply=options(1, description="d" * 73)), 214),
    "description on some options": (
        dm(
            quick_reply={
                "type": "options",
                "options": [{"label": "a", "description": "d"}, {"label": "b"}],
            }
        ),
        214,
    ),
    "metadata of 1001": (dm(quick_reply=options(1, metadata="m" * 1001)), 214),
    "no buttons": (dm(ctas=[]), 214),
    "4 buttons": (dm(ctas=[cta()] * 4), 214),
    "button to ftp": (dm(ctas=[cta("ftp://example.com/file")]), 214),
    "button label of 37": (dm(ctas=[cta(label="B" * 37)]), 214),
    "no text": (dm(""), 214),
    "recipient not a number": (dm(recipient="alice"), 214),
    "unknown recipient": (dm(recipient="2999999999999"), 108),
    "not message_create": ({"event": {"type": "something"}}, 214),
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_send_accepts_bodies_at_xs_limits(emu: Emulator, body: dict[str, Any]) -> None:
    body["event"]["message_create"]["target"]["recipient_id"] = body["event"]["message_create"][
        "target"
    ]["recipient_id"].replace("844385345234", ALICE_ID)
    async with client(emu) as api:
        response = await api.post("/1.1/direct_messages/events/new.json", json=body)
    assert response.status_code == 200, response.text
    assert len(emu.messages) == 1


@pytest.mark.parametrize(("body", "code"), REFUSED.values(), ids=REFUSED.keys())
async def test_send_refuses_bodies_past_xs_limits(
    emu: Emulator, body: dict[str, Any], code: int
) -> None:
    async with client(emu) as api:
        response = await api.post("/1.1/direct_messages/events/new.json", json=body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == code and error["message"]
    assert emu.messages == []


async def test_send_needs_a_json_body(emu: Emulator) -> None:
    async with client(emu) as api:
        form = await api.post("/1.1/direct_messages/events/new.json", data={"text": "hi"})
        broken = await api.post(
            "/1.1/direct_messages/events/new.json",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert form.status_code == 415
    assert broken.status_code == 400
    assert "JSON" in broken.json()["errors"][0]["message"]


async def test_typing_and_read_answer_204_and_are_recorded(emu: Emulator) -> None:
    async with client(emu) as api:
        typing = await api.post(
            "/1.1/direct_messages/indicate_typing.json", data={"recipient_id": ALICE_ID}
        )
        read = await api.post(
            "/1.1/direct_messages/mark_read.json",
            data={"recipient_id": ALICE_ID, "last_read_event_id": "123"},
        )
        again = await api.post(
            "/1.1/direct_messages/indicate_typing.json", data={"recipient_id": ALICE_ID}
        )
    assert (typing.status_code, read.status_code) == (204, 204)
    assert [(i.kind, i.sender_id, i.recipient_id) for i in emu.indicators] == [
        ("typing", BOT_ID, ALICE_ID),
        ("read", BOT_ID, ALICE_ID),
        ("typing", BOT_ID, ALICE_ID),
    ]
    assert emu.indicators[1].last_read_event_id == "123"
    assert typing.headers["x-rate-limit-limit"] == "1000"
    assert again.headers["x-rate-limit-remaining"] == "998"
    assert read.headers["x-rate-limit-remaining"] == "999"
    reset = int(typing.headers["x-rate-limit-reset"])
    assert time.time() + 890 < reset <= time.time() + 901


async def test_event_list_and_show(emu: Emulator) -> None:
    await emu.send(ALICE_ID, BOT_ID, "hi bot")
    async with client(emu) as api:
        await api.post("/1.1/direct_messages/events/new.json", json=dm("hi alice"))
        listed = (await api.get("/1.1/direct_messages/events/list.json")).json()
        shown = await api.get(
            "/1.1/direct_messages/events/show.json", params={"id": emu.messages[0].id}
        )
    texts = [e["message_create"]["message_data"]["text"] for e in listed["events"]]
    assert texts == ["hi alice", "hi bot"]
    assert listed["apps"]["13090192"]["name"] == "dmbot dev"
    assert shown.json()["event"]["message_create"]["sender_id"] == ALICE_ID


# faults and rate limits


async def test_injected_429_carries_reset_headers_then_clears(emu: Emulator) -> None:
    emu.faults.add("dm_send", status=429, reset_in=30, count=2)
    async with client(emu) as api:
        first = await api.post("/1.1/direct_messages/events/new.json", json=dm())
        second = await api.post("/1.1/direct_messages/events/new.json", json=dm())
        third = await api.post("/1.1/direct_messages/events/new.json", json=dm())
    assert first.status_code == second.status_code == 429
    assert first.json() == {"errors": [{"code": 88, "message": "Rate limit exceeded."}]}
    assert first.headers["x-rate-limit-remaining"] == "0"
    assert time.time() + 28 <= int(first.headers["x-rate-limit-reset"]) <= time.time() + 31
    assert third.status_code == 200
    assert len(emu.messages) == 1


async def test_injected_server_errors_and_wildcards(emu: Emulator) -> None:
    emu.faults.add("*", status=503)
    emu.faults.add("typing", status=403, code=326)
    async with client(emu) as api:
        unavailable = await api.get("/1.1/account/verify_credentials.json")
        locked = await api.post(
            "/1.1/direct_messages/indicate_typing.json", data={"recipient_id": ALICE_ID}
        )
        fine = await api.post(
            "/1.1/direct_messages/indicate_typing.json", data={"recipient_id": ALICE_ID}
        )
    assert unavailable.status_code == 503
    assert unavailable.json()["errors"][0]["code"] == 131
    assert locked.status_code == 403 and locked.json()["errors"][0]["code"] == 326
    assert fine.status_code == 204


async def test_a_fault_delay_slows_the_answer(emu: Emulator) -> None:
    emu.faults.add("typing", status=200, delay=0.05)
    async with client(emu) as api:
        started = time.monotonic()
        response = await api.post(
            "/1.1/direct_messages/indicate_typing.json", data={"recipient_id": ALICE_ID}
        )
    assert response.status_code == 204
    assert time.monotonic() - started >= 0.05


def test_unknown_fault_endpoint_is_refused_with_the_known_names(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="dm_send"):
        emu.faults.add("dm-send", status=500)


async def test_a_spent_window_answers_429_code_88(emu: Emulator, receiver: Receiver) -> None:
    async with client(emu) as api:
        answers = [await api.get("/1.1/account_activity/webhooks.json") for _ in range(16)]
    assert [a.status_code for a in answers] == [200] * 15 + [429]
    assert answers[14].headers["x-rate-limit-remaining"] == "0"
    assert answers[15].json()["errors"][0]["code"] == 88


# webhooks and subscriptions


async def test_enterprise_register_runs_a_real_crc_and_answers_xs_shape(
    emu: Emulator, receiver: Receiver
) -> None:
    async with client(emu) as api:
        response = await api.post("/1.1/account_activity/webhooks.json", params={"url": HOOK_URL})
        listed = await api.get("/1.1/account_activity/webhooks.json")
    assert response.status_code == 200
    documented = example("management/v1.1_enterprise_post_webhooks_response_200.json")
    assert same_shape(response.json(), documented)
    assert response.json()["url"] == HOOK_URL and response.json()["valid"] is True
    assert time.strptime(response.json()["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    [query] = receiver.crc_queries
    assert set(query) == {"crc_token", "nonce"}
    assert len(base64.b64decode(query["crc_token"])) == 24
    assert listed.json() == [response.json()]
    assert [w.id for w in emu.webhooks] == [response.json()["id"]]


@pytest.mark.parametrize("mode", ["wrong", "hang"])
async def test_a_failed_crc_refuses_registration_with_214(
    emu: Emulator, receiver: Receiver, mode: str
) -> None:
    receiver.crc = mode
    emu.realism.timeout = 0.05
    async with client(emu) as api:
        response = await api.post("/1.1/account_activity/webhooks.json", params={"url": HOOK_URL})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == 214
    assert emu.webhooks == []


async def test_too_many_webhooks_is_xs_403(emu: Emulator) -> None:
    async with client(emu) as api:
        for n in range(3):
            ok = await api.post(
                "/1.1/account_activity/webhooks.json", params={"url": f"{HOOK_URL}?n={n}"}
            )
            assert ok.status_code == 200
        response = await api.post(
            "/1.1/account_activity/webhooks.json", params={"url": f"{HOOK_URL}?n=9"}
        )
    assert response.status_code == 403
    assert response.json() == example("management/v1.1_enterprise_post_webhooks_error_403.json")


async def test_put_reruns_the_crc_and_updates_valid(emu: Emulator, receiver: Receiver) -> None:
    hook = await emu.register_webhook(HOOK_URL)
    path = f"/1.1/account_activity/webhooks/{hook.id}.json"
    async with client(emu) as api:
        passed = await api.put(path)
        receiver.crc = "wrong"
        failed = await api.put(path)
        listed = (await api.get("/1.1/account_activity/webhooks.json")).json()
        missing = await api.put("/1.1/account_activity/webhooks/123.json")
    assert passed.status_code == 204 and passed.content == b""
    assert failed.status_code == 400 and failed.json()["errors"][0]["code"] == 214
    assert listed[0]["valid"] is False
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == 34


async def test_enterprise_subscriptions_lifecycle(emu: Emulator) -> None:
    hook = await emu.register_webhook(HOOK_URL)
    base = f"/1.1/account_activity/webhooks/{hook.id}/subscriptions"
    async with client(emu) as api:
        added = await api.post(f"{base}/all.json")
        again = await api.post(f"{base}/all.json")
        check = await api.get(f"{base}/all.json")
        listed = await api.get(f"{base}/all/list.json")
        count = await api.get("/1.1/account_activity/subscriptions/count.json")
        removed = await api.delete(f"{base}/{BOT_ID}/all.json")
        gone = await api.get(f"{base}/all.json")
    assert added.status_code == 204
    assert again.status_code == 409
    assert again.json() == {"errors": [{"code": 355, "message": "Subscription already exists."}]}
    assert check.status_code == 204
    documented = example("management/v1.1_enterprise_get_subscriptions_list_response_200.json")
    assert same_shape(listed.json(), documented)
    assert listed.json()["subscriptions"] == [{"user_id": BOT_ID}]
    assert listed.json()["webhook_url"] == HOOK_URL
    documented = example("management/v1.1_enterprise_get_subscriptions_count_response_200.json")
    assert same_shape(count.json(), documented)
    assert count.json()["subscriptions_count_all"] == "1"
    assert removed.status_code == 204
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == 34
    assert emu.subscriptions == set()


async def test_premium_environment_lifecycle(emu: Emulator, receiver: Receiver) -> None:
    env = "/1.1/account_activity/all/production"
    async with client(emu) as api:
        registered = await api.post(f"{env}/webhooks.json", params={"url": HOOK_URL})
        second = await api.post(f"{env}/webhooks.json", params={"url": HOOK_URL + "2"})
        hook_id = registered.json()["id"]
        listed = await api.get(f"{env}/webhooks.json")
        other_env = await api.get("/1.1/account_activity/all/dev/webhooks.json")
        subscribed = await api.post(f"{env}/subscriptions.json")
        check = await api.get(f"{env}/subscriptions.json")
        subscribers = await api.get(f"{env}/subscriptions/list.json")
        count = await api.get("/1.1/account_activity/all/subscriptions/count.json")
        recheck = await api.put(f"{env}/webhooks/{hook_id}.json")
        removed = await api.delete(f"{env}/subscriptions/{BOT_ID}.json")
        deleted = await api.delete(f"{env}/webhooks/{hook_id}.json")
    assert registered.status_code == 200 and registered.json()["valid"] is True
    assert second.status_code == 403
    assert [w["id"] for w in listed.json()] == [hook_id]
    assert other_env.json() == []
    assert (subscribed.status_code, check.status_code, recheck.status_code) == (204, 204, 204)
    assert subscribers.json() == {
        "environment": "production",
        "application_id": "13090192",
        "subscriptions": [{"user_id": BOT_ID}],
    }
    assert count.json()["provisioned_count"] == "15"
    assert (removed.status_code, deleted.status_code) == (204, 204)
    assert emu.webhooks == [] and emu.subscriptions == set()


async def test_app_only_bearer_reads_but_cannot_register(emu: Emulator) -> None:
    basic = base64.b64encode(f"{CK}:{CS}".encode()).decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as raw:
        token = await raw.post(
            "/oauth2/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        )
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        count = await raw.get("/1.1/account_activity/subscriptions/count.json", headers=bearer)
        register = await raw.post(
            "/1.1/account_activity/webhooks.json", params={"url": HOOK_URL}, headers=bearer
        )
        wrong = await raw.get(
            "/1.1/account_activity/webhooks.json", headers={"Authorization": "Bearer nope"}
        )
    assert token.json()["token_type"] == "bearer"
    assert count.status_code == 200
    assert register.status_code == 403 and register.json()["errors"][0]["code"] == 261
    assert wrong.status_code == 401


# welcome messages, 3-legged OAuth


async def test_welcome_messages_and_rules(emu: Emulator) -> None:
    wm = "/1.1/direct_messages/welcome_messages"
    body = {"welcome_message": {"name": "hello", "message_data": {"text": "Welcome!"}}}
    async with client(emu) as api:
        created = (await api.post(f"{wm}/new.json", json=body)).json()["welcome_message"]
        too_long = await api.post(
            f"{wm}/new.json", json={"welcome_message": {"message_data": {"text": "x" * 9991}}}
        )
        rule = await api.post(
            f"{wm}/rules/new.json",
            json={"welcome_message_rule": {"welcome_message_id": created["id"]}},
        )
        listed = (await api.get(f"{wm}/list.json")).json()
        await emu.send(ALICE_ID, BOT_ID, "hi")
        rule_gone = await api.delete(
            f"{wm}/rules/destroy.json", params={"id": rule.json()["welcome_message_rule"]["id"]}
        )
        destroyed = await api.delete(f"{wm}/destroy.json", params={"id": created["id"]})
    assert created["message_data"]["text"] == "Welcome!" and created["name"] == "hello"
    assert too_long.json()["errors"][0]["code"] == 354
    assert same_shape(rule.json(), example("response_welcome_message_rule_new.json"))
    assert listed["welcome_messages"] == [created]
    assert emu.messages[0].welcome_message_id == created["id"]
    assert (rule_gone.status_code, destroyed.status_code) == (204, 204)


async def test_three_legged_oauth_issues_working_tokens(emu: Emulator) -> None:
    async with client(emu, OAuth1(None, None, callback="oob")) as api:
        temp = dict(parse_qsl((await api.post("/oauth/request_token")).text))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as web:
        page = await web.get("/oauth/authorize", params={"oauth_token": temp["oauth_token"]})
        approved = await web.post(
            "/_emulator/authorize",
            json={"oauth_token": temp["oauth_token"], "screen_name": "alice"},
        )
    assert temp["oauth_callback_confirmed"] == "true"
    assert "alice" in page.text and "<form" in page.text
    verifier = approved.json()["oauth_verifier"]
    exchange = OAuth1(temp["oauth_token"], temp["oauth_token_secret"], verifier=verifier)
    async with client(emu, exchange) as api:
        tokens = dict(parse_qsl((await api.post("/oauth/access_token")).text))
        reused = await api.post("/oauth/access_token")
    assert tokens["user_id"] == ALICE_ID and tokens["screen_name"] == "alice"
    assert reused.status_code == 401
    async with client(emu, OAuth1(tokens["oauth_token"], tokens["oauth_token_secret"])) as api:
        me = await api.get("/1.1/account/verify_credentials.json")
    assert me.json()["screen_name"] == "alice"


async def test_the_authorize_page_shows_a_pin_for_out_of_band(emu: Emulator) -> None:
    async with client(emu, OAuth1(None, None)) as api:
        temp = dict(parse_qsl((await api.post("/oauth/request_token")).text))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as web:
        page = await web.post(
            "/oauth/authorize", data={"oauth_token": temp["oauth_token"], "user_id": ALICE_ID}
        )
    pin = emu.world.request_tokens[temp["oauth_token"]].verifier
    assert pin is not None and f">{pin}<" in page.text


# admin endpoints and the command


async def test_admin_endpoints_drive_the_emulator(emu: Emulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://127.0.0.1"
    ) as admin:
        bob = (await admin.post("/_emulator/users", json={"screen_name": "bob"})).json()
        account = (await admin.post("/_emulator/accounts", json={"screen_name": "help"})).json()
        sent = await admin.post(
            "/_emulator/send", json={"from": "bob", "to": "pizzabot", "text": "hello"}
        )
        realism = await admin.post("/_emulator/realism", json={"duplicates": True})
        bad = await admin.post("/_emulator/realism", json={"duplicate": True})
        fault = await admin.post("/_emulator/faults", json={"endpoint": "dm_send", "status": 500})
        state = (await admin.get("/_emulator/state")).json()
        messages = (await admin.get("/_emulator/messages", params={"user": "bob"})).json()
        unknown = await admin.post(
            "/_emulator/send", json={"from": "carol", "to": "bob", "text": "x"}
        )
        await admin.post("/_emulator/reset")
    assert sent.status_code == 201 and sent.json()["sender_id"] == bob["id"]
    assert account["token"] and account["is_account"] is True
    assert realism.json()["duplicates"] is True
    assert bad.status_code == 400 and "duplicates" in bad.json()["error"]
    assert fault.json()["faults"][0]["code"] == 131
    assert {a["screen_name"] for a in state["accounts"]} == {"pizzabot", "help"}
    assert "token_secret" not in json.dumps(state)
    assert [m["message_data"]["text"] for m in messages["messages"]] == ["hello"]
    assert unknown.status_code == 404 and "carol" in unknown.json()["error"]
    assert emu.messages == [] and emu.realism.duplicates is False and emu.faults.pending == []


async def test_admin_messages_can_wait_for_a_reply(emu: Emulator) -> None:
    async def reply_later() -> None:
        async with client(emu) as api:
            await api.post("/1.1/direct_messages/events/new.json", json=dm("pong"))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://127.0.0.1"
    ) as admin:
        waiting = asyncio.create_task(
            admin.get("/_emulator/messages", params={"wait": 1, "sender": BOT_ID})
        )
        await reply_later()
        found = (await waiting).json()["messages"]
    assert [m["message_data"]["text"] for m in found] == ["pong"]


@dataclass(frozen=True)
class _Twitter:
    consumer_key: str = CK
    consumer_secret: str = CS
    access_token: str = BOT_TOKEN
    access_token_secret: str = BOT_SECRET
    app_id: str = "999"


@dataclass(frozen=True)
class _Account:
    user_id: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True)
class _Settings:
    twitter: _Twitter = _Twitter()
    all_accounts: tuple[_Account, ...] = (
        _Account(BOT_ID, BOT_TOKEN, BOT_SECRET),
        _Account("1000000000002", "1000000000002-x", "s2"),
    )


async def test_the_emulator_command_builds_from_settings() -> None:
    emu = emulator_from_settings(_Settings())
    accounts = {u.id: u.screen_name for u in emu.world.users.values() if u.is_account}
    people = {u.screen_name for u in emu.world.users.values() if not u.is_account}
    assert accounts == {BOT_ID: "bot", "1000000000002": "bot2"}
    assert people == {"alice", "bob"}
    assert emu.world.app.id == "999"
    async with client(emu) as api:
        me = await api.get("/1.1/account/verify_credentials.json")
    assert me.json()["id_str"] == BOT_ID


async def test_strict_urls_apply_xs_webhook_url_rules(emu: Emulator, receiver: Receiver) -> None:
    emu.realism.strict_urls = True
    async with client(emu) as api:
        answers = [
            await api.post("/1.1/account_activity/webhooks.json", params={"url": url})
            for url in ("http://bot.example/hook", "https://bot.example:8443/hook", HOOK_URL)
        ]
    assert [a.status_code for a in answers] == [400, 400, 200]
    assert receiver.crc_queries and len(receiver.crc_queries) == 1


def test_realism_is_off_by_default(emu: Emulator) -> None:
    realism = Emulator().realism
    assert not any(
        [
            realism.duplicates,
            realism.out_of_order,
            realism.delay,
            realism.retries,
            realism.drop_metadata,
            realism.typing_events,
            realism.read_events,
            realism.strict_urls,
        ]
    )
    assert realism.retry_schedule == (3.0, 27.0, 242.0) and realism.timeout == 3.0


async def test_only_accounts_that_authorized_the_app_can_be_subscribed(emu: Emulator) -> None:
    hook = await emu.register_webhook(HOOK_URL)
    with pytest.raises(ApiError, match="alice has not authorized"):
        emu.subscribe(hook.id, "alice")
    with pytest.raises(ApiError) as unknown:
        emu.subscribe("404", BOT_ID)
    assert unknown.value.code == 34
    assert emu.subscriptions == set()


async def test_replies_to_a_received_dm_do_not_count_against_the_daily_limit() -> None:
    from dmbot.emulator import FREE_REPLIES
    from dmbot.x.client import XClient

    emu = Emulator(consumer_key="ck", consumer_secret="cs")
    emu.add_account("1000000000001", "bot", token="1000000000001-t", token_secret="ts")
    emu.add_user("2000000000001", "alice")
    await emu.send("alice", "bot", "hi")
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token="1000000000001-t",
        token_secret="ts",
        api_url="http://x.test",
        transport=httpx.ASGITransport(app=emu.app),
    ) as client:

        def remaining() -> int:
            headers = emu.limits.headers("dm_send", "1000000000001-t")
            return int(headers["x-rate-limit-remaining"])

        full = remaining()
        for _ in range(FREE_REPLIES):
            await client.send_dm("2000000000001", {"text": "thanks"})
        assert remaining() == full
        await client.send_dm("2000000000001", {"text": "one more"})
        assert remaining() == full - 1
    await emu.aclose()


async def test_the_controls_are_listed_with_curl_examples_that_work() -> None:
    emu = emulator_from_settings(_Settings())
    base = "http://127.0.0.1:8081"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=base) as c:
        listing = await c.get("/_emulator/")
        assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/")
        routes = {
            r.path for r in emu.app.routes if getattr(r, "path", "").startswith("/_emulator/")
        }
        for path in routes - {"/_emulator/"}:
            assert f"{base}{path}" in listing.text, path
        assert f"curl -s -X POST '{base}/_emulator/send'" in listing.text
        # The listed examples work as written on a fresh emulator.
        controls = (await c.get("/_emulator/?format=json")).json()["endpoints"]
        send = next(e for e in controls if e["path"] == "/_emulator/send")
        body = json.loads(send["curl"].split(" -d '", 1)[1].rstrip("'"))
        sent = await c.post("/_emulator/send", json=body)
        assert sent.status_code == 201, sent.text
        assert sent.json()["message_data"]["text"] == body["text"]
    await emu.aclose()
