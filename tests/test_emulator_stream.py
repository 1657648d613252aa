"""The X Activity API stream in the emulator, over a real socket.

Every test serves the emulator with uvicorn on loopback and reads the stream
with httpx as a bot would: keep-alives, events to every connection, X's two
connections per app, backfill and time bounds, the realism switches, and the
controls that drop, refuse and silence it. Keep-alive intervals are made
short; waits poll with deadlines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import v2api
from clock import Clock
from openapi import problems
from streams import (
    STREAM,
    Consumer,
    app_client,
    connect,
    refused,
    served,
    text_of,
    until,
)
from test_emulator_activity import documented
from test_emulator_api import ALICE_ID, API, BOT_ID, CK, CS, Receiver, same_shape
from v2api import INVALID_REQUEST, SUPPORT_ID, UNSUPPORTED, problem, user, v2_hook

from dmbot.emulator import Emulator

STREAMING_CONNECTION = "https://api.x.com/2/problems/streaming-connection"


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[Emulator]:
    emulator = v2api.emulator(receiver)
    emulator.subscribe_activity(BOT_ID, "dm.received", tag="stream")  # stream only
    yield emulator
    await emulator.aclose()


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client acting as the app against the emulator served on loopback."""
    async with served(emu) as base, app_client(base, CK, CS) as client:
        yield client


def spec_checked(envelope: dict[str, Any]) -> dict[str, Any]:
    """``envelope``, once it conforms to the spec's ``ActivityStreamResponse``.

    The spec (v2.167) describes no DM payload, and its ``event_uuid`` pattern
    refuses the negative ids of X's published DM examples (which the emulator
    follows); those two are checked against the examples instead.
    """
    data = {k: v for k, v in envelope["data"].items() if k not in ("payload", "event_uuid")}
    assert problems({"data": data}, "ActivityStreamResponse") == []
    assert same_shape(envelope, documented("xaa/dm.received.json"))
    return envelope


# connecting


async def test_keep_alives_come_at_once_and_then_every_interval_while_idle(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    emu.set_realism({"stream_keepalive": 0.05})
    async with connect(http) as stream:
        assert stream.response.headers["content-type"] == "application/json"
        assert "content-length" not in stream.response.headers
        assert int(stream.response.headers["x-rate-limit-remaining"]) >= 0
        arrivals = []
        for _ in range(5):
            at, line = await stream.line()
            assert line == ""  # a bare \r\n
            arrivals.append(at)
    # The first arrival is stamped late (the reader starts after the headers): gaps after it.
    gaps = [b - a for a, b in itertools.pairwise(arrivals[1:])]
    assert all(gap >= 0.03 for gap in gaps), gaps


async def test_a_shorter_keep_alive_interval_applies_to_open_connections(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with connect(http) as stream:
        await stream.line()  # the first keep-alive; the next is 20 s away by default
        emu.set_realism({"stream_keepalive": 0.05})
        _, line = await stream.line(within=2)
    assert line == ""


async def test_an_event_reaches_every_connection_as_the_webhook_gets_it(
    emu: Emulator, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook_id = await v2_hook(emu)
    emu.subscribe_activity(SUPPORT_ID, "dm.received", webhook_id=hook_id, tag="support")
    async with connect(http) as one, connect(http) as two:
        assert emu.stream_connections == 2
        await emu.send(ALICE_ID, BOT_ID, "to the stream only")
        await emu.send(ALICE_ID, SUPPORT_ID, "to the webhook and the stream")
        firsts = [await one.event(), await two.event()]
        seconds = [await one.event(), await two.event()]
    await emu.deliveries_settled()
    assert firsts[0] == firsts[1] and seconds[0] == seconds[1]
    assert text_of(spec_checked(firsts[0])) == "to the stream only"
    assert text_of(spec_checked(seconds[0])) == "to the webhook and the stream"
    assert seconds[0]["data"]["tag"] == "support"
    # The very envelope the webhook got (same event_uuid), and nothing for the stream-only one.
    [(_, body)] = receiver.posts
    assert json.loads(body) == seconds[0]
    assert json.dumps(seconds[0], ensure_ascii=False, separators=(",", ":")).encode() == body
    assert [e.envelope for e in emu.activity_log] == [firsts[0], seconds[0]]


async def test_a_third_connection_is_refused_until_one_closes(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with connect(http) as one:
        async with connect(http):
            third = await refused(http)
        await until(lambda: emu.stream_connections == 1)
        async with connect(http) as again:
            await emu.send(ALICE_ID, BOT_ID, "both hear it")
            assert text_of(await one.event()) == text_of(await again.event())
    # X's streaming problem type is not in the spec (v2.167): checked member by member.
    assert third.headers["content-type"] == "application/problem+json"
    body = third.json()
    assert (body["status"], body["type"]) == (429, STREAMING_CONNECTION)
    assert body["title"] == "ConnectionException" and "2 per app" in body["detail"]
    assert body["connection_issue"] == "TooManyConnections"
    assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
        third.headers
    )


async def test_user_context_and_no_credentials_are_refused(emu: Emulator) -> None:
    async with (
        user(emu) as bot,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=API) as nobody,
    ):
        as_user = await bot.get(STREAM)
        anonymous = await nobody.get(STREAM)
    assert "Application-Only" in problem(as_user, 403, UNSUPPORTED)["detail"]
    assert anonymous.status_code == 401
    assert emu.stream_connections == 0


BAD_QUERIES = {
    "backfill over 5": ({"backfill_minutes": "6"}, "backfill_minutes"),
    "negative backfill": ({"backfill_minutes": "-1"}, "backfill_minutes"),
    "backfill not a number": ({"backfill_minutes": "two"}, "backfill_minutes"),
    "start_time not a time": ({"start_time": "yesterday"}, "start_time"),
    "start_time without a zone": ({"start_time": "2026-01-15T12:00:00"}, "start_time"),
    "end_time not a time": ({"end_time": "2026-13-45T99:00:00Z"}, "end_time"),
    "start after end": (
        {"start_time": "2026-01-15T12:00:00Z", "end_time": "2026-01-15T11:00:00Z"},
        "start_time",
    ),
    "unknown parameter": ({"partition": "1"}, "partition"),
}


@pytest.mark.parametrize(("query", "parameter"), BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
async def test_a_bad_query_is_a_400_naming_the_parameter(
    emu: Emulator, query: dict[str, str], parameter: str
) -> None:
    async with v2api.app(emu) as api:
        answer = await api.get(STREAM, params=query)
    body = problem(answer, 400, INVALID_REQUEST)
    assert parameter in body["errors"][0]["parameters"]
    assert emu.stream_connections == 0


# what a connection is sent


@pytest.fixture
async def timed(receiver: Receiver) -> AsyncIterator[tuple[Emulator, Clock]]:
    clock = Clock()  # moved by hand: backfill windows are minutes long
    emulator = Emulator(CK, CS, clock=clock)
    emulator.add_account(BOT_ID, "pizzabot", token=v2api.BOT_TOKEN, token_secret=v2api.BOT_SECRET)
    emulator.add_user(ALICE_ID, "alice")
    emulator.subscribe_activity(BOT_ID, "dm.received")
    yield emulator, clock
    await emulator.aclose()


async def sent_at(emu: Emulator, clock: Clock, seconds_ago: float, text: str) -> None:
    now = clock.now
    clock.now = now - seconds_ago
    await emu.send(ALICE_ID, BOT_ID, text)
    clock.now = now


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


async def test_backfill_replays_its_window_in_order_then_live_events(
    timed: tuple[Emulator, Clock],
) -> None:
    emu, clock = timed
    for ago, text in ((400, "too old"), (110, "recent"), (30, "latest")):
        await sent_at(emu, clock, ago, text)
    async with (
        served(emu) as base,
        app_client(base, CK, CS) as http,
        connect(http, backfill_minutes=2) as backfilled,
        connect(http) as plain,
    ):
        assert (await backfilled.line())[1] == ""  # the keep-alive comes first
        replayed = [text_of(await backfilled.event()) for _ in range(2)]
        await emu.send(ALICE_ID, BOT_ID, "live")
        assert text_of(await backfilled.event()) == "live"
        assert text_of(await plain.event()) == "live"  # no backfill asked: none sent
    assert replayed == ["recent", "latest"]


async def test_start_and_end_time_bound_what_is_sent(timed: tuple[Emulator, Clock]) -> None:
    emu, clock = timed
    for ago, text in ((200, "before the start"), (100, "inside"), (50, "after the end")):
        await sent_at(emu, clock, ago, text)
    window = {"start_time": iso(clock.now - 150), "end_time": iso(clock.now - 60)}
    async with served(emu) as base, app_client(base, CK, CS) as http:
        async with connect(http, backfill_minutes=5, **window) as bounded:
            # end_time has passed: what the window holds, then the response ends.
            lines = await bounded.rest()
        async with connect(http, start_time=iso(clock.now + 60)) as later:
            await emu.send(ALICE_ID, BOT_ID, "too early")
            clock.now += 61
            await emu.send(ALICE_ID, BOT_ID, "in time")
            assert text_of(await later.event()) == "in time"
    assert [text_of(json.loads(line)) for line in lines if line] == ["inside"]


async def test_duplicates_send_each_stream_event_twice(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    emu.set_realism({"duplicates": True})
    async with connect(http) as stream:
        message = await emu.send(ALICE_ID, BOT_ID, "twice")
        first, second = await stream.event(), await stream.event()
        await emu.send(ALICE_ID, BOT_ID, "next")
        assert text_of(await stream.event()) == "next"
    assert first == second  # the same event_uuid: a consumer's dedupe must drop one
    assert first["data"]["payload"]["direct_message_events"][0]["id"] == message.id


async def test_delay_holds_stream_events_back(emu: Emulator, http: httpx.AsyncClient) -> None:
    emu.set_realism({"delay": 0.3})
    async with connect(http) as stream:
        await stream.line()
        before = time.monotonic()
        await emu.send(ALICE_ID, BOT_ID, "late")
        while True:
            at, line = await stream.line()
            if line:
                break
    assert at - before >= 0.3
    assert text_of(json.loads(line)) == "late"


# misbehaving on request


async def test_a_drop_ends_every_connection_and_a_consumer_reconnects(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with Consumer(http) as consumer:
        await emu.wait_for_stream_connections(1)
        accepted = emu.stream.connects
        assert emu.drop_streams() == 1
        assert emu.stream_connections == 0
        await emu.wait_for_stream_connections(1)
        assert emu.stream.connects == accepted + 1
        await emu.send(ALICE_ID, BOT_ID, "after the drop")
        await until(lambda: consumer.events)
    assert consumer.ends == 1 and consumer.statuses == [200, 200]
    assert text_of(consumer.events[0]) == "after the drop"


async def test_a_drop_with_notice_sends_xs_operational_disconnect_first(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with connect(http) as stream:
        await stream.line()
        emu.drop_streams(notice=True)
        lines = await stream.rest()
    assert stream.error is None  # a clean end of the response, not a broken one
    [notice] = [json.loads(line) for line in lines if line]
    [error] = notice["errors"]
    assert error["disconnect_type"] == "OperationalDisconnect"
    assert error["type"] == "https://api.x.com/2/problems/operational-disconnect"


async def test_refusing_answers_503_or_429_and_leaves_open_connections_be(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with connect(http) as open_one:
        emu.refuse_streams(30)
        unavailable = await refused(http)
        emu.refuse_streams(30, status=429)
        limited = await refused(http)
        await emu.send(ALICE_ID, BOT_ID, "still flowing")
        assert text_of(await open_one.event()) == "still flowing"
        emu.refuse_streams(0)
        async with connect(http):
            assert emu.stream_connections == 2
    assert "refuse" in problem(unavailable, 503)["detail"]
    assert unavailable.headers["retry-after"] == "30"
    problem(limited, 429)
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-reset"]) >= int(emu.clock()) + 29
    with pytest.raises(ValueError, match="503 or 429"):
        emu.refuse_streams(5, status=500)


async def test_a_consumer_gets_back_in_once_the_refusal_ends(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with Consumer(http) as consumer:
        await emu.wait_for_stream_connections(1)
        emu.refuse_streams(0.3)
        emu.drop_streams()
        await emu.wait_for_stream_connections(1)
        await until(lambda: consumer.statuses[-1] == 200)  # the client saw it accepted
    assert consumer.statuses[0] == 200 and consumer.statuses[-1] == 200
    assert set(consumer.statuses[1:-1]) == {503}


async def test_silence_sends_nothing_until_it_ends_and_loses_what_happened(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    async with connect(http) as stream:
        await stream.line()  # the next keep-alive is 20 s away: nothing is in flight
        before = time.monotonic()
        assert emu.silence_streams(0.5) == 1
        emu.set_realism({"stream_keepalive": 0.05})
        await emu.send(ALICE_ID, BOT_ID, "lost")
        async with connect(http) as fresh:  # a new connection is served meanwhile
            assert (await fresh.line())[1] == ""
        at, line = await stream.line()
        assert at - before >= 0.5 and line == ""  # the overdue keep-alive: back
        await emu.send(ALICE_ID, BOT_ID, "heard")
        assert text_of(await stream.event()) == "heard"
    async with connect(http, backfill_minutes=1) as recovering:
        replayed = [text_of(await recovering.event()) for _ in range(2)]
    assert replayed == ["lost", "heard"]


async def test_the_admin_endpoints_drive_the_stream(emu: Emulator, http: httpx.AsyncClient) -> None:
    admin = "/_emulator"
    async with connect(http) as stream:
        await stream.line()
        state = (await http.get(f"{admin}/stream")).json()
        silenced = await http.post(f"{admin}/stream/silence", json={"seconds": 0.01})
        wrong = await http.post(f"{admin}/stream/refuse", json={"seconds": 5, "status": 418})
        refusing = await http.post(f"{admin}/stream/refuse", json={"seconds": 5, "status": 429})
        limited = await refused(http)
        dropped = await http.post(f"{admin}/stream/drop", json={"notice": True})
        lines = await stream.rest()
        listed = (await http.get(f"{admin}/", params={"format": "json"})).json()
        shown = (await http.get(f"{admin}/state")).json()["stream"]
    assert (state["connections"], state["max_connections"], state["keepalive"]) == (1, 2, 20.0)
    assert silenced.json()["silenced"] == 1
    assert wrong.status_code == 400 and "503 or 429" in wrong.json()["error"]
    assert refusing.json()["refusing_for"] > 4 and limited.status_code == 429
    assert dropped.json()["dropped"] == 1 and '"operational-disconnect"' in lines[-1]
    paths = {e["path"] for e in listed["endpoints"]}
    assert {"/_emulator/stream/drop", "/_emulator/stream/refuse"} <= paths
    assert shown["connections"] == 0 and shown["refusal_status"] == 429


async def test_reset_stops_refusing_and_silencing(emu: Emulator, http: httpx.AsyncClient) -> None:
    emu.set_realism({"stream_keepalive": 0.05})
    async with connect(http) as stream:
        await stream.line()
        emu.silence_streams(60)
        emu.refuse_streams(60)
        emu.reset()
        assert emu.realism.stream_keepalive == 20.0
        emu.set_realism({"stream_keepalive": 0.05})
        assert (await stream.line(within=2))[1] == ""
        async with connect(http):
            pass


async def test_a_server_with_a_stream_open_stops_at_once_after_close_streams(
    emu: Emulator,
) -> None:
    server = served(emu)  # its exit calls emu.close_streams(), then stops uvicorn
    base = await server.__aenter__()
    async with app_client(base, CK, CS) as http, connect(http) as stream:
        await stream.line()
        async with asyncio.timeout(2):  # uvicorn would otherwise wait for the stream
            await server.__aexit__(None, None, None)
        assert await stream.rest(within=1) == []
    assert emu.stream_connections == 0
