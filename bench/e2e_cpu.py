"""CPU per event of ``dmbot serve`` under the end-to-end load, this tree against another.

The machines this runs on are noisy, so a change is measured side by side:
rounds alternate between this checkout and ``--against`` (a worktree of
the commit before, say), each round starting ``dmbot serve`` (echo bot,
SQLite, pinned to core 0) and the bench X host (core 1) that posts signed
deliveries at ``--rate`` for ``--seconds`` and waits for every reply::

    git worktree add /tmp/before HEAD~1
    python bench/e2e_cpu.py --against /tmp/before --rounds 3

``--against`` repeats; with ``--skip-this`` only those checkouts run, which
lets this tree be edited while the bench runs worktrees of its commits.

Each line is one run: whose code, CPU ms per event (the server's CPU time
while the X host ran, its start and its wait for the last reply included,
over the events sent), reply p99.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
from procs import LOAD_CPU, Processes, cpu_seconds, free_port  # noqa: E402


def one_run(
    work: Path, pythonpath: str, rate: float, seconds: float, floor: bool = False
) -> tuple[float, float]:
    """(CPU ms per event, reply p99 ms) of one run of the load (of the floor app)."""
    procs = Processes(work)
    x_port = free_port()
    if floor:
        server = servers.start_floor(procs, x_port=x_port, pythonpath=pythonpath)
    else:
        server = servers.start_dmbot(procs, work / "serve", x_port=x_port, pythonpath=pythonpath)
    try:
        out = work / "x.json"
        argv = [servers.PYTHON, str(BENCH / "xhost.py"), "--port", str(x_port)]
        argv += ["--users", "1000", "--e2e", "echo", "--bot-port", str(server.port)]
        argv += ["--rate", str(rate), "--conversations", "1000", "--duration", str(seconds)]
        argv += ["--x-latency", "0", "--echoes", "--grace", "15", "--out", str(out)]
        before = cpu_seconds(server.started.pid)
        x = procs.start("x", argv, cpu=LOAD_CPU)
        try:
            x.proc.wait(seconds + 90)
        finally:
            procs.stop(x)
        used = cpu_seconds(server.started.pid) - before
        if not out.exists():
            raise RuntimeError(f"the X host wrote no result; its last lines:\n{x.tail()}")
        row = json.loads(out.read_text())
        if row["replies"] != row["sent"]:
            # A run whose replies went missing (refused, lost) would price less work.
            raise RuntimeError(
                f"{row['replies']} replies for {row['sent']} DMs sent, so the CPU figure "
                f"would be wrong; {server.name}'s last lines:\n{server.started.tail()}"
            )
    finally:
        procs.stop(server.started)
    sent = row["sent"] or 1
    return used / sent * 1000, float(row.get("e2e_p99_ms", 0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--against", action="append", default=[], help="another checkout's root (repeatable)"
    )
    parser.add_argument("--skip-this", action="store_true", help="run only the --against checkouts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--floor", action="store_true", help="also run the floor (bench/floor_app.py) each round"
    )
    args = parser.parse_args()
    sides = [] if args.skip_this else [("this tree", "", False)]
    sides += [(tree, tree, False) for tree in args.against]
    if args.floor:
        sides.append(("floor (no store, no engine)", "", True))
    for _ in range(args.rounds):
        for name, pythonpath, floor in sides:
            with tempfile.TemporaryDirectory(prefix="dmbot-e2e-cpu-") as scratch:
                cpu, p99 = one_run(Path(scratch), pythonpath, args.rate, args.seconds, floor)
            print(f"{name}: {cpu:.2f} ms of CPU per event, reply p99 {p99:.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
