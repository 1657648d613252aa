"""How large SQLite's write-ahead log grows under back-to-back appends, and what it costs.

Appends 1.1 KB deliveries through ``SqliteStore`` in rounds of 64, as fast as
one event loop can, for ``--seconds``; prints the largest WAL seen and the
duration of the rounds (a round that finishes a checkpoint shows in the
tail). No HTTP: this is far above what the webhook can deliver, on purpose.

    python bench/wal_growth.py --seconds 12
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from dmbot.store.sqlite import SqliteStore


def _size(path: Path) -> int:
    return path.stat().st_size


async def measure(seconds: float, folder: Path) -> None:
    path = folder / "wal.db"
    wal = Path(f"{path}-wal")
    store = SqliteStore(path)
    await store.open()
    body = b"x" * 1100
    rounds: list[float] = []
    largest = rows = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            started = time.perf_counter()
            await asyncio.gather(*(store.append(body, time.time()) for _ in range(64)))
            rounds.append(time.perf_counter() - started)
            rows += 64
            largest = max(largest, _size(wal))
    finally:
        await store.close()
    rounds.sort()

    def ms(q: float) -> float:
        return rounds[min(len(rounds) - 1, int(len(rounds) * q))] * 1000

    rate = rows / seconds
    print(f"{rows:,} appends in {seconds:g} s ({rate:,.0f}/s); largest WAL {largest / 1e6:,.1f} MB")
    print(
        f"64-append rounds, ms: p50 {ms(0.5):.2f}  p99 {ms(0.99):.2f}  "
        f"p999 {ms(0.999):.2f}  max {rounds[-1] * 1000:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(args.seconds, Path(folder)))


if __name__ == "__main__":
    main()
