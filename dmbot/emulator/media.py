"""Uploaded media, by X's rules: what an account may upload, and what a DM may attach.

An upload is made in one request (``media/upload`` with the file) or in
chunks (INIT with the size and type, APPEND the segments, FINALIZE, then
STATUS while X processes a GIF or a video). It belongs to the account that
uploaded it, and to the ``additional_owners`` it named. A DM may attach one
media that the sending account owns, uploaded for DMs (``dm_image``,
``dm_gif``, ``dm_video``) within the last 24 hours and done processing; one
not uploaded as ``shared`` goes into one DM only. The endpoints over these
rules are :mod:`dmbot.emulator.upload` (v1.1) and
:mod:`dmbot.emulator.v2.media` (v2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dmbot.emulator.clock import Clock, Snowflakes
from dmbot.types import JSONObject

LIFETIME = 24 * 3600
"""Seconds an upload may be attached after it was made (``expires_after_secs``)."""
PROCESSING = 1
"""Seconds X takes to process a GIF or a video, in the emulator (``check_after_secs``)."""
MAX_CHUNK = 5 * 1024 * 1024
"""Bytes in one APPEND."""
MAX_SEGMENT = 999
"""The largest ``segment_index``."""
MB = 1024 * 1024
CATEGORIES: dict[str, tuple[str, int]] = {
    "dm_image": ("photo", 5 * MB),
    "dm_gif": ("animated_gif", 15 * MB),
    "dm_video": ("video", 512 * MB),
    "tweet_image": ("photo", 5 * MB),
    "tweet_gif": ("animated_gif", 15 * MB),
    "tweet_video": ("video", 512 * MB),
}
"""``media_category`` -> (X's media type, the largest file in bytes)."""
DM_CATEGORIES = ("dm_image", "dm_gif", "dm_video")
KEY_PREFIXES = {"photo": "3", "video": "7", "animated_gif": "16"}
"""The prefix of a ``media_key`` by media type."""
_SIZES = ("thumb", "small", "medium", "large")


class UploadError(Exception):
    """An upload X refuses: ``{"request": path, "error": message}``, status 400 (X's shape)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AttachError(ValueError):
    """A DM's attachment X refuses; ``reason`` says which rule, ``message`` how to fix it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Media:
    """One upload.

    Attributes:
        id: the ``media_id``.
        owner_id: the account that uploaded it.
        category: its ``media_category``.
        created: when it was uploaded (INIT for a chunked one), emulator seconds.
        owners: who may attach it: the uploader and its ``additional_owners``.
        shared: whether it may go into more than one DM.
        media_type: the MIME type (declared at INIT, or found in the bytes).
        total_bytes: the size INIT declared.
        segments: the chunks APPENDed so far, by ``segment_index``.
        data: the whole file, once finalized.
        finalized: when FINALIZE came (None before).
        used_in: the DMs that attached it.
    """

    id: str
    owner_id: str
    category: str
    created: float
    owners: frozenset[str]
    shared: bool = False
    media_type: str | None = None
    total_bytes: int | None = None
    segments: dict[int, bytes] = field(default_factory=dict)
    data: bytes | None = None
    finalized: float | None = None
    used_in: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """X's media type: ``photo``, ``animated_gif`` or ``video``."""
        return CATEGORIES.get(self.category, ("photo", 0))[0]

    @property
    def key(self) -> str:
        """The ``media_key`` (v2 names media by it)."""
        return f"{KEY_PREFIXES[self.kind]}_{self.id}"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, read from the file; (0, 0) when unknown."""
        return dimensions(self.data or b"")

    def processing(self, now: float) -> JSONObject | None:
        """``processing_info`` while X processes a GIF or video (None for an image)."""
        if self.kind == "photo" or self.finalized is None:
            return None
        left = self.finalized + PROCESSING - now
        if left <= 0:
            return {"state": "succeeded", "progress_percent": 100}
        state = "pending" if left >= PROCESSING else "in_progress"
        return {"state": state, "check_after_secs": PROCESSING, "progress_percent": 0}

    def ready(self, now: float) -> bool:
        """Finalized, and done processing."""
        info = self.processing(now)
        return self.data is not None and (info is None or info["state"] == "succeeded")

    def expires_after(self, now: float) -> int:
        """Seconds until it can no longer be attached."""
        return max(int(self.created + LIFETIME - now), 0)


class MediaStore:
    """Every upload of one emulator, and X's rules about them.

    Args:
        clock: the emulator's clock (upload times, the 24-hour window).
        ids: the emulator's snowflake ids (media ids are snowflakes too).
    """

    def __init__(self, clock: Clock, ids: Snowflakes) -> None:
        self._clock = clock
        self._ids = ids
        self.uploads: dict[str, Media] = {}

    def upload(
        self,
        owner_id: str,
        data: bytes,
        *,
        category: str | None = None,
        additional_owners: tuple[str, ...] = (),
        shared: bool = False,
    ) -> Media:
        """A whole file in one request (images; a GIF up to 5 MB too, as on X).

        Raises:
            UploadError: an unknown category, a file X cannot read, or one too large.
        """
        media_type = sniff(data)
        media = self.init(
            owner_id,
            len(data),
            media_type or "application/octet-stream",
            category=category or _default_category(media_type),
            additional_owners=additional_owners,
            shared=shared,
        )
        if media.kind == "video":
            del self.uploads[media.id]
            raise UploadError("Video must be uploaded in chunks (INIT, APPEND, FINALIZE).")
        media.segments[0] = data
        return self.finalize(owner_id, media.id)

    def init(
        self,
        owner_id: str,
        total_bytes: int,
        media_type: str,
        *,
        category: str | None = None,
        additional_owners: tuple[str, ...] = (),
        shared: bool = False,
    ) -> Media:
        """INIT: a chunked upload of ``total_bytes`` of ``media_type``.

        Raises:
            UploadError: an unknown category or a size over the category's limit.
        """
        category = category or _default_category(media_type)
        if category not in CATEGORIES:
            raise UploadError(
                f"Invalid media_category {category!r}; use one of {', '.join(CATEGORIES)}."
            )
        if total_bytes < 1 or total_bytes > CATEGORIES[category][1]:
            raise UploadError("File size exceeds the maximum allowed for this media_category.")
        if not media_type.startswith(("image/", "video/")):
            raise UploadError("media type unrecognized.")
        media = Media(
            self._ids.next(),
            owner_id,
            category,
            self._clock(),
            frozenset((owner_id, *additional_owners)),
            shared,
            media_type,
            total_bytes,
        )
        self.uploads[media.id] = media
        return media

    def append(self, owner_id: str, media_id: str, segment_index: int, chunk: bytes) -> Media:
        """APPEND: one segment of a chunked upload.

        Raises:
            UploadError: an unknown upload, a finalized one, a bad index or a chunk over 5 MB.
        """
        media = self._session(owner_id, media_id)
        if media.data is not None:
            raise UploadError("Media is already finalized; start a new upload with INIT.")
        if not 0 <= segment_index <= MAX_SEGMENT:
            raise UploadError(f"segment_index must be from 0 to {MAX_SEGMENT}.")
        if len(chunk) > MAX_CHUNK:
            raise UploadError("Segment size exceeds the maximum of 5 MB.")
        media.segments[segment_index] = chunk
        return media

    def finalize(self, owner_id: str, media_id: str) -> Media:
        """FINALIZE: the segments, in order, become the file.

        Raises:
            UploadError: an unknown upload, or segments that do not add up to ``total_bytes``.
        """
        media = self._session(owner_id, media_id)
        if media.data is not None:
            return media
        data = b"".join(chunk for _, chunk in sorted(media.segments.items()))
        if len(data) != media.total_bytes:
            raise UploadError("Segments do not add up to provided total file size.")
        found = sniff(data)
        if found is None or found.split("/")[0] != (media.media_type or "").split("/")[0]:
            raise UploadError("InvalidContent.")
        media.data, media.media_type, media.finalized = data, found, self._clock()
        media.segments.clear()
        return media

    def status(self, owner_id: str, media_id: str) -> Media:
        """STATUS: the upload, for its ``processing_info``.

        Raises:
            UploadError: an unknown upload.
        """
        return self._session(owner_id, media_id)

    def _session(self, owner_id: str, media_id: str) -> Media:
        media = self.uploads.get(media_id)
        if media is None or owner_id not in media.owners:
            raise UploadError("Invalid or expired mediaId.")
        return media

    def claim(self, account_id: str, media_id: str, message_id: str) -> Media:
        """The media a DM from ``account_id`` attaches, marked as used by ``message_id``.

        Raises:
            AttachError: the media is not one this DM may attach, and why.
        """
        media = self.check(account_id, media_id)
        media.used_in.append(message_id)
        return media

    def check(self, account_id: str, media_id: str) -> Media:
        """The media a DM from ``account_id`` may attach (see :meth:`claim`).

        Raises:
            AttachError: ``unknown`` (never uploaded, or by another account), ``expired``
                (over 24 hours ago), ``processing``, ``category`` (not uploaded for DMs),
                ``used`` (in another DM, and not ``shared``).
        """
        now = self._clock()
        media = self.uploads.get(media_id)
        if media is None or account_id not in media.owners:
            raise AttachError(
                "unknown",
                f"Media {media_id} was not uploaded by this account (nor names it among its "
                "additional_owners); upload it with POST /1.1/media/upload.json first.",
            )
        if media.expires_after(now) <= 0:
            raise AttachError(
                "expired",
                f"Media {media_id} was uploaded more than 24 hours ago; upload it again.",
            )
        if not media.ready(now):
            raise AttachError(
                "processing",
                f"Media {media_id} is not ready: FINALIZE it, and wait until STATUS says "
                "succeeded.",
            )
        if media.category not in DM_CATEGORIES:
            name = "".join(part.title() for part in media.category.split("_"))
            raise AttachError("category", f"Invalid Media ID of category {name}")
        if media.used_in and not media.shared:
            raise AttachError(
                "used",
                f"Media {media_id} is already in DM {media.used_in[0]}; upload it with "
                "shared=true to send it in more than one DM.",
            )
        return media

    def clear(self) -> None:
        """Forget every upload."""
        self.uploads.clear()


def _default_category(media_type: str | None) -> str:
    kind = (media_type or "").split("/")[0]
    if media_type == "image/gif":
        return "tweet_gif"
    return "tweet_video" if kind == "video" else "tweet_image"


def sniff(data: bytes) -> str | None:
    """The MIME type of an image or video, from its first bytes (None when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    return None


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, GIF or JPEG; (0, 0) for anything else."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"GIF") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    at = 2
    while data.startswith(b"\xff\xd8") and at + 9 < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return int(width), int(height)
        at += 2 + length
    return 0, 0


def upload_json(media: Media, now: float) -> JSONObject:
    """The v1.1 answer about an upload (INIT, simple upload, FINALIZE, STATUS)."""
    body: JSONObject = {"media_id": int(media.id), "media_id_string": media.id}
    return body | upload_state(media, now)


def upload_state(media: Media, now: float) -> JSONObject:
    """What both APIs say of an upload: its key, size, expiry, processing or image."""
    state: JSONObject = {"media_key": media.key}
    if media.data is not None:
        state["size"] = len(media.data)
    state["expires_after_secs"] = media.expires_after(now)
    info = media.processing(now)
    if info is not None:
        state["processing_info"] = info
    elif media.data is not None:
        width, height = media.size
        state["image"] = {"image_type": media.media_type, "w": width, "h": height}
    return state


def dm_media(media: Media, message_id: str, link: str, indices: list[int] | None) -> JSONObject:
    """The media object of a DM's ``attachment``, as X shows it (served at ``media_url``)."""
    width, height = media.size
    extension = (media.media_type or "image/jpeg").split("/")[-1].replace("jpeg", "jpg")
    ton = f"https://ton.twitter.com/1.1/ton/data/dm/{message_id}/{media.id}/{media.key[-8:]}"
    shown: JSONObject = {
        "id": int(media.id),
        "id_str": media.id,
        "indices": indices or [0, 0],
        "media_url": f"{ton}.{extension}",
        "media_url_https": f"{ton}.{extension}",
        "url": link,
        "display_url": "pic.twitter.com/" + link.rsplit("/", 1)[-1],
        "expanded_url": f"https://twitter.com/messages/media/{message_id}",
        "type": media.kind,
        "sizes": {name: {"w": width, "h": height, "resize": "fit"} for name in _SIZES},
    }
    if media.kind != "photo":
        shown["video_info"] = {
            "aspect_ratio": [width or 1, height or 1],
            "variants": [
                {
                    "bitrate": 0,
                    "content_type": media.media_type,
                    "url": f"https://video.twimg.com/dm_video/{media.id}/vid/{media.key}.mp4",
                }
            ],
        }
    return shown
