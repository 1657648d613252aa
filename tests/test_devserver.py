"""`dmbot dev`: one app for the chat page, the bot's webhook and the emulated X."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from procs import free_port, wait_until

from dmbot import demo
from dmbot.config.settings import load_settings
from dmbot.dev.server import DEV_CONSUMER_SECRET, build_sandbox, dev_app, dev_store, resolve_bot
from dmbot.emulator.delivery import sign
from dmbot.engine.script import load_bot

REPO = Path(__file__).resolve().parents[1]
PIZZA = REPO / "bots" / "pizza.py"
CONFIG = REPO / "config.yaml"
ALICE = "2000000000001"


@asynccontextmanager
async def dev_client(bot: Path = PIZZA) -> AsyncIterator[httpx.AsyncClient]:
    """The dev app in-process, its lifespan run, and an HTTP client to it."""
    sandbox = build_sandbox(load_bot(str(bot)), url="http://127.0.0.1:8000/webhooks/twitter")
    app = dev_app(sandbox)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as client,
    ):
        yield client


async def test_the_page_and_its_files_are_served_at_the_root() -> None:
    async with dev_client() as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "/_chat/static/chat.js" in page.text and "/_chat/static/chat.css" in page.text
        for name in ("chat.js", "chat.css"):
            assert (await client.get(f"/_chat/static/{name}")).status_code == 200
        # Nothing from the internet: no absolute URLs in the page.
        assert "http://" not in page.text and "https://" not in page.text


async def test_the_webhook_answers_crc_with_the_dev_secret() -> None:
    async with dev_client() as client:
        answer = await client.get("/webhooks/twitter", params={"crc_token": "Y3JjLXRva2Vu"})
        assert answer.json() == {"response_token": sign(DEV_CONSUMER_SECRET, b"Y3JjLXRva2Vu")}
        unsigned = await client.post("/webhooks/twitter", content=b"{}")
        assert unsigned.status_code == 401
        assert (await client.get("/healthz")).status_code == 200


async def test_a_dm_sent_as_alice_gets_the_pizza_bots_answer() -> None:
    async with dev_client() as client:
        state = (await client.get("/_emulator/state")).json()
        assert [u["screen_name"] for u in state["users"]] == ["alice", "bob"]
        [account] = state["accounts"]
        assert state["subscriptions"] == [
            {"webhook_id": state["webhooks"][0]["id"], "user_id": account["id"]}
        ]
        assert state["webhooks"][0]["url"] == "http://127.0.0.1:8000/webhooks/twitter"
        sent = await client.post(
            "/_emulator/send", json={"from": "alice", "to": account["id"], "text": "pizza"}
        )
        assert sent.status_code == 201
        answer = await client.get(
            "/_emulator/messages", params={"wait": 1, "sender": account["id"]}
        )
        [reply] = answer.json()["messages"]
        assert reply["message_data"]["text"] == "What size would you like?"
        assert [o["label"] for o in reply["message_data"]["quick_reply"]["options"]] == [
            "Small",
            "Medium",
            "Large",
        ]


async def test_the_page_is_told_what_out_of_order_holds_back_and_when_it_is_released() -> None:
    async with dev_client() as client:
        first = (await client.get("/_chat/updates")).json()
        assert first["held"] == []
        await client.post("/_emulator/realism", json={"out_of_order": True, "hold": 600})
        sent = await client.post(
            "/_emulator/send", json={"from": "alice", "to": "pizzabot", "text": "pizza"}
        )
        # The long poll answers at once: something is held, which the page shows.
        update = (
            await client.get("/_chat/updates", params={"cursor": first["cursor"], "timeout": 5})
        ).json()
        [held] = update["held"]
        assert held["event_id"] == sent.json()["id"] and held["release_in"] > 500
        await client.post("/_emulator/realism", json={"out_of_order": False})
        assert (await client.get("/_chat/updates")).json()["held"] == []
        answer = await client.get(
            "/_emulator/messages", params={"wait": 1, "sender": "pizzabot", "timeout": 5}
        )
        assert answer.json()["messages"][0]["message_data"]["text"] == "What size would you like?"


async def test_the_emulated_x_api_is_served_on_the_same_port() -> None:
    async with dev_client() as client:
        unsigned = await client.get("/1.1/account/verify_credentials.json")
        assert unsigned.status_code in (400, 401)
        assert "errors" in unsigned.json()


async def test_the_bot_account_is_named_after_the_bot() -> None:
    async with dev_client(REPO / "bots" / "echo.py") as client:
        [account] = (await client.get("/_emulator/state")).json()["accounts"]
        assert account["screen_name"].endswith("bot")


def test_the_bot_named_on_the_command_line_wins() -> None:
    settings = load_settings(CONFIG)
    assert resolve_bot("bots/echo.py", settings) == ("bots/echo.py", "bots/echo.py")
    assert resolve_bot(None, settings) == (str(PIZZA), f"bots/pizza.py (from {CONFIG})")
    spec, label = resolve_bot(None, None)
    assert spec == str(demo.PIZZA) and label.startswith("the pizza demo (installed with dmbot")


def test_the_demo_is_the_repositorys_pizza_bot() -> None:
    # bots/ links to the installed demo, so the sample and `dmbot dev` never drift apart.
    assert PIZZA.resolve() == demo.PIZZA
    assert (REPO / "bots" / "pizza.yaml").resolve() == demo.PIZZA.with_name("pizza.yaml")


def test_the_dev_store_is_a_fresh_file_under_dot_dmbot(tmp_path: Path) -> None:
    (tmp_path / ".dmbot").mkdir()
    (tmp_path / ".dmbot" / "dev.db").write_text("last run")
    (tmp_path / ".dmbot" / "dev.db-wal").write_text("last run")
    url, label = dev_store(tmp_path)
    assert url == f"sqlite:///{(tmp_path / '.dmbot' / 'dev.db').resolve()}"
    assert label == "sqlite:///.dmbot/dev.db"
    assert list((tmp_path / ".dmbot").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_sends_the_store_to_a_temp_dir(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        url, label = dev_store(tmp_path)
    finally:
        tmp_path.chmod(0o700)
    assert str(tmp_path) not in url and label.startswith("sqlite:///") and "dmbot-dev-" in url


# -- the command, as a real process ---------------------------------------------------------


@contextmanager
def dev_process(
    folder: Path, *args: str, config: Path | None = CONFIG
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = folder / "dev.log"
    options = ["--config", str(config)] if config is not None else []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dmbot.cli", *options, "dev", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            yield proc, log
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def test_dmbot_dev_prints_the_banner_and_serves_the_page(tmp_path: Path) -> None:
    port = free_port()
    with dev_process(tmp_path, "--port", str(port)) as (proc, log):

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"dmbot dev exited early:\n{log.read_text()}")
            return "Press Ctrl+C to stop." in log.read_text()

        wait_until(ready, timeout=20, what="the banner")
        output = log.read_text()
        assert f"chat with your bot on http://127.0.0.1:{port}/" in output
        assert "CRC passed, @pizzabot subscribed" in output
        assert "sqlite:///.dmbot/dev.db" in output
        assert "@alice, @bob" in output
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "dmbot dev" in page.text
        assert (tmp_path / ".dmbot" / "dev.db").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0  # Ctrl+C: a clean shutdown
    assert "Traceback" not in log.read_text()


def test_dmbot_dev_with_nothing_configured_runs_the_pizza_demo_anywhere(tmp_path: Path) -> None:
    port = free_port()
    with dev_process(tmp_path, "--port", str(port), config=None) as (proc, log):

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"dmbot dev exited early:\n{log.read_text()}")
            return "Press Ctrl+C to stop." in log.read_text()

        wait_until(ready, timeout=20, what="the banner")
        assert "the pizza demo (installed with dmbot" in log.read_text()
        base = f"http://127.0.0.1:{port}/_emulator"
        sent = httpx.post(f"{base}/send", json={"from": "alice", "to": "pizzabot", "text": "pizza"})
        assert sent.status_code == 201, sent.text
        bot_id = httpx.get(f"{base}/state").json()["accounts"][0]["id"]
        found = httpx.get(
            f"{base}/messages", params={"wait": 1, "sender": bot_id, "timeout": 10}, timeout=15
        ).json()["messages"]
        assert [m["message_data"]["text"] for m in found] == ["What size would you like?"]
        # The state file goes to .dmbot/ in the folder dmbot dev runs in, as the banner says.
        assert (tmp_path / ".dmbot" / "dev.db").exists()
        assert "sqlite:///.dmbot/dev.db" in log.read_text()


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with dev_process(tmp_path, "--port", str(port)) as (proc, log):
            assert proc.wait(20) == 1
    output = log.read_text().strip()
    assert output.splitlines()[-1] == (
        f"dmbot: error: port {port} on 127.0.0.1 is already in use (another dmbot?); "
        "stop that process or pick another port with --port"
    )
    assert "Traceback" not in output


def test_a_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    with dev_process(tmp_path, "--port", "70000") as (proc, log):
        assert proc.wait(20) == 1
    assert "--port must be an integer from 1 to 65535" in log.read_text()


def test_a_missing_bot_script_is_one_line(tmp_path: Path) -> None:
    with dev_process(tmp_path, "nope.py", "--port", str(free_port())) as (proc, log):
        assert proc.wait(20) == 1
    output = log.read_text().strip()
    assert output.startswith("dmbot: error: bot script ") and "nope.py does not exist" in output
    assert len(output.splitlines()) == 1
