"""``dmbot subscriptions add|list|remove|count``: which accounts' events reach the webhook."""

from __future__ import annotations

import argparse
import sys

from dmbot.cli.client import Transport, acting, acting_account, x_command
from dmbot.cli.command import Commands
from dmbot.config.settings import Settings
from dmbot.errors import PermanentError
from dmbot.x.app import client_from_settings

__all__ = [
    "add_subscriptions",
    "count_subscriptions",
    "list_subscriptions",
    "register",
    "remove_subscription",
]

WEBHOOK_ID_HELP = "enterprise, v2, activity: the webhook (default: the only one)"


def _on_stream(args: argparse.Namespace, settings: Settings) -> bool:
    """Subscriptions for the activity stream: ``delivery: stream`` and no webhook named."""
    return settings.delivery == "stream" and not args.webhook_id


@x_command
async def add_subscriptions(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    """Subscribe every configured account, or the one ``--account`` names, with its own tokens."""
    accounts = [acting_account(settings, args.account)] if args.account else settings.all_accounts
    if not accounts:
        acting_account(settings, None)  # raises: no account tokens configured
    activity = settings.twitter.api == "activity"
    stream = _on_stream(args, settings)
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


@x_command
async def list_subscriptions(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    """Print the subscribed accounts (on the X Activity API: each subscription)."""
    async with acting(settings, transport) as client:
        if settings.twitter.api == "activity":
            found = await client.activity.all()
            if not _on_stream(args, settings):
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


@x_command
async def remove_subscription(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    """Unsubscribe one account."""
    async with acting(settings, transport) as client:
        if _on_stream(args, settings):
            if not await client.activity.remove(args.user_id, None):
                print(f"dmbot: account {args.user_id} has no subscription.", file=sys.stderr)
                return 1
        else:
            await client.remove_subscription(args.user_id, args.webhook_id)
    print(f"Removed the subscription of account {args.user_id}.")
    return 0


@x_command
async def count_subscriptions(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    """Print how many subscriptions the app uses, and of how many."""
    async with acting(settings, transport) as client:
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


def register(commands: Commands) -> None:
    """Add ``subscriptions`` and its actions."""
    actions = commands.group("subscriptions", help="subscribe accounts to the webhook")
    p = actions.add(
        "add",
        add_subscriptions,
        help="subscribe the accounts (each with its own tokens)",
        description=(
            "Subscribe accounts to the webhook, each with its own tokens: every configured "
            "account, or the one --account names. On the X Activity API (twitter.api: activity) "
            "each account gets a dm.received and a dm.sent subscription."
        ),
    )
    p.add_argument("--account", metavar="USER_ID", help="only this one (default: every account)")
    p.add_argument("--webhook-id", help=WEBHOOK_ID_HELP)
    p = actions.add("list", list_subscriptions, help="the subscribed accounts")
    p.add_argument("--webhook-id", help=WEBHOOK_ID_HELP)
    p = actions.add("remove", remove_subscription, help="unsubscribe an account")
    p.add_argument("user_id")
    p.add_argument("--webhook-id", help=WEBHOOK_ID_HELP)
    actions.add("count", count_subscriptions, help="subscriptions used and allowed")
