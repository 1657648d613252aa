"""An event without an id is known by a digest of its JSON, however it is nested."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dmbot.edge.digest import canonical_parts
from dmbot.edge.events import UnknownEvent

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def nested(depth: int) -> dict[str, object]:
    raw: dict[str, object] = {"leaf": "ü"}
    for level in range(depth):
        raw = {"level": level, "inner": [raw]}
    return raw


def test_a_body_nested_past_the_encoders_recursion_still_has_a_stable_key() -> None:
    deep = nested(5000)
    first = UnknownEvent(kind="custom", raw=deep).dedupe_key
    again = UnknownEvent(kind="custom", raw=nested(5000)).dedupe_key
    other = UnknownEvent(kind="custom", raw=nested(5001)).dedupe_key
    assert first == again != other


@given(raw=st.dictionaries(st.text(), JSON, max_size=5))
def test_the_key_does_not_depend_on_how_deep_the_body_is(raw: dict[str, object]) -> None:
    """Shallow bodies and deep ones are digested as the same canonical text."""
    expected = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    assert "".join(canonical_parts(raw)) == expected
