"""X's v1.1 welcome messages and their rules, on the emulated side.

An account's welcome message opens each new conversation a person starts
with it, once the account has set a rule naming it (one rule per account);
:class:`~dmbot.emulator.people.People` applies the rule when a person writes.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.accountactivity import no_content
from dmbot.emulator.faults import ApiError
from dmbot.emulator.oauth import Caller
from dmbot.emulator.state import World
from dmbot.emulator.validation import (
    MAX_WELCOME_TEXT,
    bad_request,
    json_body,
    validate_message_data,
)
from dmbot.types import JSONObject


class WelcomeApi:
    """The handlers of ``/1.1/direct_messages/welcome_messages/...`` over one emulator."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def welcome_new(self, request: Request, caller: Caller) -> Response:
        welcome = json_body(request, await request.body()).get("welcome_message")
        if not isinstance(welcome, dict):
            raise bad_request("welcome_message: a JSON object is required.")
        data = validate_message_data(
            welcome.get("message_data"), "welcome_message.message_data", MAX_WELCOME_TEXT
        )
        record: JSONObject = {
            "id": self.world.ids.next(),
            "created_timestamp": str(self.world.now_ms()),
            "message_data": data,
            "_account_id": caller.account.id,
        }
        if isinstance(welcome.get("name"), str):
            record["name"] = welcome["name"]
        self.world.welcome_messages[record["id"]] = record
        return JSONResponse({"welcome_message": public(record)})

    async def welcome_list(self, request: Request, caller: Caller) -> Response:
        mine = self._owned(self.world.welcome_messages, caller)
        return JSONResponse({"welcome_messages": [public(r) for r in mine]})

    async def welcome_show(self, request: Request, caller: Caller) -> Response:
        record = self._one(self.world.welcome_messages, request, caller)
        return JSONResponse({"welcome_message": public(record)})

    async def welcome_destroy(self, request: Request, caller: Caller) -> Response:
        record = self._one(self.world.welcome_messages, request, caller)
        del self.world.welcome_messages[record["id"]]
        rules = self.world.welcome_rules
        for rule_id in [k for k, r in rules.items() if r["welcome_message_id"] == record["id"]]:
            del rules[rule_id]
        return no_content()

    async def rule_new(self, request: Request, caller: Caller) -> Response:
        rule = json_body(request, await request.body()).get("welcome_message_rule")
        wanted = rule.get("welcome_message_id") if isinstance(rule, dict) else None
        welcome = self.world.welcome_messages.get(str(wanted))
        if welcome is None or welcome["_account_id"] != caller.account.id:
            raise ApiError(404, 34)
        if self.world.rule_for(caller.account.id) is not None:
            raise ApiError(403, 214, "This account already has a welcome message rule.")
        record: JSONObject = {
            "id": self.world.ids.next(),
            "created_timestamp": str(self.world.now_ms()),
            "welcome_message_id": welcome["id"],
            "_account_id": caller.account.id,
        }
        self.world.welcome_rules[record["id"]] = record
        return JSONResponse({"welcome_message_rule": public(record)})

    async def rule_list(self, request: Request, caller: Caller) -> Response:
        mine = self._owned(self.world.welcome_rules, caller)
        return JSONResponse({"welcome_message_rules": [public(r) for r in mine]})

    async def rule_show(self, request: Request, caller: Caller) -> Response:
        record = self._one(self.world.welcome_rules, request, caller)
        return JSONResponse({"welcome_message_rule": public(record)})

    async def rule_destroy(self, request: Request, caller: Caller) -> Response:
        record = self._one(self.world.welcome_rules, request, caller)
        del self.world.welcome_rules[record["id"]]
        return no_content()

    @staticmethod
    def _owned(records: dict[str, JSONObject], caller: Caller) -> list[JSONObject]:
        return [r for r in records.values() if r["_account_id"] == caller.account.id]

    def _one(self, records: dict[str, JSONObject], request: Request, caller: Caller) -> JSONObject:
        record = records.get(request.query_params.get("id", ""))
        if record is None or record["_account_id"] != caller.account.id:
            raise ApiError(404, 34)
        return record


def public(record: dict[str, Any]) -> JSONObject:
    """``record`` without the emulator's private ``_``-prefixed bookkeeping keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}
