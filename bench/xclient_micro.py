"""CPU per DM sent by dmbot's X client, on httpx's default transport and on dmbot's own.

Starts the bench X host (the emulator, on the load core), then sends
``--sends`` DMs through ``dmbot.x.client.XClient``, ``--concurrency``
at a time (the sender's default is 16), in a child process pinned to the
server core, once per transport:

    python bench/xclient_micro.py --out xclient.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from payloads import (  # noqa: E402
    BOT_ID,
    BOT_TOKEN,
    BOT_TOKEN_SECRET,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    peer_id,
)
from procs import SERVER_CPU, Processes, pinned  # noqa: E402
from servers import start_x  # noqa: E402

VARIANTS = (
    ("httpx's default transport (httpcore)", "httpx"),
    ("dmbot's lean HTTP/1.1 transport (the default)", "lean"),
)


async def child(port: int, sends: int, concurrency: int, transport: str) -> dict[str, Any]:
    import httpx

    from dmbot.x.client import XClient
    from dmbot.x.ratelimit import RateLimiter

    # The bench host lifts X's windows; the client's own DM budget is lifted the same way.
    unlimited = RateLimiter(account_daily=10**9, app_daily=10**9)
    client = XClient(
        limiter=unlimited,
        transport=httpx.AsyncHTTPTransport() if transport == "httpx" else None,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        token=BOT_TOKEN,
        token_secret=BOT_TOKEN_SECRET,
        api_url=f"http://127.0.0.1:{port}",
        account_id=BOT_ID,
    )
    slots = asyncio.Semaphore(concurrency)

    async def send(number: int) -> None:
        async with slots:
            await client.send_dm(peer_id(number % 1000), {"text": f"reply {number}"})

    await asyncio.gather(*(send(n) for n in range(min(100, sends))))
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(send(n) for n in range(sends)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await client.aclose()
    return {"cpu_ms_per_send": cpu / sends * 1000, "sends_per_s": sends / wall}


def measure(procs: Processes, sends: int, concurrency: int) -> dict[str, Any]:
    x, port = start_x(procs, users=1000, name="xclient-x")
    rows = []
    try:
        for label, transport in VARIANTS:
            argv = [sys.executable, __file__, "--child", str(port), "--sends", str(sends)]
            argv += ["--concurrency", str(concurrency), "--transport", transport]
            # A child run is bounded by --sends; its output is one JSON line.
            done = subprocess.run(
                pinned(SERVER_CPU, argv), capture_output=True, text=True, timeout=300
            )
            if done.returncode != 0:
                raise RuntimeError(f"xclient child failed: {done.stderr[-2000:]}")
            rows.append({"variant": label, **json.loads(done.stdout.strip().splitlines()[-1])})
    finally:
        procs.stop(x)
    base = rows[0]["cpu_ms_per_send"]
    for row in rows:
        row["cpu_vs_httpx"] = row["cpu_ms_per_send"] / base if base else 0.0
    return {"sends": sends, "concurrency": concurrency, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--transport", default="lean", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        import uvloop

        result = uvloop.run(child(args.child, args.sends, args.concurrency, args.transport))
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="dmbot-xclient-") as scratch:
        procs = Processes(Path(scratch))
        try:
            result = measure(procs, args.sends, args.concurrency)
        finally:
            procs.stop_all()
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
