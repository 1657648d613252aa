"""The webhook X talks to: CRC on GET, verify-and-store on POST.

The POST path does exactly four things: read the body (bounded), verify the
signature over the raw bytes, check it is a JSON object, append it to the
durable inbox. X gets its 200 once the delivery is stored and never waits for
a handler or for X's own API. Rejected requests (401, 400, 413) never reach
the store.

One kind of delivery is settled instead of stored: the echo of a DM this
process sent (``shortcut``), whose only effect is the outbox row's delivered
mark (queued for the store's next write: the row is already on record as
sent). Half of a bot's deliveries are such echoes; the inbox, the worker and
their rounds are spared them. A stored delivery is handed to the worker
(``on_stored``) after the 200, with its body already parsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Lifespan, Receive, Scope, Send

from dmbot.edge import crc, signature
from dmbot.edge.partition import conversation_hint
from dmbot.edge.payload import json_object
from dmbot.errors import StorageError
from dmbot.pressure import Pressure
from dmbot.store import InboxItem, Store
from dmbot.types import JSONObject

log = logging.getLogger("dmbot.edge.webhook")

DEFAULT_MAX_BODY = 1024 * 1024

_SIGNATURE_HEADER = signature.HEADER.encode()


Stored = Callable[[InboxItem, JSONObject], None]
"""Told of each stored delivery: its inbox row and its body, parsed."""

Shortcut = Callable[[JSONObject], Awaitable[str | None]]
"""Settles a delivery that need not be stored (what became of it), or returns None."""


class Counter(Protocol):
    """A counter of deliveries by HTTP status (prometheus-client's, or any)."""

    def inc(self) -> None: ...


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, declared: int | None, limit: int) -> bytes:
    if declared is not None and declared > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(send: Send, status: int, text: str = "") -> None:
    body = text.encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Deliveries:
    """The POST of a delivery: a plain ASGI handler, the one hot path.

    Every delivery X sends comes through here, so it skips what Starlette's
    routing would add per request (route matching, a Request object, two
    exception-handling layers) and reads the two headers it needs straight
    from the ASGI scope.
    """

    def __init__(
        self,
        secret: bytes,
        store: Store,
        max_body_bytes: int,
        on_stored: Stored | None,
        pressure: Pressure | None,
        counted: Mapping[int, Counter],
        shortcut: Shortcut | None,
    ) -> None:
        self.secret = secret
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.on_stored = on_stored
        self.pressure = pressure
        self.counted = counted
        """Counters by status (``dmbot_deliveries_total``), when metrics are on."""
        self.shortcut = shortcut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.pressure is None:
            await self._deliver(scope, receive, send)
            return
        self.pressure.enter()
        try:
            await self._deliver(scope, receive, send)
        finally:
            self.pressure.leave()

    def _count(self, status: int) -> None:
        counter = self.counted.get(status)
        if counter is not None:
            counter.inc()

    async def _deliver(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared: int | None = None
        given: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == _SIGNATURE_HEADER:
                given = value.decode("latin-1")
        limit = self.max_body_bytes
        try:
            body = await _read_body(receive, declared, limit)
        except _TooLarge:
            log.warning("delivery refused: body over %d bytes (413)", limit)
            text = f"body over the {limit}-byte limit (webhook.max_body_bytes)"
            self._count(413)
            await _answer(send, 413, text)
            return
        except _Disconnected:
            return  # X gave up on this one; it retries
        if not signature.verify(self.secret, body, given):
            log.warning("delivery refused (401): %s", signature.refusal(given))
            self._count(401)
            await _answer(send, 401, f"missing or wrong {signature.HEADER}")
            return
        decoded = json_object(body)
        if decoded is None:
            log.warning("delivery refused: body is not a JSON object (400)")
            self._count(400)
            await _answer(send, 400, "body is not a JSON object")
            return
        try:
            settled = None if self.shortcut is None else await self.shortcut(decoded)
            if settled is None:
                # A shared store spreads conversations over partitions; keep each one whole.
                partition = conversation_hint(decoded) if self.store.shared else ""
                received = time.time()
                inbox_id = await self.store.append(body, received, partition)
        except StorageError as exc:
            log.error("delivery NOT stored, answering 503 so X retries: %s", exc)
            self._count(503)
            await _answer(send, 503, "the event store is unavailable")
            return
        self._count(200)
        await _answer(send, 200)  # first: the worker may take the delivery straight away
        if settled is not None:
            log.info("delivery settled without the inbox: %s", settled)
        elif self.on_stored is not None:
            self.on_stored(InboxItem(inbox_id, body, received, partition), decoded)


class WebhookApp(Starlette):
    """Starlette serving the webhook, with deliveries taken before its router."""

    def __init__(
        self,
        deliveries: _Deliveries,
        path: str,
        routes: list[Route],
        lifespan: Lifespan[Starlette] | None,
    ) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self._deliveries = deliveries
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self._path
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self._deliveries(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_webhook_app(
    *,
    consumer_secret: str,
    store: Store,
    path: str = "/webhooks/twitter",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    on_stored: Stored | None = None,
    lifespan: Lifespan[Starlette] | None = None,
    pressure: Pressure | None = None,
    report: Callable[[], dict[str, object]] | None = None,
    metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None,
    counted: Mapping[int, Counter] | None = None,
    shortcut: Shortcut | None = None,
) -> Starlette:
    """The Starlette app serving ``path`` (CRC and deliveries) and ``/healthz``.

    Args:
        consumer_secret: the app's consumer secret; signs CRC answers and
            verifies deliveries.
        store: where deliveries are appended.
        path: the webhook path registered with X.
        max_body_bytes: larger bodies get 413 without being read in full.
        on_stored: called with the inbox row and the parsed body of each stored
            delivery (wakes the worker, which need not read or parse it again).
        lifespan: the lifespan of the surrounding service (workers, sender).
        pressure: counts deliveries in flight, so the worker gives way to them.
        report: more for ``/healthz`` to say (the activity stream's state).
        metrics: renders ``GET /metrics``: the exposition and its content type.
        counted: a counter per HTTP status of deliveries.
        shortcut: settles a delivery that need not be stored (the echo of a DM
            this process sent) and says what became of it; None: store it.
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

    deliveries = _Deliveries(
        secret, store, max_body_bytes, on_stored, pressure, counted or {}, shortcut
    )

    async def healthz(request: Request) -> Response:
        reachable = await store.ping()
        body: dict[str, object] = {"status": "ok" if reachable else "unavailable"}
        body["store"] = reachable
        if report is not None:
            body.update(report())
        return JSONResponse(body, status_code=200 if reachable else 503)

    routes = [
        Route(path, challenge, methods=["GET"]),
        # The app answers deliveries before routing; this route serves it mounted.
        Route(path, deliveries, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if metrics is not None:
        render = metrics

        async def exposition(request: Request) -> Response:
            body, content_type = await render()
            return Response(body, headers={"content-type": content_type})

        routes.append(Route("/metrics", exposition, methods=["GET"]))
    return WebhookApp(deliveries, path, routes, lifespan)
