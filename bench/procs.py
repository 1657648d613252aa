"""Processes of a bench run: start pinned, wait for their port, stop by PID.

Every process the bench starts goes through :class:`Processes`, whose
``stop_all`` (called from a ``finally``) stops each one by its PID: SIGTERM,
then SIGKILL after a grace period. Nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER_CPU = "0"
"""The core the server under test runs on (uvicorn, gunicorn, dmbot serve)."""
LOAD_CPU = "1"
"""The core of the load side: wrk, the X emulator, py-spy."""


def cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run under ``taskset -c cpu`` (taskset execs, so the PID is the program's)."""
    if cores() < 2 or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", cpu, *argv]


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``.

    Raises:
        RuntimeError: the process exited first, or ``timeout`` passed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:g} s")


@dataclass
class Started:
    """A process the bench started, with where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 20) -> str:
        """The last lines of its output, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """The processes of one bench run; ``stop_all`` in a ``finally`` ends them by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Started] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cpu: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Started:
        """Start ``argv`` (pinned to ``cpu``), output to ``<workdir>/<name>.log``."""
        log = self.workdir / f"{name}.log"
        command = pinned(cpu, argv) if cpu is not None else list(argv)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
            )
        started = Started(name, proc, log)
        self.started.append(started)
        return started

    def stop(self, started: Started, grace: float = 8.0) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; by PID only."""
        proc = started.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if started in self.started:
            self.started.remove(started)

    def stop_all(self) -> None:
        """Stop every process still running, newest first."""
        for started in reversed(list(self.started)):
            self.stop(started)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of ``pid`` in KiB, from /proc (0, 0 when unreadable)."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:  # noqa: PTH123
        for line in status:
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def _stat(pid: int | str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` and its children (gunicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields and (entry.name == str(pid) or fields[1] == str(pid)):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
