"""X's error answers become RateLimited, TransientError or PermanentError with a fix."""

from __future__ import annotations

import httpx
import pytest

from dmbot.errors import PermanentError, RateLimited, TransientError
from dmbot.x.errors import error_from_exception, error_from_response

SEND = "POST /1.1/direct_messages/events/new.json"


def answer(status: int, body: object = None, text: str = "", **headers: str) -> httpx.Response:
    if body is not None:
        return httpx.Response(status, json=body, headers=headers)
    return httpx.Response(status, text=text, headers=headers)


def v11(code: int, message: str) -> dict[str, object]:
    return {"errors": [{"code": code, "message": message}]}


def test_429_is_rate_limited_until_the_reset_header() -> None:
    response = answer(429, v11(88, "Rate limit exceeded"), **{"x-rate-limit-reset": "1700000900"})
    error = error_from_response(response, endpoint=SEND)
    assert isinstance(error, RateLimited)
    assert error.reset_at == 1700000900.0
    assert (error.status, error.code) == (429, 88)
    assert "HTTP 429, code 88" in str(error) and SEND in str(error)


def test_429_without_headers_waits_a_whole_window() -> None:
    error = error_from_response(answer(429, text="slow down"), endpoint=SEND, clock=lambda: 1000.0)
    assert isinstance(error, RateLimited)
    assert error.reset_at == 1000.0 + 15 * 60


def test_code_88_is_rate_limited_whatever_the_status() -> None:
    error = error_from_response(answer(403, v11(88, "Rate limit exceeded")), endpoint=SEND)
    assert isinstance(error, RateLimited)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, v11(131, "Internal error")), (503, v11(130, "Over capacity")), (502, None)],
)
def test_server_errors_and_code_131_are_transient(status: int, body: object) -> None:
    response = answer(status, body, text="<html>Bad gateway</html>")
    error = error_from_response(response, endpoint=SEND)
    assert isinstance(error, TransientError)
    assert f"HTTP {status}" in str(error)
    assert "retry later" in str(error)


def test_code_131_on_a_4xx_is_still_transient() -> None:
    error = error_from_response(answer(400, v11(131, "Internal error")), endpoint=SEND)
    assert isinstance(error, TransientError) and error.code == 131


@pytest.mark.parametrize(
    ("status", "code", "fix"),
    [
        (401, 32, "env_name matches the environment label exactly, case included"),
        (401, 89, "dmbot accounts authorize"),
        (403, 93, "enable Read, Write and Direct Messages for the app and regenerate the tokens"),
        (401, 135, "fix this machine's clock"),
        (403, 150, "follow"),
        (403, 151, "will not be retried"),
        (403, 170, "grant_type=client_credentials"),
        (403, 214, "X found the request malformed"),
        (403, 226, "slow down"),
        (403, 261, "user tokens"),
        (400, 324, "media_category"),
        (403, 326, "unlock"),
        (404, 34, "dmbot webhooks list"),
        (403, 348, "app owner's tokens"),
        (403, 349, "does not accept Direct Messages"),
        (400, 354, "10,000 characters"),
        (409, 355, "nothing to do"),
    ],
)
def test_permanent_errors_say_what_to_do(status: int, code: int, fix: str) -> None:
    error = error_from_response(answer(status, v11(code, "X says no.")), endpoint=SEND)
    assert isinstance(error, PermanentError)
    assert (error.status, error.code) == (status, code)
    text = str(error)
    assert f"X answered {SEND} with HTTP {status}, code {code}: X says no." in text
    assert fix in text


def test_v2_problem_object_is_read() -> None:
    problem = {
        "title": "Unsupported Authentication",
        "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.",
        "type": "https://api.twitter.com/2/problems/unsupported-authentication",
        "status": 403,
    }
    error = error_from_response(answer(403, problem), endpoint="POST /2/webhooks")
    assert isinstance(error, PermanentError)
    assert error.code is None
    assert "Unsupported Authentication: Authenticating with OAuth 2.0" in str(error)
    assert "HTTP 403" in str(error)


def test_v2_errors_list_without_codes_is_read() -> None:
    body = {"errors": [{"message": "Invalid participant"}], "title": "Invalid Request"}
    error = error_from_response(answer(400, body), endpoint="POST /2/dm_conversations")
    assert isinstance(error, PermanentError)
    assert "Invalid participant" in str(error)


def test_non_json_body_is_quoted_briefly() -> None:
    response = answer(401, text="Failed to validate oauth signature and token\n")
    error = error_from_response(response, endpoint="POST /oauth/request_token")
    assert isinstance(error, PermanentError)
    assert "Failed to validate oauth signature and token" in str(error)
    assert "check the consumer key and secret" in str(error)


def test_messages_never_quote_the_request_credentials() -> None:
    request = httpx.Request(
        "POST",
        "https://api.twitter.com/1.1/direct_messages/events/new.json",
        headers={"Authorization": 'OAuth oauth_token="1-secrettoken", oauth_signature="sig"'},
    )
    response = httpx.Response(401, json=v11(32, "Could not authenticate you."), request=request)
    text = str(error_from_response(response, endpoint=SEND))
    assert "secrettoken" not in text and "oauth_signature" not in text


def test_network_errors_are_transient() -> None:
    error = error_from_exception(httpx.ConnectError("Connection refused"), endpoint=SEND)
    assert isinstance(error, TransientError)
    assert error.status == 0
    assert "Connection refused" in str(error) and "retried" in str(error)
    timeout = error_from_exception(httpx.ReadTimeout("read"), endpoint=SEND)
    assert "timed out" in str(timeout)


def test_code_214_blames_the_url_only_on_a_webhook_call() -> None:
    register = "POST /2/webhooks"
    error = error_from_response(answer(400, v11(214, "URL invalid.")), endpoint=register)
    assert "answer the CRC within 3 seconds" in str(error)
    error = error_from_response(answer(400, v11(214, "Bad request.")), endpoint=SEND)
    assert "CRC" not in str(error) and "webhook" not in str(error)


@pytest.mark.parametrize(
    ("kind", "status", "fix"),
    [
        ("invalid-request", 400, "X found the request malformed"),
        ("resource-not-found", 404, "dmbot webhooks list"),
        ("not-authorized-for-resource", 403, "account's own tokens"),
        ("client-forbidden", 403, "attach it to a Project"),
        ("unsupported-authentication", 403, "bearer token"),
        ("usage-capped", 429, "usage cap"),
        ("resource-unavailable", 403, "suspended"),
    ],
)
def test_v2_problems_carry_their_kind_and_a_fix(kind: str, status: int, fix: str) -> None:
    for host in ("api.twitter.com", "api.x.com"):
        problem = {
            "title": "Some Title",
            "detail": "What X says.",
            "type": f"https://{host}/2/problems/{kind}",
            "status": status,
        }
        error = error_from_response(answer(status, problem), endpoint="POST /2/webhooks")
        text = str(error)
        assert f"HTTP {status} ({kind}): Some Title: What X says." in text
        assert fix in text, text


def test_a_problem_inside_the_errors_list_is_read() -> None:
    body = {
        "errors": [
            {
                "message": "Subscription exists",
                "type": "https://api.x.com/2/problems/conflict",
            }
        ]
    }
    error = error_from_response(answer(409, body), endpoint="POST /2/activity/subscriptions")
    assert isinstance(error, PermanentError) and error.status == 409
    assert "(conflict)" in str(error) and "nothing to do" in str(error)
