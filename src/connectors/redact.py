"""Secret masking for messages, URLs and log records: a registry of known secrets plus token patterns."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

__all__ = [
    "MASK",
    "REDACTOR",
    "RedactingFilter",
    "Redactor",
    "install_log_redaction",
    "redact",
    "redact_data",
    "register_secret",
]

MASK = "***"

# Shorter values are too likely to occur in ordinary text ("id", "1") to be masked safely.
_MIN_SECRET_LENGTH = 4

# Names of query parameters, form fields, JSON keys, XML elements and headers whose values are
# always secrets.
_SECRET_NAMES = (
    r"access_token|refresh_token|id_token|client_secret|api_token|api_key|apikey|token|password"
    r"|passwd|secret|assertion|authorization|x-cybozu-api-token|x-cybozu-authorization"
    r"|accesstoken|refreshtoken|clientsecret|sessionid|session_id|private_key|x-api-key|sig|signature"
)
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # access_token=abc&...   client_secret=abc   sig=abc   (query strings, form bodies, log lines)
    re.compile(rf"(?i)\b({_SECRET_NAMES})=([^&\s\"',;<>]+)"),
    # "access_token": "abc"   'password': 'abc'   \"token\": \"abc\"  (JSON, reprs, JSON in JSON)
    re.compile(rf"(?i)((?:\\?[\"'])({_SECRET_NAMES})\\?[\"']\s*:\s*\\?[\"'])((?:[^\"'\\]|\\[^\"'])+)(\\?[\"'])"),
    # Authorization: Bearer abc   /   Basic abc   /   OAuth abc (Salesforce)
    re.compile(r"(?i)\b(bearer|basic|oauth)\s+([A-Za-z0-9._~+/=\-!]{6,})"),
    # Header-like lines: X-Cybozu-API-Token: abc
    re.compile(rf"(?i)\b({_SECRET_NAMES})\s*:\s*(?![\"'\\\[])([^\s,;]+)"),
)
# Values recognisable by their shape wherever they appear, with the part kept in group 1.
_SHAPES: tuple[re.Pattern[str], ...] = (
    # <sessionId>...</sessionId>, <password>...</password>  (SOAP and XML bodies)
    re.compile(rf"(?i)(<(?:\w+:)?(?:{_SECRET_NAMES})>)[^<]+(?=</)"),
    # HubSpot private app and personal access keys: pat-na1-0f3c..., pak-...
    re.compile(r"()\b(?:pat|pak)-[a-z]{2,4}\d*-[A-Za-z0-9-]{8,}"),
    # Salesforce session ids and access tokens: 00D5g000004abcd!AQ0AQ...
    re.compile(r"()\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]{16,}"),
    # Webhook URLs whose path is the secret: Slack, Teams (Office 365 connectors), Discord
    re.compile(r"(?i)(https?://hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"),
    re.compile(r"(?i)(https?://[\w.-]*webhook\.office\.com/webhookb2/)[^\s\"'<>]+"),
    re.compile(r"(?i)(https?://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/)[^\s\"'<>]+"),
    # user:password@ in any URL
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@\"'<>]+:)[^@\s/\"'<>]+(?=@)"),
)

class Redactor:
    """A thread-safe set of secret values, masked wherever they appear in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | SecretStr | None) -> None:
        """Remember a secret value so every later `redact` masks it."""
        if value is None:
            return
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(text) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if text not in self._secrets:
                self._secrets.add(text)
                self._pattern = None

    def register_many(self, values: Iterable[str | SecretStr | None]) -> None:
        """Register several secrets."""
        for value in values:
            self.register(value)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                # Longest first so a secret containing another is masked whole.
                alternatives = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))
            return self._pattern

    def redact(self, text: Any) -> str:
        """`text` as a string with registered secrets and token-looking values masked."""
        result = str(text)
        pattern = self._compiled()
        if pattern is not None:
            result = pattern.sub(MASK, result)
        for shape in _SHAPES:
            result = shape.sub(lambda m: f"{m.group(1)}{MASK}", result)
        result = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={MASK}", result)
        result = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}{m.group(4)}", result)
        result = _PATTERNS[2].sub(lambda m: f"{m.group(1)} {MASK}", result)
        result = _PATTERNS[3].sub(lambda m: f"{m.group(1)}: {MASK}", result)
        return result


    def redact_data(self, value: Any) -> Any:
        """A copy of JSON-like data with every string redacted and values under secret keys masked."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {
                k: MASK if isinstance(k, str) and _SECRET_KEY.fullmatch(k) and v not in (None, "") else self.redact_data(v)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.redact_data(v) for v in value]
        return value


_SECRET_KEY = re.compile(rf"(?i)(?:{_SECRET_NAMES})")

REDACTOR = Redactor()


def register_secret(value: str | SecretStr | None) -> None:
    """Register a secret with the process-wide redactor (logs, errors, reprs)."""
    REDACTOR.register(value)


def redact(text: Any) -> str:
    """Mask secrets in `text` with the process-wide redactor."""
    return REDACTOR.redact(text)


def redact_data(value: Any) -> Any:
    """Mask secrets in JSON-like data (dead-letter payloads) with the process-wide redactor."""
    return REDACTOR.redact_data(value)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's message, arguments and traceback."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or REDACTOR

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still logged, just not formatted
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def install_log_redaction(target: logging.Logger | logging.Handler | None = None) -> RedactingFilter:
    """Attach a `RedactingFilter` to a handler, or to every handler of a logger (default: root).

    Filters on handlers see records propagated from every child logger, which filters on a
    logger do not.
    """
    log_filter = RedactingFilter()
    if isinstance(target, logging.Handler):
        target.addFilter(log_filter)
        return log_filter
    logger = target or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(log_filter)
    logger.addFilter(log_filter)
    return log_filter
