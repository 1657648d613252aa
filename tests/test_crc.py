from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from dmbot.edge import crc


def test_response_token_is_hmac_sha256_of_token_with_consumer_secret() -> None:
    token = "Ayu7Y2N0Vdh0bT6x9NcqPQ"
    mac = hmac.new(b"secret", token.encode(), hashlib.sha256).digest()
    assert crc.response_token("secret", token) == "sha256=" + base64.b64encode(mac).decode()


@pytest.mark.parametrize(
    "token",
    ["Ayu7Y2N0Vdh0bT6x9NcqPQ==", "a-b_c+d/e0123456", "A" * crc.MAX_TOKEN_LENGTH],
)
def test_tokens_of_x_shape_are_accepted(token: str) -> None:
    assert crc.is_token(token)


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "short",
        '{"for_user_id":"1","direct_message_events":[]}',
        "hello world 1234",
        "A" * (crc.MAX_TOKEN_LENGTH + 1),
        "abcdefgh\n",
        "abcdefgh===",
    ],
)
def test_other_strings_are_refused_and_never_signed(token: str | None) -> None:
    assert not crc.is_token(token)
    if token is not None:
        with pytest.raises(ValueError):
            crc.response_token("secret", token)
