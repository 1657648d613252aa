"""X's v1.1 Direct Message endpoints on the emulated side.

``events/new`` sends (X's checks in order: the body, the recipient, whether
the recipient lets the account write, the attached media), ``events/list``
pages the account's DMs of the last 30 days newest first with X's opaque
``cursor``, ``events/show`` shows one, ``events/destroy`` deletes one for
the account only (the other participant keeps it), ``indicate_typing`` and
``mark_read`` send indicators, and the DM media behind an attachment's
``media_url`` is served to the participants (``ton.twitter.com`` on X).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.accountactivity import no_content
from dmbot.emulator.faults import ApiError
from dmbot.emulator.media import AttachError
from dmbot.emulator.oauth import Caller, request_params
from dmbot.emulator.payloads import app_json, message_event
from dmbot.emulator.permission import refusal
from dmbot.emulator.state import Message
from dmbot.emulator.validation import (
    bad_request,
    integer_param,
    json_body,
    required_param,
    validate_message_data,
)
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.surface import Surface

MAX_COUNT = 50
"""The largest page of ``events/list``."""
DEFAULT_COUNT = 20
HISTORY_MS = 30 * 24 * 3600 * 1000
"""``events/list`` reaches back 30 days."""


def list_cursor(message_id: str) -> str:
    """X's opaque ``next_cursor``: where the next page starts (base64, like X's)."""
    return base64.urlsafe_b64encode(message_id.encode()).decode("ascii").rstrip("=")


def cursor_id(cursor: str) -> int:
    """The message id a :func:`list_cursor` names.

    Raises:
        ApiError: 400/214 for a cursor this endpoint did not hand out.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    if not text.isdigit():
        raise bad_request(f"cursor: {cursor!r} is not a cursor this endpoint handed out.")
    return int(text)


def attach_error(error: AttachError) -> ApiError:
    """X's v1.1 answer to an attachment it refuses."""
    if error.reason == "category":
        return bad_request(error.message)
    return ApiError(400, 324, "The validation of media ids failed.")


class DirectMessagesApi:
    """The handlers of ``/1.1/direct_messages/...`` over one emulator."""

    def __init__(self, emu: Surface) -> None:
        self.emu = emu
        self.world = emu.world

    async def send(self, request: Request, caller: Caller) -> Response:
        """``POST events/new.json``: the created event, as the sender sees it."""
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
        recipient = self.world.user(str(recipient_id))
        if recipient is None:
            raise ApiError(400, 108)
        code = refusal(self.world, caller.account, recipient)
        if code is not None:
            raise ApiError(403, code)
        attachment = data.get("attachment")
        if attachment is not None:
            try:
                self.emu.media.check(caller.account.id, attachment["media"]["id"])
            except AttachError as error:
                raise attach_error(error) from None
        message = await self.emu.post_message(
            caller.account.id, recipient.id, data, source_app_id=self.world.app.id
        )
        return JSONResponse({"event": message_event(message, None)})

    async def list_events(self, request: Request, caller: Caller) -> Response:
        """``GET events/list.json?count=&cursor=``: newest first, ``next_cursor`` while more."""
        me = caller.account.id
        params = dict(request.query_params)
        count = min(max(integer_param(params, "count", DEFAULT_COUNT), 1), MAX_COUNT)
        start = cursor_id(params["cursor"]) if params.get("cursor") else None
        since = self.world.now_ms() - HISTORY_MS
        mine = [
            m
            for m in reversed(self.world.messages)
            if self.world.visible(m, me)
            and m.created_ms >= since
            and (start is None or int(m.id) <= start)
        ]
        events = [message_event(m, me) for m in mine[:count]]
        body: JSONObject = {"events": events, "apps": self._apps(events)}
        if len(mine) > count:
            body["next_cursor"] = list_cursor(mine[count].id)
        return JSONResponse(body)

    async def show(self, request: Request, caller: Caller) -> Response:
        """``GET events/show.json?id=``."""
        me = caller.account.id
        event = message_event(self._mine(request, me), me)
        return JSONResponse({"event": event, "apps": self._apps([event])})

    async def destroy(self, request: Request, caller: Caller) -> Response:
        """``DELETE events/destroy.json?id=``: gone for the caller, kept for the other side."""
        me = caller.account.id
        self.world.deleted.add((me, self._mine(request, me).id))
        return no_content()

    def _mine(self, request: Request, me: str) -> Message:
        wanted = required_param(dict(request.query_params), "id")
        message = self.world.message(wanted)
        if message is None or not self.world.visible(message, me):
            raise ApiError(404, 34)
        return message

    def _apps(self, events: list[JSONObject]) -> JSONObject:
        ids = {e["message_create"].get("source_app_id") for e in events} - {None}
        return {app_id: app_json(self.world, app_id) for app_id in sorted(ids)}

    async def typing(self, request: Request, caller: Caller) -> Response:
        """``POST indicate_typing.json`` with ``recipient_id``."""
        params = request_params(request, await request.body())
        recipient = self._recipient(params)
        await self.emu.indicate("typing", caller.account.id, recipient)
        return no_content()

    async def mark_read(self, request: Request, caller: Caller) -> Response:
        """``POST mark_read.json`` with ``recipient_id`` and ``last_read_event_id``."""
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

    async def media_file(self, request: Request, caller: Caller) -> Response:
        """``GET /1.1/ton/data/dm/:message_id/:media_id/:name``: a DM's media, for its
        participants only (an attachment's ``media_url_https``)."""
        message = self.world.message(request.path_params["message_id"])
        media = self.emu.media.uploads.get(request.path_params["media_id"])
        attached = message.message_data.get("attachment") if message else None
        if (
            message is None
            or media is None
            or media.data is None
            or not self.world.visible(message, caller.account.id)
            or not isinstance(attached, dict)
            or str(attached["media"]["id"]) != media.id
        ):
            raise ApiError(404, 34)
        return Response(media.data, media_type=media.media_type)
