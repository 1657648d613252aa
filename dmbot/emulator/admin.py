"""The emulator's own controls: ``/_emulator/`` admin endpoints, and running it alone.

The admin endpoints are JSON over loopback for tests, ``dmbot dev`` and
tools (they are not part of X and check no credentials: bind to 127.0.0.1).
``dmbot emulator`` serves an emulator built from the config's app keys and
account tokens, with two simulated people, alice and bob.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from dmbot.emulator.faults import ApiError
from dmbot.emulator.oauth import TokenFlow
from dmbot.emulator.state import User
from dmbot.emulator.traffic import Recorder, Traffic, recording
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator import Emulator


def no_content() -> Response:
    """An empty 204 answer."""
    return Response(status_code=204)


def admin_routes(emu: Emulator, tokens: TokenFlow) -> list[Route]:
    """``/_emulator/...``: JSON endpoints for tests, ``dmbot dev`` and tools."""

    def fail(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body_of(request: Request) -> JSONObject:
        raw = await request.body()
        data = json.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("The body must be a JSON object.")
        return data

    def user_json(user: User, *, secrets_too: bool = False) -> JSONObject:
        data: JSONObject = {"id": user.id, "screen_name": user.screen_name, "name": user.name}
        data["is_account"] = user.is_account
        if secrets_too:
            data.update(token=user.token, token_secret=user.token_secret)
        return data

    def admin(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return fail(error.message, error.status)
            except KeyError as error:
                return fail(f"The JSON body needs the field {error}.")
            except LookupError as error:
                return fail(str(error.args[0] if error.args else error), 404)
            except TimeoutError as error:
                return fail(str(error), 408)
            except (ValueError, TypeError) as error:
                return fail(str(error))

        return run

    async def state(request: Request) -> Response:
        users = list(emu.world.users.values())
        now = asyncio.get_running_loop().time()
        return JSONResponse(
            {
                "app": emu.world.app.to_json(),
                "accounts": [user_json(u) for u in users if u.is_account],
                "users": [user_json(u) for u in users if not u.is_account],
                "webhooks": [{**h.to_json(), "env_name": h.env_name} for h in emu.webhooks],
                "subscriptions": [
                    {"webhook_id": w, "user_id": u} for w, u in sorted(emu.subscriptions)
                ],
                "realism": emu.realism.to_json(),
                "held": [h.to_json(now) for h in emu.held],
                "faults": [f.to_json() for f in emu.faults.pending],
                "version": emu.version,
            }
        )

    async def messages(request: Request) -> Response:
        query = request.query_params
        found = emu.messages
        if "wait" in query:
            found = await emu.wait_for_messages(
                int(query["wait"]),
                sender=query.get("sender"),
                after=query.get("after"),
                timeout=float(query.get("timeout", "5")),
            )
        elif "after" in query:
            found = [m for m in found if int(m.id) > int(query["after"])]
        if "user" in query:
            who = emu.user(query["user"]).id
            found = [m for m in found if who in (m.sender_id, m.recipient_id)]
        return JSONResponse({"messages": [m.to_json() for m in found]})

    async def add_user(request: Request) -> Response:
        data = await body_of(request)
        user_id = str(data.get("user_id") or emu.world.ids.next())
        user = emu.add_user(user_id, str(data["screen_name"]), name=data.get("name"))
        return JSONResponse(user_json(user), status_code=201)

    async def add_account(request: Request) -> Response:
        data = await body_of(request)
        user_id = str(data.get("user_id") or emu.world.ids.next())
        user = emu.add_account(
            user_id,
            str(data.get("screen_name") or f"account{user_id[-4:]}"),
            token=str(data.get("token") or f"{user_id}-{secrets.token_urlsafe(24)}"),
            token_secret=str(data.get("token_secret") or secrets.token_urlsafe(32)),
            name=data.get("name"),
        )
        return JSONResponse(user_json(user, secrets_too=True), status_code=201)

    async def send(request: Request) -> Response:
        data = await body_of(request)
        message = await emu.send(
            str(data["from"]), str(data["to"]), str(data["text"]), metadata=data.get("metadata")
        )
        return JSONResponse(message.to_json(), status_code=201)

    async def tap(request: Request) -> Response:
        data = await body_of(request)
        message = await emu.tap(str(data["from"]), str(data["message_id"]), str(data["label"]))
        return JSONResponse(message.to_json(), status_code=201)

    async def realism(request: Request) -> Response:
        if request.method == "POST":
            emu.set_realism(await body_of(request))
        return JSONResponse(emu.realism.to_json())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.faults.clear()
        else:
            data = await body_of(request)
            emu.faults.add(
                str(data["endpoint"]),
                status=int(data["status"]),
                code=data.get("code"),
                count=int(data.get("count", 1)),
                reset_in=data.get("reset_in"),
                delay=float(data.get("delay", 0.0)),
            )
        return JSONResponse({"faults": [f.to_json() for f in emu.faults.pending]})

    async def reset(request: Request) -> Response:
        emu.reset()
        return no_content()

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": [d.to_json() for d in emu.delivery_log]})

    async def settle(request: Request) -> Response:
        await emu.deliveries_settled()
        return no_content()

    async def webhooks(request: Request) -> Response:
        data = await body_of(request)
        hook = await emu.register_webhook(str(data["url"]), env_name=data.get("env_name"))
        return JSONResponse(hook.to_json(), status_code=201)

    async def subscriptions(request: Request) -> Response:
        data = await body_of(request)
        hook_id = data.get("webhook_id") or (emu.webhooks[0].id if emu.webhooks else "")
        emu.subscribe(str(hook_id), str(data["user_id"]))
        return no_content()

    async def authorize(request: Request) -> Response:
        data = await body_of(request)
        user = emu.user(str(data.get("user_id") or data["screen_name"]))
        verifier = tokens.approve(str(data["oauth_token"]), user)
        return JSONResponse({"oauth_token": data["oauth_token"], "oauth_verifier": verifier})

    async def revoke(request: Request) -> Response:
        await emu.revoke(str((await body_of(request))["user_id"]))
        return no_content()

    table: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
        ("state", state, ["GET"]),
        ("messages", messages, ["GET"]),
        ("users", add_user, ["POST"]),
        ("accounts", add_account, ["POST"]),
        ("send", send, ["POST"]),
        ("tap", tap, ["POST"]),
        ("realism", realism, ["GET", "POST"]),
        ("faults", faults, ["POST", "DELETE"]),
        ("reset", reset, ["POST"]),
        ("deliveries", deliveries, ["GET"]),
        ("settle", settle, ["POST"]),
        ("webhooks", webhooks, ["POST"]),
        ("subscriptions", subscriptions, ["POST"]),
        ("authorize", authorize, ["POST"]),
        ("revoke", revoke, ["POST"]),
    ]
    assert {name for name, _, _ in table} == {c.name for c in CONTROLS}

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        if "json" in request.query_params.get("format", "") or request.headers.get(
            "accept", ""
        ).startswith("application/json"):
            return JSONResponse({"endpoints": [c.to_json(base) for c in CONTROLS]})
        return PlainTextResponse(controls_text(base))

    routes = [Route("/_emulator/", index, methods=["GET"])]
    routes += [Route(f"/_emulator/{name}", admin(fn), methods=m) for name, fn, m in table]
    return routes


@dataclass(frozen=True, slots=True)
class Control:
    """One admin endpoint, as ``GET /_emulator/`` lists it."""

    name: str
    method: str
    what: str
    body: JSONObject | None = None
    query: str = ""

    def curl(self, base: str) -> str:
        url = f"{base}/_emulator/{self.name}{'?' + self.query if self.query else ''}"
        if self.method == "GET":
            return f"curl -s '{url}'"
        data = f" -H 'content-type: application/json' -d '{json.dumps(self.body)}'"
        return f"curl -s -X {self.method} '{url}'{data if self.body is not None else ''}"

    def to_json(self, base: str) -> JSONObject:
        return {
            "method": self.method,
            "path": f"/_emulator/{self.name}",
            "what": self.what,
            "curl": self.curl(base),
        }


CONTROLS: tuple[Control, ...] = (
    Control("state", "GET", "the app, accounts, people, webhooks, subscriptions and switches"),
    Control(
        "send",
        "POST",
        "a person writes a DM to an account (delivered to the webhook, signed)",
        {"from": "alice", "to": "bot", "text": "hi"},
    ),
    Control(
        "messages",
        "GET",
        "every DM; ?user= one person's, ?after=ID newer ones, ?wait=N&sender=bot waits for N",
        query="user=alice",
    ),
    Control(
        "tap",
        "POST",
        "a person taps a Quick Reply option of a DM they received (message_id from messages)",
        {"from": "alice", "message_id": "ID", "label": "Small"},
    ),
    Control("users", "POST", "add a simulated person", {"screen_name": "carol"}),
    Control(
        "accounts", "POST", "add an account the app holds tokens for", {"screen_name": "helpbot"}
    ),
    Control(
        "realism",
        "POST",
        "X's habits: duplicates, out_of_order, delay, retries, drop_metadata, typing_events, "
        "read_events, timeout, strict_urls (GET shows them)",
        {"duplicates": True},
    ),
    Control(
        "faults",
        "POST",
        "make an endpoint fail: status, code, count, reset_in, delay (DELETE clears)",
        {"endpoint": "dm_send", "status": 503, "count": 1},
    ),
    Control("deliveries", "GET", "every webhook delivery and CRC check, with its answer"),
    Control("settle", "POST", "wait until every scheduled delivery was attempted", {}),
    Control(
        "webhooks",
        "POST",
        "register a webhook (a real CRC against it)",
        {"url": "http://127.0.0.1:8000/webhooks/twitter"},
    ),
    Control(
        "subscriptions",
        "POST",
        "subscribe an account to a webhook (default: the first)",
        {"user_id": "1000000000001"},
    ),
    Control(
        "authorize",
        "POST",
        "approve a PIN-flow request token as a user; answers the oauth_verifier",
        {"oauth_token": "TOKEN", "screen_name": "alice"},
    ),
    Control("revoke", "POST", "a user revokes the app (user_event delivered)", {"user_id": "ID"}),
    Control("reset", "POST", "forget messages, deliveries, faults; switches off", {}),
)
"""The admin endpoints, in the order a newcomer needs them."""


def controls_text(base: str) -> str:
    """``GET /_emulator/`` as plain text: every control endpoint with a curl example."""
    lines = [
        "dmbot's X emulator: control endpoints (not part of X; no credentials checked)",
        "",
        "X's own API is served beside them: /1.1/direct_messages/..., /1.1/account_activity/...",
        "People are named by screen name or id (alice, bob; the config's accounts are bot, "
        "bot2, ...).",
        "",
    ]
    for control in CONTROLS:
        lines.append(f"{control.method:6} /_emulator/{control.name}")
        lines.append(f"       {control.what}")
        lines.append(f"       {control.curl(base)}")
        lines.append("")
    return "\n".join(lines)


class _TwitterSettings(Protocol):
    @property
    def consumer_key(self) -> str: ...
    @property
    def consumer_secret(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_secret(self) -> str: ...
    @property
    def app_id(self) -> str: ...


class _AccountSettings(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_secret(self) -> str: ...


class EmulatorSettings(Protocol):
    """What the emulator reads from dmbot's settings (``dmbot.config``)."""

    @property
    def twitter(self) -> _TwitterSettings: ...
    @property
    def all_accounts(self) -> Sequence[_AccountSettings]: ...


AccountSpec = tuple[str, str, str]
"""(user id, access token, access token secret) of an account the app holds tokens for."""

DEFAULT_PEOPLE = (("2000000000001", "alice", "Alice"), ("2000000000002", "bob", "Bob"))
"""The simulated people every standalone emulator starts with."""


def build_emulator(
    *,
    consumer_key: str,
    consumer_secret: str,
    accounts: Iterable[AccountSpec] = (),
    people: Iterable[tuple[str, str, str]] = DEFAULT_PEOPLE,
    app_id: str = "13090192",
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Emulator:
    """An emulator holding ``accounts`` (named bot, bot2, ...) and simulated ``people``."""
    from dmbot.emulator import Emulator

    emu = Emulator(consumer_key, consumer_secret, app_id, webhook_transport=webhook_transport)
    for index, (user_id, token, token_secret) in enumerate(accounts, start=1):
        screen_name = "bot" if index == 1 else f"bot{index}"
        emu.add_account(user_id, screen_name, token=token, token_secret=token_secret)
    for user_id, screen_name, name in people:
        emu.add_user(user_id, screen_name, name=name)
    return emu


def emulator_from_settings(
    settings: EmulatorSettings, *, webhook_transport: httpx.AsyncBaseTransport | None = None
) -> Emulator:
    """An emulator that accepts the config's app keys and account tokens, with alice and bob."""
    twitter = settings.twitter
    specs: dict[str, AccountSpec] = {}
    # all_accounts starts with the twitter: account itself, when it has tokens.
    for account in settings.all_accounts:
        if account.access_token not in {spec[1] for spec in specs.values()}:
            specs.setdefault(
                account.user_id,
                (account.user_id, account.access_token, account.access_token_secret),
            )
    return build_emulator(
        consumer_key=twitter.consumer_key,
        consumer_secret=twitter.consumer_secret,
        accounts=specs.values(),
        app_id=twitter.app_id or "13090192",
        webhook_transport=webhook_transport,
    )


def standalone_app(emu: Emulator, traffic: Traffic) -> Starlette:
    """The emulator as ``dmbot emulator`` serves it: X's API, the controls and the chat page.

    The chat page talks to the first account; ``traffic`` records the API calls
    the emulator receives (its deliveries are recorded by the transport it was
    built with), so the page's panel shows both directions.
    """
    from dmbot.emulator.chat import ChatFeed, chat_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emu.aclose()

    accounts = [u for u in emu.world.users.values() if u.is_account]
    api = recording(emu.app, traffic, direction="to_x", skip=("/_emulator", "/_chat"))
    routes: list[BaseRoute] = []
    if accounts:
        feed = ChatFeed(emu, accounts[0].id, traffic)
        routes += chat_routes(feed)
    app = Starlette(routes=[*routes, Mount("", app=api)], lifespan=lifespan)
    app.state.chat_feed = feed if accounts else None
    return app


def run_emulator(
    host: str,
    port: int,
    *,
    consumer_key: str,
    consumer_secret: str,
    accounts: Iterable[AccountSpec] = (),
    emulator: Emulator | None = None,
    traffic: Traffic | None = None,
    on_ready: Callable[[Starlette], None] | None = None,
) -> None:
    """Serve an emulator with uvicorn until interrupted (alice and bob included).

    Args:
        host: the interface to bind.
        port: the port to bind.
        consumer_key: the app's key, when no ``emulator`` is given.
        consumer_secret: the app's secret, when no ``emulator`` is given.
        accounts: the accounts, when no ``emulator`` is given.
        emulator: the emulator to serve (its deliveries recorded into ``traffic``).
        traffic: where the chat page's panel reads from.
        on_ready: called with the app once the port is bound.

    Raises:
        ConfigError: the port is taken, or cannot be bound.
    """
    from dmbot.cli import bind_socket, run_uvicorn

    traffic = traffic if traffic is not None else Traffic()
    emu = emulator or build_emulator(
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        accounts=accounts,
        webhook_transport=Recorder(traffic, "to_bot", httpx.AsyncHTTPTransport()),
    )
    sock = bind_socket(host, port)
    app = standalone_app(emu, traffic)
    if on_ready is not None:
        on_ready(app)
    feed = app.state.chat_feed
    try:
        run_uvicorn(
            app,
            sock,
            access_log=True,
            level="info",
            before_shutdown=feed.close if feed is not None else None,
        )
    finally:
        sock.close()


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dmbot emulator [--host H] [--port 8081] [--config PATH]``."""
    parser = subparsers.add_parser(
        "emulator",
        help="run the X emulator alone (X's API and webhook deliveries, offline)",
        description=(
            "Serve an offline X: the v1.1 API with OAuth 1.0a checks, Account Activity "
            "webhook management and signed deliveries, a chat page at / and control "
            "endpoints under /_emulator/ (listed with curl examples at /_emulator/). It "
            "accepts the config's consumer key and account tokens; the simulated people "
            "alice and bob write to the accounts."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8081, help="port to bind (default: %(default)s)"
    )
    # SUPPRESS: a --config given before the subcommand must not be overwritten here.
    parser.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    parser.set_defaults(func=_emulator_command)


def _emulator_command(args: argparse.Namespace, settings: EmulatorSettings) -> int:
    traffic = Traffic()
    emu = emulator_from_settings(
        settings, webhook_transport=Recorder(traffic, "to_bot", httpx.AsyncHTTPTransport())
    )
    accounts = [u for u in emu.world.users.values() if u.is_account]
    base = f"http://{args.host}:{args.port}"

    def banner(app: Starlette) -> None:
        names = ", ".join(f"@{u.screen_name} ({u.id})" for u in accounts)
        print(f"X emulator on {base}  accounts: {names or 'none'}")
        if accounts:
            print(f"  chat page  {base}/  (write to @{accounts[0].screen_name} as alice or bob)")
        else:
            print("  chat page  off: the config names no account with tokens to talk to")
        print(f"  controls   {base}/_emulator/  (each with a curl example)")
        print(f"  X's API    {base}/1.1/...  (set twitter.api_url: {base} in the bot's config)")

    run_emulator(
        args.host,
        args.port,
        consumer_key="",
        consumer_secret="",
        emulator=emu,
        traffic=traffic,
        on_ready=banner,
    )
    return 0
