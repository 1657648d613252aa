"""The webhook's own cost: verify → parse → append → 200, without HTTP server or worker.

Calls the ASGI apps directly (no sockets, no uvicorn), ``--concurrency``
requests in flight, and reports CPU time per delivery (all threads of this
process, so the SQLite checkpoint thread counts) for:

- the baseline app (bench/baseline_app.py),
- dmbot's webhook app over the memory store,
- dmbot's webhook app over the SQLite store (group commits on the loop).

The difference between the last two rows and the first is what dmbot's
acknowledgement path adds to the least a correct webhook must do.

    python bench/webhook_micro.py --requests 5000 --out webhook.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline_app import app as baseline
from payloads import CONSUMER_SECRET, mixed_lines

from dmbot.edge.webhook import create_webhook_app
from dmbot.store import Store
from dmbot.store.memory import MemoryStore
from dmbot.store.sqlite import SqliteStore

App = Callable[..., Awaitable[None]]


async def drive(app: App, lines: list[str], concurrency: int) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, non-200 answers) for one pass over ``lines``."""
    bad = 0
    queue = iter(lines)

    async def one(line: str) -> None:
        nonlocal bad
        signature, body = line.split("\t", 1)
        raw = body.encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/webhooks/twitter",
            "raw_path": b"/webhooks/twitter",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"x-twitter-webhooks-signature", signature.encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 8000),
        }
        sent = False

        async def receive() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal bad
            if message["type"] == "http.response.start" and message["status"] != 200:
                bad += 1

        await app(scope, receive, send)

    async def worker() -> None:
        for line in queue:
            await one(line)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu, time.perf_counter() - wall, bad


async def measure(requests: int, concurrency: int) -> dict[str, Any]:
    lines = list(mixed_lines(requests, 1000))
    warm = lines[: min(500, len(lines))]
    results: dict[str, Any] = {"requests": requests, "concurrency": concurrency, "rows": []}
    with tempfile.TemporaryDirectory() as scratch:
        stores: list[tuple[str, Store | None]] = [
            ("baseline: bare Starlette (verify, parse, 200)", None),
            ("dmbot webhook, memory store", MemoryStore()),
            ("dmbot webhook, SQLite store", SqliteStore(Path(scratch) / "micro.db")),
        ]
        for label, store in stores:
            app: App = baseline
            if store is not None:
                await store.open()
                app = create_webhook_app(consumer_secret=CONSUMER_SECRET, store=store)
            try:
                await drive(app, warm, concurrency)
                cpu, wall, bad = await drive(app, lines, concurrency)
            finally:
                if store is not None:
                    await store.close()
            results["rows"].append(
                {
                    "app": label,
                    "cpu_us_per_delivery": cpu / len(lines) * 1e6,
                    "deliveries_per_s": len(lines) / wall,
                    "non_200": bad,
                }
            )
    base = results["rows"][0]["cpu_us_per_delivery"]
    for row in results["rows"]:
        row["cpu_vs_baseline"] = row["cpu_us_per_delivery"] / base if base else 0.0
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import uvloop

    result = uvloop.run(measure(args.requests, args.concurrency))
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
