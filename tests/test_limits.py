from __future__ import annotations

import pytest

from dmbot import QuickReply
from dmbot.edge.events import DirectMessage, User
from dmbot.engine.context import Context
from dmbot.errors import LimitError
from dmbot.flows.checks import validate_flows
from dmbot.flows.model import Flow, Option, Step
from dmbot.x.limits import (
    MAX_BUTTONS,
    MAX_DESCRIPTION,
    MAX_LABEL,
    MAX_METADATA,
    MAX_OPTIONS,
    MAX_TEXT,
    has_link,
    is_web_url,
    missing_descriptions,
)


def test_the_numbers_are_xs() -> None:
    assert (MAX_TEXT, MAX_OPTIONS, MAX_LABEL, MAX_DESCRIPTION, MAX_METADATA, MAX_BUTTONS) == (
        10_000,
        20,
        36,
        72,
        1_000,
        3,
    )


@pytest.mark.parametrize(
    "label", ["https://x.com", "see www.pizza", "pizza.com menu", "ftp://a", "HTTP://A.B"]
)
def test_labels_with_what_x_links_are_caught(label: str) -> None:
    assert has_link(label)


@pytest.mark.parametrize("label", ["Dr. Who", "v1.2", "Node.js", "Large", "e-mail me"])
def test_labels_that_merely_have_dots_are_not_links(label: str) -> None:
    assert not has_link(label)


def test_descriptions_go_on_every_option_or_on_none() -> None:
    assert missing_descriptions([QuickReply("A"), QuickReply("B")]) == []
    assert missing_descriptions([QuickReply("A", description="a")]) == []
    assert missing_descriptions([]) == []
    mixed = [QuickReply("A"), QuickReply("B", description="b"), QuickReply("C")]
    assert missing_descriptions(mixed) == ["A", "C"]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://example.com/docs", True),
        ("HTTP://example.com", True),
        ("ftp://example.com", False),
        ("example.com", False),
        ("javascript:alert(1)", False),
    ],
)
def test_buttons_link_only_to_http_urls(url: str, accepted: bool) -> None:
    assert is_web_url(url) is accepted


def handler_context() -> Context:
    """The ctx a handler gets for a DM from user 2 to account 1 (needs a running loop)."""
    return Context(
        event=DirectMessage(id="1", sender_id="2", recipient_id="1", text="hi"),
        account=User("1"),
        user=User("2"),
        now=0.0,
    )


@pytest.mark.parametrize(
    "options",
    [
        [Option("Small"), Option("Visit pizza.com for more")],
        [Option("Small"), Option("L" * 37)],
        [Option("Small", description="d" * 73), Option("Large", description="big")],
        [Option("Small"), Option("Large", description="big")],
        [Option(f"o{i}") for i in range(21)],
    ],
)
async def test_a_reply_breaks_a_limit_where_a_flow_does(options: list[Option]) -> None:
    flow = Flow("order", [Step("size", "What size?", tuple(options))])
    ctx = handler_context()
    quick_replies = [QuickReply(o.label, description=o.description) for o in options]

    assert validate_flows([flow]) != []
    with pytest.raises(LimitError):
        ctx.reply("What size?", quick_replies=quick_replies)
    assert ctx.actions == []


async def test_a_reply_within_the_limits_is_queued() -> None:
    ctx = handler_context()
    label = "L" * MAX_LABEL
    options = [QuickReply(label, description="d" * MAX_DESCRIPTION)] + [
        QuickReply(f"o{i}", description="d") for i in range(MAX_OPTIONS - 1)
    ]

    ctx.reply("x" * (MAX_TEXT), quick_replies=options)

    (action,) = ctx.actions
    labels = [o["label"] for o in action.payload["quick_reply"]["options"]]
    assert labels == [label, *(f"o{i}" for i in range(MAX_OPTIONS - 1))]
    assert len(action.payload["text"]) == MAX_TEXT
