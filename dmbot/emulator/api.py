"""X's v1.1 HTTP API as a Starlette app (the admin endpoints are in :mod:`.admin`).

Every X endpoint goes through one wrapper: OAuth 1.0a check (or the app's
bearer token where X allows it), injected faults, the rate-limit window,
then the handler; every answer carries ``x-rate-limit-*`` headers and
errors are X's ``{"errors":[{"code","message"}]}``. The handlers of direct
messages, welcome messages and ``verify_credentials`` are here; those of
webhooks and subscriptions are in :mod:`.webhooks`, the OAuth flow's in
:mod:`.oauth`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dmbot.emulator import oauth
from dmbot.emulator.faults import LIMITS, ApiError, Faults
from dmbot.emulator.oauth import Caller, request_params
from dmbot.emulator.payloads import app_json, message_event
from dmbot.emulator.state import public
from dmbot.emulator.validation import (
    MAX_WELCOME_TEXT,
    bad_request,
    integer_param,
    json_body,
    required_param,
    validate_message_data,
)
from dmbot.emulator.webhooks import AccountActivityApi, no_content
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dmbot.emulator import Emulator

Auth = Literal["user", "app", "consumer"]
"""user: an account's access token; app: any signed call or the bearer token;
consumer: the app alone or a request token (3-legged flow)."""


Handler = Callable[[Request, Caller], Awaitable[Response]]


def build_app(emu: Emulator) -> Starlette:
    """The ASGI app of one emulator: X's API plus the admin endpoints."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emu.aclose()

    from dmbot.emulator.admin import admin_routes

    x = XApi(emu)
    return Starlette(routes=x.routes() + admin_routes(emu, x.tokens), lifespan=lifespan)


class XApi:
    """The handlers of X's endpoints over one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.world = emu.world
        self.tokens = oauth.TokenFlow(emu.world)
        self.activity = AccountActivityApi(emu)

    def routes(self) -> list[Route]:
        """Every X route, with its endpoint name (faults, limits) and auth mode."""
        dm, aaa, wm = (
            "/1.1/direct_messages",
            "/1.1/account_activity",
            "/1.1/direct_messages/welcome_messages",
        )
        env = f"{aaa}/all/{{env_name}}"
        hook = f"{aaa}/webhooks/{{webhook_id}}"
        sub, wh, wm_, me = "subscriptions", "webhooks", "welcome_messages", "verify_credentials"
        aa = self.activity
        table: list[tuple[str, list[str], str, Auth, Handler]] = [
            (f"{dm}/events/new.json", ["POST"], "dm_send", "user", self.dm_send),
            (f"{dm}/events/list.json", ["GET"], "dm_list", "user", self.dm_list),
            (f"{dm}/events/show.json", ["GET"], "dm_list", "user", self.dm_show),
            (f"{dm}/indicate_typing.json", ["POST"], "typing", "user", self.typing),
            (f"{dm}/mark_read.json", ["POST"], "read", "user", self.mark_read),
            (f"{wm}/new.json", ["POST"], wm_, "user", self.welcome_new),
            (f"{wm}/list.json", ["GET"], wm_, "user", self.welcome_list),
            (f"{wm}/show.json", ["GET"], wm_, "user", self.welcome_show),
            (f"{wm}/destroy.json", ["DELETE"], wm_, "user", self.welcome_destroy),
            (f"{wm}/rules/new.json", ["POST"], wm_, "user", self.rule_new),
            (f"{wm}/rules/list.json", ["GET"], wm_, "user", self.rule_list),
            (f"{wm}/rules/show.json", ["GET"], wm_, "user", self.rule_show),
            (f"{wm}/rules/destroy.json", ["DELETE"], wm_, "user", self.rule_destroy),
            ("/1.1/account/verify_credentials.json", ["GET"], me, "user", self.me),
            ("/oauth/request_token", ["POST"], "oauth", "consumer", self.tokens.request_token),
            ("/oauth/access_token", ["POST"], "oauth", "consumer", self.tokens.access_token),
            # premium: /1.1/account_activity/all/:env_name/...
            (f"{aaa}/all/subscriptions/count.json", ["GET"], sub, "app", aa.count),
            (f"{aaa}/all/count.json", ["GET"], sub, "app", aa.count),
            (f"{env}/webhooks.json", ["POST"], wh, "user", aa.register),
            (f"{env}/webhooks.json", ["GET"], wh, "app", aa.list_webhooks),
            (f"{env}/webhooks/{{webhook_id}}.json", ["PUT"], wh, "app", aa.recheck),
            (f"{env}/webhooks/{{webhook_id}}.json", ["DELETE"], wh, "app", aa.delete),
            (f"{env}/subscriptions.json", ["POST"], sub, "user", aa.subscribe),
            (f"{env}/subscriptions.json", ["GET"], sub, "user", aa.is_subscribed),
            (f"{env}/subscriptions.json", ["DELETE"], sub, "user", aa.unsubscribe),
            (f"{env}/subscriptions/list.json", ["GET"], sub, "app", aa.subscribers),
            (f"{env}/subscriptions/{{user_id}}.json", ["DELETE"], sub, "app", aa.unsubscribe),
            # enterprise: /1.1/account_activity/webhooks/...
            (f"{aaa}/subscriptions/count.json", ["GET"], sub, "app", aa.count),
            (f"{aaa}/webhooks.json", ["POST"], wh, "user", aa.register),
            (f"{aaa}/webhooks.json", ["GET"], wh, "app", aa.list_webhooks),
            (f"{hook}.json", ["PUT"], wh, "app", aa.recheck),
            (f"{hook}.json", ["DELETE"], wh, "app", aa.delete),
            (f"{hook}/subscriptions/all.json", ["POST"], sub, "user", aa.subscribe),
            (f"{hook}/subscriptions/all.json", ["GET"], sub, "user", aa.is_subscribed),
            (f"{hook}/subscriptions/all/list.json", ["GET"], sub, "app", aa.subscribers),
            (f"{hook}/subscriptions/{{user_id}}/all.json", ["DELETE"], sub, "app", aa.unsubscribe),
        ]  # fmt: skip
        routes = [self._route(*row) for row in table]
        routes += [
            Route("/oauth/authorize", self.tokens.authorize_page, methods=["GET"]),
            Route("/oauth/authenticate", self.tokens.authorize_page, methods=["GET"]),
            Route("/oauth/authorize", self.tokens.authorize_submit, methods=["POST"]),
            Route("/oauth2/token", self.tokens.bearer, methods=["POST"]),
        ]
        return routes

    def _route(
        self, path: str, methods: list[str], name: str, auth: Auth, handler: Handler
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            key = "anonymous"
            try:
                caller = self._authenticate(request, body, auth)
                key = caller.key
                fault = self.emu.faults.take(name)
                if fault is not None:
                    error = await Faults.apply(fault, self.emu.clock, LIMITS[name][0])
                    if error is not None:
                        raise error
                if name == "dm_send" and self._free_reply(caller, body):
                    # X: up to 5 replies per received message (24 h) do not count.
                    headers = self.emu.limits.headers(name, key)
                else:
                    headers = self.emu.limits.use(name, key)
                response = await handler(request, caller)
            except ApiError as error:
                return error.response(self.emu.limits.headers(name, key))
            response.headers.update(headers)
            return response

        return Route(path, endpoint, methods=methods, name=f"{name}:{path}:{methods[0]}")

    def _free_reply(self, caller: Caller, body: bytes) -> bool:
        try:
            event = json.loads(body)["event"]
            recipient = str(event["message_create"]["target"]["recipient_id"])
        except (ValueError, KeyError, TypeError):
            return False
        return caller.user is not None and self.emu.take_free_reply(caller.user.id, recipient)

    def _authenticate(self, request: Request, body: bytes, auth: Auth) -> Caller:
        bearer = oauth.bearer_token(request)
        if bearer is not None:
            if not oauth.same(bearer, self.world.bearer_token):
                raise ApiError(401, 89)
            if auth != "app":
                # Registering and subscribing need a user context (X: code 261).
                raise ApiError(403, 261 if request.method != "GET" else 220)
            return Caller(None, None, "app")

        def secret(token: str) -> str | None:
            if auth == "consumer":
                request_token = self.world.request_tokens.get(token)
                return request_token.secret if request_token else None
            user = self.world.user_for_token(token)
            return user.token_secret if user else None

        params = oauth.verify(
            request, body, app=self.world.app, token_secret=secret, now=self.emu.clock()
        )
        user = None
        if params.token is not None and auth != "consumer":
            user = self.world.user_for_token(params.token)
        if auth == "user" and user is None:
            raise ApiError(401, 32)
        return Caller(user, params, params.token or f"app:{params.consumer_key}")

    # direct messages

    async def dm_send(self, request: Request, caller: Caller) -> Response:
        event = json_body(request, await request.body()).get("event")
        if not isinstance(event, dict) or event.get("type") != "message_create":
            raise bad_request('event.type: must be "message_create".')
        create = event.get("message_create")
        if not isinstance(create, dict):
            raise bad_request("event.message_create: a JSON object is required.")
        target = create.get("target")
        recipient_id = target.get("recipient_id") if isinstance(target, dict) else None
        if not isinstance(recipient_id, str | int) or not str(recipient_id).isdigit():
            raise bad_request(
                f"event.message_create.target.recipient_id: {recipient_id!r} is not a valid Long."
            )
        data = validate_message_data(
            create.get("message_data"), "event.message_create.message_data"
        )
        if self.world.user(str(recipient_id)) is None:
            raise ApiError(400, 108)
        message = await self.emu.post_message(
            caller.account.id, str(recipient_id), data, source_app_id=self.world.app.id
        )
        shown = message_event(message, None)
        return JSONResponse({"event": shown})

    async def dm_list(self, request: Request, caller: Caller) -> Response:
        me = caller.account.id
        params = dict(request.query_params)
        count = min(max(integer_param(params, "count", 20), 1), 50)
        start = max(integer_param(params, "cursor", 0), 0)
        mine = [m for m in reversed(self.world.messages) if me in (m.sender_id, m.recipient_id)]
        page = mine[start : start + count]
        events = [message_event(m, me) for m in page]
        body: JSONObject = {"events": events, "apps": self._apps(events)}
        if start + count < len(mine):
            body["next_cursor"] = str(start + count)
        return JSONResponse(body)

    async def dm_show(self, request: Request, caller: Caller) -> Response:
        me = caller.account.id
        message = self.world.message(request.query_params.get("id", ""))
        if message is None or me not in (message.sender_id, message.recipient_id):
            raise ApiError(404, 34)
        event = message_event(message, me)
        return JSONResponse({"event": event, "apps": self._apps([event])})

    def _apps(self, events: list[JSONObject]) -> JSONObject:
        ids = {e["message_create"].get("source_app_id") for e in events} - {None}
        return {app_id: app_json(self.world, app_id) for app_id in sorted(ids)}

    async def typing(self, request: Request, caller: Caller) -> Response:
        params = request_params(request, await request.body())
        recipient = self._recipient(params)
        await self.emu.indicate("typing", caller.account.id, recipient)
        return no_content()

    async def mark_read(self, request: Request, caller: Caller) -> Response:
        params = request_params(request, await request.body())
        recipient = self._recipient(params)
        last = required_param(params, "last_read_event_id")
        await self.emu.indicate("read", caller.account.id, recipient, last)
        return no_content()

    def _recipient(self, params: dict[str, str]) -> str:
        recipient = required_param(params, "recipient_id")
        if self.world.user(recipient) is None:
            raise ApiError(400, 108)
        return recipient

    # welcome messages

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

    async def me(self, request: Request, caller: Caller) -> Response:
        user = caller.account
        return JSONResponse({**user.to_json(), "id": int(user.id), "id_str": user.id})
