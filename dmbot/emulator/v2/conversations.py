"""``GET /2/dm_conversations/with/:participant_id/dm_events`` and ``GET /2/dm_events``: DMs, read.

The acting account's DMs with the participant (or with anyone), newest first, as v2
``DmEvent`` objects. Their ``id`` is the DM id every other API shows (v1.1
lists, AAA and XAA deliveries; X shares DM ids across API generations), so a
bot unsure whether a send went through can look for it here. X shows
``id``, ``event_type`` and ``text`` (with X's t.co links) unless
``dm_event.fields`` asks for more (``sender_id``, ``created_at``,
``dm_conversation_id``, ``attachments``, ``entities``); a DM the account
deleted is gone from its view;
``expansions=sender_id`` adds the senders under ``includes.users``. A
one-to-one conversation holds only ``MessageCreate`` events: nobody joins
or leaves it. Pages are ``max_results`` long (1 to 100, default 100) and
follow ``meta.next_token``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.clock import iso_timestamp_ms
from dmbot.emulator.media import KEY_PREFIXES
from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import not_found
from dmbot.emulator.state import Message, World
from dmbot.emulator.v2.activity import page_offset, page_token
from dmbot.emulator.v2.messages import conversation_id
from dmbot.emulator.v2.users import POST_FIELD_PARAMETERS, USER_FIELDS, user_object
from dmbot.emulator.validation import v2_id, v2_integer, v2_list, v2_query
from dmbot.types import JSONObject

MAX_RESULTS = 100
"""The largest page (and the default one)."""
DM_EVENT_FIELDS = (
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
    "participant_ids", "referenced_tweets", "sender_id", "text",
)  # fmt: skip
"""``dm_event.fields`` values: the spec's (v2.167), and those X's reference pages add."""
DEFAULT_FIELDS = ("id", "event_type", "text")
EXPANSIONS = (
    "attachments.media_keys", "participant_ids", "referenced_posts", "referenced_tweets.id",
    "sender_id",
)  # fmt: skip
EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
MEDIA_FIELDS = (
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
)  # fmt: skip
PARAMETERS = (
    "max_results", "pagination_token", "event_types", "dm_event.fields", "expansions",
    "user.fields", "media.fields", *POST_FIELD_PARAMETERS,
)  # fmt: skip


def dm_event(message: Message, fields: list[str]) -> JSONObject:
    """``message`` as a v2 ``MessageCreate`` DM event: the default fields and ``fields``."""
    full: JSONObject = {
        "id": message.id,
        "event_type": "MessageCreate",
        "text": message.text,
        "sender_id": message.sender_id,
        "created_at": iso_timestamp_ms(message.created_ms / 1000),
        "dm_conversation_id": conversation_id(message.sender_id, message.recipient_id),
    }
    shown = message.shown or {}
    full["text"] = shown.get("text", message.text)
    if "entities" in shown:
        full["entities"] = v2_entities(shown["entities"])
    attachment = shown.get("attachment") or message.message_data.get("attachment")
    if isinstance(attachment, dict):
        # v2 names media by media key, its prefix the media's type (3_ for a photo).
        media = attachment["media"]
        prefix = KEY_PREFIXES.get(str(media.get("type")), "3")
        full["attachments"] = {"media_keys": [f"{prefix}_{media['id']}"]}
    wanted = dict.fromkeys([*DEFAULT_FIELDS, *fields])
    return {name: full[name] for name in wanted if name in full}


def v2_entities(entities: JSONObject) -> JSONObject:
    """v1.1 ``entities`` in v2's shape (``start``/``end``; ``tag``, ``username``)."""

    def at(item: JSONObject) -> JSONObject:
        return {"start": item["indices"][0], "end": item["indices"][1]}

    shown: JSONObject = {}
    if entities["urls"]:
        shown["urls"] = [
            {
                **at(u),
                "url": u["url"],
                "expanded_url": u["expanded_url"],
                "display_url": u["display_url"],
            }
            for u in entities["urls"]
        ]
    if entities["hashtags"]:
        shown["hashtags"] = [{**at(h), "tag": h["text"]} for h in entities["hashtags"]]
    if entities["symbols"]:
        shown["cashtags"] = [{**at(c), "tag": c["text"]} for c in entities["symbols"]]
    if entities["user_mentions"]:
        shown["mentions"] = [
            {**at(m), "username": m["screen_name"], "id": m["id_str"]}
            for m in entities["user_mentions"]
        ]
    return shown


class ConversationsApi:
    """The handler of the one-to-one DM lookup over one emulator."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def events(self, request: Request, caller: Caller) -> Response:
        """The page of the conversation's events the query asks for."""
        participant = v2_id(request.path_params["participant_id"], "participant_id")
        if self.world.user(participant) is None:
            raise not_found(
                "user", participant, "participant_id", f"No user {participant} exists on X."
            )
        me = caller.account.id
        return self._page(request, me, self.world.conversation(me, participant))

    async def all_events(self, request: Request, caller: Caller) -> Response:
        """``GET /2/dm_events``: the page of all the account's DMs the query asks for."""
        me = caller.account.id
        return self._page(
            request, me, [m for m in self.world.messages if me in (m.sender_id, m.recipient_id)]
        )

    def _page(self, request: Request, me: str, found: list[Message]) -> Response:
        params = v2_query(request.query_params, PARAMETERS)
        size = v2_integer(params, "max_results", 1, MAX_RESULTS, MAX_RESULTS)
        token = params.get("pagination_token")
        start = 0 if token is None else page_offset(token)
        fields = v2_list(params, "dm_event.fields", DM_EVENT_FIELDS) or []
        kinds = v2_list(params, "event_types", EVENT_TYPES) or list(EVENT_TYPES)
        expansions = v2_list(params, "expansions", EXPANSIONS) or []
        user_fields = v2_list(params, "user.fields", USER_FIELDS) or []
        v2_list(params, "media.fields", MEDIA_FIELDS)
        if "MessageCreate" not in kinds:
            found = []
        newest_first = [m for m in reversed(found) if self.world.visible(m, me)]
        page = newest_first[start : start + size]
        body: JSONObject = {}
        if page:
            body["data"] = [dm_event(m, fields) for m in page]
        if page and "sender_id" in expansions:
            senders = dict.fromkeys(m.sender_id for m in page)
            users = [self.world.user(uid) for uid in senders]
            body["includes"] = {"users": [user_object(u, user_fields) for u in users if u]}
        meta: JSONObject = {"result_count": len(page)}
        if start + size < len(newest_first):
            meta["next_token"] = page_token(start + size)
        if start > 0:
            meta["previous_token"] = page_token(max(start - size, 0))
        body["meta"] = meta
        return JSONResponse(body)
