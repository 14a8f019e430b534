"""Redaction of registered secrets and token patterns in text and log records."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from leadsync.connectors.redact import RedactingFilter, Redactor


def test_registered_secrets_and_patterns_are_masked() -> None:
    r = Redactor()
    r.register("s3cr3t-value")
    r.register(SecretStr("another-secret"))
    r.register("ab")  # too short to mask safely: ignored
    text = r.redact(
        "GET https://x.test/a?access_token=tok123&client_secret=cs&q=ab "
        'body {"refresh_token": "rt-1", "password": "pw"} s3cr3t-value another-secret '
        "Authorization: Bearer abcdef123456 X-Cybozu-API-Token: kt999"
    )
    for leaked in ("tok123", "=cs", "rt-1", '"pw"', "s3cr3t-value", "another-secret", "abcdef123456", "kt999"):
        assert leaked not in text, leaked
    assert "q=ab" in text
    assert "nextPageToken=PAGE1" in r.redact("nextPageToken=PAGE1")  # cursors are not secrets


def test_filter_masks_message_args_and_traceback() -> None:
    r = Redactor()
    r.register("hunter2-secret")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token is %s", ("hunter2-secret",), None)
    try:
        raise RuntimeError("failed with hunter2-secret")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(r).filter(record)
    assert record.getMessage() == "token is ***"
    assert "hunter2-secret" not in record.exc_text


def test_secret_shapes_are_masked_without_registration() -> None:
    r = Redactor()
    cases = {
        "token pat-na1-0f3c9a7e-1111-2222-3333": "pat-na1-0f3c9a7e",
        "sid 00D5g000004abcdE!AQ0AQH0dMHZfz972Szmpkb58urFRkg": "AQ0AQH0dMHZfz972",
        "<sessionId>00Dxx!abc</sessionId>": "00Dxx!abc",
        "POST https://hooks.slack.com/services/T0/B0/SeCrEt123": "SeCrEt123",
        "https://x.logic.azure.com/workflows/a/triggers/manual/paths/invoke?sv=1.0&sig=SiGnAtUrE9": "SiGnAtUrE9",
        "https://acme.webhook.office.com/webhookb2/g1@g2/IncomingWebhook/abc123/g3": "abc123",
        "https://user:pa55word@proxy.example.com/": "pa55word",
        '{\\"client_secret\\": \\"cs-abcdef\\"}': "cs-abcdef",
        '"context": {"Authorization": ["Bearer abcdefgh1234"]}': "abcdefgh1234",
    }
    for text, secret in cases.items():
        assert secret not in r.redact(text), text
    assert r.redact("https://user@example.com/a-b") == "https://user@example.com/a-b"  # no password: unchanged


def test_redact_data_masks_values_under_secret_keys_and_in_strings() -> None:
    data = {"password": "x", "rows": [{"client_secret": "y", "note": "Bearer abcdefgh"}], "name": "Taro", "token": None}
    assert Redactor().redact_data(data) == {
        "password": "***", "rows": [{"client_secret": "***", "note": "Bearer ***"}], "name": "Taro", "token": None,
    }
