"""`dmbot emulator` as a person starts it: a real process on a port."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from procs import Process, emulator, write_config


def test_the_emulator_serves_its_chat_page_and_lists_its_controls(tmp_path: Path) -> None:
    with emulator(tmp_path) as url:
        page = httpx.get(f"{url}/", timeout=5)
        assert page.status_code == 200 and "<title>dmbot dev</title>" in page.text
        controls = httpx.get(f"{url}/_emulator/", timeout=5).text
        assert f"curl -s -X POST '{url}/_emulator/send'" in controls
        update = httpx.get(f"{url}/_chat/updates", timeout=5).json()
        assert update["account"]["screen_name"] == "bot"
        assert [p["screen_name"] for p in update["people"]] == ["alice", "bob"]
    banner = (tmp_path / "emu.log").read_text()
    assert f"chat page  {url}/" in banner and f"controls   {url}/_emulator/" in banner


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, api_url="http://unused")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = Process(
            ["emulator", "--config", str(config), "--port", str(port)], tmp_path / "emu.log"
        )
        assert proc.popen.wait(20) == 1
        proc.stop()
    output = proc.output().strip()
    assert output.splitlines()[-1] == (
        f"dmbot: error: port {port} on 127.0.0.1 is already in use (another dmbot?); "
        "stop that process or pick another port with --port"
    )
    assert "Traceback" not in output
