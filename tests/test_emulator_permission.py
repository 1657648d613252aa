"""Who may write to whom on the emulated X: 403 with code 349 (or 150), as X refuses a DM.

A DM reaches a person who wrote to the account before, follows it, or
accepts message requests from everyone; anything else is refused, through
v1.1 and v2 alike, and nothing is recorded or delivered. Requests are signed
by authlib and travel through httpx's ASGI transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from test_emulator_api import ALICE_ID, API, BOT_ID, BOT_SECRET, BOT_TOKEN, CK, CS, OAuth1, dm

from dmbot.emulator import ApiError, Emulator, build_emulator
from dmbot.emulator.people import DEFAULT_PEOPLE

BOB_ID = "2000000000002"
REFUSED = {"errors": [{"code": 349, "message": "You cannot send messages to this user."}]}
NOT_FOLLOWING = {
    "errors": [
        {"code": 150, "message": "You cannot send messages to users who are not following you."}
    ]
}
SEND = "/1.1/direct_messages/events/new.json"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = Emulator(CK, CS)
    emulator.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emulator.add_user(ALICE_ID, "alice", name="Alice")
    emulator.add_user(BOB_ID, "bob", name="Bob")
    yield emulator
    await emulator.aclose()


def bot(emu: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=API, auth=OAuth1()
    )


def admin(emu: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://127.0.0.1"
    )


async def test_people_start_closed_and_accounts_open(emu: Emulator) -> None:
    assert emu.user("alice").accepts_requests is False
    assert emu.user("pizzabot").accepts_requests is True
    standalone = build_emulator(
        consumer_key=CK, consumer_secret=CS, accounts=[(BOT_ID, BOT_TOKEN, BOT_SECRET)]
    )
    people = [standalone.user(name) for _, name, _ in DEFAULT_PEOPLE]
    assert [p.accepts_requests for p in people] == [False, False]
    assert standalone.user("bot").accepts_requests is True


async def test_a_dm_to_someone_who_never_wrote_is_refused_with_349(emu: Emulator) -> None:
    async with bot(emu) as api:
        answer = await api.post(SEND, json=dm("Big news!"))
    assert (answer.status_code, answer.json()) == (403, REFUSED)
    assert emu.messages == []


async def test_a_reply_to_someone_who_wrote_first_goes_through(emu: Emulator) -> None:
    await emu.send("alice", BOT_ID, "hi")
    async with bot(emu) as api:
        to_alice = await api.post(SEND, json=dm("Hello Alice"))
        to_bob = await api.post(SEND, json=dm("Hello Bob", recipient=BOB_ID))
    assert to_alice.status_code == 200
    assert (to_bob.status_code, to_bob.json()) == (403, REFUSED)
    assert [m.text for m in emu.messages] == ["hi", "Hello Alice"]


@pytest.mark.parametrize(
    "opening",
    [
        {"accepts_requests": True},
        {"follows": ["pizzabot"]},
    ],
    ids=["accepts message requests", "follows the account"],
)
async def test_a_person_who_follows_or_accepts_requests_may_get_the_first_dm(
    emu: Emulator, opening: dict[str, Any]
) -> None:
    emu.set_dm_settings("alice", **opening)
    async with bot(emu) as api:
        answer = await api.post(SEND, json=dm("Big news!"))
    assert answer.status_code == 200
    assert [m.text for m in emu.messages] == ["Big news!"]


async def test_following_someone_who_does_not_follow_back_gets_150(emu: Emulator) -> None:
    emu.follow("pizzabot", "alice")
    async with bot(emu) as api:
        answer = await api.post(SEND, json=dm("Big news!"))
    assert (answer.status_code, answer.json()) == (403, NOT_FOLLOWING)
    emu.follow("alice", "pizzabot")
    async with bot(emu) as api:
        assert (await api.post(SEND, json=dm("Big news!"))).status_code == 200


async def test_a_v2_send_is_refused_with_xs_403_problem(emu: Emulator) -> None:
    async with bot(emu) as api:
        answer = await api.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "Big news!"}
        )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "You cannot send messages to this user.",
    }
    assert emu.messages == []


async def test_a_person_cannot_write_first_to_a_closed_account(emu: Emulator) -> None:
    emu.set_dm_settings("pizzabot", accepts_requests=False)
    with pytest.raises(ApiError) as refused:
        await emu.send("alice", BOT_ID, "hello?")
    assert (refused.value.status, refused.value.code) == (403, 349)
    assert "set_dm_settings('pizzabot', accepts_requests=True)" in refused.value.message
    async with admin(emu) as control:
        answer = await control.post(
            "/_emulator/send", json={"from": "alice", "to": "pizzabot", "text": "hello?"}
        )
    assert answer.status_code == 403
    assert "/_emulator/dm_settings" in answer.json()["error"]
    assert emu.messages == []
    # Once the account wrote to her, she may answer.
    emu.set_dm_settings("alice", accepts_requests=True)
    async with bot(emu) as api:
        assert (await api.post(SEND, json=dm("We're open"))).status_code == 200
    await emu.send("alice", BOT_ID, "great")
    assert [m.text for m in emu.messages] == ["We're open", "great"]


async def test_the_dm_settings_control_sets_and_shows_them(emu: Emulator) -> None:
    async with admin(emu) as control:
        opened = await control.post(
            "/_emulator/dm_settings",
            json={"user": "alice", "accepts_requests": True, "follow": ["pizzabot"]},
        )
        assert opened.status_code == 200
        assert opened.json()["accepts_requests"] is True
        assert opened.json()["follows"] == [BOT_ID]
        unfollowed = await control.post(
            "/_emulator/dm_settings", json={"user": "alice", "unfollow": ["pizzabot"]}
        )
        assert unfollowed.json()["follows"] == []
        assert unfollowed.json()["accepts_requests"] is True
        listed = (await control.get("/_emulator/dm_settings")).json()["users"]
        assert {u["screen_name"]: u["accepts_requests"] for u in listed} == {
            "pizzabot": True,
            "alice": True,
            "bob": False,
        }
        state = (await control.get("/_emulator/state")).json()
        assert {u["screen_name"]: u["follows"] for u in state["users"]} == {
            "alice": [],
            "bob": [],
        }
        carol = await control.post(
            "/_emulator/users", json={"screen_name": "carol", "follows": ["pizzabot"]}
        )
        assert carol.status_code == 201
        assert carol.json()["accepts_requests"] is False
        assert carol.json()["follows"] == [BOT_ID]


@pytest.mark.parametrize(
    ("body", "status", "hint"),
    [
        ({"user": "alice", "accepts_requests": "yes"}, 400, "true or false"),
        ({"user": "alice", "follows": "pizzabot"}, 400, "list of screen names"),
        ({"user": "zed", "accepts_requests": True}, 404, "known users"),
        ({"accepts_requests": True}, 400, "'user'"),
    ],
    ids=["not a boolean", "not a list", "unknown user", "no user"],
)
async def test_a_wrong_dm_settings_request_says_how_to_fix_it(
    emu: Emulator, body: dict[str, Any], status: int, hint: str
) -> None:
    async with admin(emu) as control:
        answer = await control.post("/_emulator/dm_settings", json=body)
    assert answer.status_code == status
    assert hint in answer.json()["error"]
