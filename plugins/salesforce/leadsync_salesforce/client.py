"""The Salesforce REST client: auth with instance_url, INVALID_SESSION_ID, quota answers, SOQL paging."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import httpx

from leadsync.connectors import ConnectorError, HttpClient, NextUrlPaginator, PageRequest, RateLimiter, Resolution

from leadsync_salesforce.auth import build_auth
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["SalesforceClient", "classify", "is_daily_quota", "parse_sf_datetime", "soql_datetime", "soql_string"]


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        payload = json.loads(response.content or b"[]")
    except ValueError:
        return []
    items = payload if isinstance(payload, list) else [payload]
    return [item for item in items if isinstance(item, dict)]


def _codes(response: httpx.Response) -> set[str]:
    return {str(item.get("errorCode")) for item in _errors(response)}


def is_daily_quota(response: httpx.Response) -> bool:
    """True for REQUEST_LIMIT_EXCEEDED about the org's total requests (the 24-hour allocation)."""
    return any(item.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in str(item.get("message"))
               for item in _errors(response))


def classify(response: httpx.Response) -> Resolution | None:
    """401 INVALID_SESSION_ID: re-authenticate once. 403 REQUEST_LIMIT_EXCEEDED: the total-requests
    allocation is spent (stop the run cleanly), any other limit (concurrent long-running requests)
    frees itself: back off and resend (the request was refused, not processed)."""
    if response.status_code == 401:
        return Resolution.REFRESH_AUTH_THEN_RETRY if "INVALID_SESSION_ID" in _codes(response) else Resolution.FAIL
    if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in _codes(response):
        return Resolution.QUOTA_EXHAUSTED if is_daily_quota(response) else Resolution.RETRY
    return None


def soql_string(value: str) -> str:
    """A quoted SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal in UTC (no quotes), e.g. 2025-04-01T03:00:00Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_datetime(value: Any) -> datetime | None:
    """Salesforce's 2025-04-01T03:00:00.000+0000 (or a date) as an aware datetime."""
    if not value:
        return None
    text = str(value)
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class SalesforceClient:
    """One org's REST API at the instance the token response names; `http` sends the calls."""

    def __init__(
        self,
        settings: SalesforceSettings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.auth = build_auth(settings)
        self.http = HttpClient(
            base_url=settings.base_url or settings.login_url,
            auth=self.auth,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            limiter=RateLimiter({}),  # no per-second limit; Sforce-Limit-Info stops a spent daily quota
            classify=classify,
            transport=transport,
            sleep=sleep,
        )

    @property
    def data_url(self) -> str:
        if self.auth.needs_refresh() and getattr(self.auth, "instance_url", None) is None:
            self.auth.refresh(self.http)
        instance = getattr(self.auth, "instance_url", None) or self.settings.base_url
        if not instance:
            raise ConnectorError("Salesforce token response has no instance_url and no base_url is set")
        return f"{instance.rstrip('/')}/services/data/{self.settings.api_version}"

    def instance(self) -> str:
        return self.data_url.split("/services/data/")[0]

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(f"Salesforce {what} answered with a body that is not JSON") from None

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Pages of records of one SOQL query, following nextRecordsUrl until done; with
        `include_deleted`, through queryAll (records in the recycle bin too)."""
        request = PageRequest(
            f"{self.data_url}/{'queryAll' if include_deleted else 'query'}",
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={self.settings.page_size}"},
        )
        paginator = NextUrlPaginator("records", ("nextRecordsUrl",), done_path=("done",), vendor="Salesforce query")
        for page in self.http.paginate(request, paginator):
            yield page.items

    def close(self) -> None:
        self.http.close()
