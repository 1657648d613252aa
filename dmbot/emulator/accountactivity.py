"""X's v1.1 Account Activity management endpoints (premium and enterprise) on the emulated side.

:class:`AccountActivityApi` answers ``/1.1/account_activity/all/:env_name/...``
(premium) and ``/1.1/account_activity/webhooks/...`` (enterprise) in v1.1's
shapes; the rules (CRC, limits) are :class:`~dmbot.emulator.webhooks.WebhookRegistry`'s.
The v2 paths are in :mod:`dmbot.emulator.v2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.faults import ApiError
from dmbot.emulator.oauth import Caller, request_params
from dmbot.emulator.problems import Problem
from dmbot.emulator.validation import bad_request, required_param
from dmbot.emulator.webhooks import ENTERPRISE_SUBSCRIPTIONS, PREMIUM_SUBSCRIPTIONS
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.surface import Surface


def no_content() -> Response:
    """X's 204 answer."""
    return Response(status_code=204)


class AccountActivityApi:
    """The handlers of X's Account Activity management endpoints over one emulator."""

    def __init__(self, emu: Surface) -> None:
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
        provisioned = ENTERPRISE_SUBSCRIPTIONS if enterprise else PREMIUM_SUBSCRIPTIONS
        v1 = [s for s in self.world.subscriptions if s[0] not in self._v2_ids()]
        return JSONResponse(
            {
                "account_name": self.world.app.name,
                "subscriptions_count_all": str(len(v1)),
                "subscriptions_count_direct_messages": "0",
                "provisioned_count": str(provisioned),
            }
        )

    async def all_webhooks(self, request: Request, caller: Caller) -> Response:
        """``GET /1.1/account_activity/all/webhooks.json``: every premium environment's webhooks."""
        environments: dict[str, list[JSONObject]] = {}
        for hook in self.world.webhooks:
            if hook.env_name is not None and not hook.v2:
                stamp = hook.created_at.replace("T", " ").replace("Z", " +0000")
                environments.setdefault(hook.env_name, []).append(
                    {
                        "id": hook.id,
                        "url": hook.url,
                        "valid": hook.valid,
                        "created_timestamp": stamp,
                    }
                )
        return JSONResponse(
            {
                "environments": [
                    {"environment_name": name, "webhooks": hooks}
                    for name, hooks in environments.items()
                ]
            }
        )

    async def replay(self, request: Request, caller: Caller) -> Response:
        """``POST /1.1/account_activity/replay/webhooks/:id/subscriptions/all.json``
        (enterprise): 202 and the job; the window's events, then ``replay_job_status``."""
        params = request_params(request, await request.body())
        from_date = required_param(params, "from_date")
        to_date = required_param(params, "to_date")
        try:
            job = self.emu.replay(
                request.path_params["webhook_id"], from_date, to_date, enterprise=True
            )
        except Problem as problem:
            raise (
                ApiError(404, 34) if problem.status == 404 else bad_request(problem.detail)
            ) from None
        return JSONResponse(job.to_json(), status_code=202)

    def _webhook(self, request: Request) -> str:
        """The webhook a management call is about: by id, or the environment's only one."""
        env = _env(request)
        hook_id = request.path_params.get("webhook_id")
        if hook_id is None:
            hooks = self.world.env_webhooks(env)
            if not hooks:
                raise ApiError(404, 34)
            return hooks[0].id
        hook = self.world.webhook(hook_id, env)
        if hook is None or hook.v2:
            raise ApiError(404, 34)
        return str(hook_id)

    def _v2_ids(self) -> set[str]:
        return {hook.id for hook in self.world.v2_webhooks()}


def _env(request: Request) -> str | None:
    env = request.path_params.get("env_name")
    return None if env is None else str(env)
