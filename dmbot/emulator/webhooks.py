"""Webhooks and subscriptions: X's Account Activity API on the emulated side.

A webhook is registered only after a passing CRC check, can be checked again
on request, and carries the subscriptions of the accounts whose events it
gets, all within X's per-environment limits. :class:`WebhookRegistry` holds
those rules for the :class:`~dmbot.emulator.Emulator`;
:class:`AccountActivityApi` answers the ``/1.1/account_activity/`` endpoints
(premium ``all/:env_name/...`` and enterprise ``webhooks/...`` alike).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.faults import ApiError
from dmbot.emulator.oauth import Caller, request_params
from dmbot.emulator.state import Webhook, iso_timestamp
from dmbot.emulator.validation import required_param
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator import Emulator, UserRef
    from dmbot.emulator.delivery import Deliverer

PREMIUM_WEBHOOKS = 1
"""Webhooks per premium environment (sandbox)."""
ENTERPRISE_WEBHOOKS = 3
PREMIUM_SUBSCRIPTIONS = 15
ENTERPRISE_SUBSCRIPTIONS = 250


class WebhookRegistry:
    """Registering, checking and subscribing webhooks of one emulator, by X's rules.

    The :class:`~dmbot.emulator.Emulator` methods that lead here
    (``register_webhook``, ``check_webhook``, ``subscribe``) document X's
    error answers.

    Args:
        emu: the emulator whose world, users and realism switches apply.
        deliverer: runs the CRC checks.
    """

    def __init__(self, emu: Emulator, deliverer: Deliverer) -> None:
        self.emu = emu
        self.world = emu.world
        self._deliverer = deliverer

    async def register(self, url: str, *, env_name: str | None = None) -> Webhook:
        """Register ``url`` after a passing CRC check, as X does."""
        self._check_url(url)
        existing = self.world.env_webhooks(env_name)
        limit = ENTERPRISE_WEBHOOKS if env_name is None else PREMIUM_WEBHOOKS
        if len(existing) >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        if any(hook.url == url for hook in existing):
            raise ApiError(400, 214, "Webhook URL is already registered for this environment.")
        passed, reason = await self._deliverer.crc(url)
        if not passed:
            raise ApiError(400, 214, f"Webhook URL does not meet the requirements: {reason}.")
        hook = Webhook(self.world.ids.next(), url, True, iso_timestamp(self.emu.clock()), env_name)
        self.world.set_webhook(hook)
        return hook

    async def check(self, webhook_id: str) -> tuple[Webhook, str]:
        """Run the CRC check on a webhook again and update ``valid``."""
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
        passed, reason = await self._deliverer.crc(hook.url)
        hook = Webhook(hook.id, hook.url, passed, hook.created_at, hook.env_name)
        self.world.set_webhook(hook)
        return hook, reason

    def subscribe(self, webhook_id: str, user: UserRef) -> None:
        """Subscribe an account (one the app holds tokens for) on a webhook."""
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
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
        limit = ENTERPRISE_SUBSCRIPTIONS if hook.env_name is None else PREMIUM_SUBSCRIPTIONS
        if len(self.world.subscribers(hook.id)) >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        self.world.subscriptions.add((hook.id, account.id))

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, 214, "Webhook URL must be an absolute http(s) URL.")
        if self.emu.realism.strict_urls and (
            parts.scheme != "https" or parts.port is not None or len(url) > 200
        ):
            raise ApiError(
                400, 214, "Webhook URL must use https, name no port and be at most 200 characters."
            )


def no_content() -> Response:
    """X's 204 answer."""
    return Response(status_code=204)


class AccountActivityApi:
    """The handlers of X's Account Activity management endpoints over one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.world = emu.world

    async def register(self, request: Request, caller: Caller) -> Response:
        url = required_param(request_params(request, await request.body()), "url")
        hook = await self.emu.register_webhook(url, env_name=_env(request))
        return JSONResponse(hook.to_json())

    async def list_webhooks(self, request: Request, caller: Caller) -> Response:
        hooks = self.world.env_webhooks(_env(request))
        return JSONResponse([h.to_json() for h in hooks])

    async def recheck(self, request: Request, caller: Caller) -> Response:
        hook_id = self._webhook(request)
        _, reason = await self.emu.check_webhook(hook_id)
        if reason:
            raise ApiError(400, 214, f"Webhook URL does not meet the requirements: {reason}.")
        return no_content()

    async def delete(self, request: Request, caller: Caller) -> Response:
        self.world.remove_webhook(self._webhook(request))
        return no_content()

    async def subscribe(self, request: Request, caller: Caller) -> Response:
        self.emu.subscribe(self._webhook(request), caller.account)
        return no_content()

    async def is_subscribed(self, request: Request, caller: Caller) -> Response:
        if (self._webhook(request), caller.account.id) not in self.world.subscriptions:
            raise ApiError(404, 34)
        return no_content()

    async def unsubscribe(self, request: Request, caller: Caller) -> Response:
        hook_id = self._webhook(request)
        user_id = request.path_params.get("user_id") or caller.account.id
        if (hook_id, user_id) not in self.world.subscriptions:
            raise ApiError(404, 34)
        self.world.subscriptions.discard((hook_id, user_id))
        return no_content()

    async def subscribers(self, request: Request, caller: Caller) -> Response:
        hook_id = self._webhook(request)
        hook = self.world.webhook(hook_id)
        subscriptions = [{"user_id": uid} for uid in self.world.subscribers(hook_id)]
        app_id = self.world.app.id
        if hook is not None and hook.env_name is not None:
            body: JSONObject = {"environment": hook.env_name, "application_id": app_id}
        else:
            body = {"webhook_id": hook_id, "webhook_url": hook.url if hook else ""}
            body["application_id"] = app_id
        body["subscriptions"] = subscriptions
        return JSONResponse(body)

    async def count(self, request: Request, caller: Caller) -> Response:
        enterprise = "/all/" not in request.url.path
        provisioned = 250 if enterprise else 15
        return JSONResponse(
            {
                "account_name": self.world.app.name,
                "subscriptions_count_all": str(len(self.world.subscriptions)),
                "subscriptions_count_direct_messages": "0",
                "provisioned_count": str(provisioned),
            }
        )

    def _webhook(self, request: Request) -> str:
        """The webhook a management call is about: by id, or the environment's only one."""
        env = _env(request)
        hook_id = request.path_params.get("webhook_id")
        if hook_id is None:
            hooks = self.world.env_webhooks(env)
            if not hooks:
                raise ApiError(404, 34)
            return hooks[0].id
        if self.world.webhook(hook_id, env) is None:
            raise ApiError(404, 34)
        return str(hook_id)


def _env(request: Request) -> str | None:
    env = request.path_params.get("env_name")
    return None if env is None else str(env)
