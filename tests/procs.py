"""Real processes for end-to-end tests: `dmbot serve`, `dmbot emulator`, over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from dmbot.edge import signature

CONSUMER_KEY = "e2e-consumer-key"
CONSUMER_SECRET = "e2e-consumer-secret"
BOT_ID = "1000000000001"
TOKEN = f"{BOT_ID}-e2e-access-token"
TOKEN_SECRET = "e2e-access-token-secret"
APP_ID = "13090192"
PATH = "/webhooks/twitter"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    folder: Path,
    *,
    api_url: str,
    bot: str | None = None,
    store: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    config: dict[str, Any] = {
        "twitter": {
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "access_token": TOKEN,
            "access_token_secret": TOKEN_SECRET,
            "api_url": api_url,
        },
        "webhook": {"url": f"https://bot.example.com{PATH}"},
        "store": store or f"sqlite:///{folder / 'dmbot.db'}",
        "sender": {"backoff_base": "50ms", "backoff_max": "200ms"},
    }
    if bot:
        config["bot"] = bot
    for key, value in (extra or {}).items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until(check: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` every 20 ms until it returns something truthy (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(0.02)


class Process:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "dmbot.cli", *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill9(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._out.close()
        return self.popen.returncode


def wait_http(url: str, process: Process, timeout: float = 20.0) -> None:
    def up() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.output()}")
        try:
            return httpx.get(url, timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=timeout, what=url)


def open_to_replies(emulator_url: str) -> None:
    """alice and bob accept message requests from everyone.

    The tests post their DMs straight to dmbot, not through the emulator, which
    never sees them write first: without this, X (and the emulator) would refuse
    the bot's answers with 403, code 349.
    """
    for person in ("alice", "bob"):
        settings = {"user": person, "accepts_requests": True}
        answer = httpx.post(f"{emulator_url}/_emulator/dm_settings", json=settings, timeout=5)
        answer.raise_for_status()


@contextmanager
def emulator(folder: Path) -> Iterator[str]:
    """`dmbot emulator` on a free port; yields its base URL."""
    port = free_port()
    config = write_config(folder, api_url="http://unused")
    proc = Process(["emulator", "--config", str(config), "--port", str(port)], folder / "emu.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_emulator/state", proc)
        open_to_replies(url)
        yield url
    finally:
        proc.stop()


@contextmanager
def serve(config: Path, folder: Path, *, name: str = "serve") -> Iterator[tuple[str, Process]]:
    """`dmbot serve` on a free port; yields (webhook URL, process)."""
    port = free_port()
    proc = Process(["serve", "--config", str(config), "--port", str(port)], folder / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc)
        yield f"{url}{PATH}", proc
    finally:
        proc.stop()


def post(url: str, payload: dict[str, Any] | bytes, *, secret: str = CONSUMER_SECRET) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {signature.HEADER: signature.sign(secret, body), "content-type": "application/json"}
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def bot_messages(emulator_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{emulator_url}/_emulator/messages", timeout=5)
    messages = response.json()
    items = messages["messages"] if isinstance(messages, dict) else messages
    return [m for m in items if m["sender_id"] == BOT_ID]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("message_data", m).get("text", m.get("text", ""))) for m in messages]
