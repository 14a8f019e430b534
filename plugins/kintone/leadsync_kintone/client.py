"""The kintone REST transport: API-token or password auth, error codes, seek paging, all-or-nothing PUT."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from leadsync.connectors import (
    AuthError,
    BatchRejected,
    ClientError,
    ConnectorError,
    HeaderToken,
    HttpClient,
    KeysetPaginator,
    PageRequest,
    Rate,
    RateLimiter,
    Resolution,
    default_classify,
    paginate,
)

from leadsync_kintone.settings import KintoneSettings

__all__ = ["KintoneClient", "classify_kintone", "record_errors"]

# kintone error codes that mean the credentials (not the request) are wrong (see this plugin's README).
AUTH_CODES = frozenset({"CB_AU01", "CB_WA01", "GAIA_IA02", "GAIA_NO01", "CB_NO02"})


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def classify_kintone(response: httpx.Response) -> Resolution:
    """HttpClient hook: an invalid API token is HTTP 400 GAIA_IA02; static credentials never refresh."""
    body = _body(response)
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code in (400, 401, 403) and code in AUTH_CODES:
        return Resolution.FAIL
    return default_classify(response)


def record_errors(body: Any) -> dict[int, str]:
    """Index of each record a CB_VA01 answer blames -> its messages ('records[3].score.value')."""
    found: dict[int, str] = {}
    errors = body.get("errors") if isinstance(body, dict) else None
    for path, detail in (errors or {}).items():
        if not path.startswith("records["):
            continue
        try:
            index = int(path[len("records[") : path.index("]")])
        except ValueError:
            continue
        messages = detail.get("messages") if isinstance(detail, dict) else None
        text = f"{path}: {'; '.join(messages or [])}"
        found[index] = f"{found[index]}; {text}" if index in found else text
    return found


class KintoneClient:
    """Calls to one kintone domain."""

    def __init__(
        self,
        settings: KintoneSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        if settings.api_token is not None:
            auth = HeaderToken("X-Cybozu-API-Token", settings.api_token)
            secrets: tuple[Any, ...] = (settings.api_token,)
        else:
            assert settings.username and settings.password
            raw = f"{settings.username}:{settings.password.get_secret_value()}".encode()
            encoded = base64.b64encode(raw).decode()
            auth = HeaderToken("X-Cybozu-Authorization", encoded)
            secrets = (settings.password, encoded)
        headers: dict[str, str] = {}
        if settings.basic_username and settings.basic_password:
            basic = base64.b64encode(f"{settings.basic_username}:{settings.basic_password.get_secret_value()}".encode())
            headers["Authorization"] = f"Basic {basic.decode()}"
            secrets = (*secrets, settings.basic_password, basic.decode())
        self.http = HttpClient(
            base_url=settings.base_url or "",
            auth=auth,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            limiter=RateLimiter({"default": Rate(settings.calls_per_second, 1.0)}, concurrency=settings.concurrency),
            classify=classify_kintone,
            secrets=secrets,
            headers=headers,
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, payload: Any = None,
             idempotent: bool | None = None) -> dict[str, Any]:
        path = self.settings.api_path(path)
        try:
            response = self.http.request(method, path, params=params, json=payload, idempotent=idempotent)
        except AuthError:
            raise
        except ClientError as exc:
            body = exc.json or {}
            if isinstance(body, dict) and body.get("code") in AUTH_CODES:
                raise AuthError(f"kintone refused the credentials: {body.get('code')} {body.get('message')}",
                                status=exc.status, body=body) from None
            raise
        body = _body(response)
        if not isinstance(body, dict):
            raise ConnectorError(f"kintone: {method} {path} answered a body that is not a JSON object")
        return body

    def form_fields(self, app: int) -> dict[str, dict[str, Any]]:
        """Field code -> field settings of an app."""
        body = self.call("GET", "/k/v1/app/form/fields.json", params={"app": app})
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ConnectorError(f"kintone: fields of app {app} came without 'properties'")
        return props

    def seek(self, app: int, condition: str, fields: Sequence[str], after_id: int) -> Iterator[list[dict[str, Any]]]:
        """Pages of records matching `condition` with $id > after_id, by $id ascending (no offset)."""
        limit = self.settings.page_size
        params: dict[str, Any] = {"app": app}
        for i, code in enumerate(fields):
            params[f"fields[{i}]"] = code

        def after(request: PageRequest, last: int) -> PageRequest:
            where = f"({condition}) and $id > {last}" if condition else f"$id > {last}"
            return request.with_params(query=f"{where} order by $id asc limit {limit}")

        paginator = KeysetPaginator(
            "records", limit=limit, key=lambda record: int(record["$id"]["value"]), build=after,
            vendor=f"kintone: records of app {app}",
        )
        fetch = lambda request: self.call("GET", request.url, params=request.params)  # noqa: E731
        for page in paginate(fetch, paginator.first(PageRequest("/k/v1/records.json", params=params), after_id), paginator):
            yield page.items

    def put_records(self, app: int, records: list[dict[str, Any]], *, upsert: bool) -> list[dict[str, Any]]:
        """PUT /k/v1/records.json (≤100, all-or-nothing). CB_VA01 raises BatchRejected naming records."""
        payload: dict[str, Any] = {"app": app, "records": records}
        if upsert:
            payload["upsert"] = True
        try:
            body = self.call("PUT", "/k/v1/records.json", payload=payload, idempotent=True)
        except ClientError as exc:
            data = exc.json if isinstance(exc.json, dict) else {}
            code = data.get("code")
            head = f"{code} (error id {data.get('id')}): {data.get('message')}"
            if exc.status == 400 and code == "CB_VA01":
                raise BatchRejected(f"kintone {head}", {i: f"{head} {text}" for i, text in record_errors(data).items()}) from None
            if exc.status in (404, 409) and len(records) == 1:
                # GAIA_RE01 (record gone) / GAIA_CO02 (a concurrent update): blame the one record.
                raise BatchRejected(f"kintone {head}", {0: head}) from None
            if exc.status in (404, 409):
                raise BatchRejected(f"kintone {head}") from None
            raise
        answered = body.get("records")
        if not isinstance(answered, list) or len(answered) != len(records):
            raise ConnectorError(f"kintone: PUT records answered {answered!r:.80} for {len(records)} records")
        return answered
