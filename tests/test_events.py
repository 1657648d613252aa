"""Parsing Account Activity API deliveries into events."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
from payloads import (
    EXAMPLES_DIR,
    STRICT_EXAMPLES,
    delivery,
    dm,
    dm_event,
    example,
    follow,
    read,
    typing,
)

from dmbot.edge.activity import ActivityEvent, ChatEvent
from dmbot.edge.envelope import parse_delivery
from dmbot.edge.events import (
    App,
    Button,
    Delivery,
    DirectMessage,
    Event,
    Favorite,
    ReadReceipt,
    Relationship,
    Revoke,
    TweetCreate,
    TweetDelete,
    TypingIndicator,
    UnknownEvent,
    User,
)


def only(parsed: Delivery) -> Event:
    assert len(parsed.events) == 1, parsed.summary
    return parsed.events[0]


def wrap(event: dict[str, Any], for_user: str = "1234858592") -> dict[str, Any]:
    return {"for_user_id": for_user, "direct_message_events": [event]}


def tiny_user(user_id: str, screen_name: str) -> dict[str, Any]:
    return {"id": int(user_id), "id_str": user_id, "screen_name": screen_name, "name": screen_name}


# X's examples


def test_strict_examples_list_matches_the_files() -> None:
    all_files = sorted(str(path.relative_to(EXAMPLES_DIR)) for path in EXAMPLES_DIR.rglob("*.json"))
    strict = []
    for name in all_files:
        try:
            json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        strict.append(name)
    assert sorted(STRICT_EXAMPLES) == strict


def documented(body: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]]]:
    """What one of X's examples says, read from its JSON by the paths X documents:
    (the account it is for, one tuple per event of ids, texts and users)."""
    data = body.get("data")
    if isinstance(data, dict) and "event_type" in data:  # X Activity API envelope
        account, kind, payload = data["filter"]["user_id"], data["event_type"], data["payload"]
        if kind.startswith("dm."):
            users = {
                uid: (u["data"]["username"], u["data"]["name"])
                for uid, u in payload["users"].items()
            }
            return account, [dm_fields(e, users) for e in payload["direct_message_events"]]
        if kind.startswith("chat."):
            return account, [
                (kind, payload["id"], payload["sender_id"], payload["conversation_id"])
            ]
        author = payload.get("author_id")
        return account, [(kind, data["event_uuid"], data["tag"], author)]
    account = body.get("for_user_id", "")
    users = {uid: (u["screen_name"], u["name"]) for uid, u in body.get("users", {}).items()}
    events: list[tuple[Any, ...]] = []
    for key, value in body.items():
        if key == "direct_message_events":
            events += [dm_fields(e, users) for e in value]
        elif key in ("direct_message_indicate_typing_events", "direct_message_mark_read_events"):
            for e in value:
                read = e.get("last_read_event_id")
                events.append(
                    ("read" if read else "typing", e["sender_id"], e["target"]["recipient_id"],
                     int(e["created_timestamp"]), users.get(e["sender_id"]), read)
                )  # fmt: skip
        elif key == "tweet_delete_events":
            events += [
                ("tweet_delete", e["status"]["id"], e["status"]["user_id"], int(e["timestamp_ms"]))
                for e in value
            ]
        elif key == "user_event":
            revoke = value["revoke"]
            events.append(
                ("revoke", revoke["target"]["app_id"], revoke["source"]["user_id"],
                 revoke["date_time"])
            )  # fmt: skip
        elif key not in ("for_user_id", "users", "apps"):
            # Not an event X documents: passed on as it came, one per item of a list.
            for item in value if isinstance(value, list) else [value]:
                events.append(("unknown", key, item if isinstance(item, dict) else {"value": item}))
    return account, events


def dm_fields(event: dict[str, Any], users: dict[str, tuple[str, str]]) -> tuple[Any, ...]:
    create = event["message_create"]
    sender, recipient = create["sender_id"], create["target"]["recipient_id"]
    return (
        "message", event["id"], int(event["created_timestamp"]), sender, recipient,
        create["message_data"]["text"], create.get("source_app_id"),
        users.get(sender), users.get(recipient),
    )  # fmt: skip


def parsed(event: Event) -> tuple[Any, ...]:
    """The same facts, read from what dmbot parsed."""

    def user(found: User | None) -> tuple[str, str] | None:
        return None if found is None else (found.screen_name, found.name)

    if isinstance(event, DirectMessage):
        return (
            "message", event.id, event.created_ms, event.sender_id, event.recipient_id,
            event.text, event.source_app_id, user(event.sender), user(event.recipient),
        )  # fmt: skip
    if isinstance(event, TypingIndicator | ReadReceipt):
        read = event.last_read_event_id if isinstance(event, ReadReceipt) else None
        return (event.kind, event.sender_id, event.recipient_id, event.created_timestamp,
                user(event.sender), read)  # fmt: skip
    if isinstance(event, TweetDelete):
        return ("tweet_delete", event.tweet_id, event.user_id, event.timestamp_ms)
    if isinstance(event, Revoke):
        return ("revoke", event.app_id, event.user_id, event.date_time)
    if isinstance(event, ChatEvent):
        return (event.kind, event.id, event.sender_id, event.conversation_id)
    if isinstance(event, ActivityEvent):
        return (event.kind, event.event_uuid, event.tag, event.user.id if event.user else None)
    assert isinstance(event, UnknownEvent) and not event.malformed
    return ("unknown", event.kind, event.data)


@pytest.mark.parametrize("name", STRICT_EXAMPLES)
def test_every_strict_example_parses_into_what_its_json_says(name: str) -> None:
    body = example(name)
    account, events = documented(body)
    delivery = parse_delivery(body)
    assert delivery.for_user_id == account
    assert [parsed(event) for event in delivery.events] == events
    assert all(event.dedupe_key for event in delivery.events)
    assert delivery.summary


def test_direct_message_example() -> None:
    parsed = parse_delivery(example("direct_message_events.json"))
    message = only(parsed)
    assert isinstance(message, DirectMessage)
    assert message.kind == "message"
    assert parsed.for_user_id == message.for_user_id == "4337869213"
    assert message.id == message.dedupe_key == "954491830116155396"
    assert message.created_timestamp == message.created_ms == 1516403560557
    assert message.sender_id == "3001969357"
    assert message.recipient_id == "4337869213"
    assert message.text == "Hello World!"
    assert message.entities["hashtags"] == []
    assert message.sender == User("3001969357", "furiouscamper", "Jordan Brinks")
    assert message.recipient is not None and message.recipient.screen_name == "Harris_0ff"
    assert message.source_app_id == "13090192"
    assert message.app == App("13090192", "FuriousCamperTestApp1", "https://x.com/furiouscamper")
    assert message.quick_reply_metadata is None and not message.is_quick_reply
    assert message.attachment is None and message.ctas == ()
    assert message.sort_key == 954491830116155396
    assert parsed.users["3001969357"].screen_name == "furiouscamper"
    assert parsed.apps["13090192"].name == "FuriousCamperTestApp1"
    assert parsed.summary == "message 954491830116155396"


def test_legacy_direct_message_example_with_users_nested_in_apps() -> None:
    message = only(parse_delivery(example("legacy/direct_message_events.json")))
    assert isinstance(message, DirectMessage)
    assert message.text == "Hello World!"
    assert message.app is not None and message.app.name == "FuriousCamperTestApp1"
    assert message.sender is None  # the example has no top-level users map


def test_quick_reply_response_example() -> None:
    message = only(
        parse_delivery(wrap(example("direct_message_event_quick_reply_response.json")["event"]))
    )
    assert isinstance(message, DirectMessage)
    assert message.text == "Blue Bird"
    assert message.quick_reply_metadata == "external_id_2"
    assert message.is_quick_reply
    assert message.sender_id == "3805104374"
    assert message.sender is None and message.app is None


def test_ctas_example() -> None:
    event = example("direct_message_event_ctas_read.json")["event"]
    # As published the example lacks an id and a sender: not a deliverable DM.
    assert isinstance(only(parse_delivery(wrap(event))), UnknownEvent)
    event["id"] = "1"
    event["message_create"]["sender_id"] = "844385345234"
    message = only(parse_delivery(wrap(event)))
    assert isinstance(message, DirectMessage)
    assert message.ctas == (
        Button(
            "See flight details",
            "https://www.myairline.domain/see-flight-details",
            "web_url",
            "https://t.co/foo1",
        ),
        Button("Map it", "https://www.myairline.domain/map-it", "web_url", "https://t.co/foo2"),
        Button(
            "Visit MyAirline.domain",
            "https://www.myairline.domain/",
            "web_url",
            "https://t.co/foo3",
        ),
    )


def test_typing_example() -> None:
    parsed = parse_delivery(example("direct_message_indicate_typing_events.json"))
    event = only(parsed)
    assert isinstance(event, TypingIndicator)
    assert event.kind == parsed.summary == "typing"
    assert event.sender_id == "3284025577"
    assert event.recipient_id == "3001969357"
    assert event.sender == User("3284025577", "bogusbogart", "Bogus Bogart")
    assert event.recipient is not None and event.recipient.screen_name == "furiouscamper"
    assert event.created_ms == 1518127183443


def test_read_example() -> None:
    event = only(parse_delivery(example("direct_message_mark_read_events.json")))
    assert isinstance(event, ReadReceipt)
    assert event.kind == "read"
    assert event.sender_id == "199566737"
    assert event.recipient_id == "3001969357"
    assert event.last_read_event_id == "963085315333238788"
    assert event.sender is not None and event.sender.screen_name == "LeBraat"
    assert event.created_ms == 1518452444662


def test_tweet_delete_example() -> None:
    parsed = parse_delivery(example("tweet_delete_events.json"))
    event = only(parsed)
    assert isinstance(event, TweetDelete)
    assert event.tweet_id == "1045405559317569537"
    assert event.user_id == "930524282358325248"
    assert event.timestamp_ms == event.created_ms == 1432228155593
    assert event.for_user_id == "930524282358325248"
    assert parsed.summary == "tweet_delete 1045405559317569537"


def test_user_event_revoke_example() -> None:
    parsed = parse_delivery(example("user_event_revoke.json"))
    event = only(parsed)
    assert isinstance(event, Revoke)
    assert event.kind == "revoke"
    assert parsed.for_user_id == event.for_user_id == ""
    assert event.app_id == "13090192"
    assert event.user_id == "63046977"
    assert event.date_time == "2018-05-24T09:48:12+00:00"
    assert event.created_ms == 1527155292000


def test_request_bodies_are_not_events() -> None:
    parsed = parse_delivery(example("request_send_dm_quick_reply_options.json"))
    assert [event.kind for event in parsed.events] == ["event"]
    assert isinstance(parsed.events[0], UnknownEvent)
    assert parse_delivery(example("management/v2_get_webhooks_empty_response_200.json")).events
    assert parse_delivery({}).events == ()
    assert parse_delivery({}).summary == "no events"


# Strict versions of the examples published with placeholders


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("follow_events", "follow"),
        ("follow_events", "unfollow"),
        ("block_events", "block"),
        ("block_events", "unblock"),
        ("mute_events", "mute"),
        ("mute_events", "unmute"),
    ],
)
def test_relationship_events(key: str, kind: str) -> None:
    body = {
        "for_user_id": "2244994945",
        key: [
            {
                "type": kind,
                "created_timestamp": "1517588749178",
                "target": tiny_user("2244994945", "XDevelopers"),
                "source": tiny_user("3001969357", "furiouscamper"),
            }
        ],
    }
    parsed = parse_delivery(body)
    event = only(parsed)
    assert isinstance(event, Relationship)
    assert event.kind == parsed.summary == kind
    assert event.source == User("3001969357", "furiouscamper", "furiouscamper")
    assert event.target.id == "2244994945"
    assert event.created_ms == 1517588749178


def test_follow_builder() -> None:
    event = only(parse_delivery(follow("111", "222", for_user="222", type="unmute")))
    assert isinstance(event, Relationship)
    assert (event.kind, event.source.id, event.target.id) == ("unmute", "111", "222")


def test_relationship_of_unknown_type_is_unknown() -> None:
    body = {"follow_events": [{"type": "superfollow", "source": {}, "target": {}}]}
    event = only(parse_delivery(body))
    assert isinstance(event, UnknownEvent)
    assert event.kind == "follow_events"
    assert "superfollow" in event.reason


def test_favorite_event() -> None:
    body = {
        "for_user_id": "2244994945",
        "favorite_events": [
            {
                "id": "a7ba59eab0bfcba386f7acedac279542",
                "created_at": "Mon Mar 26 16:33:26 +0000 2018",
                "timestamp_ms": 1522082006140,
                "favorited_status": {"id": 9, "id_str": "9", "text": "hello"},
                "user": tiny_user("3001969357", "furiouscamper"),
            }
        ],
    }
    parsed = parse_delivery(body)
    event = only(parsed)
    assert isinstance(event, Favorite)
    assert event.kind == "favorite"
    assert event.user.screen_name == "furiouscamper"
    assert event.tweet["text"] == "hello" and event.tweet_id == "9"
    assert event.created_ms == 1522082006140
    assert event.dedupe_key == "favorite:a7ba59eab0bfcba386f7acedac279542"
    assert parsed.summary == "favorite a7ba59eab0bfcba386f7acedac279542"


def test_tweet_create_event() -> None:
    body = {
        "for_user_id": "2244994945",
        "user_has_blocked": "false",
        "tweet_create_events": [
            {
                "id": 1924465506158879000,  # as published: the int lost precision
                "id_str": "1924465506158878979",
                "text": "short… https://t.co/x",
                "truncated": True,
                "extended_tweet": {"full_text": "the whole long text"},
                "timestamp_ms": "1747663306000",
                "user": tiny_user("3001969357", "furiouscamper"),
            }
        ],
    }
    event = only(parse_delivery(body))
    assert isinstance(event, TweetCreate)
    assert event.id == "1924465506158878979"
    assert event.text == "the whole long text"
    assert event.user is not None and event.user.screen_name == "furiouscamper"
    assert event.user_has_blocked is False
    assert event.created_ms == 1747663306000


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ({"user_has_blocked": "true"}, True),
        ({"user_has_blocked": False}, False),
        ({"is_blocked_by": "True"}, True),
        ({"user_has_blocked": "maybe"}, None),
        ({}, None),
    ],
)
def test_tweet_create_blocked_flag(envelope: dict[str, Any], expected: bool | None) -> None:
    body = {**envelope, "tweet_create_events": [{"id": 5, "text": "hi @bot"}]}
    event = only(parse_delivery(body))
    assert isinstance(event, TweetCreate)
    assert (event.id, event.text, event.user) == ("5", "hi @bot", None)
    assert event.user_has_blocked is expected


# Delivery shape


def test_several_events_keep_their_order() -> None:
    first, second, third = dm_event("one"), dm_event("two"), dm_event("three")
    parsed = parse_delivery(delivery(third, first, second, for_user="4337869213"))
    texts = [e.text for e in parsed.events if isinstance(e, DirectMessage)]
    assert texts == ["three", "one", "two"]
    assert parsed.summary == ", ".join(f"message {e['id']}" for e in (third, first, second))
    ordered = sorted(parsed.events, key=lambda e: e.sort_key if isinstance(e, DirectMessage) else 0)
    assert [e.raw["id"] for e in ordered] == [first["id"], second["id"], third["id"]]


def test_events_of_several_keys_keep_their_order() -> None:
    body = typing("1", "2", for_user="2")
    body["direct_message_events"] = [dm_event("hi", sender="1", recipient="2")]
    body.update(read("1", "2", "5", for_user="2"))
    kinds = [event.kind for event in parse_delivery(body).events]
    assert kinds == ["typing", "message", "read"]


def test_summary_is_short_and_has_no_text() -> None:
    events = [dm_event(f"secret {n}") for n in range(25)]
    summary = parse_delivery(delivery(*events, for_user="4337869213")).summary
    assert "secret" not in summary
    assert summary.count("message ") == 10
    assert summary.endswith("and 15 more")


def test_unknown_key_becomes_unknown_events() -> None:
    body = {
        "for_user_id": "42",
        "some_new_events": [{"a": 1}, {"b": 2}],
        "some_new_thing": {"c": 3},
    }
    parsed = parse_delivery(body)
    assert [event.kind for event in parsed.events] == [
        "some_new_events",
        "some_new_events",
        "some_new_thing",
    ]
    first, _, third = parsed.events
    assert isinstance(first, UnknownEvent) and first.data == {"a": 1}
    assert isinstance(third, UnknownEvent) and third.raw == {"c": 3}
    assert first.for_user_id == "42"
    assert parsed.summary == "some_new_events, some_new_events, some_new_thing"


def test_direct_message_event_of_another_type_is_unknown() -> None:
    event = only(parse_delivery(wrap({"type": "message_delete", "id": "7"})))
    assert isinstance(event, UnknownEvent)
    assert event.kind == "direct_message_events"
    assert "message_delete" in event.reason


def test_unknown_fields_are_ignored() -> None:
    body = dm("hello")
    body["brand_new_envelope_field"] = {"x": 1}
    body["for_user_id_v3"] = "x"
    event = body["direct_message_events"][0]
    event["shiny"] = [1, 2]
    event["message_create"]["message_data"]["reactions"] = {"👍": 3}
    event["message_create"]["target"]["extra"] = True
    parsed = parse_delivery(body)
    messages = [e for e in parsed.events if isinstance(e, DirectMessage)]
    assert [m.text for m in messages] == ["hello"]
    assert messages[0].sender is not None and messages[0].sender.screen_name == "furiouscamper"


def test_missing_optional_fields() -> None:
    body = {
        "direct_message_events": [
            {"type": "message_create", "id": "9", "message_create": {"sender_id": "1"}}
        ]
    }
    parsed = parse_delivery(body)
    message = only(parsed)
    assert isinstance(message, DirectMessage)
    assert parsed.for_user_id == message.for_user_id == ""
    assert (message.text, message.recipient_id, message.created_ms) == ("", "", None)
    assert message.sender is None and message.app is None and message.entities == {}
    assert parsed.users == {} and parsed.apps == {}


def test_ids_given_as_ints_become_strings() -> None:
    body = {
        "for_user_id": 4337869213,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": 954491830116155396,
                "created_timestamp": 1516403560557,
                "message_create": {
                    "target": {"recipient_id": 4337869213},
                    "sender_id": 3001969357,
                    "source_app_id": 13090192,
                    "message_data": {"text": "hi"},
                },
            }
        ],
        "users": {"3001969357": {"id": 3001969357, "screen_name": "furiouscamper"}},
        "apps": {"13090192": {"id": 13090192, "name": "App"}},
    }
    message = only(parse_delivery(body))
    assert isinstance(message, DirectMessage)
    assert message.id == "954491830116155396"
    assert message.for_user_id == "4337869213"
    assert (message.sender_id, message.recipient_id) == ("3001969357", "4337869213")
    assert message.source_app_id == "13090192"
    assert message.created_timestamp == 1516403560557
    assert message.sender == User("3001969357", "furiouscamper")
    assert message.app == App("13090192", "App")
    assert User.from_payload({"id": 12}).id == "12"


def test_attachment() -> None:
    message = only(parse_delivery(dm("look", media_id="1583157113245011970")))
    assert isinstance(message, DirectMessage)
    assert message.attachment is not None
    assert message.attachment.type == "media"
    assert message.attachment.media_id == "1583157113245011970"


@pytest.mark.parametrize(
    "body",
    [
        {"direct_message_events": "x"},
        {"direct_message_events": [1, None]},
        {"direct_message_events": [{"type": "message_create"}]},
        {"direct_message_events": [{"type": "message_create", "id": "1", "message_create": 5}]},
        {"direct_message_events": [{"type": "message_create", "id": {}, "message_create": {}}]},
        {"follow_events": [{"type": "follow", "source": "me", "target": None}]},
        {"favorite_events": [{"id": "1"}]},
        {"tweet_create_events": [{"text": "no id"}], "user_has_blocked": []},
        {"tweet_delete_events": [{"status": 7}]},
        {"direct_message_indicate_typing_events": [{"target": "x"}]},
        {"direct_message_mark_read_events": [[]]},
        {"user_event": "revoked"},
        {"user_event": {"revoke": 3, "something": {}}},
        {"users": [1], "apps": "x", "for_user_id": {"a": 1}},
        {"users": {"1": None, "2": {"id": None}}, "apps": {"users": {}}},
    ],
)
def test_garbage_inside_known_keys_does_not_raise(body: dict[str, Any]) -> None:
    parsed = parse_delivery(body)
    assert all(isinstance(event, UnknownEvent) for event in parsed.events)
    assert {event.kind for event in parsed.events} <= set(body)
    assert all(event.dedupe_key for event in parsed.events)


def test_garbage_inside_a_dm_keeps_what_makes_sense() -> None:
    event = {
        "type": "message_create",
        "id": "1",
        "initiated_via": 3,
        "message_create": {
            "sender_id": "2",
            "target": [],
            "message_data": {
                "text": 5,
                "entities": [],
                "quick_reply_response": {"metadata": 7},
                "attachment": {"media": "x"},
                "ctas": [None, {"label": "L"}],
            },
        },
    }
    message = only(parse_delivery(wrap(event)))
    assert isinstance(message, DirectMessage)
    assert (message.id, message.sender_id, message.recipient_id, message.text) == ("1", "2", "", "")
    assert message.entities == {} and message.initiated_via is None
    assert message.quick_reply_metadata is None
    assert message.attachment is not None and message.attachment.media_id is None
    assert message.ctas == (Button("L", ""),)


def test_garbage_items_become_unknown_events() -> None:
    parsed = parse_delivery({"for_user_id": "1", "direct_message_events": [1, None, "x"]})
    assert [type(e) for e in parsed.events] == [UnknownEvent] * 3
    assert [e.raw for e in parsed.events] == [{"value": 1}, {"value": None}, {"value": "x"}]


def test_not_an_object_does_not_raise() -> None:
    parsed = parse_delivery([1, 2])  # type: ignore[arg-type]
    assert isinstance(only(parsed), UnknownEvent)


# Dedupe


def test_same_dm_for_two_accounts_has_one_dedupe_key() -> None:
    event = dm_event("hi", sender="111", recipient="222")
    for_recipient = only(parse_delivery(delivery(event, for_user="222")))
    for_sender = only(parse_delivery(delivery(copy.deepcopy(event), for_user="111")))
    assert for_recipient.for_user_id != for_sender.for_user_id
    assert for_recipient.dedupe_key == for_sender.dedupe_key == event["id"]


@pytest.mark.parametrize(
    "build",
    [
        lambda for_user: follow("111", "222", for_user=for_user),
        lambda for_user: typing("111", "222", for_user=for_user),
        lambda for_user: read("111", "222", "5", for_user=for_user),
        lambda for_user: {"for_user_id": for_user, "new_events": [{"z": 1, "a": [2]}]},
    ],
)
def test_same_event_for_two_accounts_has_one_dedupe_key(build: Any) -> None:
    body = build("111")
    other = copy.deepcopy(body)
    other["for_user_id"] = "222"
    first, second = only(parse_delivery(body)), only(parse_delivery(other))
    assert first.dedupe_key == second.dedupe_key
    assert first.dedupe_key.startswith(first.kind + ":")


def test_different_events_have_different_dedupe_keys() -> None:
    keys = {
        only(parse_delivery(body)).dedupe_key
        for body in (
            dm("a"),
            dm("a"),
            follow("1", "2", for_user="2"),
            follow("1", "2", for_user="2", type="unfollow"),
            {"new_events": [{"a": 1}]},
            {"new_events": [{"a": 2}]},
            example("tweet_delete_events.json"),
            example("user_event_revoke.json"),
        )
    }
    assert len(keys) == 8


def test_unknown_dedupe_key_ignores_key_order() -> None:
    first = only(parse_delivery({"new_events": [{"a": 1, "b": {"c": 2, "d": 3}}]}))
    second = only(parse_delivery({"new_events": [{"b": {"d": 3, "c": 2}, "a": 1}]}))
    assert first.dedupe_key == second.dedupe_key


# Value objects


def test_events_are_frozen_and_hashable() -> None:
    body = dm("hi")
    message, again = only(parse_delivery(body)), only(parse_delivery(body))
    assert isinstance(message, DirectMessage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert message == again and message is not again
    assert len({message, again}) == 1


def test_events_can_be_built_by_hand() -> None:
    message = DirectMessage(id="5", sender_id="1", text="hi")
    assert (message.kind, message.for_user_id, message.raw, message.sort_key) == (
        "message",
        "",
        {},
        5,
    )
    assert DirectMessage(id="x", sender_id="1").sort_key == 0
    assert Relationship(kind="follow", source=User("1"), target=User("2")).dedupe_key


def test_dm_builder_defaults() -> None:
    incoming = parse_delivery(dm("hi"))
    echo = parse_delivery(
        dm(
            "hi",
            sender="4337869213",
            recipient="3001969357",
            for_user="4337869213",
            source_app_id="13090192",
            metadata="m",
        )
    )
    message, echoed = only(incoming), only(echo)
    assert isinstance(message, DirectMessage) and isinstance(echoed, DirectMessage)
    assert incoming.for_user_id == message.recipient_id == "4337869213"
    assert message.sender is not None and message.sender.screen_name == "furiouscamper"
    assert int(echoed.id) > int(message.id)
    assert echoed.created_timestamp > message.created_timestamp > 1_600_000_000_000
    assert echoed.app is not None and echoed.app.name == "FuriousCamperTestApp1"
    assert echoed.quick_reply_metadata == "m"
