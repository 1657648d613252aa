"""The webhook as X's Python samples write it: Flask, served by gunicorn.

X's boilerplate (a Flask app started by ``gunicorn Main:app``, one sync
worker) parses each POSTed delivery and handles it inside the request,
before answering. This version does the same dispatch on the delivery
(event type, skip the account's own messages) and, unlike the samples,
also verifies the signature, so it is compared doing the same checks as the
baseline. It stores nothing and calls no API, so it is an upper bound for
the sample's speed::

    BENCH_CONSUMER_SECRET=... gunicorn --chdir bench flask_app:app
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from flask import Flask, Response, request

SECRET = os.environ.get("BENCH_CONSUMER_SECRET", "bench-consumer-secret").encode()
CURRENT_USER_ID = os.environ.get("BENCH_BOT_ID", "1000000000001")

app = Flask(__name__)
handled: list[str] = []


@app.route("/webhooks/twitter", methods=["POST"])
def event_received() -> Response:
    body = request.get_data()
    mac = hmac.new(SECRET, body, hashlib.sha256).digest()
    expected = b"sha256=" + base64.b64encode(mac)
    given = request.headers.get("x-twitter-webhooks-signature", "").encode()
    if not hmac.compare_digest(expected, given):
        return Response(status=401)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return Response(status=400)
    for event in payload.get("direct_message_events", []):
        create = event.get("message_create", {})
        if event.get("type") != "message_create" or create.get("sender_id") == CURRENT_USER_ID:
            continue
        # The samples reply here, inside the request; count it instead.
        if len(handled) > 1000:
            handled.clear()
        handled.append(event.get("id", ""))
    return Response(status=200)
