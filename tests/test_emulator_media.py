"""Media on the emulated X: upload (v1.1 simple and chunked, v2), and what a DM may attach.

An attachment must name media the sending account uploaded for DMs within
the last 24 hours and done processing; X's answers otherwise. A sent media
DM shows X's media object and its t.co link, and the file is served to the
conversation's participants. Requests are signed by authlib (multipart
bodies unsigned, as OAuth 1.0a says) and go through httpx's ASGI transport.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import v2api
from clock import Clock
from images import GIF, mp4, png
from test_emulator_api import ALICE_ID, BOT_ID, OAuth1, Receiver, dm
from v2api import (
    BOT_SECRET,
    BOT_TOKEN,
    SUPPORT_SECRET,
    SUPPORT_TOKEN,
    conforms,
    user,
    v2_hook,
)

from dmbot.emulator import Emulator

UPLOAD = "/1.1/media/upload.json"
SEND = "/1.1/direct_messages/events/new.json"
V2_UPLOAD = "/2/media/upload"
INVALID_MEDIA = {"errors": [{"code": 324, "message": "The validation of media ids failed."}]}


@pytest.fixture
async def emu(receiver: Receiver, clock: Clock) -> AsyncIterator[Emulator]:
    emulator = v2api.emulator(receiver, clock)
    yield emulator
    await emulator.aclose()


def upload_api(
    emu: Emulator, token: str = BOT_TOKEN, secret: str = BOT_SECRET
) -> httpx.AsyncClient:
    """The account's client of the upload host (the emulator's own, as X's is upload.x.com)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://upload.twitter.com",
        auth=OAuth1(token, secret),
    )


def with_media(media_id: str, text: str = "Our menu") -> dict[str, Any]:
    return dm(text, attachment={"type": "media", "media": {"id": media_id}})


async def simple_upload(emu: Emulator, data: bytes, **fields: str) -> dict[str, Any]:
    async with upload_api(emu) as up:
        answer = await up.post(
            UPLOAD,
            files={"media": ("menu.png", data, "application/octet-stream")},
            data={"media_category": "dm_image", **fields},
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# v1.1 upload


async def test_a_simple_upload_answers_xs_media_object(emu: Emulator) -> None:
    body = await simple_upload(emu, png(4, 3))
    assert body == {
        "media_id": int(body["media_id_string"]),
        "media_id_string": body["media_id_string"],
        "media_key": f"3_{body['media_id_string']}",
        "size": len(png(4, 3)),
        "expires_after_secs": 86400,
        "image": {"image_type": "image/png", "w": 4, "h": 3},
    }


async def test_a_base64_upload_in_a_form_works_too(emu: Emulator) -> None:
    async with upload_api(emu) as up:
        answer = await up.post(
            UPLOAD,
            data={"media_data": base64.b64encode(GIF).decode(), "media_category": "dm_gif"},
        )
    assert answer.status_code == 200
    assert answer.json()["processing_info"]["state"] in ("pending", "in_progress")


async def test_a_chunked_video_upload_is_processed_before_it_can_be_sent(
    emu: Emulator, clock: Clock
) -> None:
    video = mp4(3000)
    async with upload_api(emu) as up, user(emu) as bot:
        init = await up.post(
            UPLOAD,
            data={
                "command": "INIT",
                "total_bytes": str(len(video)),
                "media_type": "video/mp4",
                "media_category": "dm_video",
            },
        )
        assert init.status_code == 202
        media_id = init.json()["media_id_string"]
        for index, start in enumerate(range(0, len(video), 1000)):
            appended = await up.post(
                UPLOAD,
                data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
                files={"media": ("blob", video[start : start + 1000])},
            )
            assert (appended.status_code, appended.content) == (204, b"")
        final = await up.post(UPLOAD, data={"command": "FINALIZE", "media_id": media_id})
        assert final.status_code == 201
        assert final.json()["size"] == len(video)
        assert final.json()["processing_info"]["check_after_secs"] == 1
        early = await bot.post(SEND, json=with_media(media_id))
        clock.now += 1
        status = await up.get(UPLOAD, params={"command": "STATUS", "media_id": media_id})
        sent = await bot.post(SEND, json=with_media(media_id))
    assert (early.status_code, early.json()) == (400, INVALID_MEDIA)
    assert status.json()["processing_info"] == {"state": "succeeded", "progress_percent": 100}
    assert sent.status_code == 200
    media = sent.json()["event"]["message_create"]["message_data"]["attachment"]["media"]
    assert media["type"] == "video" and media["video_info"]["variants"][0]["content_type"]


@pytest.mark.parametrize(
    ("fields", "files", "error"),
    [
        (
            {"command": "FINALIZE", "media_id": "1"},
            None,
            "Invalid or expired mediaId.",
        ),
        (
            {"media_category": "dm_image"},
            {"media": ("a.txt", b"plain text")},
            "media type unrecognized.",
        ),
        ({"media_category": "dm_sticker"}, {"media": ("a.png", png())}, "Invalid media_category"),
        ({"media_category": "dm_video"}, {"media": ("a.mp4", mp4())}, "uploaded in chunks"),
        ({"command": "EXPLODE"}, None, "use INIT, APPEND, FINALIZE or STATUS"),
    ],
    ids=["unknown media", "not media", "unknown category", "video at once", "unknown command"],
)
async def test_uploads_x_refuses_get_its_upload_error_shape(
    emu: Emulator, fields: dict[str, str], files: dict[str, Any] | None, error: str
) -> None:
    async with upload_api(emu) as up:
        answer = await up.post(UPLOAD, data=fields, files=files)
    assert answer.status_code == 400
    assert answer.json()["request"] == UPLOAD
    assert error in answer.json()["error"]


async def test_segments_must_add_up_to_the_declared_size(emu: Emulator) -> None:
    async with upload_api(emu) as up:
        init = await up.post(
            UPLOAD,
            data={"command": "INIT", "total_bytes": "5000", "media_type": "image/png"},
        )
        media_id = init.json()["media_id_string"]
        await up.post(
            UPLOAD,
            data={"command": "APPEND", "media_id": media_id, "segment_index": "0"},
            files={"media": ("blob", png())},
        )
        final = await up.post(UPLOAD, data={"command": "FINALIZE", "media_id": media_id})
    assert final.status_code == 400
    assert final.json() == {
        "request": UPLOAD,
        "error": "Segments do not add up to provided total file size.",
    }


# attaching


async def test_a_media_dm_shows_xs_media_object_and_its_link(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.subscribe(await v2_hook(emu), BOT_ID)
    media_id = (await simple_upload(emu, png(4, 3)))["media_id_string"]
    async with user(emu) as bot:
        sent = (await bot.post(SEND, json=with_media(media_id))).json()["event"]
    await emu.deliveries_settled()
    data = sent["message_create"]["message_data"]
    media = data["attachment"]["media"]
    assert data["text"] == f"Our menu {media['url']}"
    assert data["text"][slice(*media["indices"])] == media["url"]
    assert media["id_str"] == media_id and media["type"] == "photo"
    assert media["media_url_https"].startswith(
        f"https://ton.twitter.com/1.1/ton/data/dm/{sent['id']}/{media_id}/"
    )
    assert media["display_url"].startswith("pic.twitter.com/")
    assert media["sizes"]["large"] == {"w": 4, "h": 3, "resize": "fit"}
    assert data["entities"]["urls"] == []  # the media's link is not a URL entity
    [delivered] = receiver.payloads()
    assert delivered["direct_message_events"][0]["message_create"]["message_data"] == data

    # The file is served to the conversation's participants only.
    path = media["media_url_https"].removeprefix("https://ton.twitter.com")
    async with user(emu) as bot, user(emu, SUPPORT_TOKEN, SUPPORT_SECRET) as support:
        mine = await bot.get(path)
        theirs = await support.get(path)
    assert (mine.status_code, mine.content, mine.headers["content-type"]) == (
        200,
        png(4, 3),
        "image/png",
    )
    assert theirs.status_code == 404 and theirs.json()["errors"][0]["code"] == 34


async def test_only_the_uploaders_recent_dm_media_can_be_attached(
    emu: Emulator, clock: Clock
) -> None:
    mine = (await simple_upload(emu, png()))["media_id_string"]
    tweet = (await simple_upload(emu, png(), media_category="tweet_image"))["media_id_string"]
    shared = (await simple_upload(emu, png(), shared="true"))["media_id_string"]
    clock.now -= 24 * 3600 + 1  # (requests are signed with the real time: upload directly)
    stale = emu.media.upload(BOT_ID, png(), category="dm_image").id
    clock.now += 24 * 3600 + 1
    async with upload_api(emu, SUPPORT_TOKEN, SUPPORT_SECRET) as up:
        others = (
            await up.post(
                UPLOAD, files={"media": ("a.png", png())}, data={"media_category": "dm_image"}
            )
        ).json()["media_id_string"]
    async with user(emu) as bot:
        of_another = await bot.post(SEND, json=with_media(others))
        never = await bot.post(SEND, json=with_media("1234567890"))
        for_posts = await bot.post(SEND, json=with_media(tweet))
        first = await bot.post(SEND, json=with_media(mine))
        again = await bot.post(SEND, json=with_media(mine))
        shared_twice = [await bot.post(SEND, json=with_media(shared)) for _ in range(2)]
        expired = await bot.post(SEND, json=with_media(stale))
        v2_expired = await bot.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages",
            json={"text": "menu", "attachments": [{"media_id": stale}]},
        )
    for refused in (of_another, never, again, expired):
        assert (refused.status_code, refused.json()) == (400, INVALID_MEDIA)
    assert for_posts.status_code == 400
    assert for_posts.json()["errors"] == [
        {"code": 214, "message": "Invalid Media ID of category TweetImage"}
    ]
    assert first.status_code == 200
    assert [a.status_code for a in shared_twice] == [200, 200]
    assert v2_expired.status_code == 403
    assert (
        v2_expired.json()["detail"] == "You are not permitted to attach this media to a DM event."
    )
    assert len(emu.messages) == 3
    assert emu.media.uploads[shared].used_in == [m.id for m in emu.messages[1:]]


# v2 upload


async def test_v2_one_shot_upload_and_send(emu: Emulator) -> None:
    async with user(emu) as bot:
        uploaded = await bot.post(
            V2_UPLOAD,
            json={"media": base64.b64encode(png(5, 5)).decode(), "media_category": "dm_image"},
        )
        data = conforms(uploaded, "MediaUploadResponse")["data"]
        sent = await bot.post(
            f"/2/dm_conversations/with/{ALICE_ID}/messages",
            json={"text": "menu", "attachments": [{"media_id": data["id"]}]},
        )
    assert data["image"] == {"image_type": "image/png", "w": 5, "h": 5}
    assert data["media_key"] == f"3_{data['id']}"
    assert sent.status_code == 201


async def test_v2_multipart_upload(emu: Emulator) -> None:
    async with user(emu) as bot:
        uploaded = await bot.post(
            V2_UPLOAD, files={"media": ("a.png", png())}, data={"media_category": "dm_image"}
        )
    assert conforms(uploaded, "MediaUploadResponse")["data"]["size"] == len(png())


async def test_v2_chunked_upload(emu: Emulator, clock: Clock) -> None:
    video = mp4(2500)
    async with user(emu) as bot:
        init = await bot.post(
            f"{V2_UPLOAD}/initialize",
            json={
                "media_type": "video/mp4",
                "total_bytes": len(video),
                "media_category": "dm_video",
            },
        )
        media_id = conforms(init, "InitializeMediaUploadResponse")["data"]["id"]
        for index, start in enumerate(range(0, len(video), 1000)):
            chunk = base64.b64encode(video[start : start + 1000]).decode()
            appended = await bot.post(
                f"{V2_UPLOAD}/{media_id}/append", json={"media": chunk, "segment_index": index}
            )
            conforms(appended, "AppendMediaUploadResponse")
        final = await bot.post(f"{V2_UPLOAD}/{media_id}/finalize")
        processing = conforms(final, "FinalizeMediaUploadResponse")["data"]["processing_info"]
        clock.now += 1
        status = await bot.get(V2_UPLOAD, params={"media_id": media_id, "command": "STATUS"})
    assert processing["state"] in ("pending", "in_progress")
    done = conforms(status, "GetMediaUploadStatusResponse")["data"]
    assert done["processing_info"]["state"] == "succeeded"
    assert done["media_key"] == f"7_{media_id}"


@pytest.mark.parametrize(
    ("path", "body", "parameter"),
    [
        (V2_UPLOAD, {"media_category": "dm_image"}, "media"),
        (V2_UPLOAD, {"media": "bm90IGFuIGltYWdl", "media_category": "dm_image"}, None),
        (V2_UPLOAD, {"media": "%%%", "media_category": "dm_image"}, "media"),
        (f"{V2_UPLOAD}/initialize", {"media_type": "image/png"}, "total_bytes"),
        (f"{V2_UPLOAD}/initialize", {"media_type": "image/png", "total_bytes": 5, "x": 1}, "x"),
    ],
    ids=["no media", "not an image", "not base64", "no size", "unknown member"],
)
async def test_v2_upload_refusals_are_invalid_request_problems(
    emu: Emulator, path: str, body: dict[str, Any], parameter: str | None
) -> None:
    async with user(emu) as bot:
        answer = await bot.post(path, json=body)
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["type"] == "https://api.x.com/2/problems/invalid-request"
    if parameter is not None:
        assert parameter in problem["errors"][0]["parameters"]


# people, and the emulator's controls


async def test_a_person_uploads_and_sends_an_image_through_the_controls(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.subscribe(await v2_hook(emu), BOT_ID)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://127.0.0.1"
    ) as control:
        uploaded = await control.post(
            "/_emulator/media", params={"user": "alice"}, content=png(2, 2)
        )
        assert uploaded.status_code == 201
        media_id = uploaded.json()["media_id_string"]
        sent = await control.post(
            "/_emulator/send", json={"from": "alice", "to": "pizzabot", "media_id": media_id}
        )
        assert sent.status_code == 201
        served = await control.get(f"/_emulator/media/{media_id}")
        nameless = await control.post("/_emulator/media", content=png())
        unknown = await control.get("/_emulator/media/42")
    assert (served.content, served.headers["content-type"]) == (png(2, 2), "image/png")
    assert "?user=" in nameless.json()["error"]
    assert unknown.status_code == 404 and "POST /_emulator/media" in unknown.json()["error"]
    await emu.deliveries_settled()
    [payload] = receiver.payloads()
    data = payload["direct_message_events"][0]["message_create"]["message_data"]
    assert data["attachment"]["media"]["id_str"] == media_id
    assert data["text"] == data["attachment"]["media"]["url"]
    with pytest.raises(ValueError, match="already in DM"):
        await emu.send("alice", BOT_ID, "again", media_id=media_id)
