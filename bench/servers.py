"""The servers under test, the X host, and the wrk load generator.

Each ``start_*`` returns a :class:`~procs.Started` process pinned to its core;
the caller stops it through :class:`~procs.Processes`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payloads import BOT_TOKEN, BOT_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET
from procs import LOAD_CPU, SERVER_CPU, Processes, Started, cpu_seconds, free_port, wait_port

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
WEBHOOK_PATH = "/webhooks/twitter"
WRK_INSTALL = "apt-get install -y wrk"


def wrk_path() -> str | None:
    """The wrk binary, or None (install it with ``apt-get install -y wrk``)."""
    return shutil.which("wrk")


def flask_available() -> bool:
    """True when flask and gunicorn are importable by this interpreter."""
    return all(importlib.util.find_spec(name) is not None for name in ("flask", "gunicorn"))


# -- servers -----------------------------------------------------------------------------


@dataclass
class Server:
    """A started server and where to POST deliveries to it."""

    name: str
    started: Started
    port: int
    db: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"


def start_baseline(procs: Processes) -> Server:
    """Bare Starlette on uvicorn (uvloop, httptools, no access log)."""
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(BENCH)]
    argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    argv += ["--log-level", "warning", "--host", "127.0.0.1", "--port", str(port)]
    started = procs.start(
        "baseline", argv, cpu=SERVER_CPU, env={"BENCH_CONSUMER_SECRET": CONSUMER_SECRET}
    )
    wait_port(port, 20, started.proc)
    return Server("baseline", started, port)


def start_floor(procs: Processes, *, x_port: int, pythonpath: str = "") -> Server:
    """The floor of an echo bot (``floor_app.py``) on dmbot's server stack, pinned."""
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "floor_app:app", "--app-dir", str(BENCH)]
    argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    argv += ["--log-level", "warning", "--host", "127.0.0.1", "--port", str(port)]
    env = {
        "BENCH_CONSUMER_SECRET": CONSUMER_SECRET,
        "BENCH_X_URL": f"http://127.0.0.1:{x_port}",
        "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p),
    }
    started = procs.start("floor", argv, cpu=SERVER_CPU, env=env)
    wait_port(port, 20, started.proc)
    return Server("floor", started, port)


def start_flask(procs: Processes) -> Server:
    """The X-sample style Flask app under ``gunicorn`` as the samples start it (1 sync worker)."""
    port = free_port()
    argv = [PYTHON, "-m", "gunicorn", "--chdir", str(BENCH), "flask_app:app"]
    argv += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    started = procs.start(
        "flask", argv, cpu=SERVER_CPU, env={"BENCH_CONSUMER_SECRET": CONSUMER_SECRET}
    )
    wait_port(port, 20, started.proc)
    return Server("flask", started, port)


def write_config(
    directory: Path,
    *,
    port: int,
    x_port: int,
    bot: str | None,
    with_token: bool = True,
    engine: dict[str, str] | None = None,
    log_level: str = "info",
) -> Path:
    """A config.yaml for ``dmbot serve`` in ``directory`` (SQLite store beside it)."""
    lines = [
        "twitter:",
        f"  consumer_key: {CONSUMER_KEY}",
        f"  consumer_secret: {CONSUMER_SECRET}",
    ]
    if with_token:
        lines += [f"  access_token: {BOT_TOKEN}", f"  access_token_secret: {BOT_TOKEN_SECRET}"]
    lines += [
        f"  api_url: http://127.0.0.1:{x_port}",
        "  app_id: '13090192'",
        "webhook:",
        f"  url: https://bot.example.com{WEBHOOK_PATH}",
        "server:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f"store: sqlite:///{directory / 'dmbot.db'}",
        "logging:",
        f"  level: {log_level}",
    ]
    if bot:
        lines.append(f"bot: {ROOT / 'bots' / bot}")
    if engine:
        lines.append("engine:")
        lines += [f"  {key}: {value}" for key, value in engine.items()]
    path = directory / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_x(
    procs: Processes, *, users: int, name: str = "x", extra: list[str] | None = None
) -> tuple[Started, int]:
    """The X emulator host (bench/xhost.py) serving on a free port, on the load core."""
    port = free_port()
    argv = [PYTHON, str(BENCH / "xhost.py"), "--port", str(port), "--users", str(users)]
    started = procs.start(name, argv + (extra or []), cpu=LOAD_CPU)
    wait_port(port, 30, started.proc)
    return started, port


def start_dmbot(
    procs: Processes,
    directory: Path,
    *,
    x_port: int,
    bot: str | None = "echo.py",
    with_token: bool = True,
    engine: dict[str, str] | None = None,
    log_level: str = "info",
    pythonpath: str = "",
    name: str = "dmbot",
) -> Server:
    """``dmbot serve`` with a temp config, an SQLite store in ``directory``, pinned."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(
        directory,
        port=port,
        x_port=x_port,
        bot=bot,
        with_token=with_token,
        engine=engine,
        log_level=log_level,
    )
    env = {"PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p)}
    argv = [PYTHON, "-m", "dmbot.cli", "serve", "--config", str(config)]
    started = procs.start(name, argv, cpu=SERVER_CPU, env=env, cwd=directory)
    wait_port(port, 30, started.proc)
    wait_healthy(port, 30)
    return Server(name, started, port, directory / "dmbot.db")


def wait_healthy(port: int, timeout: float) -> None:
    """Wait for ``GET /healthz`` to answer 200: the lifespan ran, the store is open.

    ``dmbot serve`` binds its socket before the app starts, so an open port
    alone would let the measurement begin during start-up.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"dmbot on port {port} was not healthy within {timeout:g} s")


# -- the store, seen from outside --------------------------------------------------------


def db_counts(db: Path) -> dict[str, int]:
    """Inbox backlog, claims, and outbox rows by state, read without disturbing the writer."""
    counts = {"inbox": 0, "claims": 0, "pending": 0, "sent": 0, "failed": 0, "delivered": 0}
    if not db.exists():
        return counts
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        counts["inbox"] = conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
        counts["claims"] = conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
        names = {0: "pending", 1: "sent", 2: "failed", 3: "delivered"}
        for status, count in conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"):
            counts[names.get(status, str(status))] = count
    return counts


def wait_drained(db: Path, timeout: float) -> tuple[bool, float]:
    """Wait until the inbox is empty and no reply is pending; (drained, seconds waited)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        counts = db_counts(db)
        if counts["inbox"] == 0 and counts["pending"] == 0:
            return True, time.monotonic() - start
        time.sleep(0.25)
    return False, time.monotonic() - start


# -- wrk ------------------------------------------------------------------------------


def run_wrk(
    procs: Processes,
    url: str,
    bodies: Path,
    *,
    connections: int,
    duration: int,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """One wrk run (1 thread, pinned to the load core); its counts, rate and latencies."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(f"wrk is not installed ({WRK_INSTALL})")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    argv += ["-s", str(BENCH / "wrk_bodies.lua"), url]
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    started = procs.start("wrk", argv, cpu=LOAD_CPU, env={"DMBOT_BENCH_BODIES": str(bodies)})
    try:
        started.proc.wait(duration + 60)
    except subprocess.TimeoutExpired:
        procs.stop(started)
        raise RuntimeError(f"wrk did not finish within {duration + 60} s") from None
    procs.stop(started)
    output = started.log.read_text(errors="replace")
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["connections"] = connections
    errors = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    result["errors"] = sum(result[key] for key in errors)
    if server_pid:
        used = cpu_seconds(server_pid) - cpu_before
        # Share of a core the server got while wrk's clock ran (its start-up is idle time).
        result["server_cpu"] = min(used / seconds, 1.0) if seconds else 0.0
        # CPU per delivery is what other load on a shared machine disturbs least.
        count = result["requests"]
        result["cpu_us_per_request"] = used / count * 1e6 if count else 0.0
    return result
