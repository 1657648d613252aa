"""The webhook's echo shortcut: which deliveries it settles as the echo of our own send.

``Echoes.take_known`` reads the usual echo (an AAA body holding one DM)
without parsing the whole delivery; every other shape goes through the
parser. Either way it may settle only deliveries the parser says are one DM,
sent by the account the delivery is for, whose id X gave one of our sends:
anything else is stored and handled by the worker.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from payloads import dm

from dmbot.edge.envelope import parse_delivery
from dmbot.edge.events import DirectMessage
from dmbot.engine.echoes import Echoes, _dm_ids, _lone_dm
from dmbot.store.memory import MemoryStore

BOT = "3805104374"
PEER = "2244994945"
OUR_DM = "1100000000000000001"
APP = "268278"


def echo_of_our_send() -> dict[str, Any]:
    return dm("Got it", sender=BOT, recipient=PEER, for_user=BOT, id=OUR_DM, source_app_id=APP)


def expected(delivery: dict[str, Any], sent: set[str]) -> str | None:
    """What the parser says: the id of a lone DM the account sent, when it is ours."""
    events = parse_delivery(delivery).events
    if len(events) != 1 or not isinstance(events[0], DirectMessage):
        return None
    message = events[0]
    if message.sender_id != message.for_user_id or message.id not in sent:
        return None
    return message.id


def take(delivery: dict[str, Any], sent: set[str]) -> tuple[str | None, str]:
    """(what take_known settled, the app id it learned) on a fresh store."""

    async def run() -> tuple[str | None, str]:
        store = MemoryStore()
        await store.open()
        echoes = Echoes(store, sent=sent)
        taken = await echoes.take_known(delivery)
        return taken, echoes.app_id

    return asyncio.run(run())


def test_the_usual_echo_is_read_without_parsing_the_delivery() -> None:
    assert _lone_dm(echo_of_our_send()) == (OUR_DM, BOT, BOT, APP)
    assert take(echo_of_our_send(), {OUR_DM}) == (OUR_DM, APP)
    assert take(echo_of_our_send(), {"1100000000000000002"}) == (None, "")


def nobody_sent() -> dict[str, Any]:
    """No sender and no account: "" equals "", but the parser calls it no DM at all."""
    body = echo_of_our_send()
    body["direct_message_events"][0]["message_create"]["sender_id"] = ""
    del body["for_user_id"]
    return body


ID_LIKE = st.sampled_from([OUR_DM, int(OUR_DM), BOT, int(BOT), PEER, "", None, True, "x", 1.5])


@st.composite
def variants(draw: st.DrawFn) -> dict[str, Any]:
    """The echo of our send, bent the ways deliveries vary (or break)."""
    body = copy.deepcopy(echo_of_our_send())
    item = body["direct_message_events"][0]
    create = item["message_create"]
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.integers(0, 11))
        if change == 0:
            item["id"] = draw(ID_LIKE)
        elif change == 1:
            create["sender_id"] = draw(ID_LIKE)
        elif change == 2:
            body["for_user_id"] = draw(ID_LIKE)
        elif change == 3:
            create["source_app_id"] = draw(ID_LIKE)
        elif change == 4:
            item["type"] = draw(st.sampled_from(["message_create", "message_delete", None]))
        elif change == 5:
            item["message_create"] = draw(st.sampled_from([None, [], "x", {}]))
        elif change == 6:
            body["direct_message_events"] = draw(
                st.sampled_from([[], [item, copy.deepcopy(item)], [None], {}, "x"])
            )
        elif change == 7:
            body[draw(st.sampled_from(["follow_events", "favorite_events", "other"]))] = [{}]
        elif change == 8:
            body.pop(draw(st.sampled_from(["for_user_id", "users", "apps"])), None)
        elif change == 9:
            body["user_has_blocked"] = draw(st.booleans())
        elif change == 10:
            body.pop("direct_message_events", None)
        else:
            item.pop(draw(st.sampled_from(["id", "message_create", "type"])), None)
    return body


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(variants(), st.sampled_from([{OUR_DM}, {OUR_DM, BOT}, {"1"}]))
@example(nobody_sent(), {OUR_DM})
def test_the_shortcut_settles_only_what_the_parser_calls_our_echo(
    delivery: dict[str, Any], sent: set[str]
) -> None:
    taken, _ = take(delivery, sent)
    truth = expected(delivery, sent)
    # Never settles what the parser would not call our echo (the worker handles it).
    assert taken is None or taken == truth
    # And settles every echo whose id X gave as the string it gave it back as; an id
    # turned into a number goes the long way, through the inbox, which is also right.
    if truth is not None and any(i in sent for i in _dm_ids(delivery) if isinstance(i, str)):
        assert taken == truth
