"""``/2/webhooks`` and ``/2/webhooks/replay``: the v2 webhooks AAA v2 and XAA deliver to.

Registering runs the real CRC check against the URL (as v1.1 does), ``PUT``
runs it again, ``DELETE`` takes the webhook's subscriptions with it. No
``env_name``: the limits are per app (:data:`~dmbot.emulator.webhooks.V2_WEBHOOKS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import invalid_request, not_found
from dmbot.emulator.state import Webhook, World
from dmbot.emulator.v2 import answer
from dmbot.emulator.validation import v2_body, v2_id
from dmbot.emulator.webhooks import MAX_V2_URL

if TYPE_CHECKING:
    from dmbot.emulator.surface import Surface


def v2_webhook(world: World, webhook_id: object) -> Webhook:
    """The v2 webhook a path or body names.

    Raises:
        Problem: 400 for a malformed id, 404 when no v2 webhook has it.
    """
    hook = world.webhook(v2_id(webhook_id, "webhook_id"))
    if hook is None or not hook.v2:
        raise not_found(
            "webhook",
            str(webhook_id),
            "webhook_id",
            f"No v2 webhook {webhook_id}; GET /2/webhooks lists this app's webhooks.",
        )
    return hook


class WebhooksApi:
    """The handlers of ``/2/webhooks...`` over one emulator."""

    def __init__(self, emu: Surface) -> None:
        self.emu = emu
        self.world = emu.world

    async def register(self, request: Request, caller: Caller) -> Response:
        """``POST /2/webhooks {"url"}``."""
        url = v2_body(await request.body(), ("url",), ("url",))["url"]
        if not isinstance(url, str) or not 1 <= len(url) <= MAX_V2_URL:
            raise invalid_request(
                f"$.url: a URL of 1 to {MAX_V2_URL} characters is required.", "url", url
            )
        hook = await self.emu.register_webhook_v2(url)
        return answer(hook.to_json())

    async def list_webhooks(self, request: Request, caller: Caller) -> Response:
        """``GET /2/webhooks``."""
        hooks = [hook.to_json() for hook in self.world.v2_webhooks()]
        return JSONResponse({"data": hooks, "meta": {"result_count": len(hooks)}})

    async def validate(self, request: Request, caller: Caller) -> Response:
        """``PUT /2/webhooks/:id``: the CRC check again; ``valid`` says how it went."""
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        checked, _ = await self.emu.check_webhook(hook.id)
        return answer({"valid": checked.valid})

    async def delete(self, request: Request, caller: Caller) -> Response:
        """``DELETE /2/webhooks/:id``, with every subscription on it."""
        hook = v2_webhook(self.world, request.path_params["webhook_id"])
        self.emu.delete_webhook(hook.id)
        return answer({"deleted": True})

    async def replay(self, request: Request, caller: Caller) -> Response:
        """``POST /2/webhooks/replay {"webhook_id","from_date","to_date"}``."""
        names = ("webhook_id", "from_date", "to_date")
        body = v2_body(await request.body(), names, names)
        hook = v2_webhook(self.world, body["webhook_id"])
        job = self.emu.replay(hook.id, body["from_date"], body["to_date"])
        return answer(job.to_json())
