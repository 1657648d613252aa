"""The running service: store, worker, sender and webhook wired together.

``dmbot serve`` builds one :class:`Service` from the settings and hands its
Starlette app to uvicorn; ``dmbot dev`` and the test kit build the same
service with the emulator as X. The lifespan opens the store and starts the
worker and the sender as asyncio tasks; shutdown stops them and closes the
store, leaving anything unfinished in the store for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.applications import Starlette

from dmbot.config.settings import Settings
from dmbot.edge.stream import ActivityStream
from dmbot.edge.webhook import create_webhook_app
from dmbot.engine.bot import Bot
from dmbot.engine.script import bot_from_settings
from dmbot.engine.worker import Worker
from dmbot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from dmbot.metrics import Metrics
from dmbot.pressure import Pressure
from dmbot.store import InboxItem, Store, open_store
from dmbot.types import JSONObject
from dmbot.x.app import client_from_settings, clients_from_settings
from dmbot.x.client import XClient
from dmbot.x.sender import Sender

log = logging.getLogger("dmbot.service")


class Service:
    """One dmbot instance: webhook, worker and sender over one store.

    Args:
        settings: the loaded configuration.
        bot: the bot; by default the one ``settings.bot`` names (or none).
        store: the store; by default the one ``settings.store`` names.
        transport: the httpx transport to X (the emulator's, in tests).
        stream_transport: the transport of the activity stream (``delivery:
            stream``); it needs a real connection, so the network by default.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        bot: Bot | None = None,
        store: Store | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        if bot is None:
            bot = bot_from_settings(settings)
        self.bot = bot
        self.store = store or open_store(
            settings.store,
            synchronous=settings.sqlite.synchronous,
            prefix=settings.redis.prefix,
            partitions=settings.redis.partitions,
            reclaim_idle=settings.redis.reclaim_idle,
            lock_ttl=settings.redis.lock_ttl,
            claim_ttl=settings.engine.claim_ttl,
            consumer=self.instance_id,
        )
        self.transport = transport
        self.stream_transport = stream_transport
        self.stream: ActivityStream | None = None
        self._app_client: XClient | None = None
        self.clients: Mapping[str, XClient] = {}
        self.sender: Sender | None = None
        self.worker: Worker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.pressure = Pressure()
        self.metrics = Metrics()
        self.app: Starlette = create_webhook_app(
            consumer_secret=settings.twitter.consumer_secret,
            store=self.store,
            path=settings.webhook.path,
            max_body_bytes=settings.webhook.max_body_bytes,
            on_stored=self._stored,
            lifespan=self._lifespan,
            pressure=self.pressure,
            report=self._report,
            metrics=self._metrics,
            counted=dict(self.metrics.delivery_status),
            shortcut=self._echo,
        )

    async def _metrics(self) -> tuple[bytes, str]:
        stream = self.stream
        body = await self.metrics.scrape(
            self.store.depth,
            {account: client.limiter for account, client in self.clients.items()},
            (lambda: (stream.connected_since is not None, stream.last_event))
            if stream is not None
            else None,
        )
        return body, METRICS_CONTENT_TYPE

    def _report(self) -> dict[str, object]:
        return {"stream": self.stream.status()} if self.stream is not None else {}

    async def _echo(self, body: JSONObject) -> str | None:
        """Settle the echo of a DM this process sent, instead of storing it."""
        if self.worker is None:
            return None
        dm_id = await self.worker.echoes.take_known(body)
        if dm_id is None:
            return None
        self.metrics.event("message", "echo")
        return f"message {dm_id} echo (marked delivered)"

    def _stored(self, item: InboxItem, body: JSONObject) -> None:
        if self.worker is not None:
            self.worker.notify(item, body)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Open the store and start the worker and the sender."""
        settings = self.settings
        await self.store.open()
        if self.bot is not None:
            self.bot.configure(
                consumer_secret=settings.twitter.consumer_secret,
                flow_expiry=settings.engine.flow_expiry,
                send_api=settings.twitter.send_api,
            )
        self.clients = clients_from_settings(settings, self.transport)
        sender = Sender(
            self.store,
            self.clients,
            options=settings.sender,
            send_api=settings.twitter.send_api,
            pressure=self.pressure,
            metrics=self.metrics,
        )
        worker = Worker(
            self.store,
            self.bot,
            accounts=settings.account_ids,
            app_id=settings.twitter.app_id,
            options=settings.engine,
            live=sender,
            outbox=sender,
            on_received=sender.received,
            sent_ids=sender.sent_ids,
            pressure=self.pressure,
            metrics=self.metrics,
        )
        self.sender, self.worker = sender, worker
        self._tasks = [
            asyncio.create_task(worker.run(), name="dmbot-worker"),
            asyncio.create_task(sender.run(), name="dmbot-sender"),
        ]
        if settings.delivery == "stream":
            self.stream = self._activity_stream()
            self._tasks.append(asyncio.create_task(self.stream.run(), name="dmbot-stream"))
        log.info(
            "instance %s: bot %s, store %s, webhook path %s, accounts %s",
            self.instance_id,
            self.bot.name if self.bot else "none loaded (CRCs are answered, events stored)",
            self.store.__class__.__name__,
            settings.webhook.path,
            ", ".join(sorted(self.clients)) or "none",
        )

    def _activity_stream(self) -> ActivityStream:
        settings = self.settings
        client = next(iter(self.clients.values()), None)
        if client is None:
            # No account tokens: a client of the app alone still has its bearer token.
            client = client_from_settings(settings, None, transport=self.transport)
            self._app_client = client
        return ActivityStream(
            self.store,
            api_url=settings.twitter.api_url,
            token=client.app_bearer_token,
            holder=self.instance_id,
            on_stored=self._stored,
            options=settings.stream,
            transport=self.stream_transport,
            metrics=self.metrics,
        )

    async def stop(self) -> None:
        """Stop the tasks, close the clients and the store."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for client in self.clients.values():
            await client.aclose()
        if self._app_client is not None:
            await self._app_client.aclose()
            self._app_client = None
        self.stream = None
        await self.store.close()
