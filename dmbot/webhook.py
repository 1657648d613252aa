"""The webhook X talks to: CRC on GET, verify-and-store on POST.

The POST path does exactly four things: read the body (bounded), verify the
signature over the raw bytes, check it is a JSON object, append it to the
durable inbox. X gets its 200 once the delivery is stored and never waits for
a handler or for X's own API. Rejected requests (401, 400, 413) never reach
the store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Lifespan

from dmbot import crc, signature
from dmbot.errors import StorageError
from dmbot.origin import conversation_hint
from dmbot.pressure import Pressure
from dmbot.store import Store

log = logging.getLogger("dmbot.webhook")

DEFAULT_MAX_BODY = 1024 * 1024

_OK = Response(status_code=200)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise _TooLarge
        # The server enforces the declared length: read it in one go.
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_webhook_app(
    *,
    consumer_secret: str,
    store: Store,
    path: str = "/webhooks/twitter",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    on_stored: Callable[[], None] | None = None,
    lifespan: Lifespan[Starlette] | None = None,
    pressure: Pressure | None = None,
) -> Starlette:
    """The Starlette app serving ``path`` (CRC and deliveries) and ``/healthz``.

    Args:
        consumer_secret: the app's consumer secret; signs CRC answers and
            verifies deliveries.
        store: where deliveries are appended.
        path: the webhook path registered with X.
        max_body_bytes: larger bodies get 413 without being read in full.
        on_stored: called after each stored delivery (wakes the worker).
        lifespan: the lifespan of the surrounding service (workers, sender).
        pressure: counts deliveries in flight, so the worker gives way to them.
    """
    secret = consumer_secret.encode()

    async def challenge(request: Request) -> Response:
        token = request.query_params.get("crc_token")
        if token is None or not crc.is_token(token):
            log.warning("CRC refused: crc_token missing or not of X's token shape")
            return PlainTextResponse(
                "crc_token is missing or is not a base64 token of at most "
                f"{crc.MAX_TOKEN_LENGTH} characters",
                status_code=400,
            )
        log.info("CRC answered")
        return JSONResponse({"response_token": crc.response_token(secret, token)})

    async def receive(request: Request) -> Response:
        if pressure is None:
            return await store_delivery(request)
        pressure.enter()
        try:
            return await store_delivery(request)
        finally:
            pressure.leave()

    async def store_delivery(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            log.warning("delivery refused: body over %d bytes (413)", max_body_bytes)
            return PlainTextResponse(
                f"body over the {max_body_bytes}-byte limit (webhook.max_body_bytes)",
                status_code=413,
            )
        if not signature.verify(secret, body, request.headers.get(signature.HEADER)):
            log.warning("delivery refused: missing or wrong %s (401)", signature.HEADER)
            return PlainTextResponse(f"missing or wrong {signature.HEADER}", status_code=401)
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            log.warning("delivery refused: body is not a JSON object (400)")
            return PlainTextResponse("body is not a JSON object", status_code=400)
        # A shared store spreads conversations over partitions; keep each one whole.
        partition = conversation_hint(decoded) if store.shared else ""
        try:
            await store.append(body, time.time(), partition)
        except StorageError as exc:
            log.error("delivery NOT stored, answering 503 so X retries: %s", exc)
            return PlainTextResponse("the event store is unavailable", status_code=503)
        if on_stored is not None:
            on_stored()
        return _OK

    async def healthz(request: Request) -> Response:
        reachable = await store.ping()
        return JSONResponse(
            {"status": "ok" if reachable else "unavailable", "store": reachable},
            status_code=200 if reachable else 503,
        )

    async def webhook(request: Request) -> Response:
        # One route for both methods: Starlette would otherwise try the GET route
        # first on every delivery.
        if request.method == "POST":
            return await receive(request)
        return await challenge(request)

    return Starlette(
        routes=[
            Route(path, webhook, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
