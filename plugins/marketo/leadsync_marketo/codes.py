"""Marketo's error codes and what leadsync does with each (see the plugin README for the sources).

Marketo answers errors inside HTTP 200:

* response-level: ``{"requestId", "success": false, "errors": [{"code", "message"}]}``. Marketo's
  documentation says "6xx codes always indicate that a request failed completely and were not
  executed", so a 6xx answer to a call that is not idempotent (Request Campaign) is safely resent;
  7xx means the request was wrongly parameterized or found no data.
* record-level: ``result[i] = {"status": "skipped", "reasons": [{"code": "1xxx", "message"}]}``,
  in input order.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AUTH_CODES",
    "NOT_SET_UP_RECORD_CODES",
    "QUOTA_CODES",
    "RETRY_CODES",
    "TRANSIENT_RECORD_CODES",
    "WINDOW_CODES",
    "WINDOW_S",
    "record_is_transient",
]

# Access token invalid / expired: re-authenticate and resend.
AUTH_CODES = frozenset({"601", "602"})
# Not executed and worth resending after a back-off: time-out (604), API temporarily unavailable
# (608), system error (611), subscription temporarily unreachable (614); 713 "Transient Error":
# "wait ... and then retry the request"; 502 Bad Gateway "should be retried with exponential backoff".
RETRY_CODES = frozenset({"502", "604", "608", "611", "614", "713"})
# Not executed because the account's shared budget is spent: 100 calls in a rolling 20 seconds
# (606) or 10 calls at once (615), counted for every integration of the subscription. A resend
# within the window meets the same wall, so these wait out the whole window before resending.
WINDOW_CODES = frozenset({"606", "615"})
WINDOW_S = 20.0
# Daily quota reached: stop the run cleanly, the quota resets at 12:00 AM CST.
QUOTA_CODES = frozenset({"607"})

# Record-level reasons a later attempt can fix: a resource busy now, a queue full now, a daily
# export quota (1029); everything else (1001-1013, 1021, 1036, ...) is about the record itself.
TRANSIENT_RECORD_CODES = frozenset({"604", "606", "608", "611", "615", "713", "1016", "1019", "1029"})
# Field not found: the connection is not set up (`leadsync connections setup`), not a bad record.
NOT_SET_UP_RECORD_CODES = frozenset({"1006"})


def record_is_transient(codes: Iterable[str]) -> bool:
    """True when every reason of a skipped record is one a later attempt can clear."""
    found = [str(code) for code in codes]
    return bool(found) and all(code in TRANSIENT_RECORD_CODES for code in found)
