"""The chat page of `dmbot dev`: its long-poll feed, and people using it in headless Chromium.

The browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright;
`.ci/browser` installs both. Without them the tests skip locally and fail in
CI (CI=true). Set DMBOT_SCREENSHOT=docs/chat.png to refresh the README's
screenshot from the pizza order.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from images import png
from procs import free_port, wait_until

from dmbot.dev.server import build_sandbox, dev_app
from dmbot.emulator.chat import Cursor
from dmbot.engine.script import load_bot

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config.yaml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ALICE = "2000000000001"


# -- the feed over HTTP (no browser) ------------------------------------------------------


@asynccontextmanager
async def dev_client() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    bot = load_bot(str(REPO / "bots" / "pizza.py"))
    sandbox = build_sandbox(bot, url="http://127.0.0.1:8000/webhooks/twitter")
    app = dev_app(sandbox)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client,
    ):
        yield client, sandbox.bot_id
        await sandbox.settle()


async def updates(client: httpx.AsyncClient, cursor: str = "", wait: float = 5) -> Any:
    answer = await client.get("/_chat/updates", params={"cursor": cursor, "timeout": wait})
    assert answer.status_code == 200
    return answer.json()


async def test_the_first_update_is_everything_the_page_needs() -> None:
    async with dev_client() as (client, bot_id):
        first = await updates(client)
        assert first["reset"] is True
        assert first["account"] == {
            "id": bot_id,
            "screen_name": "pizzabot",
            "name": "Pizza Bot",
            "accepts_requests": True,
            "follows": [],
        }
        assert [p["screen_name"] for p in first["people"]] == ["alice", "bob"]
        # As on X: people do not accept message requests until a switch says so.
        assert [p["accepts_requests"] for p in first["people"]] == [False, False]
        assert first["realism"]["duplicates"] is False
        [crc] = first["traffic"]  # registering the webhook ran a real CRC
        assert (crc["direction"], crc["method"], crc["status"]) == ("to_bot", "GET", 200)
        assert crc["response"]["response_token"].startswith("sha256=")


async def test_a_long_poll_returns_as_soon_as_alice_writes() -> None:
    async with dev_client() as (client, bot_id):
        cursor = (await updates(client))["cursor"]
        poll = asyncio.ensure_future(updates(client, cursor, wait=30))
        started = time.monotonic()
        quiet = await updates(client, cursor, wait=0.2)  # asked after it, nothing new...
        assert quiet["cursor"] == cursor and quiet["messages"] == []
        assert time.monotonic() - started >= 0.2  # ...it waited out its 0.2 s
        assert not poll.done()  # and the 30 s poll waits on
        await client.post("/_emulator/send", json={"from": "alice", "to": bot_id, "text": "pizza"})
        async with asyncio.timeout(5):  # far below the poll's own 30 s
            update = await poll
        assert update["reset"] is False
        assert update["messages"][0]["message_data"]["text"] == "pizza"


async def test_new_traffic_wakes_the_poll_and_comes_in_order() -> None:
    async with dev_client() as (client, bot_id):
        cursor = (await updates(client))["cursor"]
        await client.post("/_emulator/send", json={"from": "alice", "to": bot_id, "text": "pizza"})
        seen: list[dict[str, Any]] = []

        def sends() -> list[dict[str, Any]]:
            return [e for e in seen if e["direction"] == "to_x"]

        while not sends():
            update = await updates(client, cursor, wait=5)
            cursor = update["cursor"]
            seen += update["traffic"]
        assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
        [send] = sends()
        assert send["body"]["event"]["message_create"]["message_data"]["text"] == (
            "What size would you like?"
        )
        delivery = next(e for e in seen if e["direction"] == "to_bot")
        assert delivery["body"]["for_user_id"] == bot_id
        assert delivery["headers"]["x-twitter-webhooks-signature"].startswith("sha256=")


async def test_a_quiet_poll_times_out_with_nothing_new() -> None:
    async with dev_client() as (client, _):
        cursor = (await updates(client))["cursor"]
        quiet = await updates(client, cursor, wait=0.05)
        assert quiet["cursor"] == cursor
        assert quiet["messages"] == [] and quiet["traffic"] == [] and quiet["reset"] is False


async def test_switching_realism_and_adding_people_move_the_cursor() -> None:
    async with dev_client() as (client, _):
        cursor = (await updates(client))["cursor"]
        await client.post("/_emulator/realism", json={"duplicates": True})
        update = await updates(client, cursor)
        assert update["cursor"] != cursor and update["realism"]["duplicates"] is True
        await client.post("/_emulator/users", json={"screen_name": "carol", "name": "Carol"})
        update = await updates(client, update["cursor"])
        assert [p["screen_name"] for p in update["people"]] == ["alice", "bob", "carol"]


async def test_after_an_emulator_reset_the_page_starts_over() -> None:
    async with dev_client() as (client, bot_id):
        await client.post("/_emulator/send", json={"from": "alice", "to": bot_id, "text": "pizza"})
        cursor = (await updates(client))["cursor"]
        await client.post("/_emulator/reset")
        update = await updates(client, cursor)
        assert update["reset"] is True and update["messages"] == []


async def test_closing_the_feed_answers_waiting_polls_at_once() -> None:
    bot = load_bot(str(REPO / "bots" / "pizza.py"))
    app = dev_app(build_sandbox(bot, url="http://127.0.0.1:8000/webhooks/twitter"))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client,
    ):
        cursor = (await updates(client))["cursor"]
        poll = asyncio.ensure_future(updates(client, cursor, wait=30))
        await updates(client, cursor, wait=0.1)  # a later poll waited: the first one waits
        assert not poll.done()
        app.state.chat_feed.close()  # what dmbot dev does when Ctrl+C stops the server
        async with asyncio.timeout(5):
            quiet = await poll
        assert quiet["cursor"] == cursor and quiet["messages"] == []


async def test_a_malformed_cursor_gets_a_full_update() -> None:
    async with dev_client() as (client, _):
        assert (await updates(client, "not-a-cursor"))["reset"] is True
        bad = await client.get("/_chat/updates", params={"cursor": "", "timeout": "soon"})
        assert bad.status_code == 400 and "seconds" in bad.json()["error"]
    assert Cursor.parse(Cursor(1, 2, 3, 4, 5).encode()) == Cursor(1, 2, 3, 4, 5)


# -- a person in a browser ------------------------------------------------------------------


def require_browser() -> None:
    """Skip without Playwright or Chromium; in CI (CI=true) their absence is a failure."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if not missing:
        return
    reason = "; ".join(missing) + "; .ci/browser installs both"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test must run in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def dmbot_dev(folder: Path, *args: str) -> Iterator[str]:
    """`dmbot dev` as a real process in ``folder``; yields the page's URL."""
    port = free_port()
    log = folder / "dev.log"
    command = [sys.executable, "-m", "dmbot.cli", "--config", str(CONFIG), "dev", *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:

            def ready() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"dmbot dev exited early:\n{log.read_text()}")
                return "Press Ctrl+C to stop." in log.read_text()

            wait_until(ready, timeout=30, what="dmbot dev's banner")
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"the page's script failed: {errors}"


def test_a_person_orders_a_pizza_by_tapping(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with dmbot_dev(tmp_path) as url:
        page.goto(url)
        expect(page.locator(".person[aria-current=true] .name")).to_have_text("Alice")
        expect(page.locator(".conv-head .name")).to_have_text("Pizza Bot")
        page.fill("#text", "I want pizza")
        page.press("#text", "Enter")
        said = page.locator(".msg.bot .bubble")
        expect(said.last).to_have_text("What size would you like?")
        expect(page.locator(".options.latest .option")).to_have_text(["Small", "Medium", "Large"])
        page.locator(".options.latest .option[data-label=Large]").click()
        expect(said.last).to_have_text("Which crust for your Large pizza?")
        page.locator(".options.latest .option[data-label=Thin]").click()
        expect(said.last).to_have_text("A Large pizza with Thin crust?")

        # A late tap: Small, on the size question that was already answered.
        sizes = page.locator(".msg.bot").filter(has_text="What size would you like?")
        sizes.locator(".options.earlier .option[data-label=Small]").click()
        expect(said.last).to_have_text("A Small pizza with Thin crust?")
        page.locator(".options.latest .option[data-label=Yes]").click()
        expect(said.last).to_have_text("Your Small pizza with Thin crust is on its way!")

        expect(said).to_have_text(
            [
                "What size would you like?",
                "Which crust for your Large pizza?",
                "A Large pizza with Thin crust?",
                "A Small pizza with Thin crust?",
                "Your Small pizza with Thin crust is on its way!",
            ]
        )
        expect(page.locator(".msg.user .bubble")).to_have_text(
            ["I want pizza", "Large", "Thin", "Small", "Yes"]
        )
        expect(page.locator(".msg.user .meta .tap")).to_have_count(4)
        # The panel shows each bot message's echo coming back to the webhook.
        expect(page.locator(".ex.to_bot .tag.echo")).to_have_count(5)
        expect(page.locator("#count-to_x")).to_have_text("5")

        # The taps went through X with their option's metadata, as the X app sends them.
        messages = httpx.get(f"{url}_emulator/messages", params={"user": "alice"}).json()
        taps = [m for m in messages["messages"] if m["sender_id"] == ALICE][1:]
        assert [t["message_data"]["text"] for t in taps] == ["Large", "Thin", "Small", "Yes"]
        assert all(t["quick_reply_metadata"] for t in taps)

        # For the README: the last question's send, opened in the side panel.
        entry = page.locator(".ex.to_x").filter(has_text="A Small pizza with Thin crust?")
        entry.locator("summary").click()
        entry.scroll_into_view_if_needed()
        expect(entry.locator(".json").first).to_contain_text('"quick_reply"')
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    target = os.environ.get("DMBOT_SCREENSHOT")
    if target:
        shutil.copyfile(shot, REPO / target)


SHOWCASE = """
import asyncio
from pathlib import Path

from dmbot import Bot, Context

bot = Bot("showcase")


@bot.on_message("slow")
async def slow(ctx: Context) -> None:
    await ctx.typing()
    await asyncio.sleep(1)  # a slow handler: the page shows the typing bubble meanwhile
    await ctx.reply("Thought about it.")


@bot.on_message("links")
async def links(ctx: Context) -> None:
    # The picture the test uploaded as the bot's account (X wants media uploaded first).
    media_id = Path("media_id.txt").read_text()
    await ctx.reply(
        "Here you go.", buttons=[("Read the docs", "https://example.com/docs")], media_id=media_id
    )


@bot.fallback
async def echo(ctx: Context) -> None:
    await ctx.reply(f"You said: {ctx.text}")
"""


def test_typing_buttons_media_people_and_duplicates(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    script = tmp_path / "showcase.py"
    script.write_text(textwrap.dedent(SHOWCASE))
    with dmbot_dev(tmp_path, str(script)) as url:
        [account] = httpx.get(f"{url}_emulator/state").json()["accounts"]
        uploaded = httpx.post(
            f"{url}_emulator/media", params={"user": account["id"]}, content=png(60, 40)
        )
        media_id = uploaded.json()["media_id_string"]
        (tmp_path / "media_id.txt").write_text(media_id)
        page.goto(url)
        said = page.locator(".msg.bot .bubble")

        page.fill("#text", "slow please")
        page.press("#text", "Enter")
        expect(page.locator(".msg.typing")).to_be_visible()
        expect(said.last).to_have_text("Thought about it.")
        expect(page.locator(".msg.typing")).to_have_count(0)

        page.fill("#text", "links")
        page.press("#text", "Enter")
        expect(said.last).to_have_text("Here you go.")
        link = page.locator(".msg.bot a.cta")
        expect(link).to_have_text("Read the docs")
        expect(link).to_have_attribute("href", "https://example.com/docs")
        # The bot's image, shown as X's app shows it.
        picture = page.locator(f".msg.bot img.media[data-media-id='{media_id}']")
        expect(picture).to_be_visible()
        page.wait_for_function(
            "id => document.querySelector(`img[data-media-id='${id}']`).naturalWidth === 60",
            arg=media_id,
        )

        # alice sends an image with her words: uploaded for DMs, then attached.
        page.set_input_files(
            "#attach", files=[{"name": "pizza.png", "mimeType": "image/png", "buffer": png(8, 8)}]
        )
        expect(page.locator("#pending")).to_contain_text("pizza.png")
        page.fill("#text", "this one")
        page.press("#text", "Enter")
        # The bot reads her text as X delivers it: the image's t.co link at its end.
        expect(said.last).to_have_text(re.compile(r"You said: this one https://t\.co/\w{10}"))
        expect(page.locator(".msg.user img.media")).to_be_visible()
        mine = httpx.get(f"{url}_emulator/messages", params={"user": "alice"}).json()["messages"]
        [with_image] = [
            m for m in mine if m["sender_id"] == ALICE and "attachment" in m["message_data"]
        ]
        sent_id = with_image["message_data"]["attachment"]["media"]["id"]
        assert httpx.get(f"{url}_emulator/media/{sent_id}").content == png(8, 8)

        # alice's switch: she accepts message requests from everyone.
        page.locator(".dm-settings .switch", has_text="Accepts message requests").click()
        expect(page.locator(".dm-settings input[data-key=accepts_requests]")).to_be_checked()
        people = httpx.get(f"{url}_emulator/dm_settings").json()["users"]
        assert {p["screen_name"]: p["accepts_requests"] for p in people}["alice"] is True

        # Another person: a conversation of their own.
        page.fill("#new-person", "carol")
        page.press("#new-person", "Enter")
        expect(page.locator(".person[aria-current=true] .name")).to_have_text("Carol")
        expect(said).to_have_count(0)
        page.fill("#text", "hi from carol")
        page.press("#text", "Enter")
        expect(said).to_have_text(["You said: hi from carol"])
        page.locator(".person[data-screen-name=alice]").click()
        expect(said).to_have_text(
            ["Thought about it.", "Here you go.", re.compile("You said: this one https://t.co/")]
        )

        # X's duplicates switched on: every delivery twice, one answer.
        page.locator(".switch", has_text="Duplicates").click()
        expect(page.locator(".switch input[data-key=duplicates]")).to_be_checked()
        page.fill("#text", "twice?")
        page.press("#text", "Enter")
        expect(said.last).to_have_text("You said: twice?")
        expect(page.locator(".ex .tag.duplicate").first).to_be_visible()
        assert httpx.post(f"{url}_emulator/settle", timeout=10).status_code == 204
        expect(page.locator(".ex.to_x").filter(has_text="You said: twice?")).to_have_count(1)
        expect(said.filter(has_text="You said: twice?")).to_have_count(1)
