"""What waits in the store, as /metrics reads it: the same on every backend."""

from __future__ import annotations

import pytest

from dmbot.store import Commit, NewAction, Store


async def test_depth_counts_what_waits(store: Store) -> None:
    empty = await store.depth()
    assert (empty.inbox, empty.oldest_received_at, empty.outbox) == (0, None, 0)
    first = await store.append(b'{"a": 1}', 1_700_000_000.0, "x")
    await store.append(b'{"a": 2}', 1_700_000_005.0, "x")
    await store.commit(Commit("e1", ("1", "2"), actions=[NewAction("dm", {"text": "one"})], ack=()))
    depth = await store.depth()
    assert depth.inbox == 2 and depth.outbox == 1
    assert depth.oldest_received_at == pytest.approx(1_700_000_000.0)
    await store.ack([first])
    [row] = await store.outbox()
    await store.sent(row.id, "900")
    depth = await store.depth()
    assert depth.inbox == 1 and depth.outbox == 0
    assert depth.oldest_received_at == pytest.approx(1_700_000_005.0)
