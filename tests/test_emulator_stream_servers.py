"""The activity stream over the servers people run: ``dmbot emulator`` and ``dmbot dev``.

Both are real processes on loopback. A stream is a response that never ends,
and uvicorn waits for open responses before it stops (then cancels them after
its graceful timeout, and says so): each server must end its streams first,
so Ctrl+C stops it at once and the client sees the stream end cleanly.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from procs import CONSUMER_KEY, CONSUMER_SECRET, Process, free_port, wait_http, write_config

from dmbot.dev.server import DEV_CONSUMER_KEY, DEV_CONSUMER_SECRET

GIVEN_UP = "timeout graceful shutdown exceeded"
"""What uvicorn logs when it had to cancel a response that did not end."""


@contextmanager
def streaming(base: str, key: str, secret: str) -> Iterator[Iterator[bytes]]:
    """An open stream (its first keep-alive already read); yields the rest of its bytes."""
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post(
            "/oauth2/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with http.stream("GET", "/2/activity/stream", headers=headers) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            assert next(chunks) == b"\r\n"
            yield chunks


def test_dmbot_emulator_stops_at_once_with_a_stream_open(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, api_url="http://unused")
    proc = Process(["emulator", "--config", str(config), "--port", str(port)], tmp_path / "e.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/_emulator/state", proc)
        with streaming(base, CONSUMER_KEY, CONSUMER_SECRET) as rest:
            proc.popen.send_signal(signal.SIGTERM)
            assert b"".join(rest).strip() == b""  # ended cleanly: no broken chunk
        assert proc.popen.wait(10) == 0
    finally:
        proc.stop()
    output = proc.output()
    assert GIVEN_UP not in output and "Traceback" not in output


@contextmanager
def dev_process(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``dmbot dev`` (the pizza demo, no config) in ``folder``, until it shows its banner."""
    log = folder / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dmbot.cli", "dev", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", _Watched(proc, log))
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


class _Watched:
    """What ``wait_http`` needs of a process: its ``popen`` and its output."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.popen = popen
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def test_dmbot_dev_stops_at_once_with_a_stream_open(tmp_path: Path) -> None:
    port = free_port()
    with dev_process(tmp_path, port) as proc:
        base = f"http://127.0.0.1:{port}"
        with streaming(base, DEV_CONSUMER_KEY, DEV_CONSUMER_SECRET) as rest:
            proc.send_signal(signal.SIGINT)  # Ctrl+C
            assert b"".join(rest).strip() == b""
        assert proc.wait(10) == 0
    output = (tmp_path / "dev.log").read_text()
    assert GIVEN_UP not in output and "Traceback" not in output
