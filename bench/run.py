#!/usr/bin/env python
"""dmbot's benchmarks: one command, loopback only, bounded in time.

    python bench/run.py            # the published numbers (about 6 minutes)
    python bench/run.py --quick    # shorter runs, same tables (about 2 minutes)
    python bench/run.py --smoke    # seconds; what tests/test_bench_smoke.py runs

Needs wrk (``apt-get install -y wrk``) for the ingestion, correctness and
growth runs, py-spy (``pip install py-spy``) for the profile, flask and
gunicorn (``pip install flask gunicorn``) for the X-sample row; each part
that lacks its tool is skipped with a message saying so. On a machine with
two or more cores the server under test runs on core 0 and the load side
(wrk, the X emulator, py-spy) on core 1, via ``taskset -c``.

Writes ``results.json`` and ``results.md`` (the tables of bench/README.md)
to ``--out`` (default: bench/results).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import profiling  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import storage  # noqa: E402
from payloads import DeliveryMaker, mixed_lines, write_lines  # noqa: E402
from procs import LOAD_CPU, SERVER_CPU, Processes, cores, cpu_seconds, free_port, rss_kib  # noqa: E402


@dataclass(frozen=True)
class E2E:
    """One end-to-end run: a bot under a steady load."""

    flow: str
    rate: float
    conversations: int
    seconds: float
    x_latency: float = 0.0
    reorder_window: str | None = None
    """engine.reorder_window for this run (None: dmbot's default, 20ms)."""


@dataclass(frozen=True)
class Mode:
    """How long and how big each part of the run is."""

    name: str
    duration: int
    warmup: int
    connections: tuple[int, ...]
    diagnostics: bool
    flask: bool
    e2e: tuple[E2E, ...]
    claim_counts: tuple[int, ...]
    growth: tuple[int, ...]
    profile: int
    bodies_per_second: int = 24_000  # above what one core acknowledges: no body is sent twice
    mixed_load: bool = True


MODES = {
    "full": Mode(
        "full", 8, 1, (16, 64), True, True,
        (
            E2E("echo", 200, 1000, 10),
            E2E("pizza", 200, 1000, 20),
            E2E("echo", 100, 1000, 10),
            E2E("echo", 50, 1000, 10),
            E2E("echo", 100, 1000, 10, reorder_window="0s"),
            E2E("echo", 100, 1000, 10, x_latency=0.1),
            # X answering sends after 3 s must not slow the acknowledgements (issue 4).
            E2E("echo", 5, 1000, 10, x_latency=3.0),
        ),
        (100_000, 1_000_000), (1_000, 10_000, 100_000), 8,
    ),
    "quick": Mode(
        "quick", 3, 1, (16, 64), False, True,
        (E2E("echo", 200, 1000, 5), E2E("pizza", 200, 1000, 8), E2E("echo", 100, 1000, 5)),
        (100_000,), (1_000, 10_000), 3,
    ),
    "smoke": Mode(
        "smoke", 1, 0, (4,), False, False,
        (E2E("echo", 50, 20, 1), E2E("pizza", 50, 20, 1)),
        (2_000,), (), 0, bodies_per_second=1500, mixed_load=False,
    ),
}  # fmt: skip


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = ["dmbot", "starlette", "uvicorn", "uvloop", "httptools", "httpx", "httpcore"]
    packages += ["anyio", "authlib", "flask", "gunicorn", "py-spy"]
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    wrk = servers.wrk_path()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": cores(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        "wrk": "present" if wrk else "absent",
        "packages": versions,
        "pinning": "server: taskset -c 0; wrk, X emulator, py-spy: taskset -c 1"
        if cores() >= 2
        else "one core: nothing pinned",
    }


class Bench:
    """One run: its mode, its scratch directory, its processes and its results."""

    def __init__(self, mode: Mode, work: Path, serve_pythonpath: str) -> None:
        self.mode = mode
        self.work = work
        self.procs = Processes(work)
        self.serve_pythonpath = serve_pythonpath
        self.maker = DeliveryMaker.create()
        self.results: dict[str, Any] = {"mode": mode.name, "machine": machine()}
        self.docs: dict[str, list[str]] = {}
        self.keep: list[Path] = []
        """Scratch files worth keeping beside the results (the raw profile)."""

    # -- helpers --------------------------------------------------------------------------
    def bodies(self, name: str, conversations: int, **mix: float) -> Path:
        path = self.work / f"{name}.bodies"
        if not path.exists():
            count = max(2000, self.mode.bodies_per_second * self.mode.duration)
            write_lines(path, mixed_lines(count, conversations, maker=self.maker, **mix))
        return path

    def warm_bodies(self) -> Path:
        path = self.work / "warm.bodies"
        if not path.exists():
            write_lines(path, mixed_lines(3000, 1000, maker=self.maker))
        return path

    def load(self, server: servers.Server, bodies: Path, connections: int) -> dict[str, Any]:
        if self.mode.warmup:
            servers.run_wrk(
                self.procs,
                server.url,
                self.warm_bodies(),
                connections=connections,
                duration=self.mode.warmup,
            )
        return servers.run_wrk(
            self.procs,
            server.url,
            bodies,
            connections=connections,
            duration=self.mode.duration,
            server_pid=server.started.pid,
        )

    def dmbot(self, name: str, users: int, **options: Any) -> tuple[servers.Server, Any]:
        x, x_port = servers.start_x(self.procs, users=users, name=f"{name}-x")
        server = servers.start_dmbot(
            self.procs,
            self.work / name,
            x_port=x_port,
            pythonpath=self.serve_pythonpath,
            name=name,
            **options,
        )
        return server, x

    def stop(self, *started: Any) -> None:
        for item in started:
            self.procs.stop(item.started if isinstance(item, servers.Server) else item)

    def dmbot_row(
        self, label: str, name: str, bodies: Path, connections: int, **options: Any
    ) -> dict[str, Any]:
        server, x = self.dmbot(name, 1000, **options)
        try:
            row = self.load(server, bodies, connections)
            assert server.db is not None
            row.update(servers.db_counts(server.db))
            row["rss_kib"], row["rss_peak_kib"] = rss_kib(server.started.pid)
            row["wrapped"] = row["requests"] > sum(1 for _ in bodies.open())
        finally:
            self.stop(server, x)
        row["server"] = label
        return row

    # -- 1b. the webhook alone ------------------------------------------------------------
    def webhook(self) -> None:
        say("webhook alone: ASGI calls in-process, no HTTP server, no worker")
        out = self.work / "webhook.json"
        requests = 1000 if self.mode.name == "smoke" else 8000
        argv = [servers.PYTHON, str(BENCH / "webhook_micro.py"), "--requests", str(requests)]
        started = self.procs.start("webhook", [*argv, "--out", str(out)], cpu=SERVER_CPU)
        started.proc.wait(300)
        self.procs.stop(started)
        if not out.exists():
            raise RuntimeError(f"webhook_micro.py wrote no result: {started.tail()}")
        self.results["webhook"] = json.loads(out.read_text())

    # -- 5b. the X client alone ----------------------------------------------------------
    def xclient(self) -> None:
        if not self.mode.profile:
            return
        say("X client alone: CPU per DM sent, on httpx's transport and on dmbot's")
        out = self.work / "xclient.json"
        argv = [servers.PYTHON, str(BENCH / "xclient_micro.py"), "--sends", "1000"]
        started = self.procs.start("xclient", [*argv, "--out", str(out)])
        started.proc.wait(600)
        self.procs.stop(started)
        if not out.exists():
            raise RuntimeError(f"xclient_micro.py wrote no result: {started.tail()}")
        self.results["xclient"] = json.loads(out.read_text())

    # -- 1. ingestion ----------------------------------------------------------------------
    def ingestion(self) -> None:
        if servers.wrk_path() is None:
            self.results["ingestion"] = {"skipped": f"wrk not installed ({servers.WRK_INSTALL})"}
            say(self.results["ingestion"]["skipped"])
            return
        unique = self.bodies("unique", 1000)
        rows: list[dict[str, Any]] = []
        flask = self.mode.flask and servers.flask_available()
        for connections in self.mode.connections:
            say(f"ingestion at {connections} connections: baseline")
            base = servers.start_baseline(self.procs)
            try:
                baseline = self.load(base, unique, connections)
            finally:
                self.stop(base)
            baseline["server"] = "baseline: bare Starlette (verify, parse, 200)"
            rows.append(baseline)
            say(f"ingestion at {connections} connections: dmbot serve")
            rows.append(self.dmbot_row("dmbot serve (echo bot)", f"dmbot-c{connections}",
                                       unique, connections))  # fmt: skip
            if flask:
                say(f"ingestion at {connections} connections: Flask + gunicorn")
                app = servers.start_flask(self.procs)
                try:
                    row = self.load(app, unique, connections)
                finally:
                    self.stop(app)
                row["server"] = "Flask + gunicorn, as X's samples"
                rows.append(row)
            if self.mode.diagnostics and connections == max(self.mode.connections):
                for label, name, options in (
                    ("diagnostic: dmbot, no bot loaded", "dmbot-nobot", {"bot": None}),
                    ("diagnostic: dmbot, echo bot, no X token", "dmbot-nosend",
                     {"with_token": False}),
                    ("diagnostic: dmbot, echo bot, logging: warning", "dmbot-quiet",
                     {"log_level": "warning"}),
                ):  # fmt: skip
                    say(f"ingestion at {connections} connections: {label}")
                    rows.append(self.dmbot_row(label, name, unique, connections, **options))
            for row in rows:
                if row["connections"] == connections:
                    row["ratio"] = row["rps"] / baseline["rps"] if baseline["rps"] else 0.0
                    # Per CPU-second: what other load on a shared machine disturbs least.
                    cost = row.get("cpu_us_per_request", 0.0)
                    row["ratio_cpu"] = baseline["cpu_us_per_request"] / cost if cost else 0.0
        result: dict[str, Any] = {"rows": rows}
        if not flask and self.mode.flask:
            result["flask_skipped"] = "flask/gunicorn not installed (pip install flask gunicorn)"
            say(result["flask_skipped"])
        self.results["ingestion"] = result

    # -- 2. end to end -------------------------------------------------------------------
    def end_to_end(self) -> None:
        rows = []
        for plan in self.mode.e2e:
            flow, rate, conversations = plan.flow, plan.rate, plan.conversations
            seconds = plan.seconds
            window = plan.reorder_window or "20ms (default)"
            say(
                f"end to end: {flow} bot, {rate:g}/s over {conversations} conversations, "
                f"{seconds:g} s, X latency {plan.x_latency * 1000:g} ms, reorder window {window}"
            )
            name = f"e2e-{len(rows)}-{flow}"
            x_port = free_port()
            engine = {"reorder_window": plan.reorder_window} if plan.reorder_window else None
            server = servers.start_dmbot(
                self.procs,
                self.work / name,
                x_port=x_port,
                bot=f"{flow}.py",
                engine=engine,
                pythonpath=self.serve_pythonpath,
                name=name,
            )
            out = self.work / f"{name}.json"
            argv = [servers.PYTHON, str(BENCH / "xhost.py"), "--port", str(x_port)]
            argv += ["--users", str(conversations), "--e2e", flow, "--bot-port", str(server.port)]
            argv += ["--rate", str(rate), "--conversations", str(conversations)]
            argv += ["--duration", str(seconds), "--x-latency", str(plan.x_latency), "--echoes"]
            argv += ["--grace", "15", "--out", str(out)]
            cpu_before = cpu_seconds(server.started.pid)
            try:
                x = self.procs.start(f"{name}-x", argv, cpu=LOAD_CPU)
                try:
                    x.proc.wait(seconds + 90)
                except Exception:
                    self.stop(x)
                    raise
                if not out.exists():
                    raise RuntimeError(f"the end-to-end load wrote no result: {x.tail()}")
                row = json.loads(out.read_text())
                used = cpu_seconds(server.started.pid) - cpu_before
                row["server_cpu_ms_per_event"] = used / row["sent"] * 1000 if row["sent"] else 0.0
                row["reorder_window"] = window
                row["rss_kib"], row["rss_peak_kib"] = rss_kib(server.started.pid)
                assert server.db is not None
                row.update({f"db_{k}": v for k, v in servers.db_counts(server.db).items()})
                self.docs.setdefault(flow, storage.sample_docs(server.db))
            finally:
                self.stop(server)
            rows.append(row)
        self.results["e2e"] = {"rows": rows}

    # -- 3. cost of correctness ----------------------------------------------------------
    def correctness(self) -> None:
        result: dict[str, Any] = {}
        if not self.mode.mixed_load:
            result["throughput_skipped"] = f"not in {self.mode.name} mode"
        elif servers.wrk_path() is not None:
            connections = max(self.mode.connections)
            say(f"correctness: 30% duplicates and echoes at {connections} connections")
            mixed = self.bodies("mixed", 1000, duplicates=0.15, echoes=0.15)
            result["throughput"] = [
                self.dmbot_row("unique DMs", "dmbot-unique", self.bodies("unique", 1000),
                               connections),
                self.dmbot_row("15% duplicates + 15% echoes", "dmbot-mixed", mixed, connections),
            ]  # fmt: skip
        else:
            result["throughput_skipped"] = f"wrk not installed ({servers.WRK_INSTALL})"
        say("correctness: claim store and conversation state sizes")
        db = self.work / "sizes.db"
        result["claims"] = [storage.claims_size(db, n) for n in self.mode.claim_counts]
        for flow in ("echo", "pizza"):
            docs = self.docs.get(flow, [])
            result[f"state_{flow}"] = [storage.state_size(db, n, docs)
                                       for n in self.mode.claim_counts]  # fmt: skip
            result[f"docs_{flow}"] = storage.doc_summary(docs)
        result["limiter"] = storage.limiter_bytes_per_conversation(
            max(self.mode.claim_counts[0] // 10, 1000)
        )
        self.results["correctness"] = result

    # -- 4. growth -------------------------------------------------------------------------
    def growth(self) -> None:
        if not self.mode.growth:
            return
        if servers.wrk_path() is None:
            self.results["growth"] = {"skipped": f"wrk not installed ({servers.WRK_INSTALL})"}
            return
        connections = max(self.mode.connections)
        rows = []
        for count in self.mode.growth:
            say(f"growth: {count} conversations stored, load at {connections} connections")
            name = f"growth-{count}"
            (self.work / name).mkdir(exist_ok=True)
            storage.prefill_conversations(self.work / name / "dmbot.db", count,
                                          self.docs.get("echo", []))  # fmt: skip
            bodies = self.bodies(name, count)
            server, x = self.dmbot(name, count)
            try:
                time.sleep(1.0)
                idle_rss, _ = rss_kib(server.started.pid)
                row = self.load(server, bodies, connections)
                assert server.db is not None
                row.update(servers.db_counts(server.db))
                row["rss_kib"], row["rss_peak_kib"] = rss_kib(server.started.pid)
                row["rss_idle_kib"] = idle_rss
            finally:
                self.stop(server, x)
            row["conversations"] = count
            row["touched"] = min(count, row["claims"])
            rows.append(row)
        self.results["growth"] = {"rows": rows}

    # -- 5. profile ------------------------------------------------------------------------
    def profile(self) -> None:
        if not self.mode.profile:
            return
        missing = [
            f"{tool} not installed ({hint})"
            for tool, ok, hint in (
                ("wrk", servers.wrk_path(), servers.WRK_INSTALL),
                ("py-spy", profiling.py_spy(), profiling.PY_SPY_INSTALL),
            )
            if not ok
        ]
        if missing:
            self.results["profile"] = {"skipped": "; ".join(missing)}
            say(self.results["profile"]["skipped"])
            return
        connections = max(self.mode.connections)
        say(f"profile: py-spy on dmbot serve at {connections} connections")
        server, x = self.dmbot("profile", 1000)
        out = self.work / "profile-collapsed.txt"
        try:
            load: dict[str, Any] = {}
            seconds = self.mode.profile

            def drive() -> None:
                load.update(
                    servers.run_wrk(self.procs, server.url, self.bodies("unique", 1000),
                                    connections=connections, duration=seconds + 2)
                )  # fmt: skip

            if self.mode.warmup:
                servers.run_wrk(self.procs, server.url, self.warm_bodies(),
                                connections=connections, duration=self.mode.warmup)  # fmt: skip
            thread = threading.Thread(target=drive)
            thread.start()
            time.sleep(1.0)
            before = profiling.thread_cpu(server.started.pid)
            wall = time.monotonic()
            profiling.record(self.procs, server.started.pid, seconds, out)
            wall = time.monotonic() - wall
            after = profiling.thread_cpu(server.started.pid)
            thread.join()
        finally:
            self.stop(server, x)
        result = profiling.analyse(out)
        self.keep.append(out)
        result["threads"] = {name: (after[name] - before.get(name, 0.0)) / wall for name in after}
        result["load_rps"] = load.get("rps", 0.0)
        self.results["profile"] = result

    def run(self, sections: list[str]) -> None:
        steps: dict[str, Callable[[], None]] = {
            "ingestion": self.ingestion,
            "webhook": self.webhook,
            "e2e": self.end_to_end,
            "correctness": self.correctness,
            "growth": self.growth,
            "profile": self.profile,
            "xclient": self.xclient,
        }
        for name in sections:
            steps[name]()


SECTIONS = ["ingestion", "webhook", "e2e", "correctness", "growth", "profile", "xclient"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="shorter runs (about 2 minutes)")
    group.add_argument("--smoke", action="store_true", help="a few seconds; for the test suite")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="result directory")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}"
    )
    parser.add_argument(
        "--serve-pythonpath",
        default="",
        help="prepended to PYTHONPATH of the dmbot serve processes (to measure a proposed fix)",
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dmbot-bench-") as scratch:
        bench = Bench(mode, Path(scratch), args.serve_pythonpath)
        bench.results["command"] = "python bench/run.py" + (
            " --smoke" if args.smoke else " --quick" if args.quick else ""
        )
        try:
            bench.run(sections)
        finally:
            bench.procs.stop_all()
        bench.results["seconds"] = time.monotonic() - started
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(bench.results, indent=2, default=str))
        (args.out / "results.md").write_text(report.render(bench.results))
        for path in bench.keep:
            shutil.copy(path, args.out / path.name)
    say(f"done in {time.monotonic() - started:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
