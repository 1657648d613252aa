"""``POST /1.1/media/upload.json``: X's v1.1 media upload, on the emulator's own host.

On X it is served by ``upload.twitter.com``; the emulator serves it beside
the rest of the API, so a client whose upload host is the emulator's works
unchanged. One endpoint takes every form X does:

- simple: the file as ``media`` (multipart) or ``media_data`` (base64), with
  ``media_category``, ``additional_owners`` and ``shared``; 200 and the media;
- ``command=INIT`` (``total_bytes``, ``media_type``, ``media_category``...): 202
  and the new ``media_id``; ``command=APPEND`` (``media_id``, ``segment_index``,
  the chunk): 204; ``command=FINALIZE``: 201 and the media, with
  ``processing_info`` for a GIF or video; ``GET ?command=STATUS&media_id=``.

Parameters may come in the query, a form or the multipart fields. X's
upload errors have their own shape, ``{"request": path, "error": message}``
(:class:`~dmbot.emulator.media.UploadError`). The rules are
:class:`~dmbot.emulator.media.MediaStore`'s.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.media import UploadError, upload_json
from dmbot.emulator.oauth import Caller, request_params

if TYPE_CHECKING:
    from dmbot.emulator.host import Host

PATH = "/1.1/media/upload.json"
_NAME = re.compile(r'\bname="([^"]*)"')
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')


def multipart_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a ``multipart/form-data`` body, by name (files as their raw bytes)."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        return {}
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + found.group(1).encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, separator, content = part.partition(b"\r\n\r\n")
        name = _NAME.search(head.decode("latin-1"))
        if separator and name:
            fields[name.group(1)] = content.removesuffix(b"\r\n")
    return fields


def upload_params(request: Request, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The parameters of an upload request, and the file or chunk it carries (if any).

    Raises:
        UploadError: ``media_data`` that is not base64.
    """
    params = request_params(request, body)
    content_type = request.headers.get("content-type", "")
    media: bytes | None = None
    if content_type.startswith("multipart/form-data"):
        for name, value in multipart_fields(content_type, body).items():
            if name == "media":
                media = value
            else:
                params[name] = value.decode("utf-8", "replace")
    if media is None and "media_data" in params:
        try:
            media = base64.b64decode(params.pop("media_data"), validate=True)
        except (binascii.Error, ValueError):
            raise UploadError("media_data is not base64; send the file as media instead.") from None
    return params, media


def owners_of(params: dict[str, str]) -> tuple[str, ...]:
    """``additional_owners``: comma-separated user ids."""
    return tuple(o for o in params.get("additional_owners", "").split(",") if o.strip())


def shared_flag(params: dict[str, str]) -> bool:
    """``shared``: true when the media may go into more than one DM."""
    return params.get("shared", "").lower() == "true"


def _whole(params: dict[str, str], name: str) -> int:
    value = params.get(name, "")
    if not value.isdigit():
        raise UploadError(f"{name} is required and must be a whole number.")
    return int(value)


class UploadApi:
    """The handler of ``/1.1/media/upload.json`` over one emulator."""

    def __init__(self, emu: Host) -> None:
        self.emu = emu

    async def upload(self, request: Request, caller: Caller) -> Response:
        """Every command of the upload endpoint (and the simple upload without one)."""
        try:
            return await self._upload(request, caller)
        except UploadError as error:
            return JSONResponse({"request": PATH, "error": error.message}, error.status)

    async def _upload(self, request: Request, caller: Caller) -> Response:
        store, me, now = self.emu.media, caller.account.id, self.emu.clock()
        params, media = upload_params(request, await request.body())
        command = params.get("command", "").upper()
        if request.method == "GET" or command == "STATUS":
            found = store.status(me, params.get("media_id", ""))
            return JSONResponse(upload_json(found, now))
        if command == "INIT":
            found = store.init(
                me,
                _whole(params, "total_bytes"),
                params.get("media_type", ""),
                category=params.get("media_category"),
                additional_owners=owners_of(params),
                shared=shared_flag(params),
            )
            return JSONResponse(upload_json(found, now), 202)
        if command == "APPEND":
            if media is None:
                raise UploadError("media or media_data is required for APPEND.")
            store.append(me, params.get("media_id", ""), _whole(params, "segment_index"), media)
            return Response(status_code=204)
        if command == "FINALIZE":
            found = store.finalize(me, params.get("media_id", ""))
            return JSONResponse(upload_json(found, now), 201)
        if command:
            raise UploadError(f"Unknown command {command}; use INIT, APPEND, FINALIZE or STATUS.")
        if media is None:
            raise UploadError("media or media_data is required.")
        found = store.upload(
            me,
            media,
            category=params.get("media_category"),
            additional_owners=owners_of(params),
            shared=shared_flag(params),
        )
        return JSONResponse(upload_json(found, now))
