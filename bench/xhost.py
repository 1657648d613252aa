"""X for the bench: dmbot's emulator on loopback, plus the end-to-end load generator.

Run alone (``--serve``) it is the X API that ``dmbot serve`` sends its replies
to during the ingestion runs. With ``--e2e echo|pizza`` it also plays X's
webhook side: it POSTs signed deliveries to dmbot at a steady rate (open
loop: each on its schedule, whether or not earlier ones were answered) and
times each one from the moment its request is written to the moment the
bot's reply arrives at the emulator. Both ends are in this one process, so
they share one clock.

Differences from ``dmbot emulator``, all to let the bench run at a realistic
rate:

- the emulator's per-token windows are lifted: it counts every reply against
  the 1,000-a-day ``dm_send`` window, whereas X exempts up to 5 replies per
  received message;
- ``--x-latency S`` holds each send request S seconds before the emulator
  answers it, to see the sender against X's real round-trip times.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payloads import (
    APP_ID,
    BOT_ID,
    BOT_TOKEN,
    BOT_TOKEN_SECRET,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    PEER_BASE,
    TEXTS,
    DeliveryMaker,
    encode,
    peer_id,
)

from dmbot.emulator import Emulator, Message
from dmbot.emulator.faults import RateLimits

SEND_PATH = "/1.1/direct_messages/events/new.json"
_ARRIVAL: contextvars.ContextVar[float] = contextvars.ContextVar("arrival")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Unlimited(RateLimits):
    """Every call allowed; headers say so, so dmbot's limiter never waits."""

    def use(self, endpoint: str, key: str) -> dict[str, str]:
        return self.headers(endpoint, key)

    def headers(self, endpoint: str, key: str) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "1000000",
            "x-rate-limit-remaining": "1000000",
            "x-rate-limit-reset": str(int(time.time()) + 86400),
        }


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


# -- the emulator ------------------------------------------------------------------------


@dataclass
class Replies:
    """Replies the bot sent, matched to the requests that caused them."""

    pending: dict[int, collections.deque[tuple[float, str]]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    prompts: dict[int, Message] = field(default_factory=dict)
    total: int = 0
    unmatched: int = 0
    unexpected: int = 0
    waiters: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, conversation: int, sent_at: float, expected: str) -> None:
        self.pending.setdefault(conversation, collections.deque()).append((sent_at, expected))
        self.waiters += 1

    def arrived(self, message: Message, at: float) -> None:
        self.total += 1
        conversation = int(message.recipient_id) - PEER_BASE
        queue = self.pending.get(conversation)
        if message.options:
            self.prompts[conversation] = message
        if not queue:
            self.unmatched += 1
            return
        sent_at, expected = queue.popleft()
        self.waiters -= 1
        self.latencies.append(at - sent_at)
        if expected and expected not in json.dumps(message.message_data):
            self.unexpected += 1
        if self.waiters == 0:
            self.changed.set()


def build_x(conversations: int, replies: Replies, x_latency: float) -> tuple[Emulator, Any]:
    """The emulator with the bench app, the bot account and ``conversations`` people."""
    emu = Emulator(CONSUMER_KEY, CONSUMER_SECRET, app_id=APP_ID, app_name="dmbot bench")
    emu.add_account(BOT_ID, "benchbot", token=BOT_TOKEN, token_secret=BOT_TOKEN_SECRET)
    for number in range(conversations):
        # Their DMs are posted straight to dmbot, never written through the emulator:
        # they accept message requests, so the bot's answers reach them.
        emu.add_user(peer_id(number), f"person{number}", accepts_requests=True)
    emu.limits = _Unlimited(emu.clock)
    original = emu.post_message

    async def post_message(
        sender_id: str, recipient_id: str, message_data: dict[str, object], **kw: Any
    ) -> Message:
        message = await original(sender_id, recipient_id, message_data, **kw)
        if sender_id == BOT_ID:
            replies.arrived(message, _ARRIVAL.get(time.perf_counter()))
        return message

    emu.post_message = post_message  # type: ignore[method-assign]
    inner = emu.app

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SEND_PATH:
            _ARRIVAL.set(time.perf_counter())
            if x_latency > 0:
                await asyncio.sleep(x_latency)
        elif scope["type"] == "http" and scope["path"] == "/_bench/stats":
            body = json.dumps({"replies": replies.total}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)

    return emu, app


# -- the webhook side: a small keep-alive HTTP/1.1 client -----------------------------


class Poster:
    """POSTs signed deliveries over a pool of keep-alive connections.

    A connection idle for longer than ``max_idle`` is not reused: the server
    may be closing it (uvicorn closes after 5 s), and a request written into a
    closing connection is lost, which would be the load generator's fault.
    """

    def __init__(self, port: int, path: str, max_idle: float = 2.0) -> None:
        self.port = port
        self.path = path
        self.max_idle = max_idle
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < self.max_idle:
                return reader, writer
            writer.close()
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, signature: str, body: bytes, on_sent: Callable[[], None]) -> int:
        reader, writer = await self._connection()
        head = (
            f"POST {self.path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"
            f"content-type: application/json\r\nx-twitter-webhooks-signature: {signature}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        on_sent()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        if length:
            await reader.readexactly(length)
        if close or not status_line:
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return int(status_line.split()[1]) if status_line else 0

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


# -- the end-to-end run ----------------------------------------------------------------

PIZZA_STEPS = (
    # (what the person sends, tap label or "", what the reply must contain)
    ("I want a pizza", "", "Medium"),
    ("", "Medium", "Thin"),
    ("", "Thin", "Yes"),
    ("", "Yes", "on its way"),
)


@dataclass
class Plan:
    flow: str
    rate: float
    conversations: int
    duration: float
    grace: float


async def run_e2e(emu: Emulator, replies: Replies, plan: Plan, port: int) -> dict[str, Any]:
    """Send ``rate`` deliveries a second for ``duration`` seconds; time every reply."""
    maker = DeliveryMaker(emu.world, emu.world.ids)
    poster = Poster(port, "/webhooks/twitter")
    steps = [0] * plan.conversations
    acks: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    lateness: list[float] = []
    untapped = 0
    tasks: set[asyncio.Task[None]] = set()

    async def deliver(conversation: int, signature: str, body: bytes, expected: str) -> None:
        sent_at = 0.0

        def on_sent() -> None:
            nonlocal sent_at
            sent_at = time.perf_counter()
            replies.expect(conversation, sent_at, expected)

        status = await poster.post(signature, body, on_sent)
        acks.append(time.perf_counter() - sent_at)
        statuses[status] += 1

    total = round(plan.rate * plan.duration)
    start = time.perf_counter() + 0.1
    for k in range(total):
        due = start + k / plan.rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        lateness.append(max(0.0, time.perf_counter() - due))
        conversation = k % plan.conversations
        if plan.flow == "echo":
            text = f"{TEXTS[k % len(TEXTS)]} #{k}"
            _, payload = maker.incoming(conversation, text)
            expected = text
        else:
            step = steps[conversation]
            steps[conversation] = (step + 1) % len(PIZZA_STEPS)
            text, label, expected = PIZZA_STEPS[step]
            metadata = None
            if label:
                text = label
                prompt = replies.prompts.get(conversation)
                option = (
                    next((o for o in prompt.options if o.get("label") == label), None)
                    if (prompt)
                    else None
                )
                if option is None:
                    untapped += 1  # no prompt yet: the label alone, as legacy clients send it
                else:
                    metadata = str(option.get("metadata", ""))
            _, payload = maker.incoming(conversation, text, metadata=metadata)
        signature, body = encode(payload)
        task = asyncio.create_task(deliver(conversation, signature, body, expected))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_for = time.perf_counter() - start
    if tasks:
        await asyncio.wait(set(tasks))
    if replies.waiters:
        replies.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(replies.changed.wait(), plan.grace)
    poster.close()
    e2e = replies.latencies
    return {
        "flow": plan.flow,
        "rate": plan.rate,
        "achieved_rate": total / sent_for if sent_for > 0 else 0.0,
        "conversations": plan.conversations,
        "duration_s": plan.duration,
        "sent": total,
        "statuses": {str(k): v for k, v in statuses.items()},
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "replies": len(e2e),
        "missing": replies.waiters,
        "unexpected": replies.unexpected,
        "unmatched": replies.unmatched,
        "taps_without_prompt": untapped,
        "e2e_p50_ms": percentile(e2e, 50) * 1000,
        "e2e_p90_ms": percentile(e2e, 90) * 1000,
        "e2e_p99_ms": percentile(e2e, 99) * 1000,
        "e2e_max_ms": max(e2e) * 1000 if e2e else math.nan,
        "schedule_lag_p99_ms": percentile(lateness, 99) * 1000,
    }


async def main(args: argparse.Namespace) -> int:
    replies = Replies()
    emu, app = build_x(args.users, replies, args.x_latency)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    if args.e2e is None:
        await serving
        return 0
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.02)
        if args.echoes:
            # X delivers the echo of every reply to the account's webhook: so does the bench.
            hook = await emu.register_webhook(f"http://127.0.0.1:{args.bot_port}/webhooks/twitter")
            emu.subscribe(hook.id, BOT_ID)
        plan = Plan(args.e2e, args.rate, args.conversations, args.duration, args.grace)
        result = await run_e2e(emu, replies, plan, args.bot_port)
        result["x_latency_ms"] = args.x_latency * 1000
        result["echoes_delivered"] = sum(1 for d in emu.delivery_log if d.kind != "crc")
        Path(args.out).write_text(json.dumps(result, indent=2))  # noqa: ASYNC240 - once
    finally:
        server.should_exit = True
        await serving
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port of the emulated X API")
    parser.add_argument("--users", type=int, default=1000, help="people who write to the bot")
    parser.add_argument("--x-latency", type=float, default=0.0, help="seconds X takes per send")
    parser.add_argument("--e2e", choices=("echo", "pizza"), help="run an end-to-end load")
    parser.add_argument("--bot-port", type=int, help="dmbot serve's port (--e2e)")
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for replies")
    parser.add_argument("--echoes", action="store_true", help="deliver the replies' echoes")
    parser.add_argument("--out", default="e2e.json", help="where the e2e result goes")
    return parser.parse_args(argv)


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse())))
