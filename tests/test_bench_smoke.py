"""The bench harness still runs: ``python bench/run.py --smoke`` end to end.

It starts real processes (dmbot serve, the X emulator host, wrk when
installed) on loopback for about a second each, so it keeps bench/ from
rotting. It asserts that every part produced its rows and that the bots
answered; it asserts no timing, since the machine may be busy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_runs_every_part(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    tables = (out / "results.md").read_text()

    assert results["machine"]["cores"] >= 1
    if shutil.which("wrk"):
        servers = [row["server"] for row in results["ingestion"]["rows"]]
        assert servers[0].startswith("baseline") and servers[1].startswith("dmbot")
        rows = results["ingestion"]["rows"]
        assert all(row["requests"] > 0 and row["errors"] == 0 for row in rows)
    else:
        assert "wrk not installed" in results["ingestion"]["skipped"]

    # The acknowledgement path alone answered every signed delivery with 200.
    apps = results["webhook"]["rows"]
    assert len(apps) == 3 and all(app["non_200"] == 0 for app in apps)

    flows = {row["flow"]: row for row in results["e2e"]["rows"]}
    assert set(flows) == {"echo", "pizza"}
    for row in flows.values():
        # Every delivery was acknowledged and answered with the reply its bot gives.
        assert row["statuses"] == {"200": row["sent"]}
        assert row["replies"] == row["sent"] > 0
        assert row["unexpected"] == 0 and row["unmatched"] == 0

    correctness = results["correctness"]
    assert correctness["claims"][0]["rows"] == 2000
    assert correctness["claims"][0]["bytes_per_row"] > 0
    assert correctness["docs_pizza"]["samples"] > 0
    assert "### 2. End to end" in tables and "### 3. Cost of correctness" in tables


def test_e2e_cpu_runs_dmbot_and_the_floor_side_by_side() -> None:
    # bench/e2e_cpu.py is how a change's CPU per event is measured; the floor is the
    # same load against bench/floor_app.py (the I/O alone), which must answer too.
    argv = [sys.executable, str(ROOT / "bench" / "e2e_cpu.py"), "--floor", "--rounds", "1"]
    done = subprocess.run(
        [*argv, "--seconds", "1", "--rate", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["this tree", "floor (no store, no engine)"]
    assert all("ms of CPU per event" in line for line in lines)
