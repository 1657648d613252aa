"""The rest of X's surface the emulator now answers as X does.

Deleting a DM (for the caller only), ``events/list`` paging with X's cursor,
every premium environment's webhooks, the enterprise v1.1 replay, X's JSON
404 for a path nobody serves, a replayed OAuth nonce, and ``/oauth2/token``
with ``grant_type`` in the query string. Requests are signed by authlib and
go through httpx's ASGI transport.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import v2api
from clock import Clock
from payloads import EXAMPLES_DIR
from test_emulator_api import (
    API,
    BOT_ID,
    CK,
    CS,
    HOOK_URL,
    OAuth1,
    Receiver,
)

from dmbot.emulator import Emulator

LIST = "/1.1/direct_messages/events/list.json"
NOT_FOUND = {"errors": [{"code": 34, "message": "Sorry, that page does not exist."}]}


@pytest.fixture
async def emu(receiver: Receiver, clock: Clock) -> AsyncIterator[Emulator]:
    emulator = v2api.emulator(receiver, clock)
    yield emulator
    await emulator.aclose()


def client(emu: Emulator, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=auth or OAuth1()
    )


def bearer(emu: Emulator) -> httpx.AsyncClient:
    return client(emu, httpx.BasicAuth(CK, CS))


async def app_token(emu: Emulator) -> str:
    async with bearer(emu) as api:
        answer = await api.post("/oauth2/token", params={"grant_type": "client_credentials"})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def minute(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M", time.gmtime(seconds))


# deleting


async def test_a_deleted_dm_is_gone_for_the_caller_only(emu: Emulator) -> None:
    first = await emu.send("alice", BOT_ID, "keep this")
    second = await emu.send("alice", BOT_ID, "delete this")
    async with client(emu) as bot:
        deleted = await bot.delete(
            "/1.1/direct_messages/events/destroy.json", params={"id": second.id}
        )
        again = await bot.delete(
            "/1.1/direct_messages/events/destroy.json", params={"id": second.id}
        )
        shown = await bot.get("/1.1/direct_messages/events/show.json", params={"id": second.id})
        listed = (await bot.get(LIST)).json()["events"]
        v2 = (await bot.get("/2/dm_events")).json()["data"]
        missing = await bot.delete("/1.1/direct_messages/events/destroy.json")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (again.status_code, again.json()) == (404, NOT_FOUND)
    assert (shown.status_code, shown.json()) == (404, NOT_FOUND)
    assert [e["id"] for e in listed] == [first.id]
    assert [e["id"] for e in v2] == [first.id]
    assert missing.status_code == 400 and "id" in missing.json()["errors"][0]["message"]
    # alice keeps it, and so does X.
    assert [m.id for m in emu.messages] == [first.id, second.id]


async def test_no_one_deletes_a_dm_they_were_not_part_of(emu: Emulator) -> None:
    message = await emu.send("alice", BOT_ID, "for the bot")
    async with client(emu, OAuth1(v2api.SUPPORT_TOKEN, v2api.SUPPORT_SECRET)) as support:
        answer = await support.delete(
            "/1.1/direct_messages/events/destroy.json", params={"id": message.id}
        )
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


# paging


async def test_the_list_pages_with_xs_count_and_cursor(emu: Emulator) -> None:
    sent = [await emu.send("alice", BOT_ID, f"m{n}") for n in range(25)]
    async with client(emu) as bot:
        default = (await bot.get(LIST)).json()
        first = (await bot.get(LIST, params={"count": 10})).json()
        # A DM arriving between pages does not shift the next one.
        late = await emu.send("alice", BOT_ID, "late")
        second = (await bot.get(LIST, params={"count": 10, "cursor": first["next_cursor"]})).json()
        third = (await bot.get(LIST, params={"count": 10, "cursor": second["next_cursor"]})).json()
        capped = (await bot.get(LIST, params={"count": 500})).json()
        bad = await bot.get(LIST, params={"cursor": "not-a-cursor!"})
    newest_first = [m.id for m in reversed(sent)]
    assert len(default["events"]) == 20 and "next_cursor" in default
    assert [e["id"] for e in first["events"]] == newest_first[:10]
    assert [e["id"] for e in second["events"]] == newest_first[10:20]
    assert [e["id"] for e in third["events"]] == newest_first[20:]
    assert "next_cursor" not in third
    assert not first["next_cursor"].isdigit()  # opaque, as X's
    assert len(capped["events"]) == 26 and capped["events"][0]["id"] == late.id
    assert bad.status_code == 400 and "cursor" in bad.json()["errors"][0]["message"]


async def test_the_list_reaches_back_30_days(emu: Emulator, clock: Clock) -> None:
    now = clock.now
    clock.now = now - 31 * 24 * 3600
    await emu.send("alice", BOT_ID, "long ago")
    clock.now = now
    recent = await emu.send("alice", BOT_ID, "recently")
    async with client(emu) as bot:
        listed = (await bot.get(LIST)).json()["events"]
    assert [e["id"] for e in listed] == [recent.id]


# webhooks


async def test_every_premium_environments_webhooks_in_xs_shape(emu: Emulator) -> None:
    prod = await emu.register_webhook(HOOK_URL, env_name="prod")
    dev = await emu.register_webhook(HOOK_URL, env_name="dev")
    await emu.register_webhook(HOOK_URL)  # enterprise: not an environment's
    async with client(emu) as api:
        answer = await api.get(
            "/1.1/account_activity/all/webhooks.json",
            headers={"Authorization": f"Bearer {await app_token(emu)}"},
        )
    assert answer.status_code == 200
    environments = answer.json()["environments"]
    assert [e["environment_name"] for e in environments] == ["prod", "dev"]
    [hook] = environments[0]["webhooks"]
    assert hook == {
        "id": prod.id,
        "url": HOOK_URL,
        "valid": True,
        "created_timestamp": hook["created_timestamp"],
    }
    assert hook["created_timestamp"].endswith(" +0000") and hook["created_timestamp"][10] == " "
    assert environments[1]["webhooks"][0]["id"] == dev.id


# the enterprise replay


async def test_an_enterprise_replay_delivers_the_window_again_then_its_status(
    emu: Emulator, receiver: Receiver, clock: Clock
) -> None:
    hook = await emu.register_webhook(HOOK_URL)
    emu.subscribe(hook.id, BOT_ID)
    now = clock.now
    clock.now = now - 3 * 24 * 3600
    old = await emu.send("alice", BOT_ID, "three days ago")
    clock.now = now
    recent = await emu.send("alice", BOT_ID, "just now")
    await emu.deliveries_settled()
    receiver.posts.clear()
    path = f"/1.1/account_activity/replay/webhooks/{hook.id}/subscriptions/all.json"
    window = {"from_date": minute(now - 4 * 24 * 3600), "to_date": minute(now)}
    async with client(emu) as api:
        token = {"Authorization": f"Bearer {await app_token(emu)}"}
        accepted = await api.post(path, params=window, headers=token)
        too_old = await api.post(
            path, params={**window, "from_date": minute(now - 6 * 24 * 3600)}, headers=token
        )
        unknown = await api.post(
            "/1.1/account_activity/replay/webhooks/42/subscriptions/all.json",
            params=window,
            headers=token,
        )
    documented = json.loads((EXAMPLES_DIR / "management/v1.1_replay_response_202.json").read_text())
    assert accepted.status_code == 202
    job = accepted.json()
    assert set(job) == set(documented)
    assert len(job["created_at"]) == len(documented["created_at"])
    assert job["created_at"].endswith("Z")
    assert too_old.status_code == 400
    assert too_old.json()["errors"][0]["code"] == 214
    assert "5 days" in too_old.json()["errors"][0]["message"]
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    await emu.deliveries_settled()
    payloads = receiver.payloads()
    replayed = [p["direct_message_events"][0]["id"] for p in payloads[:-1]]
    assert replayed == [old.id, recent.id]
    assert payloads[-1] == {
        "replay_job_status": {
            "webhook_id": hook.id,
            "job_state": "Complete",
            "job_state_description": "Job completed successfully",
            "job_id": job["job_id"],
        }
    }


# X's answers to what it does not serve, or does not accept


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/1.1/direct_messages/events/nope.json"),
        ("POST", "/1.1/statuses/update.json"),
        ("GET", "/nothing/here"),
    ],
)
async def test_an_unknown_path_gets_xs_json_404(emu: Emulator, method: str, path: str) -> None:
    async with client(emu) as api:
        answer = await api.request(method, path)
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)


async def test_an_unknown_v2_path_gets_a_problem_and_a_control_says_where_to_look(
    emu: Emulator,
) -> None:
    async with client(emu) as api:
        v2 = await api.get("/2/tweets/search/recent")
        control = await api.post("/_emulator/nope")
    assert v2.status_code == 404
    assert v2.headers["content-type"] == "application/problem+json"
    assert v2.json() == {
        "title": "Not Found",
        "type": "about:blank",
        "status": 404,
        "detail": "Sorry, that page does not exist.",
    }
    assert control.status_code == 404 and "GET /_emulator/" in control.json()["error"]


async def test_a_request_replayed_with_its_nonce_is_refused(emu: Emulator) -> None:
    signed = next(
        OAuth1().auth_flow(httpx.Request("GET", f"{API}/1.1/account/verify_credentials.json"))
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app)) as raw:
        first = await raw.send(signed)
        replayed = await raw.send(signed)
        fresh = await raw.send(
            next(
                OAuth1().auth_flow(
                    httpx.Request("GET", f"{API}/1.1/account/verify_credentials.json")
                )
            )
        )
    assert first.status_code == 200
    assert replayed.status_code == 401
    assert replayed.json() == {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    ("params", "data"),
    [
        ({"grant_type": "client_credentials"}, None),
        (None, {"grant_type": "client_credentials"}),
    ],
    ids=["in the query", "in the form"],
)
async def test_the_bearer_token_takes_grant_type_where_x_does(
    emu: Emulator, params: dict[str, str] | None, data: dict[str, str] | None
) -> None:
    async with bearer(emu) as api:
        answer = await api.post("/oauth2/token", params=params, data=data)
    assert answer.status_code == 200
    assert answer.json() == {"token_type": "bearer", "access_token": emu.world.bearer_token}


async def test_the_bearer_token_needs_a_grant_type(emu: Emulator) -> None:
    basic = base64.b64encode(f"{CK}:{CS}".encode()).decode()
    async with client(emu) as api:
        answer = await api.post("/oauth2/token", headers={"Authorization": f"Basic {basic}"})
    body: dict[str, Any] = answer.json()
    assert answer.status_code == 403
    assert body == {"errors": [{"code": 170, "message": "Missing required parameter: grant_type"}]}
