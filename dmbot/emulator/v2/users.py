"""``GET /2/users/me``: the account whose user context makes the call, as a v2 user.

X answers ``id``, ``name`` and ``username`` unless ``user.fields`` asks for
more; fields a user has no value for are left out, as X leaves them out. The
emulator's users have no posts, so the post expansions and fields are
checked and bring nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from dmbot.emulator.oauth import Caller
from dmbot.emulator.payloads import v2_user
from dmbot.emulator.state import User
from dmbot.emulator.v2 import answer
from dmbot.emulator.validation import v2_list, v2_query
from dmbot.types import JSONObject

USER_FIELDS = (
    "affiliation", "confirmed_email", "connection_status", "created_at", "description",
    "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name",
    "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected",
    "public_metrics", "receives_your_dm", "subscribes_to_you", "subscription",
    "subscription_type", "url", "username", "verified", "verified_followers_count",
    "verified_type", "withheld",
)  # fmt: skip
"""``user.fields`` values: the spec's (v2.167), and the three X's reference pages add."""
DEFAULT_FIELDS = ("id", "name", "username")
USER_EXPANSIONS = (
    "affiliation", "most_recent_post_id", "pinned_post_id",
    "most_recent_tweet_id", "pinned_tweet_id",
)  # fmt: skip
"""``expansions`` of a user: the spec's names and the older ``tweet`` ones X still documents."""
POST_FIELD_PARAMETERS = ("tweet.fields", "post.fields")
"""How the spec (``post.fields``) and X's pages (``tweet.fields``) name the post fields."""


def user_object(user: User, fields: Iterable[str] = ()) -> JSONObject:
    """``user`` as a v2 user object: the default fields and those of ``fields`` it has."""
    full = v2_user(user)
    # The spec (v2.167) counts posts as post_count; X's payloads still say tweet_count.
    full["public_metrics"]["post_count"] = full["public_metrics"]["tweet_count"]
    wanted = dict.fromkeys([*DEFAULT_FIELDS, *fields])
    return {name: full[name] for name in wanted if name in full}


class UsersApi:
    """The handler of ``GET /2/users/me`` over one emulator."""

    async def me(self, request: Request, caller: Caller) -> Response:
        """``GET /2/users/me?user.fields=&expansions=``: the acting account."""
        allowed = ("user.fields", "expansions", *POST_FIELD_PARAMETERS)
        params = v2_query(request.query_params, allowed)
        fields = v2_list(params, "user.fields", USER_FIELDS) or []
        v2_list(params, "expansions", USER_EXPANSIONS)
        return answer(user_object(caller.account, fields))
