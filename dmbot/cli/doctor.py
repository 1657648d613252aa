"""``dmbot doctor``: X's setup checklist, end to end, then a wait for a first event.

Each check prints one line, ``ok`` or ``FAIL`` with the fix: the config has what X
needs, the webhook URL follows X's rule, the server answers a CRC the way X would
check it, the tokens work, the webhook is registered and valid, every account is
subscribed; then, when all passed, the doctor watches the store for a first event.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from typing import Any

import httpx

from dmbot.cli.checklist import Checklist
from dmbot.cli.client import Transport, x_command
from dmbot.cli.command import Commands
from dmbot.config.settings import AccountSettings, Settings, webhook_url_problem
from dmbot.edge import crc
from dmbot.edge.stream import STREAM_PATH
from dmbot.errors import DmbotError
from dmbot.store import Store, open_store
from dmbot.x.app import client_from_settings
from dmbot.x.errors import error_from_response
from dmbot.x.subscriptions import BOT_EVENT_TYPES

__all__ = ["checkup", "doctor", "register"]


def doctor(
    args: argparse.Namespace,
    settings: Settings,
    *,
    transport: Transport = None,
    store: Store | None = None,
) -> int:
    """Run ``dmbot doctor``: :func:`checkup` with the command line's options.

    Args:
        args: ``wait`` (seconds to wait for an event; 0 skips) and ``allow_insecure``.
        settings: the loaded configuration.
        transport: the httpx transport for X and for the CRC round trip.
        store: the store to watch for the first event (default: ``settings.store``).
    """

    @x_command
    async def run(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
        return await checkup(
            settings,
            wait=args.wait,
            transport=transport,
            store=store,
            allow_insecure=bool(getattr(args, "allow_insecure", False)),
        )

    return run(args, settings, transport=transport)


async def checkup(
    settings: Settings,
    *,
    wait: float,
    transport: Transport = None,
    store: Store | None = None,
    allow_insecure: bool = False,
) -> int:
    """Run X's setup checklist, then wait for a first event; print one line per check.

    Args:
        settings: the loaded configuration.
        wait: seconds to wait for an event; 0 skips the wait.
        transport: the httpx transport for X and for the CRC round trip.
        store: the store to watch for the first event (default: ``settings.store``).
        allow_insecure: a webhook URL that breaks X's rule (http, a port) is
            noted, not failed: a rehearsal against the emulator.

    Returns:
        0 when every check passed, 1 otherwise.
    """
    if store is not None:
        return await _checkup(settings, wait, transport, store, allow_insecure)
    if settings.store.startswith("memory:"):
        return await _checkup(settings, wait, transport, None, allow_insecure)
    own = open_store(settings.store)
    await own.open()
    try:
        return await _checkup(settings, wait, transport, own, allow_insecure)
    finally:
        await own.close()


async def _events_seen(store: Store) -> int:
    # Deliveries waiting plus actions the bot produced: either grows when an event arrives.
    return await store.inbox_size() + len(await store.outbox())


async def _checkup(
    settings: Settings,
    wait: float,
    transport: Transport,
    store: Store | None,
    allow_insecure: bool,
) -> int:
    if settings.delivery == "stream":
        return await _stream_checkup(settings, wait, transport)
    check = Checklist()
    baseline = await _events_seen(store) if store is not None else 0
    print("dmbot doctor: X's setup checklist")
    t, url = settings.twitter, settings.webhook.url
    required = {
        "twitter.consumer_key": t.consumer_key,
        "twitter.consumer_secret": t.consumer_secret,
        "twitter.access_token": t.access_token,
        "twitter.access_token_secret": t.access_token_secret,
        "webhook.url": url,
    }
    if not check.complete(required):
        return 1
    check.ok("config complete: consumer key and secret, bot account tokens, webhook.url")
    problem = webhook_url_problem(url)
    if problem and allow_insecure:
        check.note(f"webhook URL {url} breaks X's rule (--allow-insecure: X would refuse it)")
    elif problem:
        check.fail(
            f"webhook URL {url} breaks X's rule",
            f"{problem} To rehearse against the emulator, pass --allow-insecure.",
        )
    else:
        check.ok(f"webhook URL {url} is https, without a port")
    await _crc_round_trip(check, url, t.consumer_secret, transport)

    # The bot account's tokens are set (checked above), so it comes first.
    async with client_from_settings(
        settings, settings.all_accounts[0], transport=transport
    ) as client:
        try:
            me = await client.verify_credentials()
            check.ok(f"the bot account's tokens work: @{me.screen_name} ({me.id})")
        except DmbotError as exc:
            check.fail("the bot account's tokens were refused", str(exc))
            return 1
        hooks = [h for h in await client.list_webhooks() if h.url == url]
        if not hooks:
            check.fail(f"no webhook registered for {url}", "run `dmbot webhooks register`")
        elif not hooks[0].valid:
            check.fail(
                f"webhook {hooks[0].id} is registered but invalid (its last CRC failed)",
                "fix the server, then run `dmbot webhooks crc` to have X check it again",
            )
        else:
            check.ok(f"webhook {hooks[0].id} registered for {url} and valid")
        webhook_id = hooks[0].id if hooks else None
    for account in settings.all_accounts:
        if hooks:
            await _check_subscribed(check, settings, transport, account, webhook_id)

    if wait <= 0:
        check.note("not waiting for an event (--wait 0)")
    elif store is None:
        check.note(
            "the store is memory://, inside the server process, so the doctor cannot watch it: "
            f"send @{me.screen_name} a DM and read the server log"
        )
    elif check.failures == 0:
        print(
            f"Waiting {wait:g} s for a first event: send @{me.screen_name} a Direct "
            "Message from another account, or like one of its posts."
        )
        await _wait_for_event(check, store, baseline, wait)
    return check.verdict()


async def _crc_round_trip(
    check: Checklist, url: str, consumer_secret: str, transport: Transport
) -> None:
    token = secrets.token_urlsafe(24)
    expected = crc.response_token(consumer_secret, token)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as http:
            response = await http.get(url, params={"crc_token": token})
    except httpx.HTTPError as exc:
        check.fail(
            f"CRC: {url} could not be reached ({exc or type(exc).__name__})",
            "start `dmbot serve` and make sure this URL reaches it (proxy or tunnel)",
        )
        return
    elapsed = loop.time() - started
    try:
        answered = response.json().get("response_token")
    except (ValueError, AttributeError):
        answered = None
    if response.status_code != 200:
        check.fail(
            f"CRC: {url} answered HTTP {response.status_code}",
            "X needs 200 with the response_token: is `dmbot serve` behind this URL, "
            "and does webhook.path match its path?",
        )
    elif answered != expected:
        check.fail(
            f"CRC: {url} answered with a wrong response_token",
            "the server signs with another consumer secret: use the same config for both",
        )
    elif elapsed > 3.0:
        check.fail(f"CRC: {url} took {elapsed:.1f} s", "X allows 3 seconds: speed the path up")
    else:
        check.ok(f"CRC: {url} answered correctly in {elapsed * 1000:.0f} ms")


async def _check_subscribed(
    check: Checklist,
    settings: Settings,
    transport: Transport,
    account: AccountSettings,
    webhook_id: str | None,
) -> None:
    async with client_from_settings(settings, account, transport=transport) as client:
        if settings.twitter.api == "activity":
            have = {
                s.event_type for s in await client.activity.mine() if s.webhook_id == webhook_id
            }
            missing = [t for t in BOT_EVENT_TYPES if t not in have]
            if not missing:
                types = " and ".join(BOT_EVENT_TYPES)
                check.ok(f"account {account.user_id} is subscribed to {types} on the webhook")
                return
            check.fail(
                f"account {account.user_id} has no {' or '.join(missing)} subscription on "
                f"webhook {webhook_id}",
                f"run `dmbot subscriptions add --account {account.user_id}`",
            )
        elif await client.check_subscription(webhook_id):
            check.ok(f"account {account.user_id} is subscribed")
        else:
            check.fail(
                f"account {account.user_id} is not subscribed",
                f"run `dmbot subscriptions add --account {account.user_id}`",
            )


async def _wait_for_event(check: Checklist, store: Store, baseline: int, wait: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    while loop.time() < end:
        if await _events_seen(store) > baseline:
            check.ok("an event arrived and was stored: the webhook works")
            return
        await asyncio.sleep(0.2)
    check.fail(
        f"no event arrived within {wait:g} s",
        "check that `dmbot serve` runs and its log shows no refused deliveries "
        "(401 means another consumer secret); events start up to 10 s after subscribing",
    )


# -- delivery: stream ---------------------------------------------------------------------


async def _stream_checkup(settings: Settings, wait: float, transport: Transport) -> int:
    """The checklist of ``delivery: stream``: no URL, no CRC; the stream itself instead."""
    check = Checklist()
    print("dmbot doctor: X's setup checklist (delivery: stream, no public URL)")
    t = settings.twitter
    required = {
        "twitter.consumer_secret": t.consumer_secret,
        "twitter.access_token": t.access_token,
        "twitter.access_token_secret": t.access_token_secret,
    }
    if not check.complete(required):
        return 1
    check.ok("config complete: app keys and the bot account's tokens; no webhook needed")
    async with client_from_settings(
        settings, settings.all_accounts[0], transport=transport
    ) as client:
        try:
            me = await client.verify_credentials()
            check.ok(f"the bot account's tokens work: @{me.screen_name} ({me.id})")
            token = await client.app_bearer_token()
            check.ok(
                "the app's bearer token works"
                if t.bearer_token
                else "X gave the app's bearer token for its keys"
            )
        except DmbotError as exc:
            check.fail("X refused the app's credentials", str(exc))
            return 1
        found = await client.activity.all()
    for account in settings.all_accounts:
        have = {s.event_type for s in found if s.user_id == account.user_id}
        missing_types = [e for e in BOT_EVENT_TYPES if e not in have]
        if missing_types:
            check.fail(
                f"account {account.user_id} has no {' or '.join(missing_types)} subscription",
                f"run `dmbot subscriptions add --account {account.user_id}`",
            )
        else:
            check.ok(f"account {account.user_id} is subscribed to {' and '.join(BOT_EVENT_TYPES)}")
    await _watch_stream(check, settings, token, wait if check.failures == 0 else 0.0, me)
    return check.verdict()


async def _watch_stream(
    check: Checklist, settings: Settings, token: str, wait: float, me: Any
) -> None:
    """Connect to the stream as ``dmbot serve`` does: a first byte, then a first event."""
    silence = settings.stream.silence
    timeout = httpx.Timeout(10.0, read=silence)
    loop = asyncio.get_running_loop()
    started = loop.time()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            httpx.AsyncClient(base_url=settings.twitter.api_url, timeout=timeout) as http,
            http.stream("GET", STREAM_PATH, headers=headers) as response,
        ):
            if response.status_code != 200:
                await response.aread()
                error = error_from_response(response, endpoint=f"GET {STREAM_PATH}")
                check.fail("X refused the activity stream", str(error))
                return
            lines = response.aiter_lines()
            first = await anext(lines)
            check.ok(
                f"the activity stream answered in {(loop.time() - started) * 1000:.0f} ms "
                f"({'an event' if first.strip() else 'a keep-alive'} came first)"
            )
            if wait <= 0:
                check.note("not waiting for an event (--wait 0)")
                return
            if first.strip():
                check.ok("an event arrived on the stream")
                return
            print(
                f"Waiting {wait:g} s for a first event: send @{me.screen_name} a Direct "
                "Message from another account."
            )
            async with asyncio.timeout(wait):
                async for line in lines:
                    if line.strip():
                        check.ok("an event arrived on the stream")
                        return
    except TimeoutError:
        check.fail(
            f"no event arrived within {wait:g} s",
            "check the subscriptions above; events start up to 10 s after subscribing",
        )
    except StopAsyncIteration:
        check.fail(
            "X ended the activity stream at once", "run the doctor again; see X's status page"
        )
    except httpx.ReadTimeout:
        check.fail(
            f"the activity stream sent nothing for {silence:g} s",
            "X sends keep-alive lines: a proxy may be holding them back (stream.silence)",
        )
    except httpx.HTTPError as exc:
        check.fail(
            f"could not reach the activity stream at {settings.twitter.api_url}",
            f"{type(exc).__name__}: {exc}; check twitter.api_url and the network",
        )


def register(commands: Commands) -> None:
    """Add ``doctor``."""
    p = commands.add("doctor", doctor, help="check the setup end to end, then wait for an event")
    p.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for a first event (0: skip)"
    )
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="note, not fail, a webhook URL X would refuse (http, a port): for the emulator",
    )
