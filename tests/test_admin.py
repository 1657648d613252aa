"""The management commands, run against the emulator and the bot's own webhook app."""

from __future__ import annotations

import argparse
import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dmbot.cli import accounts, doctor
from dmbot.cli.main import build_parser
from dmbot.config.settings import Settings, settings_from_mapping
from dmbot.edge.webhook import create_webhook_app
from dmbot.emulator import Emulator
from dmbot.store.memory import MemoryStore
from dmbot.x.app import clients_from_settings

BOT, BOT_TOKEN = "1000000000001", "1000000000001-abc"
HELPER, HELPER_TOKEN = "1000000000002", "1000000000002-def"
ALICE = "2000000000001"
HOOK_URL = "https://bot.example.com/webhooks/twitter"


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the app serving its host: X (the emulator) or the bot."""

    def __init__(self, hosts: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.hosts = hosts
        self.after: dict[str, Any] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.hosts[request.url.host].handle_async_request(request)
        hook = self.after.pop(request.url.path, None)
        if hook is not None:
            await hook()
        return response


class World:
    def __init__(self, bot_secret: str = "cs") -> None:
        self.store = MemoryStore()
        bot_server = httpx.ASGITransport(
            app=create_webhook_app(consumer_secret=bot_secret, store=self.store)
        )
        self.emu = Emulator(
            consumer_key="ck", consumer_secret="cs", app_id="13090192", webhook_transport=bot_server
        )
        self.emu.add_account(BOT, "pizzabot", token=BOT_TOKEN, token_secret="ts")
        self.emu.add_account(HELPER, "helpdesk", token=HELPER_TOKEN, token_secret="ts2")
        # `dmbot send` writes to her first: she accepts message requests.
        self.emu.add_user(ALICE, "alice", accepts_requests=True)
        self.router = Router(
            {"x.test": httpx.ASGITransport(app=self.emu.app), "bot.example.com": bot_server}
        )

    def run(self, command: str, *argv: str, **settings: Any) -> int:
        args = build_parser().parse_args([*command.split(), *argv])
        result: int = args.func(args, config(**settings), transport=self.router)
        return result


def config(**overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "twitter": {
            "consumer_key": "ck",
            "consumer_secret": "cs",
            "access_token": BOT_TOKEN,
            "access_token_secret": "ts",
            "api_url": "http://x.test",
        },
        "webhook": {"url": HOOK_URL},
        "accounts": [
            {"user_id": HELPER, "access_token": HELPER_TOKEN, "access_token_secret": "ts2"}
        ],
        "store": "memory://",
    }
    for key, value in overrides.items():
        data[key] = data[key] | value if isinstance(value, dict) else value
    return settings_from_mapping(data, env={})


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    asyncio.run(w.emu.aclose())


def test_webhook_lifecycle(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.run("webhooks register") == 0
    (hook,) = world.emu.webhooks
    assert (hook.url, hook.valid) == (HOOK_URL, True)
    assert f"Registered webhook {hook.id} for {HOOK_URL} (valid: yes)" in capsys.readouterr().out

    assert world.run("webhooks list") == 0
    assert f"{hook.id}  {HOOK_URL}  valid: yes" in capsys.readouterr().out
    assert world.run("webhooks crc") == 0
    assert "it passed and the webhook is valid" in capsys.readouterr().out
    assert world.run("webhooks delete", hook.id) == 0
    assert world.emu.webhooks == []
    assert world.run("webhooks list") == 0
    assert "No webhooks registered" in capsys.readouterr().out


def test_register_refuses_a_url_x_would_refuse(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("webhooks register --url http://bot.example.com:8080/webhooks/twitter") == 1
    err = capsys.readouterr().err
    assert "X accepts only https webhook URLs without a port" in err
    assert "--allow-insecure" in err
    assert world.emu.webhooks == []
    url = "http://bot.example.com/webhooks/twitter"
    assert world.run("webhooks register --allow-insecure --url", url) == 0
    assert [h.url for h in world.emu.webhooks] == [url]


def test_an_x_error_is_one_line_with_the_fix(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status = world.run("webhooks list", twitter={"consumer_secret": "s3cr3t-value"})
    assert status == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "HTTP 401, code 32" in err and "twitter.consumer_secret" in err
    assert "s3cr3t-value" not in err


def test_subscriptions(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.run("webhooks register") == 0
    hook_id = world.emu.webhooks[0].id
    assert world.run("subscriptions add") == 0
    assert world.run("subscriptions add --account", HELPER) == 0
    assert world.emu.subscriptions == {(hook_id, BOT), (hook_id, HELPER)}
    assert "up to 10 seconds" in capsys.readouterr().out

    assert world.run("subscriptions list") == 0
    assert capsys.readouterr().out.split() == [BOT, HELPER]
    assert world.run("subscriptions count") == 0
    assert "2 of 15 subscriptions used" in capsys.readouterr().out
    assert world.run("subscriptions remove", HELPER) == 0
    assert world.emu.subscriptions == {(hook_id, BOT)}

    assert world.run("subscriptions add --account 42") == 1
    assert "Account 42 has no tokens in the config" in capsys.readouterr().err


def test_send(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.run("send", ALICE, "Hello from the command line") == 0
    (message,) = world.emu.messages
    assert (message.sender_id, message.recipient_id) == (BOT, ALICE)
    assert message.text == "Hello from the command line"
    assert f"Sent DM {message.id} from {BOT} to {ALICE}" in capsys.readouterr().out
    assert world.run("send --account", HELPER, ALICE, "hi") == 0
    assert world.emu.messages[-1].sender_id == HELPER


def test_accounts_authorize_prints_tokens_and_the_config_snippet(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    printed: list[str] = []

    def person_approves(question: str) -> str:
        # Alice opens the printed page in a browser, approves, and types the PIN shown.
        printed.append(capsys.readouterr().out)
        match = re.search(r"oauth_token=([\w-]+)", printed[-1])
        assert match is not None
        pin: list[str] = []

        async def browser() -> None:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=world.emu.app), base_url="http://x.test"
            ) as b:
                page = await b.post(
                    "/oauth/authorize", data={"oauth_token": match.group(1), "user_id": ALICE}
                )
            found = re.search(r'id="oauth_pin">(\d+)<', page.text)
            assert found is not None
            pin.append(found.group(1))

        thread = threading.Thread(target=lambda: asyncio.run(browser()))
        thread.start()
        thread.join()
        return pin[0]

    args = build_parser().parse_args(["accounts", "authorize"])
    assert args.func is accounts.authorize
    status = accounts.authorize(args, config(), transport=world.router, prompt=person_approves)
    assert status == 0
    assert "http://x.test/oauth/authorize?oauth_token=" in printed[0]
    out = capsys.readouterr().out
    alice = world.emu.user(ALICE)
    assert f"Authorized @alice (user id {ALICE})" in out
    assert f"access_token: {alice.token}" in out
    assert f'  - user_id: "{ALICE}"' in out
    assert "access_token: ${DMBOT_ALICE_ACCESS_TOKEN}" in out
    assert f"export DMBOT_ALICE_ACCESS_TOKEN_SECRET='{alice.token_secret}'" in out


def test_doctor_passes_and_sees_a_first_event(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("webhooks register") == 0
    assert world.run("subscriptions add") == 0
    assert world.run("subscriptions add --account", HELPER) == 0
    capsys.readouterr()

    async def alice_writes() -> None:
        await world.emu.send(ALICE, BOT, "hello?")

    # Alice writes to the bot right after the doctor's last check.
    world.router.after["/1.1/account_activity/all/production/subscriptions.json"] = alice_writes
    args = argparse.Namespace(wait=5.0)
    status = doctor.doctor(args, config(), transport=world.router, store=world.store)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ok    config complete" in out
    assert f"ok    webhook URL {HOOK_URL} is https, without a port" in out
    assert f"ok    CRC: {HOOK_URL} answered correctly" in out
    assert "ok    the bot account's tokens work: @pizzabot" in out
    assert "registered for https://bot.example.com/webhooks/twitter and valid" in out
    assert f"ok    account {BOT} is subscribed" in out
    assert f"ok    account {HELPER} is subscribed" in out
    assert "send @pizzabot a Direct Message" in out
    assert "ok    an event arrived and was stored" in out
    assert out.rstrip().endswith("All checks passed.")


def test_doctor_says_what_is_missing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status = world.run("doctor --wait 0")
    out = capsys.readouterr().out
    assert status == 1
    assert f"FAIL  no webhook registered for {HOOK_URL}" in out
    assert "run `dmbot webhooks register`" in out

    assert world.run("webhooks register") == 0
    capsys.readouterr()
    assert world.run("doctor --wait 0") == 1
    out = capsys.readouterr().out
    assert f"FAIL  account {BOT} is not subscribed" in out
    assert f"dmbot subscriptions add --account {BOT}" in out
    assert "not waiting for an event (--wait 0)" in out


def test_doctor_catches_a_server_signing_with_another_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = World(bot_secret="another secret")
    try:
        assert world.run("doctor --wait 0") == 1
    finally:
        asyncio.run(world.emu.aclose())
    out = capsys.readouterr().out
    assert f"FAIL  CRC: {HOOK_URL} answered with a wrong response_token" in out


def test_doctor_reports_incomplete_config(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status = world.run("doctor", twitter={"access_token": "", "access_token_secret": ""})
    assert status == 1
    out = capsys.readouterr().out
    assert "config incomplete: twitter.access_token, twitter.access_token_secret not set" in out


def test_clients_from_settings_share_one_limiter(world: World) -> None:
    clients = clients_from_settings(config(), transport=world.router)
    assert list(clients) == [BOT, HELPER]
    assert clients[BOT].limiter is clients[HELPER].limiter

    async def close() -> None:
        for client in clients.values():
            await client.aclose()

    asyncio.run(close())


def test_doctor_fails_precisely_when_the_consumer_secret_is_wrong(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The bot's server and config agree with each other, but not with X.
    world = World(bot_secret="not-the-apps-secret")
    try:
        status = world.run("doctor --wait 0", twitter={"consumer_secret": "not-the-apps-secret"})
    finally:
        asyncio.run(world.emu.aclose())
    out = capsys.readouterr().out
    assert status == 1
    assert "32" in out and "consumer" in out.lower()
    assert "not-the-apps-secret" not in out


def test_doctor_allow_insecure_rehearses_an_http_url_to_the_end(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://bot.example.com/webhooks/twitter"  # http: X would refuse it
    assert world.run("webhooks register --allow-insecure --url", url) == 0
    assert world.run("subscriptions add") == 0
    assert world.run("subscriptions add --account", HELPER) == 0
    capsys.readouterr()

    assert world.run("doctor --wait 0", webhook={"url": url}) == 1
    out = capsys.readouterr().out
    assert f"FAIL  webhook URL {url} breaks X's rule" in out and "--allow-insecure" in out

    assert world.run("doctor --wait 0 --allow-insecure", webhook={"url": url}) == 0
    out = capsys.readouterr().out
    assert f"--    webhook URL {url} breaks X's rule (--allow-insecure" in out
    assert f"ok    CRC: {url} answered correctly" in out
    assert f"ok    account {BOT} is subscribed" in out
    assert out.rstrip().endswith("All checks passed.")


def test_send_refuses_a_screen_name_before_calling_x(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.run("send", "alice", "hi") == 2
    err = capsys.readouterr().err
    assert "USER_ID must be the numeric id of an X user, not 'alice'" in err
    assert "webhook" not in err
    assert world.emu.messages == []
