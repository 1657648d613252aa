"""Welcome messages: what X shows a user who opens a conversation with the account.

An account keeps welcome messages, and at most one rule that makes one of them
its default. :class:`WelcomeMessages` makes the calls for one account; the
:class:`~dmbot.x.client.XClient` of that account owns one, as ``client.welcome``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmbot.types import JSON, JSONObject
from dmbot.x.call import Call, Run

__all__ = ["WelcomeMessage", "WelcomeMessageRule", "WelcomeMessages"]

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


class WelcomeMessages:
    """The welcome messages of one account, and the rule that picks its default.

    Args:
        run: makes one call to X and returns its decoded answer (the client's
            :meth:`~dmbot.x.client.XClient.run`).
    """

    def __init__(self, run: Run) -> None:
        self._run = run

    async def create(self, message_data: JSONObject, *, name: str = "") -> WelcomeMessage:
        """Create a welcome message (text up to 9,990 characters)."""
        inner: JSONObject = {"message_data": message_data}
        if name:
            inner["name"] = name
        data = await self._run(Call("POST", f"{WELCOME}/new.json", json={"welcome_message": inner}))
        return _welcome(data.get("welcome_message") if isinstance(data, dict) else None, data)

    async def all(self) -> list[WelcomeMessage]:
        """The account's welcome messages."""
        data = await self._run(Call("GET", f"{WELCOME}/list.json"))
        items = data.get("welcome_messages", []) if isinstance(data, dict) else []
        return [_welcome(item, item) for item in items]

    async def delete(self, welcome_message_id: str) -> None:
        """Delete a welcome message."""
        params = {"id": welcome_message_id}
        await self._run(Call("DELETE", f"{WELCOME}/destroy.json", params=params))

    async def create_rule(self, welcome_message_id: str) -> WelcomeMessageRule:
        """Make a welcome message the default (X allows one rule per account)."""
        body: JSONObject = {"welcome_message_rule": {"welcome_message_id": welcome_message_id}}
        data = await self._run(Call("POST", f"{WELCOME}/rules/new.json", json=body))
        rule = data.get("welcome_message_rule", {}) if isinstance(data, dict) else {}
        return WelcomeMessageRule(
            id=str(rule.get("id", "")),
            welcome_message_id=str(rule.get("welcome_message_id", "")),
            created_timestamp=str(rule.get("created_timestamp", "")),
        )

    async def delete_rule(self, rule_id: str) -> None:
        """Delete a welcome message rule."""
        await self._run(Call("DELETE", f"{WELCOME}/rules/destroy.json", params={"id": rule_id}))


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
