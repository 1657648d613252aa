"""What X accepts in a request: JSON bodies, parameters, and ``message_data``.

A request that breaks X's schema gets X's 400 answer naming the offending
field, as the real API does: in v1.1, code 214 (354 for text over the
limit); in v2, an ``invalid-request`` problem. The handlers check what
arrived with these before they touch the world.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request

from dmbot.emulator.entities import weighted_length
from dmbot.emulator.faults import ApiError
from dmbot.emulator.problems import invalid_request
from dmbot.types import JSONObject

MAX_TEXT = 10_000
"""Characters in a DM (X's limit), counted as X counts them (a URL counts 23)."""
MAX_WELCOME_TEXT = 9_990
"""Characters in a welcome message."""
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
ID = re.compile(r"[0-9]{1,19}")
"""X's id pattern in v2 paths and bodies (``^[0-9]{1,19}$``)."""


def bad_request(message: str) -> ApiError:
    """X's answer to a body that breaks its schema (400, code 214)."""
    return ApiError(400, 214, message)


def json_body(request: Request, body: bytes) -> JSONObject:
    """The JSON object of a DM or welcome message request.

    Raises:
        ApiError: 415 for a body not sent as JSON, 400/214 for one that is not an object.
    """
    if not request.headers.get("content-type", "").startswith("application/json"):
        # X answers 415 to a DM or welcome message posted as a form.
        raise ApiError(415, None, "Send the body as JSON with Content-Type: application/json.")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object sent as Content-Type: application/json.")
    return data


def required_param(params: dict[str, str], name: str) -> str:
    """The parameter ``name``, which must be given and not empty (else 400/214)."""
    value = params.get(name)
    if not value:
        raise bad_request(f"The parameter {name} is required.")
    return value


def integer_param(params: dict[str, str], name: str, default: int) -> int:
    """The whole-number parameter ``name``, ``default`` when absent (else 400/214)."""
    try:
        return int(params.get(name) or default)
    except ValueError:
        raise bad_request(f"The parameter {name} must be a whole number.") from None


def v2_body(body: bytes, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> JSONObject:
    """The JSON object of a v2 request, holding only ``allowed`` members.

    An empty body counts as ``{}``. Members the spec does not define are
    refused, as its ``additionalProperties: false`` says.

    Raises:
        Problem: 400 ``invalid-request`` naming what is wrong.
    """
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise invalid_request("The body must be a JSON object (Content-Type: application/json).")
    only_members(data, allowed, "$.")
    for name in required:
        if name not in data:
            raise invalid_request(f"$.{name}: is missing but it is required", name)
    return data


def only_members(data: JSONObject, allowed: tuple[str, ...], where: str) -> None:
    """Refuse a member of ``data`` outside ``allowed`` (400, in X's schema wording)."""
    for name in data:
        if name not in allowed:
            raise invalid_request(
                f"{where}{name}: is not defined in the schema and the schema does not allow "
                f"additional properties; allowed: {', '.join(allowed)}.",
                name,
                json.dumps(data[name]),
            )


def v2_string(data: JSONObject, name: str, where: str = "$.") -> str | None:
    """The member ``name`` of ``data``, which must be a string when present (else 400)."""
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_request(f"{where}{name}: must be a string.", name, json.dumps(value))
    return value


def v2_id(value: object, name: str) -> str:
    """``value`` as an X id (1 to 19 digits), else a 400 naming ``name``."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise invalid_request(
            f"{name} must be an id of 1 to 19 digits, not {value!r}.", name, str(value)
        )
    return value


def v2_query(query: Mapping[str, str], allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters of a v2 GET, which may only be ``allowed`` ones (else 400, as X)."""
    for name in query:
        if name not in allowed:
            raise invalid_request(
                f"The query parameters [{name}] is not one of [{','.join(allowed)}]; leave it out.",
                name,
                query[name],
            )
    return dict(query)


def v2_integer(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    """The whole-number parameter ``name`` within ``low``..``high`` (else 400)."""
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise invalid_request(
            f"{name} must be a whole number from {low} to {high}, not {value!r}.", name, value
        )
    return int(value)


def v2_list(query: Mapping[str, str], name: str, allowed: Iterable[str]) -> list[str] | None:
    """A comma-separated parameter (``dm_event.fields``...) of ``allowed`` values; None if absent.

    Raises:
        Problem: 400 for an empty list or a value the spec does not list.
    """
    value = query.get(name)
    if value is None:
        return None
    items = value.split(",")
    known = tuple(allowed)
    for item in items:
        if item not in known:
            raise invalid_request(
                f"The `{name}` query parameter value [{item}] is not one of [{','.join(known)}].",
                name,
                value,
            )
    return list(dict.fromkeys(items))


# X's rules for message data


def validate_message_data(data: Any, where: str, max_text: int = MAX_TEXT) -> JSONObject:
    """Check ``message_data`` against X's limits; the accepted fields.

    Raises:
        ApiError: 400 code 354 for text over ``max_text``, else 400 code 214
            naming the offending field.
    """
    if not isinstance(data, dict):
        raise bad_request(f"{where}: a JSON object is required.")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise bad_request(f"{where}.text: must be a string.")
    if weighted_length(text) > max_text:
        raise ApiError(400, 354)
    if not text and "attachment" not in data:
        raise bad_request(f"{where}.text: a message needs text or an attachment.")
    clean: JSONObject = {"text": text}
    if "quick_reply" in data:
        clean["quick_reply"] = _quick_reply(data["quick_reply"], f"{where}.quick_reply")
    if "ctas" in data:
        clean["ctas"] = _ctas(data["ctas"], f"{where}.ctas")
    if "attachment" in data:
        attachment = data["attachment"]
        media = attachment.get("media") if isinstance(attachment, dict) else None
        if not isinstance(media, dict) or not str(media.get("id", "")).isdigit():
            raise bad_request(f"{where}.attachment: type media with a media id is required.")
        clean["attachment"] = {"type": "media", "media": {"id": str(media["id"])}}
    return clean


def _quick_reply(quick_reply: Any, where: str) -> JSONObject:
    if not isinstance(quick_reply, dict) or quick_reply.get("type") != "options":
        raise bad_request(f'{where}.type: must be "options".')
    options = quick_reply.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= 20:
        raise bad_request(f"{where}.options: between 1 and 20 options are required.")
    described = [isinstance(o, dict) and "description" in o for o in options]
    if any(described) and not all(described):
        raise bad_request(f"{where}.options: give a description to all options or to none.")
    clean: list[JSONObject] = []
    for i, option in enumerate(options):
        at = f"{where}.options[{i}]"
        if not isinstance(option, dict):
            raise bad_request(f"{at}: a JSON object is required.")
        label = option.get("label")
        if not isinstance(label, str) or not 1 <= len(label) <= 36:
            raise bad_request(f"{at}.label: 1 to 36 characters are required.")
        if _URL.search(label):
            raise bad_request(f"{at}.label: must not contain a URL.")
        item: JSONObject = {"label": label}
        for name, limit in (("description", 72), ("metadata", 1000)):
            if name in option:
                value = option[name]
                if not isinstance(value, str) or len(value) > limit:
                    raise bad_request(f"{at}.{name}: at most {limit} characters are allowed.")
                item[name] = value
        clean.append(item)
    return {"type": "options", "options": clean}


def _ctas(ctas: Any, where: str) -> list[JSONObject]:
    if not isinstance(ctas, list) or not 1 <= len(ctas) <= 3:
        raise bad_request(f"{where}: between 1 and 3 buttons are required.")
    clean: list[JSONObject] = []
    for i, cta in enumerate(ctas):
        at = f"{where}[{i}]"
        if not isinstance(cta, dict) or cta.get("type") != "web_url":
            raise bad_request(f'{at}.type: must be "web_url".')
        label, url = cta.get("label"), cta.get("url")
        if not isinstance(label, str) or not 1 <= len(label) <= 36:
            raise bad_request(f"{at}.label: 1 to 36 characters are required.")
        if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url):
            raise bad_request(f"{at}.url: an http(s) URL is required.")
        tco = "https://t.co/" + base64.urlsafe_b64encode(url.encode()).decode()[-10:].rstrip("=")
        clean.append({"type": "web_url", "label": label, "tco_url": tco, "url": url})
    return clean
