"""The management commands: webhooks, subscriptions, accounts, send, doctor.

:func:`add_commands` adds them to the ``dmbot`` parser; each sets
``func(args, settings) -> int`` (0 success, 1 a reported problem). Every
function also takes ``transport=``, the httpx transport for X (and for the
doctor's CRC round trip), so tests run them against the emulator in process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

import httpx

from dmbot.cli.doctor import checkup
from dmbot.cli.when import REPLAY_FORMAT, REPLAY_REACH, parse_when
from dmbot.config.settings import AccountSettings, Settings, webhook_url_problem
from dmbot.errors import ConfigError, DmbotError, PermanentError
from dmbot.store import Store
from dmbot.x.app import client_from_settings, clients_from_settings
from dmbot.x.client import XClient

__all__ = ["add_commands", "clients_from_settings"]

Transport = httpx.AsyncBaseTransport | None
Prompt = Callable[[str], str]


class Command(Protocol):
    """What ``set_defaults(func=...)`` holds."""

    def __call__(
        self, args: argparse.Namespace, settings: Settings, *, transport: Transport = None
    ) -> int: ...


def _account(settings: Settings, user_id: str | None) -> AccountSettings:
    accounts = settings.all_accounts
    if not accounts:
        raise ConfigError(
            "No account tokens configured: set twitter.access_token and "
            "twitter.access_token_secret (the bot account's), or run `dmbot accounts authorize`"
        )
    if not user_id:
        return accounts[0]
    for account in accounts:
        if account.user_id == user_id:
            return account
    known = ", ".join(a.user_id for a in accounts)
    raise ConfigError(
        f"Account {user_id} has no tokens in the config (known: {known}); add it under "
        "accounts: with its user_id and tokens (`dmbot accounts authorize` makes them)"
    )


@contextlib.asynccontextmanager
async def _acting(
    settings: Settings, transport: Transport, user_id: str | None = None
) -> AsyncIterator[XClient]:
    account = _account(settings, user_id)
    async with client_from_settings(settings, account, transport=transport) as client:
        yield client


def _command(fn: Callable[[argparse.Namespace, Settings, Transport], Awaitable[int]]) -> Command:
    """Run an async command to completion; a DmbotError becomes one line and status 1."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace, settings: Settings, *, transport: Transport = None) -> int:
        async def main() -> int:
            try:
                return await fn(args, settings, transport)
            except DmbotError as exc:
                print(f"dmbot: {exc}", file=sys.stderr)
                return 1

        return asyncio.run(main())

    return run


# -- webhooks ------------------------------------------------------------------


@_command
async def webhooks_register(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    url = args.url or settings.webhook.url
    if not url:
        print("dmbot: no webhook URL: set webhook.url in the config or pass --url", file=sys.stderr)
        return 1
    problem = webhook_url_problem(url)
    if problem and not args.allow_insecure:
        print(f"dmbot: {problem} Pass --allow-insecure to try anyway.", file=sys.stderr)
        return 1
    async with _acting(settings, transport) as client:
        hook = await client.register_webhook(url)
    print(f"Registered webhook {hook.id} for {hook.url} (valid: {_yes(hook.valid)}).")
    print("Next: subscribe the bot account with `dmbot subscriptions add`.")
    return 0


@_command
async def webhooks_list(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    async with _acting(settings, transport) as client:
        hooks = await client.list_webhooks()
    if not hooks:
        print("No webhooks registered. Register one with `dmbot webhooks register`.")
    for hook in hooks:
        print(f"{hook.id}  {hook.url}  valid: {_yes(hook.valid)}  created: {hook.created_at}")
    return 0


@_command
async def webhooks_crc(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    async with _acting(settings, transport) as client:
        webhook_id = args.webhook_id or await _configured_webhook_id(client, settings)
        valid = await client.crc_check(webhook_id)
    if valid:
        print(f"X ran the CRC against webhook {webhook_id}: it passed and the webhook is valid.")
        return 0
    print(f"X ran the CRC against webhook {webhook_id} and it failed; see `dmbot doctor`.")
    return 1


@_command
async def webhooks_delete(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    async with _acting(settings, transport) as client:
        await client.delete_webhook(args.webhook_id)
    print(f"Deleted webhook {args.webhook_id}; its subscriptions went with it.")
    return 0


async def _configured_webhook_id(client: XClient, settings: Settings) -> str:
    hooks = await client.list_webhooks()
    for hook in hooks:
        if hook.url == settings.webhook.url:
            return hook.id
    if len(hooks) == 1:
        return hooks[0].id
    raise ConfigError(
        f"No webhook is registered for webhook.url ({settings.webhook.url or 'unset'}); "
        "name one by id (`dmbot webhooks list`) or register it (`dmbot webhooks register`)"
    )


# -- subscriptions -------------------------------------------------------------


@_command
async def subscriptions_add(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    accounts = [_account(settings, args.account)] if args.account else settings.all_accounts
    if not accounts:
        _account(settings, None)  # raises: no account tokens configured
    activity = settings.twitter.api == "activity"
    stream = settings.delivery == "stream" and not args.webhook_id
    for account in accounts:
        async with client_from_settings(settings, account, transport=transport) as client:
            if stream:
                # No webhook: X delivers these on the activity stream only.
                await client.activity.add("")
                print(
                    f"Subscribed account {account.user_id} to dm.received and dm.sent on the "
                    "activity stream."
                )
                continue
            try:
                await client.subscribe(args.webhook_id)
            except PermanentError as exc:
                if exc.code != 355 and exc.status != 409:
                    raise
                print(f"Account {account.user_id} was subscribed already.")
                continue
        what = " (dm.received and dm.sent)" if activity else ""
        print(f"Subscribed account {account.user_id} to the webhook{what}.")
    print("Events may take up to 10 seconds to start.")
    return 0


@_command
async def subscriptions_list(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    async with _acting(settings, transport) as client:
        if settings.twitter.api == "activity":
            found = await client.activity.all()
            if settings.delivery != "stream" or args.webhook_id:
                hook = await client.webhook_id(args.webhook_id)
                found = [s for s in found if s.webhook_id == hook]
            if not found:
                print("No subscriptions. Add them with `dmbot subscriptions add`.")
            for sub in found:
                print(
                    f"{sub.user_id}  {sub.event_type}  subscription {sub.id}  tag {sub.tag or '-'}"
                )
            return 0
        subs = await client.list_subscriptions(args.webhook_id)
    if not subs.user_ids:
        print("No subscriptions. Add one with `dmbot subscriptions add`.")
    for user_id in subs.user_ids:
        print(user_id)
    return 0


@_command
async def subscriptions_remove(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    async with _acting(settings, transport) as client:
        if settings.delivery == "stream" and not args.webhook_id:
            if not await client.activity.remove(args.user_id, None):
                print(f"dmbot: account {args.user_id} has no subscription.", file=sys.stderr)
                return 1
        else:
            await client.remove_subscription(args.user_id, args.webhook_id)
    print(f"Removed the subscription of account {args.user_id}.")
    return 0


@_command
async def subscriptions_count(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    async with _acting(settings, transport) as client:
        count = await client.subscription_count()
    if settings.twitter.api == "activity":
        print(
            f"{count.subscriptions_count_all} X Activity API subscriptions "
            f"({count.subscriptions_count_direct_messages} for Direct Messages)."
        )
        return 0
    print(
        f"{count.subscriptions_count_all} of {count.provisioned_count} subscriptions used "
        f"({count.subscriptions_count_direct_messages} for Direct Messages only)."
    )
    return 0


# -- replay ----------------------------------------------------------------------


@_command
async def replay(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    now = datetime.now(UTC)
    start, end = parse_when(args.from_, now, "--from"), parse_when(args.to, now, "--to")
    reach = REPLAY_REACH.get(settings.twitter.api)
    if reach is not None and start < now - reach:
        days = reach.total_seconds() / 86400
        span = f"{days:g} days" if days >= 1 else f"{reach.total_seconds() / 3600:g} hours"
        raise ConfigError(
            f"--from {start:%Y-%m-%d %H:%M} UTC is too far back: X replays the last {span} "
            f"on twitter.api {settings.twitter.api}"
        )
    if not start < end:
        raise ConfigError(
            f"--from ({start:%Y-%m-%d %H:%M}) must come before --to ({end:%Y-%m-%d %H:%M})"
        )
    async with _acting(settings, transport) as client:
        job = await client.replay(
            start.strftime(REPLAY_FORMAT), end.strftime(REPLAY_FORMAT), args.webhook_id
        )
    print(
        f"X accepted replay job {job.job_id}: the events of {start:%Y-%m-%d %H:%M} to "
        f"{end:%Y-%m-%d %H:%M} UTC come through the webhook again, and dmbot drops "
        "those it has handled already."
    )
    return 0


# -- accounts and send -----------------------------------------------------------


def accounts_authorize(
    args: argparse.Namespace,
    settings: Settings,
    *,
    transport: Transport = None,
    prompt: Prompt = input,
) -> int:
    """The PIN flow: print the authorize URL, read the PIN, print the new tokens."""

    async def flow(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
        async with client_from_settings(settings, None, transport=transport) as client:
            request = await client.authorization.request_token("oob")
            print("Open this page, signed in as the account to add, and authorize the app:")
            print(f"  {client.authorization.authorize_url(request.token)}")
            pin = args.pin or prompt("Then enter the PIN X shows: ").strip()
            if not pin:
                print("dmbot: no PIN given; run the command again.", file=sys.stderr)
                return 1
            token = await client.authorization.access_token(request.token, request.secret, pin)
        var = f"DMBOT_{token.screen_name.upper() or token.user_id}"
        print(f"\nAuthorized @{token.screen_name} (user id {token.user_id}).")
        print(f"access_token: {token.token}\naccess_token_secret: {token.secret}")
        print("\nKeep the tokens out of config.yaml: export them,")
        print(f"  export {var}_ACCESS_TOKEN='{token.token}'")
        print(f"  export {var}_ACCESS_TOKEN_SECRET='{token.secret}'")
        print("and add the account to config.yaml:")
        print("accounts:")
        print(f'  - user_id: "{token.user_id}"')
        print(f"    access_token: ${{{var}_ACCESS_TOKEN}}")
        print(f"    access_token_secret: ${{{var}_ACCESS_TOKEN_SECRET}}")
        print(f"Then subscribe it: dmbot subscriptions add --account {token.user_id}")
        return 0

    return _command(flow)(args, settings, transport=transport)


@_command
async def send(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    if not (args.user_id.isascii() and args.user_id.isdigit()):
        print(
            f"dmbot: USER_ID must be the numeric id of an X user, not {args.user_id!r}; "
            "a screen name's id is on its profile (or in the users map of any event "
            "it sent), as in `dmbot send 2244994945 'hi'`",
            file=sys.stderr,
        )
        return 2
    async with _acting(settings, transport, args.account) as client:
        if settings.twitter.send_api == "v2":
            sent = await client.send_dm_v2(args.user_id, args.text)
        else:
            sent = await client.send_dm(args.user_id, {"text": args.text})
    print(f"Sent DM {sent.id} from {client.account_id} to {args.user_id}.")
    return 0


# -- doctor ------------------------------------------------------------------------


def doctor(
    args: argparse.Namespace,
    settings: Settings,
    *,
    transport: Transport = None,
    store: Store | None = None,
) -> int:
    """X's setup checklist, then a wait for a first event (see :mod:`dmbot.cli.doctor`).

    Args:
        args: ``wait`` (seconds to wait for an event; 0 skips).
        settings: the loaded configuration.
        transport: the httpx transport for X and for the CRC round trip.
        store: the store to watch for the first event (default: ``settings.store``).
    """

    async def run(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
        return await checkup(
            settings,
            wait=args.wait,
            transport=transport,
            store=store,
            allow_insecure=bool(getattr(args, "allow_insecure", False)),
        )

    return _command(run)(args, settings, transport=transport)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# -- the parser ------------------------------------------------------------------------


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``webhooks``, ``subscriptions``, ``accounts``, ``send`` and ``doctor``."""
    webhooks = subparsers.add_parser("webhooks", help="register, list, check or delete webhooks")
    hooks = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    p = hooks.add_parser("register", help="register webhook.url (or --url) with X")
    p.add_argument("--url", help="register this URL instead of webhook.url")
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="register a URL that breaks X's rule (https, no port); for emulators",
    )
    p.set_defaults(func=webhooks_register)
    hooks.add_parser("list", help="the app's webhooks").set_defaults(func=webhooks_list)
    p = hooks.add_parser("crc", help="have X run the CRC check again")
    p.add_argument("webhook_id", nargs="?", help="default: the webhook of webhook.url")
    p.set_defaults(func=webhooks_crc)
    p = hooks.add_parser("delete", help="delete a webhook and its subscriptions")
    p.add_argument("webhook_id")
    p.set_defaults(func=webhooks_delete)

    subs = subparsers.add_parser("subscriptions", help="subscribe accounts to the webhook")
    actions = subs.add_subparsers(dest="subscriptions_command", required=True, metavar="ACTION")
    p = actions.add_parser("add", help="subscribe the accounts (each with its own tokens)")
    p.add_argument("--account", metavar="USER_ID", help="only this one (default: every account)")
    p.set_defaults(func=subscriptions_add)
    p = actions.add_parser("list", help="the subscribed accounts")
    p.set_defaults(func=subscriptions_list)
    p = actions.add_parser("remove", help="unsubscribe an account")
    p.add_argument("user_id")
    p.set_defaults(func=subscriptions_remove)
    actions.add_parser("count", help="subscriptions used and allowed").set_defaults(
        func=subscriptions_count
    )
    for name in ("add", "list", "remove"):
        actions.choices[name].add_argument(
            "--webhook-id", help="enterprise, v2, activity: the webhook (default: the only one)"
        )
    actions.choices["add"].description = (
        "Subscribe accounts to the webhook, each with its own tokens: every configured "
        "account, or the one --account names. On the X Activity API (twitter.api: activity) "
        "each account gets a dm.received and a dm.sent subscription."
    )

    p = subparsers.add_parser(
        "replay",
        help="have X deliver a past window again (dedupe drops what was handled)",
        description=(
            "Ask X to deliver the events of a past window again through the webhook: "
            "v2 and activity webhooks reach back 24 hours, enterprise 5 days. Times are "
            "UTC: 2026-12-06T10:00, 202612061000, or a duration ago such as 2h or 30m."
        ),
    )
    p.add_argument("--from", dest="from_", required=True, metavar="WHEN", help="window start")
    p.add_argument("--to", default="now", metavar="WHEN", help="window end (default: now)")
    p.add_argument("--webhook-id", help="the webhook (default: the only one)")
    p.set_defaults(func=replay)

    accounts = subparsers.add_parser("accounts", help="add accounts the bot answers for")
    acts = accounts.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    p = acts.add_parser("authorize", help="get an account's tokens with the PIN flow")
    p.add_argument("--pin", help="the PIN X showed (default: ask)")
    p.set_defaults(func=accounts_authorize)

    p = subparsers.add_parser("send", help="send one Direct Message now")
    p.add_argument("user_id", metavar="USER_ID")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--account", metavar="USER_ID", help="send as (default: the bot account)")
    p.set_defaults(func=send)

    p = subparsers.add_parser("doctor", help="check the setup end to end, then wait for an event")
    p.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for a first event (0: skip)"
    )
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="note, not fail, a webhook URL X would refuse (http, a port): for the emulator",
    )
    p.set_defaults(func=doctor)
