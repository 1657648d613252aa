from __future__ import annotations

import re

import pytest

from dmbot.edge import signature
from dmbot.errors import DmbotError, SignatureError


def test_known_answer_for_form_body() -> None:
    expected = "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="
    assert signature.sign("test", b"test=1&other_test=2") == expected


def test_known_answer_for_json_body() -> None:
    body = b'{"test_number":1,"test_string":"two"}'
    assert signature.sign("test", body) == "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="


def test_verify_accepts_x_signature() -> None:
    body = b'{"test_number":1,"test_string":"two"}'
    assert signature.verify("test", body, "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI=")


def test_verify_rejects_wrong_secret_tampered_body_and_bad_headers() -> None:
    body = b'{"a":1}'
    good = signature.sign("secret", body)
    assert not signature.verify("other", body, good)
    assert not signature.verify("secret", b'{"a":2}', good)
    for header in (None, "", "sha1=abc", good[len("sha256=") :], "sha256=", "sha256=é"):
        assert not signature.verify("secret", body, header)


def test_require_passes_x_signature_and_says_why_it_refuses_another() -> None:
    body = b'{"a":1}'
    signature.require("secret", body, signature.sign("secret", body))
    for header, why in [
        (None, "has no x-twitter-webhooks-signature header"),
        ("sha1=abc", "is not of the form sha256=<base64 HMAC-SHA256>"),
        (signature.sign("other", body), "another consumer secret than twitter.consumer_secret"),
    ]:
        with pytest.raises(SignatureError, match=re.escape(why)) as refused:
            signature.require("secret", body, header)
        assert isinstance(refused.value, DmbotError)
        assert signature.sign("secret", body) not in str(refused.value)
