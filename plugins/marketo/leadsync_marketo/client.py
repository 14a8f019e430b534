"""The Marketo REST transport: token, HTTP-200 error envelopes, rate limits, 414 fallback, paging."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import httpx

from leadsync.connectors import (
    ClientError,
    ConnectorError,
    HttpClient,
    OAuth2ClientCredentials,
    PageRequest,
    Rate,
    RateLimiter,
    Resolution,
    SetupMissing,
    TokenPaginator,
    VendorUnavailable,
    default_classify,
    paginate,
)

from leadsync_marketo.codes import AUTH_CODES, NOT_SET_UP_RECORD_CODES, QUOTA_CODES, RETRY_CODES, WINDOW_CODES, WINDOW_S
from leadsync_marketo.settings import MarketoSettings

__all__ = ["MAYBE_APPLIED_CODES", "MarketoClient", "MarketoError", "classify_marketo", "classify_trigger", "error_codes"]

# Response-level codes a Request Campaign may have been applied under: Marketo promises "not
# executed" only for 6xx, so a 500/502 inside the envelope leaves the trigger's outcome unknown.
MAYBE_APPLIED_CODES = frozenset({"500", "502"})
# Marketo answers 414 for URIs over 8 KB; stay well below it and send the query as a form body.
MAX_URL_CHARS = 7000


class MarketoError(ClientError):
    """A response-level Marketo error (success:false) that retrying will not fix."""

    def __init__(self, message: str, *, codes: Sequence[str], body: Any, method: str, url: str) -> None:
        self.codes = list(codes)
        super().__init__(message, status=200, body=body, method=method, url=url)


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def error_codes(body: Any) -> list[str]:
    """The response-level error codes of a Marketo answer (empty when it succeeded)."""
    if not isinstance(body, dict) or body.get("success") is not False:
        return []
    return [str(err.get("code")) for err in body.get("errors") or [] if isinstance(err, dict)]


def classify_marketo(response: httpx.Response) -> Resolution:
    """HttpClient hook: Marketo reports token expiry and rate limits as HTTP 200 with success:false."""
    if response.status_code != 200:
        return default_classify(response)
    codes = set(error_codes(_body(response)))
    if codes & AUTH_CODES:
        return Resolution.REFRESH_AUTH_THEN_RETRY
    if codes & QUOTA_CODES:
        return Resolution.QUOTA_EXHAUSTED
    if codes & RETRY_CODES:
        return Resolution.RETRY
    return Resolution.OK  # 606/615 (the shared window) are waited out by MarketoClient itself


def classify_trigger(response: httpx.Response) -> Resolution:
    """Request Campaign is not idempotent. A 6xx was not executed (Marketo's word), so it is resent
    like any other call; a 500/502 in the envelope may have run and is handed to the caller."""
    if response.status_code == 200 and set(error_codes(_body(response))) & MAYBE_APPLIED_CODES:
        return Resolution.OK  # surfaces as MarketoError; the caller treats it as ambiguous
    return classify_marketo(response)


def marketo_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, the form Marketo's sinceDatetime accepts."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class MarketoClient:
    """Calls to one Marketo instance. Every answer is checked for success:false."""

    def __init__(
        self,
        settings: MarketoSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.base_url:
            raise ConnectorError("marketo: base_url is required (Admin > Integration > Web Services > REST API Endpoint)")
        self.settings = settings
        identity = (settings.identity_url or f"{settings.base_url}/identity").rstrip("/")
        self.auth = OAuth2ClientCredentials(
            f"{identity}/oauth/token",
            settings.client_id,
            settings.client_secret,
            method="GET",
            params_in="query",
        )
        self.http = HttpClient(
            base_url=settings.base_url,
            auth=self.auth,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            limiter=RateLimiter({"default": Rate(settings.calls_per_20s, 20.0)}, concurrency=settings.concurrency),
            classify=classify_marketo,
            secrets=(settings.client_secret,),
            transport=transport,
            sleep=sleep,
        )
        self.sleep = sleep
        self.calls = 0
        self.window_waits = 0  # 606/615 answers waited out

    def close(self) -> None:
        self.http.close()

    # -- envelope ------------------------------------------------------------------------------
    def _checked(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        body = _body(response)
        if not isinstance(body, dict):
            raise ConnectorError(f"marketo: {method} {path} answered a body that is not a JSON object")
        codes = error_codes(body)
        if codes:
            messages = "; ".join(
                f"{err.get('code')} {err.get('message')}" for err in body.get("errors") or [] if isinstance(err, dict)
            )
            if set(codes) & NOT_SET_UP_RECORD_CODES:  # "Field '...' not found": the instance lacks it
                raise SetupMissing(f"Marketo lead field ({messages})", status=200, body=body, method=method, url=path)
            raise MarketoError(f"marketo: {messages}", codes=codes, body=body, method=method, url=path)
        return body

    def _windowed(self, method: str, path: str, call: Callable[[], httpx.Response]) -> dict[str, Any]:
        """Send `call` until its answer is not a 606/615: each of those waits out the account's
        20-second window (Marketo did not execute the call, so even a campaign trigger is resent);
        after `max_retries` of them, VendorUnavailable (still not executed)."""
        for attempt in range(self.settings.max_retries + 1):
            try:
                return self._checked(call(), method, path)
            except MarketoError as exc:
                if not set(exc.codes) & WINDOW_CODES:
                    raise
                last = exc
            if attempt < self.settings.max_retries:
                self.window_waits += 1
                self.sleep(WINDOW_S)
        raise VendorUnavailable(f"marketo: {method} {path} still refused after {self.settings.max_retries} waits of "
                                f"{WINDOW_S:g} s ({last}); it was not executed", status=200, body=last.body,
                                method=method, url=path)

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET a REST resource; a query too long for a URL goes as POST with _method=GET."""
        self.calls += 1
        if len(path) + len(urlencode(params)) > MAX_URL_CHARS:
            return self._get_as_post(path, params)
        try:
            return self._windowed("GET", path, lambda: self.http.request("GET", path, params=params, idempotent=True))
        except ClientError as exc:
            if exc.status != 414:
                raise
            return self._get_as_post(path, params)

    def _get_as_post(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        # Marketo's documented answer to 414: the same query as a form body with _method=GET.
        form = {**{k: str(v) for k, v in params.items()}, "_method": "GET"}
        return self._windowed("POST", path, lambda: self.http.request(
            "POST", path, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}, idempotent=True))

    def post(self, path: str, payload: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        self.calls += 1
        classify = None if idempotent else classify_trigger
        return self._windowed("POST", path, lambda: self.http.request(
            "POST", path, json=payload, idempotent=idempotent, classify=classify))

    # -- resources -----------------------------------------------------------------------------
    def describe_fields(self) -> set[str]:
        """REST names of every lead field of the instance."""
        body = self.get("/rest/v1/leads/describe.json", {})
        names: set[str] = set()
        for item in body.get("result") or []:
            rest = item.get("rest") if isinstance(item, dict) else None
            if isinstance(rest, dict) and rest.get("name"):
                names.add(str(rest["name"]))
        return names

    def activity_types(self) -> dict[str, int]:
        """Activity type name -> id for this instance."""
        body = self.get("/rest/v1/activities/types.json", {})
        types: dict[str, int] = {}
        for item in body.get("result") or []:
            if isinstance(item, dict) and item.get("name") and item.get("id") is not None:
                types[str(item["name"])] = int(item["id"])
        return types

    def paging_token(self, since: datetime) -> str:
        body = self.get("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": marketo_time(since)})
        token = body.get("nextPageToken")
        if not token:
            raise ConnectorError("marketo: /rest/v1/activities/pagingtoken.json gave no nextPageToken")
        return str(token)

    def token_pages(self, path: str, token: str, params: dict[str, Any]) -> Iterator[tuple[list[Any], str, bool]]:
        """Pages of an activities-style endpoint: (results, next token, more), until moreResult is false.

        A page may be short or empty while moreResult is still true; only moreResult ends paging.
        """
        paginator = TokenPaginator(
            "result", ("nextPageToken",), "nextPageToken", more_path=("moreResult",), optional=True,
            vendor=f"marketo: {path}",
        )
        paginator.start(token)
        request = PageRequest(path, params={**params, "nextPageToken": token, "batchSize": 300})
        for page in paginate(lambda r: self.get(r.url, r.params), request, paginator):
            token = page.next or token
            yield page.items, token, page.next is not None

    def leads_by_id(self, ids: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        """Leads for up to 300 ids at a time (leads.json filterType=id)."""
        leads: list[dict[str, Any]] = []
        for start in range(0, len(ids), 300):
            chunk = ids[start : start + 300]
            params = {"filterType": "id", "filterValues": ",".join(chunk), "fields": ",".join(fields), "batchSize": 300}
            body = self.get("/rest/v1/leads.json", params)
            leads.extend(item for item in body.get("result") or [] if isinstance(item, dict))
        return leads

    def sync_leads(self, records: list[dict[str, Any]], *, action: str, lookup_field: str) -> list[dict[str, Any]]:
        """POST /rest/v1/leads.json (≤300); the per-record results, in input order."""
        payload: dict[str, Any] = {"action": action, "lookupField": lookup_field, "input": records}
        if self.settings.partition_name:
            payload["partitionName"] = self.settings.partition_name
        # updateOnly by id is naturally idempotent; createOrUpdate by e-mail is an upsert.
        body = self.post("/rest/v1/leads.json", payload, idempotent=True)
        result = body.get("result")
        if not isinstance(result, list) or len(result) != len(records):
            raise ConnectorError(
                f"marketo: leads.json answered {len(result) if isinstance(result, list) else 'no'} results "
                f"for {len(records)} records"
            )
        return result

    def smart_campaign(self, campaign_id: int) -> dict[str, Any]:
        """Asset API Get Smart Campaign by Id: isActive, isRequestable, qualificationRuleType, ..."""
        body = self.get(f"/rest/asset/v1/smartCampaign/{campaign_id}.json", {})
        result = body.get("result") or []
        if not result or not isinstance(result[0], dict):
            warnings = "; ".join(str(w) for w in body.get("warnings") or [])
            raise ConnectorError(f"marketo: smart campaign {campaign_id} answered no record ({warnings or 'no warning'})")
        return dict(result[0])

    def trigger_campaign(self, campaign_id: int, lead_ids: Sequence[int], tokens: list[dict[str, str]]) -> None:
        """Request Campaign (≤100 leads). Not idempotent: a lost answer raises AmbiguousWriteError, a
        6xx is resent (not executed), retries exhausted on 6xx raise VendorUnavailable (not executed)."""
        payload = {"input": {"leads": [{"id": lead_id} for lead_id in lead_ids], "tokens": tokens}}
        self.post(f"/rest/v1/campaigns/{campaign_id}/trigger.json", payload, idempotent=False)
