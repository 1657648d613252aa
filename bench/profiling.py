"""Where ``dmbot serve`` spends its CPU under load: py-spy samples, sorted into stages.

py-spy (``pip install py-spy``) samples the running server from outside,
without changing it, and writes "collapsed" stacks: one line per distinct
stack, ``frame;frame;...;frame count``. Each sample is put in the stage of
the pipeline it belongs to (DESIGN.md §1) by the dmbot frames on its stack,
and per-thread CPU time comes from ``/proc``, which py-spy's idle detection
cannot get wrong.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from procs import LOAD_CPU, Processes

PY_SPY_INSTALL = "pip install py-spy"

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sender: X client (httpx, OAuth 1.0a)", ("Sender.", "XClient.")),
    ("worker: parse, classify, route, handler, commit", ("Worker.",)),
    (
        "webhook: HTTP, Starlette, verify, parse, append",
        ("HttpToolsProtocol", "RequestResponseCycle", "_Deliveries."),
    ),
    ("store: group commits on the loop, completing futures", ("LoopCommitter._flush",)),
    ("SQLite checkpoint thread: WAL back into the database", ("LoopCommitter._checkpoint_loop",)),
    ("SQLite writer thread (synchronous: full)", ("ThreadCommitter._run",)),
)
"""(stage, frame prefixes): a sample belongs to the first stage one of its frames names."""

ASPECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (one line per delivery and per send)", ("logging/__init__.py",)),
    ("httpcore retrying `import sniffio` on every lock", ("current_async_library (httpcore",)),
    ("httpcore pool: has_expired/is_idle checks", ("has_expired", "is_idle (httpcore")),
    ("OAuth 1.0a signing (authlib)", ("OAuth1.auth_flow",)),
    ("json (loads/dumps)", ("json/",)),
    ("HMAC-SHA256 signature check", ("verify (dmbot/signature.py",)),
    ("SQLite statements and commits", ("Committer.run_round",)),
)
"""Cross-cutting costs, counted wherever they occur on a stack."""


def py_spy() -> str | None:
    """The py-spy binary (on PATH or beside this Python), or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(procs: Processes, pid: int, seconds: int, out: Path) -> Path:
    """Sample ``pid`` for ``seconds`` (all threads, 100 Hz).

    py-spy pauses the process for each sample (a few microseconds): its
    ``--nonblocking`` mode avoids that but then tears stacks apart.
    """
    binary = py_spy()
    if binary is None:
        raise RuntimeError(f"py-spy is not installed ({PY_SPY_INSTALL})")
    argv = [binary, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100"]
    argv += ["--threads", "--format", "raw", "--output", str(out)]
    started = procs.start("py-spy", argv, cpu=LOAD_CPU)
    with contextlib.suppress(subprocess.TimeoutExpired):
        started.proc.wait(seconds + 30)
    procs.stop(started)
    if not out.exists():
        raise RuntimeError(f"py-spy wrote no profile: {started.tail()}")
    return out


OTHER_THREADS = "other threads (SQLite checkpoints)"


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by ``pid``'s event-loop thread and by its other threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    result = {"event loop thread": 0.0, OTHER_THREADS: 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "event loop thread" if task.name == str(pid) else OTHER_THREADS
        result[name] += (int(fields[11]) + int(fields[12])) / ticks
    return result


def _is_idle(frames: list[str]) -> bool:
    leaf = frames[-1]
    # Threads waiting for their next turn, and uvloop waiting in epoll, are not work.
    waiting = ("ThreadCommitter._run ", "Runner.run ", "Condition.wait ", "Event.wait ")
    return leaf.startswith(waiting) and not any("_flush" in f for f in frames)


def analyse(path: Path, top: int = 15) -> dict[str, Any]:
    """Stage shares, cross-cutting costs and the hottest functions of one profile."""
    stages: collections.Counter[str] = collections.Counter()
    aspects: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("thread (")]
        if not frames:
            continue
        if _is_idle(frames):
            idle += count
            continue
        busy += count
        stage = next(
            (name for name, marks in STAGES if any(m in f for f in frames for m in marks)),
            "event loop and everything else",
        )
        stages[stage] += count
        for name, marks in ASPECTS:
            if any(m in f for f in frames for m in marks):
                aspects[name] += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: collections.Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, count / busy) for name, count in counter.most_common(n)] if busy else []

    return {
        "samples_busy": busy,
        "samples_idle": idle,
        "stages": share(stages, len(STAGES) + 1),
        "aspects": share(aspects, len(ASPECTS)),
        "self": share(self_time, top),
        "inclusive": [
            (name, value)
            for name, value in share(inclusive, top * 4)
            if "dmbot/" in name or "httpx/" in name or "httpcore/" in name or "logging/" in name
        ][:top],
    }
