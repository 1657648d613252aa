"""The Markdown tables of a bench run (what bench/README.md publishes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _machine(m: dict[str, Any], command: str, seconds: float) -> list[str]:
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return [
        f"Run {m['date']}: `{command}` ({seconds:.0f} s). Machine: {m['cores']} cores, "
        f"{m['cpu']}, Python {m['python']}, SQLite {m['sqlite']}, Linux {m['kernel']}. "
        f"Pinning: {m['pinning']}.",
        "",
        f"Packages: {packages}.",
        "",
    ]


def _ingestion(section: dict[str, Any]) -> list[str]:
    lines = ["### 1. Ingestion: signed deliveries acknowledged", ""]
    if "skipped" in section:
        return [*lines, f"Skipped: {section['skipped']}.", ""]
    rows = []
    for r in section["rows"]:
        handled = r.get("claims")
        rows.append(
            [
                r["server"] + (" †" if r.get("wrapped") else ""),
                r["connections"],
                _num(r["rps"]),
                f"{_num(r.get('ratio'), 2)}×",
                _num(r["p50_us"] / 1000, 1),
                _num(r["p99_us"] / 1000, 1),
                r["errors"],
                _num(r.get("server_cpu", 0.0) * 100) + "%",
                _num(r.get("cpu_us_per_request", 0.0)),
                f"{_num(r.get('ratio_cpu'), 2)}×",
                ""
                if handled is None
                else f"{_num(handled)} / {_num(r.get('sent', 0))} / {_num(r.get('inbox', 0))}",
            ]
        )
    header = ["server", "conns", "deliveries/s", "vs baseline", "p50 ms", "p99 ms", "errors",
              "server CPU", "CPU µs/delivery", "vs baseline per CPU-s",
              "handled / replies sent / inbox left"]  # fmt: skip
    lines += _table(header, rows)
    if any(r.get("wrapped") for r in section["rows"]):
        lines += ["† the bodies file ran out: some deliveries were sent twice.", ""]
    if "flask_skipped" in section:
        lines += [f"Flask row skipped: {section['flask_skipped']}.", ""]
    return lines


def _webhook(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = [
        "### 1b. The acknowledgement path alone (in-process ASGI calls, "
        f"{section['concurrency']} in flight, no HTTP server, no worker)",
        "",
    ]
    rows = [
        [r["app"], _num(r["cpu_us_per_delivery"], 1), f"{_num(r['cpu_vs_baseline'], 2)}×",
         _num(r["deliveries_per_s"]), r["non_200"]]
        for r in section["rows"]
    ]  # fmt: skip
    header = ["app", "CPU µs/delivery", "vs baseline", "deliveries/s", "non-200"]
    return lines + _table(header, rows)


def _e2e(section: dict[str, Any]) -> list[str]:
    lines = ["### 2. End to end: signed POST → reply at the X emulator", ""]
    rows = [
        [
            f"{r['flow']} bot",
            f"{_num(r['rate'])} ({_num(r['achieved_rate'])})",
            _num(r["conversations"]),
            _num(r["x_latency_ms"]),
            r.get("reorder_window", ""),
            f"{_num(r['replies'])} / {_num(r['sent'])}",
            _num(r["e2e_p50_ms"], 1),
            _num(r["e2e_p90_ms"], 1),
            _num(r["e2e_p99_ms"], 1),
            _num(r["e2e_max_ms"], 1),
            f"{_num(r['ack_p50_ms'], 1)} / {_num(r['ack_p99_ms'], 1)}",
            _num(r.get("server_cpu_ms_per_event"), 2),
            r["unexpected"] + r["unmatched"],
            sum(n for code, n in r.get("statuses", {}).items() if str(code) != "200"),
        ]
        for r in section["rows"]
    ]
    header = ["bot", "events/s (achieved)", "conversations", "X latency ms", "reorder window",
              "replies / sent",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "ack p50 / p99 ms", "dmbot CPU ms/event",
              "wrong", "POSTs not 200"]  # fmt: skip
    return lines + _table(header, rows)


def _correctness(section: dict[str, Any]) -> list[str]:
    lines = ["### 3. Cost of correctness", ""]
    if "throughput" in section:
        base = section["throughput"][0]["rps"]
        rows = [
            [r["server"], _num(r["rps"]), f"{_num(r['rps'] / base if base else 0, 2)}×",
             _num(r["p99_us"] / 1000, 1), _num(r["claims"]), _num(r["sent"])]
            for r in section["throughput"]
        ]  # fmt: skip
        header = ["deliveries", "acked/s", "vs unique", "p99 ms", "claims written", "replies sent"]
        lines += _table(header, rows)
    elif "throughput_skipped" in section:
        lines += [f"Throughput skipped: {section['throughput_skipped']}.", ""]
    rows = []
    for label, key in (("claims (event ids)", "claims"), ("state, echo bot", "state_echo"),
                       ("state, pizza bot", "state_pizza")):  # fmt: skip
        for r in section.get(key, []):
            rows.append(
                [label, _num(r["rows"]), _num(r["bytes_per_row"], 1), _num(r["payload_per_row"], 1),
                 _num(r["file_growth_per_row"], 1), _num(r["table_bytes"] / 2**20, 1)]
            )  # fmt: skip
    header = ["table", "rows", "bytes/row (pages)", "payload bytes/row", "file growth/row",
              "table MiB"]  # fmt: skip
    lines += _table(header, rows)
    limiter = section.get("limiter")
    if limiter:
        lines += [
            f"Rate limiter memory per conversation answered in the last 24 h: "
            f"{_num(limiter['bytes_per_conversation'])} bytes "
            f"(tracemalloc over {_num(limiter['conversations'])} conversations), and "
            f"{_num(limiter.get('bytes_per_message', 0.0))} bytes more per message received "
            f"in the last 24 h when a conversation goes on "
            f"({limiter.get('messages_per_conversation', 0)} messages, each answered once).",
            "",
        ]
    return lines


def _growth(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = ["### 4. Growth: stored conversations vs ingestion and memory", ""]
    if "skipped" in section:
        return [*lines, f"Skipped: {section['skipped']}.", ""]
    rows = [
        [_num(r["conversations"]), _num(r["touched"]), _num(r["rps"]), _num(r["p99_us"] / 1000, 1),
         _num(r["rss_idle_kib"] / 1024, 1), _num(r["rss_kib"] / 1024, 1),
         _num(r["rss_peak_kib"] / 1024, 1), _num(r["inbox"])]
        for r in section["rows"]
    ]  # fmt: skip
    header = ["stored", "touched in run", "acked/s", "p99 ms", "RSS idle MiB", "RSS after MiB",
              "RSS peak MiB", "inbox left"]  # fmt: skip
    return lines + _table(header, rows)


def _profile(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = ["### 5. Profile of dmbot serve under load", ""]
    if "skipped" in section:
        return [*lines, f"Skipped: {section['skipped']}.", ""]
    threads = ", ".join(f"{name} {share * 100:.0f}%" for name, share in section["threads"].items())
    lines += [f"CPU by thread (% of one core): {threads}. Load: {_num(section['load_rps'])}/s.", ""]
    lines += _table(["stage", "share of busy samples"],
                    [[n, f"{s * 100:.1f}%"] for n, s in section["stages"]])  # fmt: skip
    lines += _table(["cost, wherever it occurs", "share"],
                    [[n, f"{s * 100:.1f}%"] for n, s in section["aspects"]])  # fmt: skip
    lines += _table(["hottest functions (self)", "share"],
                    [[f"`{n}`", f"{s * 100:.1f}%"] for n, s in section["self"][:10]])  # fmt: skip
    return lines


def _xclient(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = [
        f"### 5b. The X client alone: {_num(section['sends'])} DMs, "
        f"{section['concurrency']} at a time, to the emulator",
        "",
    ]
    rows = [
        [r["variant"], _num(r["cpu_ms_per_send"], 2), f"{_num(r['cpu_vs_httpx'], 2)}×",
         _num(r["sends_per_s"])]
        for r in section["rows"]
    ]  # fmt: skip
    return lines + _table(["X client", "CPU ms/send", "vs httpx default", "sends/s"], rows)


def render(results: dict[str, Any]) -> str:
    """All tables of ``results`` as Markdown."""
    lines = _machine(results["machine"], results.get("command", ""), results.get("seconds", 0.0))
    if "ingestion" in results:
        lines += _ingestion(results["ingestion"])
    lines += _webhook(results.get("webhook"))
    if "e2e" in results:
        lines += _e2e(results["e2e"])
    if "correctness" in results:
        lines += _correctness(results["correctness"])
    lines += _growth(results.get("growth"))
    lines += _profile(results.get("profile"))
    lines += _xclient(results.get("xclient"))
    return "\n".join(lines)
