"""``POST /2/dm_conversations/with/:participant_id/messages``: sending a DM through v2.

Text and at most one media attachment, nothing else: the spec's
``additionalProperties: false`` refuses ``quick_reply``, ``ctas`` and the
like with a 400 problem. The rules are v1.1's (the length X counts, who may
write to whom, which media may be attached), refused with 403 problems in
X's words. The DM is recorded and delivered like any other (the sender's
AAA echo names our app; XAA subscribers get ``dm.sent``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from dmbot.emulator.entities import weighted_length
from dmbot.emulator.faults import MESSAGES
from dmbot.emulator.media import AttachError
from dmbot.emulator.oauth import Caller
from dmbot.emulator.permission import refusal
from dmbot.emulator.problems import invalid_request, not_found, plain
from dmbot.emulator.v2 import answer
from dmbot.emulator.validation import MAX_TEXT, only_members, v2_body, v2_id, v2_string
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.host import Host

MAX_ATTACHMENTS = 1
"""Media in one DM."""
NOT_ATTACHABLE = "You are not permitted to attach this media to a DM event."
"""X's v2 answer to media the sender may not attach (never uploaded by it, expired...)."""


def conversation_id(a: str, b: str) -> str:
    """The ``dm_conversation_id`` of a one-to-one conversation: both ids, lower first."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


class MessagesApi:
    """The handler of the v2 DM send over one emulator."""

    def __init__(self, emu: Host) -> None:
        self.emu = emu
        self.world = emu.world

    async def send(self, request: Request, caller: Caller) -> Response:
        """Send ``{"text", "attachments":[{"media_id"}]}`` to the participant; 201 with ids."""
        participant = v2_id(request.path_params["participant_id"], "participant_id")
        body = v2_body(await request.body(), ("text", "attachments"))
        text = v2_string(body, "text")
        if text is not None and not 1 <= weighted_length(text) <= MAX_TEXT:
            raise invalid_request(
                f"$.text: 1 to {MAX_TEXT} characters are required (a URL counts 23); this one "
                f"has {weighted_length(text)}.",
                "text",
            )
        data: JSONObject = {"text": text or ""}
        if "attachments" in body:
            data["attachment"] = _attachment(body["attachments"])
        elif text is None:
            raise invalid_request("At least one of text, attachments is required.")
        recipient = self.world.user(participant)
        if recipient is None:
            raise not_found(
                "user", participant, "participant_id", f"No user {participant} exists on X."
            )
        sender = caller.account
        code = refusal(self.world, sender, recipient)
        if code is not None:
            raise plain(403, MESSAGES[code])
        if "attachment" in data:
            try:
                self.emu.media.check(sender.id, data["attachment"]["media"]["id"])
            except AttachError:
                raise plain(403, NOT_ATTACHABLE) from None
        message = await self.emu.post_message(
            sender.id, participant, data, source_app_id=self.world.app.id
        )
        ids = {"dm_conversation_id": conversation_id(sender.id, participant)}
        ids["dm_event_id"] = message.id
        return answer(ids, status=201)


def _attachment(attachments: object) -> JSONObject:
    """The v1.1 ``attachment`` of the one media a v2 send attaches."""
    if not isinstance(attachments, list) or not 1 <= len(attachments) <= MAX_ATTACHMENTS:
        raise invalid_request(
            f"$.attachments: a list of {MAX_ATTACHMENTS} attachment is allowed.",
            "attachments",
            json.dumps(attachments),
        )
    [item] = attachments
    if not isinstance(item, dict):
        raise invalid_request("$.attachments[0]: must be an object with media_id.", "attachments")
    only_members(item, ("media_id",), "$.attachments[0].")
    media_id = v2_id(item.get("media_id"), "attachments[0].media_id")
    return {"type": "media", "media": {"id": media_id}}
