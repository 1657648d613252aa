"""Webhooks and their Account Activity subscriptions, by X's rules, for every API generation.

A webhook is registered only after a passing CRC check, can be checked again
on request, and carries the subscriptions of the accounts whose events it
gets, all within X's limits: per premium environment, per enterprise app
(v1.1), or per app for webhooks registered through ``POST /2/webhooks``.
:class:`WebhookRegistry` holds those rules for the
:class:`~dmbot.emulator.Emulator`; the endpoints answering on top of it are in
:mod:`dmbot.emulator.accountactivity` (v1.1) and :mod:`dmbot.emulator.v2` (v2).
Errors about a v2 webhook are RFC 7807 problems, as the v2 endpoints answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dmbot.emulator.clock import iso_timestamp, iso_timestamp_ms
from dmbot.emulator.faults import ApiError
from dmbot.emulator.problems import as_problem, plain
from dmbot.emulator.state import Webhook

if TYPE_CHECKING:
    from dmbot.emulator.delivery import Deliverer
    from dmbot.emulator.host import Host, UserRef

PREMIUM_WEBHOOKS = 1
"""Webhooks per premium environment (sandbox)."""
ENTERPRISE_WEBHOOKS = 3
PREMIUM_SUBSCRIPTIONS = 15
ENTERPRISE_SUBSCRIPTIONS = 250
V2_WEBHOOKS = 5
"""v2 webhooks per app: X's enterprise figure ("5+"); pay-per-use allows only 1."""
V2_SUBSCRIPTIONS = 5000
"""AAA v2 subscriptions per app: X's enterprise figure ("5,000+"); pay-per-use allows
only 3, too few for tests with several accounts."""
MAX_V2_URL = 200
"""Characters in a v2 webhook URL (``CreateWebhooksRequest.url.maxLength``)."""


class WebhookRegistry:
    """Registering, checking and subscribing webhooks of one emulator, by X's rules.

    The :class:`~dmbot.emulator.Emulator` methods that lead here
    (``register_webhook``, ``register_webhook_v2``, ``check_webhook``,
    ``subscribe``) document X's error answers.

    Args:
        emu: the emulator whose world, users and realism switches apply.
        deliverer: runs the CRC checks.
    """

    def __init__(self, emu: Host, deliverer: Deliverer) -> None:
        self.emu = emu
        self.world = emu.world
        self._deliverer = deliverer

    async def register(self, url: str, *, env_name: str | None = None, v2: bool = False) -> Webhook:
        """Register ``url`` after a passing CRC check, as X does."""
        try:
            return await self._register(url, env_name, v2)
        except ApiError as error:
            raise as_problem(error) if v2 else error from None

    async def _register(self, url: str, env_name: str | None, v2: bool) -> Webhook:
        self._check_url(url, v2)
        if v2:
            existing, limit = self.world.v2_webhooks(), V2_WEBHOOKS
        else:
            existing = self.world.env_webhooks(env_name)
            limit = ENTERPRISE_WEBHOOKS if env_name is None else PREMIUM_WEBHOOKS
        if len(existing) >= limit and v2:
            raise plain(
                403,
                f"This app has {limit} v2 webhooks, X's limit; "
                "delete one with DELETE /2/webhooks/:id before registering another.",
            )
        if len(existing) >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        if any(hook.url == url for hook in existing):
            raise ApiError(400, 214, "Webhook URL is already registered for this environment.")
        passed, reason = await self._deliverer.crc(url)
        if not passed:
            raise ApiError(400, 214, f"Webhook URL does not meet the requirements: {reason}.")
        now = self.emu.clock()
        created = iso_timestamp_ms(now) if v2 else iso_timestamp(now)
        hook = Webhook(self.world.ids.next(), url, True, created, env_name, v2)
        self.world.set_webhook(hook)
        return hook

    async def check(self, webhook_id: str) -> tuple[Webhook, str]:
        """Run the CRC check on a webhook again and update ``valid``."""
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
        passed, reason = await self._deliverer.crc(hook.url)
        hook = replace(hook, valid=passed)
        self.world.set_webhook(hook)
        return hook, reason

    def subscribe(self, webhook_id: str, user: UserRef) -> None:
        """Subscribe an account (one the app holds tokens for) on a webhook."""
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
        try:
            self._subscribe(hook, user)
        except ApiError as error:
            raise as_problem(error) if hook.v2 else error from None

    def _subscribe(self, hook: Webhook, user: UserRef) -> None:
        account = self.emu.user(user)
        if not account.is_account:
            raise ApiError(
                401,
                89,
                f"@{account.screen_name} has not authorized the app, so it cannot be subscribed; "
                "give it tokens with add_account or the OAuth flow first.",
            )
        if (hook.id, account.id) in self.world.subscriptions:
            raise ApiError(409, 355)
        if hook.v2:
            v2_ids = {h.id for h in self.world.v2_webhooks()}
            taken = sum(1 for hook_id, _ in self.world.subscriptions if hook_id in v2_ids)
            limit = V2_SUBSCRIPTIONS
        else:
            taken = len(self.world.subscribers(hook.id))
            limit = ENTERPRISE_SUBSCRIPTIONS if hook.env_name is None else PREMIUM_SUBSCRIPTIONS
        if taken >= limit and hook.v2:
            raise plain(
                403,
                f"This app has {limit} Account Activity v2 subscriptions, X's limit; remove one "
                "with DELETE /2/account_activity/webhooks/:id/subscriptions/:user_id/all first.",
            )
        if taken >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        self.world.subscriptions.add((hook.id, account.id))

    def _check_url(self, url: str, v2: bool) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, 214, "Webhook URL must be an absolute http(s) URL.")
        if v2 and len(url) > MAX_V2_URL:
            raise ApiError(400, 214, f"Webhook URL must be at most {MAX_V2_URL} characters.")
        if self.emu.realism.strict_urls and (
            parts.scheme != "https" or parts.port is not None or len(url) > 200
        ):
            raise ApiError(
                400, 214, "Webhook URL must use https, name no port and be at most 200 characters."
            )
