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
