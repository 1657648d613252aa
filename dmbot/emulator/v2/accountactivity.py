"""``/2/account_activity/...``: Account Activity v2 subscriptions on v2 webhooks.

An account subscribes itself with its own user context (OAuth 1.0a); the app
lists, counts and removes subscriptions with its bearer token. Deliveries to
these subscriptions are the v1.1 payloads, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import not_found
from dmbot.emulator.v2 import answer
from dmbot.emulator.v2.webhooks import v2_webhook
from dmbot.emulator.validation import v2_body, v2_id
from dmbot.emulator.webhooks import V2_SUBSCRIPTIONS

if TYPE_CHECKING:
    from dmbot.emulator.surface import Surface


class AccountActivityV2Api:
    """The handlers of ``/2/account_activity/...`` over one emulator."""

    def __init__(self, emu: Surface) -> None:
        self.emu = emu
        self.world = emu.world

    async def subscribe(self, request: Request, caller: Caller) -> Response:
        """``POST .../webhooks/:id/subscriptions/all``: the caller's account subscribes."""
        v2_body(await request.body(), ())  # the spec's request object has no members
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        self.emu.subscribe(hook.id, caller.account)
        return answer({"subscribed": True})

    async def is_subscribed(self, request: Request, caller: Caller) -> Response:
        """``GET .../webhooks/:id/subscriptions/all``: whether the caller's account is."""
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        return answer({"subscribed": (hook.id, caller.account.id) in self.world.subscriptions})

    async def subscribers(self, request: Request, caller: Caller) -> Response:
        """``GET .../webhooks/:id/subscriptions/all/list``."""
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        return answer(
            {
                "application_id": self.world.app.id,
                "webhook_id": hook.id,
                "webhook_url": hook.url,
                "subscriptions": [{"user_id": uid} for uid in self.world.subscribers(hook.id)],
            }
        )

    async def unsubscribe(self, request: Request, caller: Caller) -> Response:
        """``DELETE .../webhooks/:id/subscriptions/:user_id/all``."""
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        user_id = v2_id(request.path_params["user_id"], "user_id")
        if (hook.id, user_id) not in self.world.subscriptions:
            raise not_found(
                "user",
                user_id,
                "user_id",
                f"User {user_id} has no subscription on webhook {hook.id}; GET "
                f"/2/account_activity/webhooks/{hook.id}/subscriptions/all/list lists them.",
            )
        self.world.subscriptions.discard((hook.id, user_id))
        return answer({"subscribed": False})

    async def count(self, request: Request, caller: Caller) -> Response:
        """``GET /2/account_activity/subscriptions/count`` (counts are strings, as X sends them)."""
        v2_ids = {hook.id for hook in self.world.v2_webhooks()}
        taken = str(sum(1 for hook_id, _ in self.world.subscriptions if hook_id in v2_ids))
        return answer(
            {
                "account_name": self.world.app.name,
                "provisioned_count": str(V2_SUBSCRIPTIONS),
                "subscriptions_count_all": taken,
                "subscriptions_count_direct_messages": taken,
            }
        )
