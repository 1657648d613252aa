"""The emulator's own controls: the ``/_emulator/`` admin endpoints.

They are JSON over loopback for tests, ``dmbot dev`` and tools (they are not
part of X and check no credentials: bind to 127.0.0.1); ``GET /_emulator/``
lists them with curl examples (:data:`~dmbot.emulator.controls.CONTROLS`).
Running the emulator alone is :mod:`.standalone`'s.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dmbot.emulator.controls import CONTROLS as CONTROLS  # listed at GET /_emulator/
from dmbot.emulator.controls import controls_text
from dmbot.emulator.faults import ApiError
from dmbot.emulator.media import UploadError, upload_json
from dmbot.emulator.people import DEFAULT_PEOPLE as DEFAULT_PEOPLE  # dmbot.dev.server's
from dmbot.emulator.problems import Problem
from dmbot.emulator.replay import REPLAY_WINDOW
from dmbot.emulator.state import User
from dmbot.emulator.tokens import TokenFlow
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.surface import Surface


def no_content() -> Response:
    """An empty 204 answer."""
    return Response(status_code=204)


def admin_routes(emu: Surface, tokens: TokenFlow) -> list[Route]:
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
        data["accepts_requests"] = user.accepts_requests
        data["follows"] = sorted(user.follows, key=int)
        if secrets_too:
            data.update(token=user.token, token_secret=user.token_secret)
        return data

    def admin(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as problem:
                return JSONResponse(
                    {"error": problem.detail, "problem": problem.to_json()}, problem.status
                )
            except ApiError as error:
                return fail(error.message, error.status)
            except UploadError as error:
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
                "webhooks": [
                    {**h.to_json(), "env_name": h.env_name, "api": h.api} for h in emu.webhooks
                ],
                "subscriptions": [
                    {"webhook_id": w, "user_id": u} for w, u in sorted(emu.subscriptions)
                ],
                "activity_subscriptions": [s.to_json() for s in emu.activity_subscriptions],
                "realism": emu.realism.to_json(),
                "held": [h.to_json(now) for h in emu.held],
                "faults": [f.to_json() for f in emu.faults.pending],
                "stream": emu.stream.state(),
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

    def flag(data: JSONObject, name: str, default: bool | None) -> bool | None:
        value = data.get(name, default)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} takes true or false, got {value!r}.")
        return value

    def names(data: JSONObject, name: str) -> list[str] | None:
        value = data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} takes a list of screen names or ids, got {value!r}.")
        return value

    async def add_user(request: Request) -> Response:
        data = await body_of(request)
        user_id = str(data.get("user_id") or emu.world.ids.next())
        accepts = flag(data, "accepts_requests", False)
        user = emu.add_user(
            user_id, str(data["screen_name"]), name=data.get("name"), accepts_requests=bool(accepts)
        )
        if names(data, "follows") is not None:
            user = emu.set_dm_settings(user, follows=names(data, "follows"))
        return JSONResponse(user_json(user), status_code=201)

    async def dm_settings(request: Request) -> Response:
        if request.method == "POST":
            data = await body_of(request)
            who = emu.user(str(data["user"]))
            follows = names(data, "follows")
            if follows is None and ("follow" in data or "unfollow" in data):
                gone = {emu.user(str(u)).id for u in names(data, "unfollow") or []}
                added = [emu.user(str(u)).id for u in names(data, "follow") or []]
                follows = [u for u in [*who.follows, *added] if u not in gone]
            user = emu.set_dm_settings(
                who, accepts_requests=flag(data, "accepts_requests", None), follows=follows
            )
            return JSONResponse(user_json(user))
        return JSONResponse({"users": [user_json(u) for u in emu.world.users.values()]})

    async def media(request: Request) -> Response:
        query = request.query_params
        if "user" not in query:
            raise ValueError("Name the uploader: POST /_emulator/media?user=alice with the file.")
        found = emu.media.upload(
            emu.user(query["user"]).id,
            await request.body(),
            category=query.get("media_category", "dm_image"),
            shared=query.get("shared", "false") == "true",
        )
        return JSONResponse(upload_json(found, emu.clock()), status_code=201)

    async def media_file(request: Request) -> Response:
        found = emu.media.uploads.get(request.path_params["media_id"])
        if found is None or found.data is None:
            raise LookupError(
                f"No uploaded media {request.path_params['media_id']}; "
                "POST /_emulator/media?user=NAME uploads one."
            )
        return Response(found.data, media_type=found.media_type)

    async def add_account(request: Request) -> Response:
        data = await body_of(request)
        user_id = str(data.get("user_id") or emu.world.ids.next())
        user = emu.add_account(
            user_id,
            str(data.get("screen_name") or f"account{user_id[-4:]}"),
            token=str(data.get("token") or f"{user_id}-{secrets.token_urlsafe(24)}"),
            token_secret=str(data.get("token_secret") or secrets.token_urlsafe(32)),
            name=data.get("name"),
            accepts_requests=bool(flag(data, "accepts_requests", True)),
        )
        return JSONResponse(user_json(user, secrets_too=True), status_code=201)

    async def send(request: Request) -> Response:
        data = await body_of(request)
        media_id = data.get("media_id")
        message = await emu.send(
            str(data["from"]),
            str(data["to"]),
            str(data.get("text", "")),
            metadata=data.get("metadata"),
            media_id=None if media_id is None else str(media_id),
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
        if data.get("api") == "v2":
            hook = await emu.register_webhook_v2(str(data["url"]))
        else:
            hook = await emu.register_webhook(str(data["url"]), env_name=data.get("env_name"))
        return JSONResponse({**hook.to_json(), "api": hook.api}, status_code=201)

    async def activity(request: Request) -> Response:
        if request.method == "POST":
            data = await body_of(request)
            sub = emu.subscribe_activity(
                str(data["user_id"]),
                str(data.get("event_type", "dm.received")),
                webhook_id=data.get("webhook_id"),
                tag=data.get("tag"),
            )
            return JSONResponse(sub.to_json(), status_code=201)
        after = int(request.query_params.get("after", "0"))
        return JSONResponse(
            {
                "subscriptions": [s.to_json() for s in emu.activity_subscriptions],
                "events": [e.to_json() for e in emu.activity_log[after:]],
            }
        )

    async def replay(request: Request) -> Response:
        data = await body_of(request)
        now = emu.clock()
        since = time.strftime("%Y%m%d%H%M", time.gmtime(now - REPLAY_WINDOW + 60))
        job = emu.replay(
            str(data["webhook_id"]),
            str(data.get("from_date") or since),
            str(data.get("to_date") or time.strftime("%Y%m%d%H%M", time.gmtime(now))),
        )
        return JSONResponse({**job.to_json(), "replayed": job.replayed}, status_code=201)

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

    async def stream(request: Request) -> Response:
        return JSONResponse(emu.stream.state())

    async def stream_drop(request: Request) -> Response:
        notice = (await body_of(request)).get("notice", False)
        if not isinstance(notice, bool):
            raise ValueError(f"notice takes true or false, got {notice!r}.")
        dropped = emu.drop_streams(notice=notice)
        return JSONResponse({"dropped": dropped, **emu.stream.state()})

    async def stream_refuse(request: Request) -> Response:
        data = await body_of(request)
        emu.refuse_streams(float(data["seconds"]), status=int(data.get("status", 503)))
        return JSONResponse(emu.stream.state())

    async def stream_silence(request: Request) -> Response:
        silenced = emu.silence_streams(float((await body_of(request))["seconds"]))
        return JSONResponse({"silenced": silenced, **emu.stream.state()})

    table: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
        ("state", state, ["GET"]),
        ("messages", messages, ["GET"]),
        ("users", add_user, ["POST"]),
        ("dm_settings", dm_settings, ["GET", "POST"]),
        ("accounts", add_account, ["POST"]),
        ("media", media, ["POST"]),
        ("media/{media_id}", media_file, ["GET"]),
        ("send", send, ["POST"]),
        ("tap", tap, ["POST"]),
        ("realism", realism, ["GET", "POST"]),
        ("faults", faults, ["POST", "DELETE"]),
        ("reset", reset, ["POST"]),
        ("deliveries", deliveries, ["GET"]),
        ("settle", settle, ["POST"]),
        ("webhooks", webhooks, ["POST"]),
        ("subscriptions", subscriptions, ["POST"]),
        ("activity", activity, ["GET", "POST"]),
        ("replay", replay, ["POST"]),
        ("authorize", authorize, ["POST"]),
        ("revoke", revoke, ["POST"]),
        ("stream", stream, ["GET"]),
        ("stream/drop", stream_drop, ["POST"]),
        ("stream/refuse", stream_refuse, ["POST"]),
        ("stream/silence", stream_silence, ["POST"]),
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
