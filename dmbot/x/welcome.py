"""Welcome messages: what X shows a user who opens a conversation with the account.

An account keeps welcome messages, and at most one rule that makes one of them
its default. The calls take the client that acts for the account;
:class:`~dmbot.x.client.XClient` offers them as methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmbot.types import JSON, JSONObject

if TYPE_CHECKING:
    from dmbot.x.client import XClient

__all__ = [
    "WelcomeMessage",
    "WelcomeMessageRule",
    "create_welcome_message",
    "create_welcome_rule",
    "delete_welcome_message",
    "delete_welcome_rule",
    "list_welcome_messages",
]

WELCOME = "/1.1/direct_messages/welcome_messages"


@dataclass(frozen=True, slots=True)
class WelcomeMessage:
    """A welcome message shown when a user opens a conversation."""

    id: str
    name: str
    created_timestamp: str
    message_data: JSONObject


@dataclass(frozen=True, slots=True)
class WelcomeMessageRule:
    """The rule that makes a welcome message the account's default."""

    id: str
    welcome_message_id: str
    created_timestamp: str


async def create_welcome_message(
    client: XClient, message_data: JSONObject, *, name: str = ""
) -> WelcomeMessage:
    """Create a welcome message (text up to 9,990 characters)."""
    inner: JSONObject = {"message_data": message_data}
    if name:
        inner["name"] = name
    data = await client._json("POST", f"{WELCOME}/new.json", json={"welcome_message": inner})
    return _welcome(data.get("welcome_message") if isinstance(data, dict) else None, data)


async def list_welcome_messages(client: XClient) -> list[WelcomeMessage]:
    """The account's welcome messages."""
    data = await client._json("GET", f"{WELCOME}/list.json")
    items = data.get("welcome_messages", []) if isinstance(data, dict) else []
    return [_welcome(item, item) for item in items]


async def delete_welcome_message(client: XClient, welcome_message_id: str) -> None:
    """Delete a welcome message."""
    await client.request("DELETE", f"{WELCOME}/destroy.json", params={"id": welcome_message_id})


async def create_welcome_rule(client: XClient, welcome_message_id: str) -> WelcomeMessageRule:
    """Make a welcome message the default (X allows one rule per account)."""
    body = {"welcome_message_rule": {"welcome_message_id": welcome_message_id}}
    data = await client._json("POST", f"{WELCOME}/rules/new.json", json=body)
    rule = data.get("welcome_message_rule", {}) if isinstance(data, dict) else {}
    return WelcomeMessageRule(
        id=str(rule.get("id", "")),
        welcome_message_id=str(rule.get("welcome_message_id", "")),
        created_timestamp=str(rule.get("created_timestamp", "")),
    )


async def delete_welcome_rule(client: XClient, rule_id: str) -> None:
    """Delete a welcome message rule."""
    await client.request("DELETE", f"{WELCOME}/rules/destroy.json", params={"id": rule_id})


def _welcome(item: JSON, outer: JSON) -> WelcomeMessage:
    if not isinstance(item, dict):
        item = {}
    # X's example answer puts "name" beside the welcome_message object, not inside it.
    name = item.get("name") or (outer.get("name") if isinstance(outer, dict) else "") or ""
    message_data = item.get("message_data")
    return WelcomeMessage(
        id=str(item.get("id", "")),
        name=str(name),
        created_timestamp=str(item.get("created_timestamp", "")),
        message_data=message_data if isinstance(message_data, dict) else {},
    )
