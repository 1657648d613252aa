"""The conversation's session: typed, and stored as the same JSON document as before."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from dmbot.engine.conversation import Conversation
from dmbot.flows.session import FlowSession, FlowState, LastFlow
from dmbot.store import Commit
from dmbot.testing import ChatTest

PIZZA = Path(__file__).resolve().parents[1] / "bots" / "pizza.py"

# Documents as dmbot wrote them before the session had a type (less "choices").
FLOW = {
    "name": "order",
    "step": "crust",
    "answers": {"size": "Large"},
    "asked": {"size": 3, "crust": 4},
    "first_prompt": 3,
    "updated": 1700000000.0,
}
LAST_FLOW = {"name": "order", "ending": "ordered", "ended": 1699999000.0, "first_prompt": 1}
TODAYS_DOCUMENTS: list[dict[str, Any]] = [
    {},
    {"handoff_until": 1700001800.0},
    {"state": {}, "last_dm_id": 2126052605430857728},
    {"last_dm_id": 1700000000000000001, "state": {"n": 2, "cart": [{"sku": "a"}]}, "prompt": 2},
    {
        "handoff_until": 1699990000.0,
        "last_dm_id": 5,
        "state": {},
        "prompt": 4,
        "flow": FLOW,
        "last_flow": LAST_FLOW,
    },
    {"state": {}, "prompt": 1, "last_flow": {**LAST_FLOW, "ending": "expired"}},
]


@pytest.mark.parametrize("document", TODAYS_DOCUMENTS)
def test_a_document_reads_and_writes_back_the_same(document: dict[str, Any]) -> None:
    conversation = Conversation.from_json(json.loads(json.dumps(document)))
    assert conversation.to_json() == document
    assert json.loads(json.dumps(conversation.to_json())) == document


def test_the_parts_read_as_their_types() -> None:
    conversation = Conversation.from_json(TODAYS_DOCUMENTS[4])
    assert conversation.flows == FlowState(
        flow=FlowSession("order", "crust", {"size": "Large"}, {"size": 3, "crust": 4}, 3, 1.7e9),
        last_flow=LastFlow("order", "ordered", 1699999000.0, 1),
        prompt=4,
    )
    assert (conversation.last_dm_id, conversation.handoff_until) == (5, 1699990000.0)
    assert conversation.state == {}


def test_an_old_document_with_choices_still_reads_and_drops_them() -> None:
    old = {
        "state": {"seen": True},
        "last_dm_id": 9,
        "prompt": 4,
        "choices": [{"label": "Thin", "value": "Thin", "flow": "order", "step": "crust"}],
        "flow": FLOW,
    }
    written = Conversation.from_json(old).to_json()
    assert written == {key: value for key, value in old.items() if key != "choices"}


@pytest.mark.parametrize(
    ("damaged", "reads_as"),
    [
        ({"flow": "order"}, {}),
        ({"flow": {"step": "size"}}, {}),
        ({"flow": {"name": "order"}}, {"flow": {**FLOW, "step": "", "answers": {}, "asked": {},
                                                "first_prompt": 0, "updated": 0.0}}),
        ({"prompt": "3", "handoff_until": "soon", "last_dm_id": True}, {}),
        ({"handoff_until": float("inf"), "state": ["not", "a", "dict"]}, {}),
        ({"last_flow": [], "flow": {**FLOW, "answers": [], "asked": {"size": "x"}}},
         {"flow": {**FLOW, "answers": {}, "asked": {"size": 0}}}),
    ],
)  # fmt: skip
def test_damaged_parts_read_as_absent(damaged: dict[str, Any], reads_as: dict[str, Any]) -> None:
    assert Conversation.from_json(damaged).to_json() == reads_as


async def test_what_the_bot_stores_has_the_keys_it_always_had() -> None:
    async with ChatTest(PIZZA) as chat:
        alice = chat.user("alice")
        store = chat.sandbox.service.store
        await alice.send("pizza")
        await alice.tap("Large")
        stored = await store.load((chat.bot_id, alice.id))
        assert set(stored) == {"state", "last_dm_id", "prompt", "flow"}
        assert stored["flow"]["name"] == "order" and stored["flow"]["step"] == "crust"
        assert stored["flow"]["answers"] == {"size": "Large"}
        assert stored["flow"]["asked"] == {"size": 1, "crust": 2}
        assert set(stored["flow"]) == set(FLOW)
        await alice.send("cancel")
        stored = await store.load((chat.bot_id, alice.id))
        assert set(stored) == {"state", "last_dm_id", "prompt", "last_flow"}
        assert stored["last_flow"]["ending"] == "cancelled"
        assert set(stored["last_flow"]) == set(LAST_FLOW)


async def test_a_flow_stored_by_an_earlier_dmbot_goes_on() -> None:
    async with ChatTest(PIZZA) as chat:
        alice = chat.user("alice")
        old = {
            "state": {"seen": 1},
            "last_dm_id": 1,
            "prompt": 7,
            "choices": [{"label": "Small", "value": "Small", "flow": "order", "step": "size"}],
            "flow": {**FLOW, "step": "size", "answers": {}, "asked": {"size": 7},
                     "first_prompt": 7, "updated": time.time()},
        }  # fmt: skip
        key = (chat.bot_id, alice.id)
        await chat.sandbox.service.store.commit(Commit("", key, state=old))
        reply = await alice.send("large")
        assert reply.text == "Which crust for your Large pizza?"
        stored = await chat.sandbox.service.store.load(key)
        assert "choices" not in stored
        assert stored["state"] == {"seen": 1} and stored["prompt"] == 8
        assert stored["flow"]["asked"] == {"size": 7, "crust": 8}
