"""The emulator as tweepy sees it: an X client this project did not write.

tweepy (signing with requests-oauthlib) calls the emulator served by uvicorn
on loopback, in a thread of its own, exactly as it calls X: its requests go to
``https://api.twitter.com`` and ``https://upload.twitter.com``, and a requests
adapter carries them to the emulator as a TLS-terminating proxy in front of it
would (the ``Host`` header kept, the scheme passed on as ``X-Forwarded-Proto``,
which uvicorn trusts from loopback), so the signatures tweepy makes for X's
URLs are the ones the emulator checks. Each test shows one of X's behaviours
as tweepy reports it: its models, and its exceptions with X's codes.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import tweepy
import uvicorn
from images import mp4, png
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from dmbot.emulator import Emulator

CK, CS = "tweepy-consumer-key", "tweepy-consumer-secret"
BOT_ID, BOT_TOKEN, BOT_SECRET = "1000000000001", "1000000000001-tweepy", "bot-secret"
HELP_ID, HELP_TOKEN, HELP_SECRET = "1000000000002", "1000000000002-tweepy", "help-secret"
ALICE_ID, BOB_ID = "2000000000001", "2000000000002"
X_HOSTS = ("https://api.twitter.com/", "https://upload.twitter.com/")
TCO = re.compile(r"https://t\.co/\w{10}")
T = TypeVar("T")


class ToEmulator(HTTPAdapter):
    """Carries requests for X's hosts to the emulator, as a TLS-terminating proxy would."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.netloc = urlsplit(base).netloc

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(str(request.url))
        request.headers["Host"] = url.netloc
        request.headers["X-Forwarded-Proto"] = url.scheme
        request.url = urlunsplit(("http", self.netloc, url.path, url.query, ""))
        return super().send(request, **kwargs)


class X:
    """The emulator, served by uvicorn on loopback in a thread with its own event loop."""

    def __init__(self) -> None:
        self.emu = Emulator(CK, CS)
        self.emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
        self.emu.add_account(HELP_ID, "helpdesk", token=HELP_TOKEN, token_secret=HELP_SECRET)
        self.emu.add_user(ALICE_ID, "alice", name="Alice")
        self.emu.add_user(BOB_ID, "bob", name="Bob")
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # connections wait in the backlog until uvicorn accepts them
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.emu.app,
            lifespan="off",
            ws="none",
            log_level="warning",
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(sockets=[sock]),)
        )
        self.sock = sock
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T] | Callable[[], T]) -> T:
        """Do ``work`` (a coroutine, or a plain call) on the emulator's own loop."""

        async def call() -> T:
            return await work if asyncio.iscoroutine(work) else work()  # type: ignore[operator]

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def route(self, session: requests.Session) -> None:
        """Send ``session``'s requests for X's hosts to the emulator."""
        for host in X_HOSTS:
            session.mount(host, ToEmulator(self.base))

    def api(self, token: str = BOT_TOKEN, secret: str = BOT_SECRET) -> tweepy.API:
        """tweepy's v1.1 client, as an account."""
        api = tweepy.API(tweepy.OAuth1UserHandler(CK, CS, token, secret))
        self.route(api.session)
        return api

    def client(self) -> tweepy.Client:
        """tweepy's v2 client, as the bot account (OAuth 1.0a user context)."""
        client = tweepy.Client(
            consumer_key=CK,
            consumer_secret=CS,
            access_token=BOT_TOKEN,
            access_token_secret=BOT_SECRET,
        )
        self.route(client.session)
        return client

    def close(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self.server, "should_exit", True)
        self.thread.join(10)
        self.loop.run_until_complete(self.emu.aclose())
        self.loop.close()
        self.sock.close()


@pytest.fixture
def x() -> Iterator[X]:
    served = X()
    try:
        yield served
    finally:
        served.close()


def alice_writes(x: X, text: str = "hi") -> None:
    x.run(x.emu.send("alice", BOT_ID, text))


def message_data(dm: tweepy.models.DirectMessage) -> dict[str, Any]:
    data: dict[str, Any] = dm.message_create["message_data"]
    return data


# credentials


def test_verify_credentials_names_the_account(x: X) -> None:
    me = x.api().verify_credentials()
    assert (me.id_str, me.screen_name) == (BOT_ID, "pizzabot")


def test_an_unknown_or_revoked_token_is_xs_89(x: X) -> None:
    with pytest.raises(tweepy.Unauthorized) as unknown:
        x.api("1000000000001-never-issued", "whatever").verify_credentials()
    assert unknown.value.api_codes == [89]
    assert unknown.value.api_messages == ["Invalid or expired token."]
    x.run(x.emu.revoke("pizzabot"))
    with pytest.raises(tweepy.Unauthorized) as revoked:
        x.api().verify_credentials()
    assert revoked.value.api_codes == [89]


def test_a_replayed_nonce_is_refused(x: X) -> None:
    """The same signed request twice (requests-oauthlib signs, the session replays)."""
    session = requests.Session()
    x.route(session)
    signed = requests.Request(
        "GET",
        "https://api.twitter.com/1.1/account/verify_credentials.json",
        auth=OAuth1(CK, CS, BOT_TOKEN, BOT_SECRET),
    ).prepare()
    first = session.send(signed.copy())
    replayed = session.send(signed.copy())
    assert first.status_code == 200
    assert replayed.status_code == 401
    assert replayed.json()["errors"][0]["code"] == 32


def test_an_unknown_path_is_xs_404_code_34(x: X) -> None:
    with pytest.raises(tweepy.NotFound) as missing:
        x.api().request("GET", "direct_messages/events/everything")
    assert missing.value.api_codes == [34]
    assert missing.value.api_messages == ["Sorry, that page does not exist."]


# sending, and who may be written to


def test_a_first_dm_to_someone_who_never_wrote_is_forbidden_349(x: X) -> None:
    with pytest.raises(tweepy.Forbidden) as refused:
        x.api().send_direct_message(ALICE_ID, "Big news!")
    assert refused.value.response.status_code == 403
    assert refused.value.api_codes == [349]
    assert refused.value.api_messages == ["You cannot send messages to this user."]
    assert x.emu.messages == []


def test_a_reply_to_someone_who_wrote_goes_through(x: X) -> None:
    alice_writes(x)
    sent = x.api().send_direct_message(ALICE_ID, "Hello Alice")
    assert sent.type == "message_create"
    assert sent.message_create["target"]["recipient_id"] == ALICE_ID
    assert message_data(sent)["text"] == "Hello Alice"
    assert [m.id for m in x.emu.messages][-1] == sent.id


def test_a_person_who_accepts_requests_may_get_the_first_dm(x: X) -> None:
    x.run(lambda: x.emu.set_dm_settings("bob", accepts_requests=True))
    assert x.api().send_direct_message(BOB_ID, "Big news!").id == x.emu.messages[-1].id


def test_urls_come_back_as_t_co_links_with_entities(x: X) -> None:
    alice_writes(x)
    api = x.api()
    sent = api.send_direct_message(ALICE_ID, "Order at https://pizza.example/order #pizza @alice")
    data = message_data(sent)
    [link] = TCO.findall(data["text"])
    assert data["text"] == f"Order at {link} #pizza @alice"
    assert data["entities"]["urls"] == [
        {
            "url": link,
            "expanded_url": "https://pizza.example/order",
            "display_url": "pizza.example/order",
            "indices": [9, 9 + len(link)],
        }
    ]
    assert [h["text"] for h in data["entities"]["hashtags"]] == ["pizza"]
    assert [m["screen_name"] for m in data["entities"]["user_mentions"]] == ["alice"]
    assert message_data(api.get_direct_message(sent.id)) == data


# media


def test_a_simple_upload_attached_to_a_dm(x: X) -> None:
    alice_writes(x)
    api = x.api()
    media = api.simple_upload("menu.png", file=io.BytesIO(png(4, 3)), media_category="dm_image")
    assert media.image == {"image_type": "image/png", "w": 4, "h": 3}
    sent = api.send_direct_message(
        ALICE_ID, "Our menu", attachment_type="media", attachment_media_id=media.media_id
    )
    attached = message_data(sent)["attachment"]["media"]
    assert attached["id_str"] == media.media_id_string and attached["type"] == "photo"
    assert message_data(sent)["text"] == f"Our menu {attached['url']}"


def test_a_chunked_video_upload_is_waited_for_then_sent(x: X) -> None:
    alice_writes(x)
    api = x.api()
    # tweepy polls STATUS while X processes the video (check_after_secs: 1).
    media = api.chunked_upload(
        "clip.mp4",
        file=io.BytesIO(mp4(2500)),
        file_type="video/mp4",
        media_category="dm_video",
        chunk_size=1000,
    )
    assert media.processing_info["state"] == "succeeded"
    sent = api.send_direct_message(
        ALICE_ID, "Watch", attachment_type="media", attachment_media_id=media.media_id
    )
    assert message_data(sent)["attachment"]["media"]["type"] == "video"


def test_media_another_account_uploaded_cannot_be_attached(x: X) -> None:
    alice_writes(x)
    theirs = x.api(HELP_TOKEN, HELP_SECRET).simple_upload(
        "menu.png", file=io.BytesIO(png()), media_category="dm_image"
    )
    with pytest.raises(tweepy.BadRequest) as refused:
        x.api().send_direct_message(
            ALICE_ID, "Our menu", attachment_type="media", attachment_media_id=theirs.media_id
        )
    assert refused.value.api_codes == [324]


def test_an_upload_x_cannot_read_is_refused_in_the_upload_apis_shape(x: X) -> None:
    with pytest.raises(tweepy.BadRequest) as refused:
        x.api().simple_upload("notes.txt", file=io.BytesIO(b"plain text"))
    assert refused.value.api_messages == ["media type unrecognized."]


# reading, deleting, paging, indicators


def test_a_deleted_dm_is_gone_for_the_account(x: X) -> None:
    alice_writes(x, "please forget this")
    api = x.api()
    [received] = api.get_direct_messages()
    api.delete_direct_message(received.id)
    with pytest.raises(tweepy.NotFound) as gone:
        api.get_direct_message(received.id)
    assert gone.value.api_codes == [34]
    assert list(api.get_direct_messages()) == []
    assert [m.text for m in x.emu.messages] == ["please forget this"]  # alice keeps it


def test_the_dm_list_pages_through_tweepys_cursor(x: X) -> None:
    for n in range(23):
        alice_writes(x, f"m{n}")
    api = x.api()
    pages = list(tweepy.Cursor(api.get_direct_messages, count=10).pages())
    assert [len(page) for page in pages] == [10, 10, 3]
    texts = [message_data(dm)["text"] for page in pages for dm in page]
    assert texts == [f"m{n}" for n in reversed(range(23))]
    assert len(api.get_direct_messages(count=200)) == 23  # X's page holds 50 at most


def test_typing_and_read_receipts_are_recorded(x: X) -> None:
    alice_writes(x)
    api = x.api()
    api.indicate_direct_message_typing(ALICE_ID)
    api.mark_direct_message_read(x.emu.messages[-1].id, ALICE_ID)
    assert [(i.kind, i.recipient_id) for i in x.emu.indicators] == [
        ("typing", ALICE_ID),
        ("read", ALICE_ID),
    ]


# v2


def test_v2_get_me(x: X) -> None:
    me = x.client().get_me(user_auth=True).data
    assert (me.id, me.username, me.name) == (int(BOT_ID), "pizzabot", "pizzabot")


def test_v2_first_dm_to_someone_who_never_wrote_is_forbidden(x: X) -> None:
    with pytest.raises(tweepy.Forbidden) as refused:
        x.client().create_direct_message(participant_id=ALICE_ID, text="Big news!")
    assert refused.value.api_messages == ["You cannot send messages to this user."]
    assert x.emu.messages == []


def test_v2_send_with_media_and_read_back(x: X) -> None:
    alice_writes(x)
    media = x.api().simple_upload("menu.png", file=io.BytesIO(png()), media_category="dm_image")
    client = x.client()
    sent = client.create_direct_message(
        participant_id=ALICE_ID, text="Menu: https://pizza.example", media_id=media.media_id
    )
    assert sent.data["dm_conversation_id"] == f"{BOT_ID}-{ALICE_ID}"
    events = client.get_direct_message_events(
        participant_id=ALICE_ID, dm_event_fields=["text", "sender_id", "attachments"]
    ).data
    assert [e.id for e in events] == [int(sent.data["dm_event_id"]), int(x.emu.messages[0].id)]
    newest = events[0]
    assert TCO.fullmatch(newest.text.split()[1])  # the URL, as a t.co link
    assert newest.attachments == {"media_keys": [f"3_{media.media_id_string}"]}
    everything = client.get_direct_message_events().data
    assert [e.id for e in everything] == [e.id for e in events]
