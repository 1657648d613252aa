"""X's HTTP API as a Starlette app: v1.1 and v2 (the admin endpoints are in :mod:`.admin`).

Every X endpoint goes through one wrapper: the credentials its auth mode
takes (OAuth 1.0a, the app's bearer token, or either), injected faults, the
rate-limit window, then the handler; every answer carries ``x-rate-limit-*``
headers. Errors are X's ``{"errors":[{"code","message"}]}`` on v1.1 paths and
RFC 7807 problems on ``/2/`` paths (:mod:`.problems`), a path X does not
serve included (404, code 34). The handler of ``verify_credentials`` is
here; the others are in :mod:`.directmessages`, :mod:`.upload`,
:mod:`.welcome`, :mod:`.accountactivity`, :mod:`.tokens` and the :mod:`.v2` package.
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
from dmbot.emulator.accountactivity import AccountActivityApi
from dmbot.emulator.admin import admin_routes
from dmbot.emulator.directmessages import DirectMessagesApi
from dmbot.emulator.faults import ApiError, Faults, window_of
from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import (
    APP_ONLY,
    USER_CONTEXT,
    as_problem,
    plain,
    unsupported_authentication,
)
from dmbot.emulator.tokens import TokenFlow
from dmbot.emulator.upload import UploadApi
from dmbot.emulator.v2.accountactivity import AccountActivityV2Api
from dmbot.emulator.v2.activity import ActivityApi
from dmbot.emulator.v2.conversations import ConversationsApi
from dmbot.emulator.v2.media import MediaApi
from dmbot.emulator.v2.messages import MessagesApi
from dmbot.emulator.v2.stream import StreamApi
from dmbot.emulator.v2.users import UsersApi
from dmbot.emulator.v2.webhooks import WebhooksApi
from dmbot.emulator.welcome import WelcomeApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dmbot.emulator.surface import Surface

Auth = Literal["user", "app", "consumer", "bearer", "user_or_bearer"]
"""user: an account's access token; app: any signed call or the bearer token;
consumer: the app alone or a request token (3-legged flow); bearer: the app's
bearer token only (v2); user_or_bearer: an account's access token or the bearer token (v2)."""

Handler = Callable[[Request, Caller], Awaitable[Response]]

FREE_REPLY_ENDPOINTS = ("dm_send", "dm_send_v2")
"""Sends whose replies to a received DM may be free (X: 5 per DM within 24 h)."""


def build_app(emu: Surface) -> Starlette:
    """The ASGI app of one emulator: X's API plus the admin endpoints."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emu.aclose()

    x = XApi(emu)
    return Starlette(
        routes=x.routes() + admin_routes(emu, x.tokens),
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )


async def not_found(request: Request, exc: Exception) -> Response:
    """A path nobody serves: X's 404 (code 34; a problem under ``/2/``), or the controls'."""
    path = request.url.path
    if path.startswith("/_emulator"):
        message = f"No emulator control {path}; GET /_emulator/ lists them with curl examples."
        return JSONResponse({"error": message}, 404)
    if path.startswith("/2/"):
        return plain(404, "Sorry, that page does not exist.").response()
    return ApiError(404, 34).response()


class XApi:
    """The handlers of X's endpoints over one emulator."""

    def __init__(self, emu: Surface) -> None:
        self.emu = emu
        self.world = emu.world
        self.tokens = TokenFlow(emu.world)
        self.nonces = oauth.Nonces()

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
        aa, w = AccountActivityApi(self.emu), WelcomeApi(self.world)
        dms, up = DirectMessagesApi(self.emu), UploadApi(self.emu)
        ton = "/1.1/ton/data/dm/{message_id}/{media_id}/{name}"
        replay = f"{aaa}/replay/webhooks/{{webhook_id}}/subscriptions/all.json"
        table: list[tuple[str, list[str], str, Auth, Handler]] = [
            (f"{dm}/events/new.json", ["POST"], "dm_send", "user", dms.send),
            (f"{dm}/events/list.json", ["GET"], "dm_list", "user", dms.list_events),
            (f"{dm}/events/show.json", ["GET"], "dm_list", "user", dms.show),
            (f"{dm}/events/destroy.json", ["DELETE"], "dm_delete", "user", dms.destroy),
            (f"{dm}/indicate_typing.json", ["POST"], "typing", "user", dms.typing),
            (f"{dm}/mark_read.json", ["POST"], "read", "user", dms.mark_read),
            ("/1.1/media/upload.json", ["POST", "GET"], "media_upload", "user", up.upload),
            (ton, ["GET"], "dm_media", "user", dms.media_file),
            (f"{wm}/new.json", ["POST"], wm_, "user", w.welcome_new),
            (f"{wm}/list.json", ["GET"], wm_, "user", w.welcome_list),
            (f"{wm}/show.json", ["GET"], wm_, "user", w.welcome_show),
            (f"{wm}/destroy.json", ["DELETE"], wm_, "user", w.welcome_destroy),
            (f"{wm}/rules/new.json", ["POST"], wm_, "user", w.rule_new),
            (f"{wm}/rules/list.json", ["GET"], wm_, "user", w.rule_list),
            (f"{wm}/rules/show.json", ["GET"], wm_, "user", w.rule_show),
            (f"{wm}/rules/destroy.json", ["DELETE"], wm_, "user", w.rule_destroy),
            ("/1.1/account/verify_credentials.json", ["GET"], me, "user", self.me),
            ("/oauth/request_token", ["POST"], "oauth", "consumer", self.tokens.request_token),
            ("/oauth/access_token", ["POST"], "oauth", "consumer", self.tokens.access_token),
            # premium: /1.1/account_activity/all/:env_name/...
            (f"{aaa}/all/webhooks.json", ["GET"], wh, "app", aa.all_webhooks),
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
            (replay, ["POST"], "replay", "app", aa.replay),
        ]  # fmt: skip
        return [self._route(*row) for row in table + self._v2_table()] + [
            Route("/oauth/authorize", self.tokens.authorize_page, methods=["GET"]),
            Route("/oauth/authenticate", self.tokens.authorize_page, methods=["GET"]),
            Route("/oauth/authorize", self.tokens.authorize_submit, methods=["POST"]),
            Route("/oauth2/token", self.tokens.bearer, methods=["POST"]),
        ]

    def _v2_table(self) -> list[tuple[str, list[str], str, Auth, Handler]]:
        """Today's X: v2 webhooks, AAA v2, XAA and its stream, replay, v2 DMs and users/me,
        with the spec's auth."""
        hooks, aa, xaa, dm = (
            WebhooksApi(self.emu), AccountActivityV2Api(self.emu),
            ActivityApi(self.emu.activity), MessagesApi(self.emu),
        )  # fmt: skip
        stream, users, talks = StreamApi(self.emu.stream), UsersApi(), ConversationsApi(self.world)
        media, upload = MediaApi(self.emu), "/2/media/upload"
        with_ = "/2/dm_conversations/with/{participant_id}"
        wh, sub, act = "webhooks_v2", "subscriptions_v2", "activity_subscriptions"
        hook = "/2/webhooks/{webhook_id}"
        aaa = "/2/account_activity/webhooks/{webhook_id}/subscriptions"
        subs = "/2/activity/subscriptions"
        return [
            ("/2/webhooks", ["POST"], wh, "user_or_bearer", hooks.register),
            ("/2/webhooks", ["GET"], wh, "bearer", hooks.list_webhooks),
            ("/2/webhooks/replay", ["POST"], "replay", "bearer", hooks.replay),
            (hook, ["PUT"], wh, "user_or_bearer", hooks.validate),
            (hook, ["DELETE"], wh, "user_or_bearer", hooks.delete),
            (f"{aaa}/all", ["POST"], sub, "user", aa.subscribe),
            (f"{aaa}/all", ["GET"], sub, "user", aa.is_subscribed),
            (f"{aaa}/all/list", ["GET"], sub, "bearer", aa.subscribers),
            (f"{aaa}/{{user_id}}/all", ["DELETE"], sub, "bearer", aa.unsubscribe),
            ("/2/account_activity/subscriptions/count", ["GET"], sub, "bearer", aa.count),
            (subs, ["POST"], act, "user_or_bearer", xaa.create),
            (subs, ["GET"], act, "user_or_bearer", xaa.list_subscriptions),
            (subs, ["DELETE"], act, "bearer", xaa.delete_many),
            (f"{subs}/{{subscription_id}}", ["PUT"], act, "bearer", xaa.update),
            (f"{subs}/{{subscription_id}}", ["DELETE"], act, "bearer", xaa.delete),
            ("/2/activity/stream", ["GET"], "activity_stream", "bearer", stream.connect),
            (f"{with_}/messages", ["POST"], "dm_send_v2", "user", dm.send),
            (f"{with_}/dm_events", ["GET"], "dm_events", "user", talks.events),
            ("/2/dm_events", ["GET"], "dm_events", "user", talks.all_events),
            ("/2/users/me", ["GET"], "users_me", "user", users.me),
            (upload, ["POST"], "media_upload", "user", media.upload),
            (upload, ["GET"], "media_upload", "user", media.status),
            (f"{upload}/initialize", ["POST"], "media_upload", "user", media.initialize),
            (f"{upload}/{{id}}/append", ["POST"], "media_upload", "user", media.append),
            (f"{upload}/{{id}}/finalize", ["POST"], "media_upload", "user", media.finalize),
        ]  # fmt: skip

    def _route(
        self, path: str, methods: list[str], name: str, auth: Auth, handler: Handler
    ) -> Route:
        v2 = path.startswith("/2/")

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            key = "anonymous"
            try:
                caller = self._authenticate(request, body, auth)
                key = caller.key
                fault = self.emu.faults.take(name)
                if fault is not None:
                    error = await Faults.apply(fault, self.emu.clock, window_of(name)[0])
                    if error is not None:
                        raise error
                if name in FREE_REPLY_ENDPOINTS and self._free_reply(request, caller, body):
                    # X: up to 5 replies per received message (24 h) do not count.
                    headers = self.emu.limits.headers(name, key)
                else:
                    headers = self.emu.limits.use(name, key)
                response = await handler(request, caller)
            except ApiError as error:
                answer = as_problem(error) if v2 else error
                return answer.response(self.emu.limits.headers(name, key))
            response.headers.update(headers)
            return response

        return Route(path, endpoint, methods=methods, name=f"{name}:{path}:{methods[0]}")

    def _free_reply(self, request: Request, caller: Caller, body: bytes) -> bool:
        recipient = request.path_params.get("participant_id")
        if recipient is None:
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
            if auth not in ("app", "bearer", "user_or_bearer"):
                # Registering and subscribing need a user context (X: code 261).
                raise ApiError(403, 261 if request.method != "GET" else 220)
            return Caller(None, None, "app")
        if auth == "bearer":
            if request.headers.get("authorization", "").startswith("OAuth "):
                raise unsupported_authentication(USER_CONTEXT[0], (APP_ONLY,))
            raise ApiError(401, 32)

        def secret(token: str) -> str | None:
            if auth == "consumer":
                request_token = self.world.request_tokens.get(token)
                return request_token.secret if request_token else None
            user = self.world.user_for_token(token)
            if user is None:
                raise ApiError(401, 89)  # never issued, or revoked
            return user.token_secret

        params = oauth.verify(
            request,
            body,
            app=self.world.app,
            token_secret=secret,
            now=self.emu.clock(),
            nonces=self.nonces,
        )
        user = None
        if params.token is not None and auth != "consumer":
            user = self.world.user_for_token(params.token)
        if auth in ("user", "user_or_bearer") and user is None:
            raise ApiError(401, 32)
        return Caller(user, params, params.token or f"app:{params.consumer_key}")

    async def me(self, request: Request, caller: Caller) -> Response:
        user = caller.account
        return JSONResponse({**user.to_json(), "id": int(user.id), "id_str": user.id})
