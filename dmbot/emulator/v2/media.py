"""``/2/media/upload``: X's v2 media upload, one-shot or in chunks.

- ``POST /2/media/upload`` ``{"media": base64, "media_category"}`` (or the same
  fields as ``multipart/form-data``, the file raw): the media at once;
- ``POST /2/media/upload/initialize`` ``{"media_type", "total_bytes",
  "media_category", "shared", "additional_owners"}``: an upload session;
- ``POST /2/media/upload/:id/append`` ``{"media", "segment_index"}``: a chunk;
- ``POST /2/media/upload/:id/finalize``: the file, with ``processing_info``
  while a GIF or video is processed;
- ``GET /2/media/upload?media_id=&command=STATUS``: how processing goes.

Answers are ``{"data": ...}`` in the spec's shapes (v2.167), errors
``invalid-request`` problems; the rules are v1.1's
(:class:`~dmbot.emulator.media.MediaStore`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from dmbot.emulator.media import LIFETIME, Media, UploadError, upload_state
from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import invalid_request
from dmbot.emulator.upload import multipart_fields
from dmbot.emulator.v2 import answer
from dmbot.emulator.validation import v2_body, v2_id, v2_query
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.host import Host

ONE_SHOT = ("media", "media_category", "additional_owners")
INITIALIZE = ("media_category", "media_type", "total_bytes", "shared", "additional_owners")
APPEND = ("media", "segment_index")


def v2_media(media: Media, now: float) -> JSONObject:
    """The ``data`` of an answer about an upload."""
    data: JSONObject = {"id": media.id}
    return data | upload_state(media, now)


async def _fields(request: Request, allowed: tuple[str, ...]) -> tuple[JSONObject, bytes | None]:
    """The members of a JSON or multipart body, and the media bytes in it."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parts = multipart_fields(content_type, body)
        media = parts.pop("media", None)
        fields: JSONObject = {k: v.decode("utf-8", "replace") for k, v in parts.items()}
        if "segment_index" in fields and str(fields["segment_index"]).isdigit():
            fields["segment_index"] = int(fields["segment_index"])
        return fields, media
    data = v2_body(body, allowed)
    encoded = data.pop("media", None)
    if encoded is None:
        return data, None
    try:
        return data, base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("$.media: must be the file, base64-encoded.", "media") from None


def _owners(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if isinstance(value, list):
        return tuple(v2_id(v, "additional_owners") for v in value)
    return ()


class MediaApi:
    """The handlers of ``/2/media/upload...`` over one emulator."""

    def __init__(self, emu: Host) -> None:
        self.emu = emu

    async def upload(self, request: Request, caller: Caller) -> Response:
        """``POST /2/media/upload``: a whole file."""
        fields, media = await _fields(request, ONE_SHOT)
        if media is None:
            raise invalid_request("$.media: is missing but it is required", "media")
        category = fields.get("media_category")
        if category is None:
            raise invalid_request(
                "$.media_category: is missing but it is required", "media_category"
            )
        found = self._rules(
            lambda: self.emu.media.upload(
                caller.account.id,
                media,
                category=str(category),
                additional_owners=_owners(fields.get("additional_owners")),
            )
        )
        return answer(v2_media(found, self.emu.clock()))

    async def initialize(self, request: Request, caller: Caller) -> Response:
        """``POST /2/media/upload/initialize``: a chunked upload session."""
        fields, _ = await _fields(request, INITIALIZE)
        total, media_type = fields.get("total_bytes"), fields.get("media_type")
        if not isinstance(total, int) or isinstance(total, bool) or not isinstance(media_type, str):
            raise invalid_request(
                "Give total_bytes (a whole number) and media_type (a MIME type such as "
                "image/png) to initialize an upload.",
                "total_bytes",
                json.dumps(total),
            )
        found = self._rules(
            lambda: self.emu.media.init(
                caller.account.id,
                total,
                media_type,
                category=fields.get("media_category"),
                additional_owners=_owners(fields.get("additional_owners")),
                shared=fields.get("shared") is True,
            )
        )
        data = v2_media(found, self.emu.clock())
        return answer({k: data[k] for k in ("id", "media_key", "expires_after_secs")})

    async def append(self, request: Request, caller: Caller) -> Response:
        """``POST /2/media/upload/:id/append``: one chunk."""
        media_id = v2_id(request.path_params["id"], "id")
        fields, media = await _fields(request, APPEND)
        index = fields.get("segment_index")
        if media is None or not isinstance(index, int) or isinstance(index, bool):
            raise invalid_request(
                "Give media (the chunk) and segment_index (0 to 999) to append.", "segment_index"
            )
        found = self._rules(
            lambda: self.emu.media.append(caller.account.id, media_id, index, media)
        )
        return answer({"expires_at": int(found.created + LIFETIME)})

    async def finalize(self, request: Request, caller: Caller) -> Response:
        """``POST /2/media/upload/:id/finalize``."""
        media_id = v2_id(request.path_params["id"], "id")
        found = self._rules(lambda: self.emu.media.finalize(caller.account.id, media_id))
        return answer(v2_media(found, self.emu.clock()))

    async def status(self, request: Request, caller: Caller) -> Response:
        """``GET /2/media/upload?media_id=&command=STATUS``."""
        params = v2_query(request.query_params, ("media_id", "command"))
        media_id = v2_id(params.get("media_id"), "media_id")
        found = self._rules(lambda: self.emu.media.status(caller.account.id, media_id))
        return answer(v2_media(found, self.emu.clock()))

    @staticmethod
    def _rules(step: Callable[[], Media]) -> Media:
        try:
            return step()
        except UploadError as error:
            raise invalid_request(error.message) from None
