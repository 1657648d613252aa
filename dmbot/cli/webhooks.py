"""``dmbot webhooks register|list|crc|delete``: the app's webhooks on X."""

from __future__ import annotations

import argparse
import sys

from dmbot.cli.client import Transport, acting, x_command
from dmbot.cli.command import Commands
from dmbot.config.settings import Settings, webhook_url_problem
from dmbot.errors import ConfigError
from dmbot.x.client import XClient

__all__ = ["crc_check", "delete_webhook", "list_webhooks", "register", "register_webhook"]


@x_command
async def register_webhook(
    args: argparse.Namespace, settings: Settings, transport: Transport
) -> int:
    """Register ``webhook.url``, or ``--url``, with X."""
    url = args.url or settings.webhook.url
    if not url:
        print("dmbot: no webhook URL: set webhook.url in the config or pass --url", file=sys.stderr)
        return 1
    problem = webhook_url_problem(url)
    if problem and not args.allow_insecure:
        print(f"dmbot: {problem} Pass --allow-insecure to try anyway.", file=sys.stderr)
        return 1
    async with acting(settings, transport) as client:
        hook = await client.register_webhook(url)
    print(f"Registered webhook {hook.id} for {hook.url} (valid: {_yes(hook.valid)}).")
    print("Next: subscribe the bot account with `dmbot subscriptions add`.")
    return 0


@x_command
async def list_webhooks(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    """Print the app's webhooks, one a line."""
    async with acting(settings, transport) as client:
        hooks = await client.list_webhooks()
    if not hooks:
        print("No webhooks registered. Register one with `dmbot webhooks register`.")
    for hook in hooks:
        print(f"{hook.id}  {hook.url}  valid: {_yes(hook.valid)}  created: {hook.created_at}")
    return 0


@x_command
async def crc_check(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    """Have X run the CRC against the webhook again; 1 when it fails."""
    async with acting(settings, transport) as client:
        webhook_id = args.webhook_id or await _configured_webhook_id(client, settings)
        valid = await client.crc_check(webhook_id)
    if valid:
        print(f"X ran the CRC against webhook {webhook_id}: it passed and the webhook is valid.")
        return 0
    print(f"X ran the CRC against webhook {webhook_id} and it failed; see `dmbot doctor`.")
    return 1


@x_command
async def delete_webhook(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    """Delete a webhook, and with it its subscriptions."""
    async with acting(settings, transport) as client:
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


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def register(commands: Commands) -> None:
    """Add ``webhooks`` and its actions."""
    hooks = commands.group("webhooks", help="register, list, check or delete webhooks")
    p = hooks.add("register", register_webhook, help="register webhook.url (or --url) with X")
    p.add_argument("--url", help="register this URL instead of webhook.url")
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="register a URL that breaks X's rule (https, no port); for emulators",
    )
    hooks.add("list", list_webhooks, help="the app's webhooks")
    p = hooks.add("crc", crc_check, help="have X run the CRC check again")
    p.add_argument("webhook_id", nargs="?", help="default: the webhook of webhook.url")
    p = hooks.add("delete", delete_webhook, help="delete a webhook and its subscriptions")
    p.add_argument("webhook_id")
