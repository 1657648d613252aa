"""The floor: the least a correct echo bot on dmbot's stack can do, end to end.

The baseline webhook (read, verify, parse, 200) plus, for each incoming DM,
the reply through dmbot's own X client (OAuth 1.0a, the wire): no store, no
claim, no outbox, no log line. Nothing survives a crash and duplicates are
answered twice; it only prices the I/O every correct bot pays, so that
``bench/e2e_cpu.py --floor`` can say how much of dmbot's CPU per event is
dmbot's own. Served like ``dmbot serve`` (uvicorn, uvloop, httptools, no
access log)::

    BENCH_CONSUMER_SECRET=... BENCH_X_URL=http://127.0.0.1:PORT \\
        uvicorn floor_app:app --app-dir bench --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from typing import Any
from urllib.parse import parse_qs

from payloads import BOT_ID, BOT_TOKEN, BOT_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET
from starlette.types import Receive, Scope, Send

from dmbot.x.client import XClient

SECRET = os.environ.get("BENCH_CONSUMER_SECRET", CONSUMER_SECRET).encode()
_client: XClient | None = None
_tasks: set[asyncio.Task[Any]] = set()


def client() -> XClient:
    global _client
    if _client is None:
        _client = XClient(
            consumer_key=CONSUMER_KEY,
            consumer_secret=CONSUMER_SECRET,
            token=BOT_TOKEN,
            token_secret=BOT_TOKEN_SECRET,
            api_url=os.environ["BENCH_X_URL"],
        )
    return _client


async def _reply(peer: str, text: str) -> None:
    x = client()
    x.limiter.received(BOT_ID, peer)  # a reply to a DM: X does not count it (nor does dmbot)
    await x.send_dm(peer, {"text": text})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":  # the CRC X runs when the webhook is registered
        token = parse_qs(scope["query_string"].decode()).get("crc_token", [""])[0]
        mac = hmac.new(SECRET, token.encode(), hashlib.sha256).digest()
        answer = json.dumps({"response_token": "sha256=" + base64.b64encode(mac).decode()})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer.encode()})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    given = dict(scope["headers"]).get(b"x-twitter-webhooks-signature", b"")
    expected = b"sha256=" + base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest())
    status = 200 if hmac.compare_digest(expected, given) else 401
    if status == 200:
        decoded = json.loads(body)
        for event in decoded.get("direct_message_events", ()):
            create = event.get("message_create", {})
            if create.get("sender_id") != BOT_ID:
                text = create.get("message_data", {}).get("text", "")
                task = asyncio.create_task(_reply(create["sender_id"], text))
                _tasks.add(task)
                task.add_done_callback(_tasks.discard)
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})
