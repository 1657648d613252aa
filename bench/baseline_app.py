"""The baseline: the least a correct webhook on dmbot's stack can do.

A bare Starlette app that reads the body, verifies X's signature, parses the
JSON and answers 200, nothing stored. Served by uvicorn with uvloop and
httptools and no access log, the same server stack as ``dmbot serve``::

    BENCH_CONSUMER_SECRET=... uvicorn baseline_app:app --app-dir bench \\
        --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET = os.environ.get("BENCH_CONSUMER_SECRET", "bench-consumer-secret").encode()


async def receive(request: Request) -> Response:
    body = await request.body()
    mac = hmac.new(SECRET, body, hashlib.sha256).digest()
    expected = b"sha256=" + base64.b64encode(mac)
    given = request.headers.get("x-twitter-webhooks-signature", "").encode()
    if not hmac.compare_digest(expected, given):
        return Response(status_code=401)
    try:
        decoded = json.loads(body)
    except ValueError:
        return Response(status_code=400)
    if not isinstance(decoded, dict):
        return Response(status_code=400)
    return Response(status_code=200)


app = Starlette(routes=[Route("/webhooks/twitter", receive, methods=["POST"])])
