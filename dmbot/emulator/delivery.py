"""Webhook traffic from the emulated X: signed deliveries and CRC checks.

Deliveries carry the payloads of :mod:`dmbot.emulator.payloads`, signed with
``x-twitter-webhooks-signature``. They run in background tasks owned by the
:class:`Deliverer`, one HTTP attempt at a time per webhook (so, with every
realism switch off, a webhook sees events in the order they happened).
Failures are recorded in the delivery log, never raised into the caller.
The switches that make deliveries awkward are :mod:`dmbot.emulator.realism`'s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dmbot.emulator.realism import Realism
from dmbot.emulator.state import Webhook, World
from dmbot.types import JSONObject

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to POST (or, for ``kind == "crc"``, GET) a webhook.

    Attributes:
        url: the webhook URL.
        body: the exact bytes posted (signed as they are).
        status: the HTTP status of the answer, None when there was none in time.
        attempt: 1 for the first try, 2.. for retries.
        for_user_id: the subscribed account the delivery is for.
        kind: the payload's event key, the XAA event type (``dm.received``...), or "crc".
        event_id: the DM id for message deliveries.
        duplicate: True for the extra copy sent by the ``duplicates`` switch.
        error: why the attempt failed, if it did.
    """

    url: str
    body: bytes
    status: int | None
    attempt: int
    for_user_id: str | None
    kind: str
    event_id: str | None = None
    duplicate: bool = False
    error: str | None = None

    @property
    def payload(self) -> JSONObject:
        """The posted JSON, decoded."""
        result: JSONObject = json.loads(self.body)
        return result

    def to_json(self) -> JSONObject:
        """A plain JSON form for the admin endpoints (body as text)."""
        data = asdict(self)
        data["body"] = self.body.decode("utf-8")
        return data


def sign(consumer_secret: str, body: bytes) -> str:
    """``sha256=<base64(HMAC-SHA256(consumer secret, body))>``, X's signature header."""
    mac = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode("ascii")


@dataclass(frozen=True)
class _Job:
    webhook_id: str
    url: str
    body: bytes
    for_user_id: str | None
    kind: str
    event_id: str | None


@dataclass(frozen=True)
class HeldDelivery:
    """A delivery the ``out_of_order`` switch holds back, until the next one or ``until``.

    Attributes:
        url: the webhook it is for.
        for_user_id: the subscribed account it is for.
        kind: the payload's event key, or the XAA event type.
        event_id: the DM id for message deliveries.
        until: when it goes out at the latest (the emulator's loop time, seconds).
    """

    url: str
    for_user_id: str | None
    kind: str
    event_id: str | None
    until: float

    def to_json(self, now: float) -> JSONObject:
        """A JSON form; ``release_in`` is in seconds from ``now``."""
        return {
            "url": self.url,
            "for_user_id": self.for_user_id,
            "kind": self.kind,
            "event_id": self.event_id,
            "release_in": round(max(0.0, self.until - now), 3),
        }


class Deliverer:
    """Sends deliveries and CRC checks; owns their background tasks.

    Args:
        consumer_secret: signs deliveries and CRC answers are checked with it.
        realism: the live switches (read at each delivery).
        transport: where HTTP goes (an ASGI app in tests); None for the network.
        log: the list every attempt is appended to.
        on_held: called when a delivery is held back or released (the chat page shows them).
    """

    def __init__(
        self,
        consumer_secret: str,
        realism: Realism,
        transport: httpx.AsyncBaseTransport | None,
        log: list[DeliveryRecord],
        on_held: Callable[[], None] | None = None,
    ) -> None:
        self._secret = consumer_secret
        self.realism = realism
        self._transport = transport
        self._log = log
        self._on_held = on_held
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[str, tuple[_Job, float, asyncio.TimerHandle]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client of outgoing webhook traffic (made on first use)."""
        if self._client is None:
            # X follows no redirects: a 3xx is a failed check or delivery.
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
        return self._client

    def fan_out(
        self,
        world: World,
        user_ids: Iterable[str],
        build: Callable[[str], JSONObject],
        *,
        kind: str,
        event_id: str | None = None,
        hooks: Iterable[Webhook] | None = None,
    ) -> int:
        """Deliver to every valid webhook (or those of ``hooks``), once per subscribed
        user among ``user_ids``.

        Returns:
            How many deliveries were scheduled.
        """
        scheduled = 0
        for hook in world.webhooks if hooks is None else hooks:
            if not hook.valid:
                continue
            for user_id in dict.fromkeys(user_ids):
                if (hook.id, user_id) in world.subscriptions:
                    self.deliver(hook, build(user_id), user_id, kind=kind, event_id=event_id)
                    scheduled += 1
        return scheduled

    def deliver(
        self,
        hook: Webhook,
        payload: JSONObject,
        for_user_id: str | None,
        *,
        kind: str,
        event_id: str | None = None,
    ) -> None:
        """Schedule one signed delivery of ``payload`` to ``hook``."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        job = _Job(hook.id, hook.url, body, for_user_id, kind, event_id)
        held = self._held.get(hook.id)
        if self.realism.out_of_order and held is None:
            loop = asyncio.get_running_loop()
            until = loop.time() + self.realism.hold
            timer = loop.call_at(until, self._release, hook.id)
            self._held[hook.id] = (job, until, timer)
            self._changed()
            return
        self._spawn(job)
        if held is not None:
            self._release(hook.id)

    @property
    def held(self) -> list[HeldDelivery]:
        """The deliveries ``out_of_order`` holds back now, one per webhook at most."""
        return [
            HeldDelivery(job.url, job.for_user_id, job.kind, job.event_id, until)
            for job, until, _ in self._held.values()
        ]

    def release_held(self) -> None:
        """Send every held delivery now (``out_of_order`` was switched off)."""
        for webhook_id in list(self._held):
            self._release(webhook_id)

    def _release(self, webhook_id: str) -> None:
        held = self._held.pop(webhook_id, None)
        if held is None:
            return
        job, _, timer = held
        timer.cancel()
        self._spawn(job)
        self._changed()

    def _changed(self) -> None:
        if self._on_held is not None:
            self._on_held()

    def _spawn(self, job: _Job) -> None:
        due = asyncio.get_running_loop().time() + self.realism.delay
        task = asyncio.create_task(self._run(job, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: _Job, due: float) -> None:
        loop = asyncio.get_running_loop()
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        attempt = 1
        while True:
            status = await self._post(job, attempt)
            if self.realism.duplicates and attempt == 1:
                await self._post(job, attempt, duplicate=True)
            schedule = self.realism.retry_schedule
            if status == 200 or not self.realism.retries or attempt > len(schedule):
                return
            await asyncio.sleep(schedule[attempt - 1])
            attempt += 1

    async def _post(self, job: _Job, attempt: int, *, duplicate: bool = False) -> int | None:
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, job.body),
        }
        status: int | None = None
        error: str | None = None
        async with self._locks.setdefault(job.webhook_id, asyncio.Lock()):
            try:
                async with asyncio.timeout(self.realism.timeout):
                    response = await self.client.post(job.url, content=job.body, headers=headers)
                status = response.status_code
                if status != 200:
                    error = f"the webhook answered {status}, not 200"
            except TimeoutError:
                error = f"no answer within {self.realism.timeout:g} s"
            except Exception as exc:  # any failure of the receiver is recorded, never raised
                error = f"{type(exc).__name__}: {exc}"
        self._log.append(
            DeliveryRecord(
                job.url, job.body, status, attempt, job.for_user_id, job.kind,
                job.event_id, duplicate, error,
            )
        )  # fmt: skip
        return status

    async def crc(self, url: str) -> tuple[bool, str]:
        """Run X's challenge-response check against ``url``.

        Returns:
            (passed, reason): reason says what was wrong when it failed.
        """
        token = base64.b64encode(secrets.token_bytes(24)).decode("ascii")
        nonce = base64.b64encode(secrets.token_bytes(9)).decode("ascii").rstrip("=")
        expected = sign(self._secret, token.encode("ascii"))
        status: int | None = None
        reason = ""
        try:
            async with asyncio.timeout(self.realism.timeout):
                response = await self.client.get(url, params={"crc_token": token, "nonce": nonce})
            status = response.status_code
            answer = _json_or_none(response.content)
            given = answer.get("response_token") if isinstance(answer, dict) else None
            given_bytes = given.encode() if isinstance(given, str) else b""
            if status != 200:
                reason = f"the CRC check got HTTP {status}, not 200"
            elif not hmac.compare_digest(given_bytes, expected.encode()):
                reason = (
                    "the CRC answer's response_token is not sha256=HMAC(consumer secret, token)"
                )
        except TimeoutError:
            reason = f"the CRC check got no answer within {self.realism.timeout:g} s"
        except Exception as exc:  # a dead or broken receiver fails the check
            reason = f"the CRC check failed: {type(exc).__name__}: {exc}"
        self._log.append(DeliveryRecord(url, b"", status, 1, None, "crc", error=reason or None))
        return not reason, reason

    async def settled(self) -> None:
        """Return once every scheduled delivery, held ones included, has been attempted."""
        while True:
            self.release_held()
            if not self._tasks:
                return
            await asyncio.wait(set(self._tasks))

    def reset(self) -> None:
        """Forget deliveries held back by ``out_of_order``."""
        for _, _, timer in self._held.values():
            timer.cancel()
        self._held.clear()

    async def aclose(self) -> None:
        """Cancel pending deliveries and close the HTTP client."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.reset()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
