"""Hostile and malformed deliveries: never a 5xx, never a send to anything but a numeric id.

Each body is signed with the app's secret, as if X (or someone who has it)
sent it, so it passes the signature check and reaches the parser and the
engine. The property-based test mutates X's documented payloads (Hypothesis:
keys dropped, values of other types, odd strings, deep nesting) and runs
them through the whole pipeline: webhook, worker, echo bot, sender, the
emulated X.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payloads import STRICT_EXAMPLES, dm, example, next_id

from dmbot.dev.sandbox import BOT_ID, Sandbox
from dmbot.edge.payload import is_id
from dmbot.emulator.delivery import SIGNATURE_HEADER, sign

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "bots" / "echo.py"
SECRET = "hostile-secret"
ALICE = ("2000000000001", "alice", "Alice")
BOB = "2000000000002"
PATH = "/webhooks/twitter"


async def post(box: Sandbox, body: bytes) -> int:
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "content-type": "application/json"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.service.app), base_url="https://bot.test"
    ) as client:
        response = await client.post(PATH, content=body, headers=headers)
    return response.status_code


def sends(box: Sandbox) -> list[dict[str, Any]]:
    """Every DM the bot asked X to send: the message_create of each events/new call."""
    found = []
    for exchange in box.traffic.exchanges:
        if exchange.direction == "to_x" and exchange.path.endswith("/events/new.json"):
            found.append(json.loads(exchange.body)["event"]["message_create"])
    return found


def deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


# -- each kind of bad input, one by one ------------------------------------------------------


@pytest.fixture
async def box() -> Any:
    async with Sandbox(ECHO, people=[ALICE], consumer_secret=SECRET) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    "body",
    [
        deep(5000),  # json.loads raises RecursionError
        b"[" * 100_000 + b"]" * 100_000,
        b'{"for_user_id": ' + b"9" * 5000 + b"}",  # past Python's int digit limit
        b'{"a": 1e999999}x',
        b"\xff\xfe{}",
        b'"\\ud800"',
    ],
    ids=["nested-5000", "list-100000", "5000-digit-int", "trailing-garbage", "not-utf8", "string"],
)
async def test_a_signed_body_that_is_not_a_json_object_gets_400(box: Sandbox, body: bytes) -> None:
    assert await post(box, body) == 400
    assert await box.service.store.inbox_size() == 0


async def test_lone_surrogates_in_a_dm_are_answered_as_replacement_characters(
    box: Sandbox,
) -> None:
    body = json.dumps(dm("caf\ud800e", sender=ALICE[0], recipient=BOT_ID)).encode()
    assert b"\\ud800" in body
    assert await post(box, body) == 200
    await box.settle()
    assert [s["message_data"]["text"] for s in sends(box)] == ["caf\ufffde"]


@pytest.mark.parametrize("sender", [None, "null", "xxxx", " ", "", "12a", "1" * 21, -5, True])
async def test_a_dm_from_a_sender_x_could_not_name_is_refused_and_logged(
    box: Sandbox, sender: Any, caplog: pytest.LogCaptureFixture
) -> None:
    payload = dm("hello", sender=ALICE[0], recipient=BOT_ID)
    payload["direct_message_events"][0]["message_create"]["sender_id"] = sender
    with caplog.at_level(logging.INFO, logger="dmbot.engine.worker"):
        assert await post(box, json.dumps(payload).encode()) == 200
        await box.settle()
    assert sends(box) == []
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert "so X never sent it" in refused[0].getMessage()


async def test_a_non_numeric_recipient_or_event_id_is_refused(box: Sandbox) -> None:
    for field, value in (("id", "abc"), ("recipient_id", "null")):
        payload = dm("hello", sender=ALICE[0], recipient=BOT_ID)
        event = payload["direct_message_events"][0]
        if field == "id":
            event["id"] = value
        else:
            event["message_create"]["target"]["recipient_id"] = value
        assert await post(box, json.dumps(payload).encode()) == 200
    await box.settle()
    assert sends(box) == []
    # ...and the bot still answers a proper DM afterwards.
    assert await post(box, json.dumps(dm("still here", sender=ALICE[0], recipient=BOT_ID)).encode())
    await box.settle()
    assert [s["message_data"]["text"] for s in sends(box)] == ["still here"]


# -- the property: mutated X payloads through the whole pipeline ---------------------------


def _deliveries() -> list[dict[str, Any]]:
    """X's documented deliveries, re-addressed to the sandbox's bot and alice."""
    bodies = []
    for name in STRICT_EXAMPLES:
        body: Any = example(name)
        if not isinstance(body, dict):
            continue
        data = body.get("data")
        account = body.get("for_user_id") or (
            data.get("filter", {}).get("user_id") if isinstance(data, dict) else None
        )
        if not isinstance(account, str):
            continue
        text = json.dumps(body).replace(account, BOT_ID)
        for person in ("3001969357", "2222222222222222222", "2244994945"):
            text = text.replace(person, ALICE[0])
        bodies.append(json.loads(text))
    # DMs to the bot weigh more: they are what reaches a handler and a send.
    bodies += [dm(text, sender=ALICE[0], recipient=BOT_ID) for text in ("pizza", "hi", "")]
    bodies.append(dm("Small", sender=ALICE[0], recipient=BOT_ID, metadata="forged"))
    bodies.append(dm("photo", sender=ALICE[0], recipient=BOT_ID, media_id="1234"))
    return bodies


BASES = _deliveries()

odd_strings = st.sampled_from(
    ["", " ", "null", "xxxx", "\ud800", "\udfff\ud800", "0", "-1", "1e400", "9" * 30, "\x00"]
) | st.text(max_size=40)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_strings
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(odd_strings, children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(draw(st.sampled_from(BASES)))
    # A fresh DM id each time, or the claim of the first copy would drop every later one.
    payload = body.get("data", {}).get("payload", body) if "data" in body else body
    for event in payload.get("direct_message_events", []):
        event["id"] = next_id()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["drop", "replace", "nest"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "nest":
            parent[path[-1]] = {"x": [parent[path[-1]]] * draw(st.integers(1, 3))}
        else:
            parent[path[-1]] = draw(values)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 20)) == 0:
        levels = draw(st.integers(900, 3000))
        text = text.replace("{", '{"deep": ' + "[" * levels + "]" * levels + ", ", 1)
    return text.encode("utf-8", "surrogatepass")


def test_mutated_deliveries_never_get_a_5xx_and_never_send_to_a_non_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.new_event_loop()
    box = Sandbox(
        ECHO, people=[ALICE], consumer_secret=SECRET, store=f"sqlite:///{tmp_path / 'x.db'}"
    )
    statuses: dict[int, int] = {}
    try:
        loop.run_until_complete(box.start())

        @settings(
            max_examples=1500,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(mutated())
        def one(body: bytes) -> None:
            status = loop.run_until_complete(post(box, body))
            statuses[status] = statuses.get(status, 0) + 1
            assert status in (200, 400), f"{status} for {body[:300]!r}"

        with caplog.at_level(logging.WARNING):
            one()
            loop.run_until_complete(box.settle(60))
            # The server keeps answering: a proper DM still gets its echo. (From bob:
            # mutated dm.sent envelopes may have been the owner writing to alice, which
            # rightly keeps the bot quiet there.)
            before = len(sends(box))
            good = json.dumps(dm("after the storm", sender=BOB, recipient=BOT_ID))
            assert loop.run_until_complete(post(box, good.encode())) == 200
            loop.run_until_complete(box.settle(30))
        assert sends(box)[before:][-1]["message_data"]["text"] == "after the storm"
        for create in sends(box):
            recipient = create["target"]["recipient_id"]
            assert isinstance(recipient, str) and is_id(recipient), create
        bugs = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
        assert bugs == []
        assert statuses.get(200, 0) > 50, statuses  # most mutations still reach the engine
    finally:
        loop.run_until_complete(box.stop())
        loop.close()
