"""The HTTP client every vendor plugin uses: keep-alive httpx, tenacity retries, rate limits, auth refresh."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import tenacity

from leadsync.connectors.auth import Auth
from leadsync.connectors.errors import (
    AmbiguousWriteError,
    AuthError,
    ClientError,
    ConnectorError,
    RateLimitExhausted,
    VendorUnavailable,
)
from leadsync.connectors.jsondecode import loads
from leadsync.connectors.paging import JsonPage, PageRequest, Paginator, paginate
from leadsync.connectors.ratelimit import RateLimiter
from leadsync.connectors.redact import redact, register_secret
from leadsync.connectors.retry import (
    NOT_APPLIED_STATUSES,
    Resolution,
    backoff_delay,
    default_classify,
    parse_retry_after,
)

__all__ = ["Classifier", "HttpClient"]


def _asked_to_wait(seconds: float) -> str:
    """'vendor asked to wait 60 minutes' (or seconds, below two minutes): the rows stay pending."""
    amount = f"{round(seconds / 60)} minutes" if seconds >= 120 else f"{round(seconds)} s"
    return f"vendor asked to wait {amount} (Retry-After); the rows stay pending for the next run"

log = logging.getLogger(__name__)

Classifier = Callable[[httpx.Response], "Resolution | None"]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# Raised before a byte of the request left: safe to resend anything.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Raised after the request (or part of it) was sent: the server may have applied it.
_MAYBE_APPLIED = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _Retry(Exception):
    """One attempt failed in a way worth another try (internal to the retry loop)."""

    def __init__(
        self,
        reason: str,
        *,
        response: httpx.Response | None = None,
        cause: BaseException | None = None,
        retry_after: float | None = None,
        immediate: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response
        self.cause = cause
        self.retry_after = retry_after
        self.immediate = immediate


class HttpClient:
    """A keep-alive HTTP client for one vendor connection.

    Retries 429, 5xx (not 501), timeouts and connection errors with exponential backoff and full
    jitter, honouring Retry-After; waits on the client-side `limiter` and the vendor's rate-limit
    headers; refreshes auth when `classify` (or a 401) asks for it. A Retry-After longer than
    `max_wait_s` is not slept out: `RateLimitExhausted` ("vendor asked to wait N minutes") ends the
    connection cleanly and its rows stay pending; one call never spends more than
    `max_retry_time_s` seconds waiting between attempts. A request that is not
    idempotent (POST by default) is resent only when it cannot have been applied (connection never
    made, 429, 503); otherwise `AmbiguousWriteError` tells the caller to look before creating.
    `sleep` is how the client waits between attempts (tests inject one that returns at once).
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None = None,
        timeout: float = 30.0,
        max_retries: int = 6,
        limiter: RateLimiter | None = None,
        classify: Classifier | None = None,
        secrets: Iterable[Any] = (),
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[float, float], float] = random.uniform,
        max_connections: int = 20,
        max_wait_s: float = 60.0,
        max_retry_time_s: float = 120.0,
        deadline_s: float | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max_retries
        self.limiter = limiter
        self.classify = classify
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_wait_s = max_wait_s
        self.max_retry_time_s = max_retry_time_s
        # One attempt, from sending to the last byte of the answer: the timeout alone is per read,
        # so an answer that trickles a byte at a time would never time out.
        self.deadline_s = deadline_s if deadline_s is not None else 2 * timeout
        self.sleep = sleep
        self._rng = rng
        for secret in secrets:
            register_secret(secret)
        if limiter is not None and limiter.concurrency:
            max_connections = max(max_connections, limiter.concurrency)
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": "leadsync", **(headers or {})},
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=30.0,
            ),
            follow_redirects=False,
        )
        self.stats = {"requests": 0, "retries": 0, "refreshes": 0}
        # The vendor's clock minus ours, in seconds, from the last answer's Date header (None: none
        # seen). Its resolution is a second; the engine places cursors on the vendor's clock with it.
        self.clock_skew_s: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient(base_url={redact(self.base_url)!r})"

    # -- shorthands ----------------------------------------------------------------------------
    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    # -- paged reads ---------------------------------------------------------------------------
    def fetch_json(self, request: PageRequest) -> dict[str, Any]:
        """Send `request`; its answer as a JSON object (ConnectorError when it is not one)."""
        response = self.request(
            request.method,
            request.url,
            endpoint=request.endpoint,
            params=request.params or None,
            json=request.json,
            headers=request.headers or None,
            idempotent=request.idempotent,
        )
        try:
            payload = loads(response.content)
        except ValueError:
            raise ConnectorError(f"{request.method} {redact(request.url)} answered a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise ConnectorError(
                f"{request.method} {redact(request.url)} answered {type(payload).__name__}, not a JSON object"
            )
        return payload

    def paginate(self, request: PageRequest, paginator: Paginator) -> Iterator[JsonPage]:
        """The pages of a paged read, each fetched when the previous one was consumed."""
        return paginate(self.fetch_json, request, paginator)

    # -- the request ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str = "default",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticate: bool = True,
        classify: Classifier | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request with retries; return the response its classifier accepted.

        `url` is absolute or relative to `base_url`; `endpoint` names the rate-limit class;
        `classify` overrides the client's classifier for this call (None from it means "use the
        HTTP status"); `timeout` overrides the client's timeout for this call. Raises ClientError, AuthError, RateLimitExhausted, VendorUnavailable or
        AmbiguousWriteError.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        classifier = classify or self.classify
        refreshed = False

        def attempt() -> httpx.Response:
            nonlocal refreshed
            response = self._send_once(
                method, url, endpoint, params, json, data, headers, idempotent, authenticate, timeout
            )
            resolution = (classifier(response) if classifier else None) or default_classify(response)
            if resolution is Resolution.OK:
                return response
            if resolution is Resolution.RETRY:
                status = response.status_code
                if not idempotent and status >= 500 and status not in NOT_APPLIED_STATUSES:
                    raise AmbiguousWriteError(method, str(response.request.url), f"HTTP {status}")
                # The wait happens in this thread's retry loop (with the injectable sleep); other
                # threads honour their own 429s, and the limiter the vendor's rate-limit headers.
                retry_after = parse_retry_after(response.headers)
                if retry_after is not None and retry_after > self.max_wait_s:
                    if self.limiter is not None:  # every other call of this client (other threads too) ends now
                        self.limiter.exhaust(_asked_to_wait(retry_after))
                    raise RateLimitExhausted.from_response(_asked_to_wait(retry_after), response)
                raise _Retry(f"HTTP {status}", response=response, retry_after=retry_after)
            if resolution is Resolution.REFRESH_AUTH_THEN_RETRY:
                if authenticate and self.auth is not None and not refreshed:
                    refreshed = True
                    if self.auth.refresh(self):
                        self.stats["refreshes"] += 1
                        raise _Retry("credentials refreshed", response=response, immediate=True)
                raise AuthError.from_response("credentials rejected", response)
            if resolution is Resolution.QUOTA_EXHAUSTED:
                raise RateLimitExhausted.from_response("API quota exhausted", response)
            raise self._failure(response)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=tenacity.stop_after_attempt(self.max_retries + 1) | self._out_of_retry_time,
            wait=self._wait,
            sleep=lambda seconds: self.sleep(seconds),
            before_sleep=lambda state: self._log_retry(method, url, state),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retry as exhausted:
            raise self._exhausted(method, url, exhausted, retrying.statistics.get("attempt_number", 1)) from None

    def _send_once(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
        authenticate: bool,
        timeout: float | None = None,
    ) -> httpx.Response:
        auth = self.auth if authenticate else None
        if auth is not None and getattr(auth, "needs_refresh", lambda: False)():
            if auth.refresh(self):
                self.stats["refreshes"] += 1
        request = self._client.build_request(
            method,
            url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        if auth is not None:
            auth.apply(request)
        slot = self.limiter.slot(endpoint) if self.limiter is not None else contextlib.nullcontext()
        started = time.monotonic()
        deadline = started + (self.deadline_s if timeout is None else max(self.deadline_s, 2 * timeout))
        with slot:
            self.stats["requests"] += 1
            try:
                response = self._receive(request, deadline)
            except _NEVER_SENT as exc:
                raise _Retry(f"{type(exc).__name__}", cause=exc) from None
            except _MAYBE_APPLIED as exc:
                if not idempotent:
                    raise AmbiguousWriteError(method, str(request.url), exc) from None
                raise _Retry(f"{type(exc).__name__}", cause=exc) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s in %.0f ms",
                method,
                redact(request.url),
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
        if self.limiter is not None:
            self.limiter.update_from_headers(endpoint, response.headers)
        self._note_clock(response, started)
        return response

    def _note_clock(self, response: httpx.Response, sent: float) -> None:
        date = response.headers.get("date")
        if not date:
            return
        try:
            vendor = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        # The Date is stamped while answering: compare it with the middle of the round trip.
        ours = time.time() - (time.monotonic() - sent) / 2
        self.clock_skew_s = vendor - ours

    def _receive(self, request: httpx.Request, deadline: float) -> httpx.Response:
        """Send and read the whole answer by `deadline` (monotonic), else httpx.ReadTimeout."""
        streamed = self._client.send(request, stream=True)
        if streamed.is_stream_consumed:  # a transport that hands back an answer already read (tests' mocks)
            return streamed
        try:
            chunks = []
            for chunk in streamed.iter_raw():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"no complete answer within {self.deadline_s:g} s (the answer was still arriving)",
                        request=request,
                    )
        finally:
            streamed.close()
        return httpx.Response(streamed.status_code, headers=streamed.headers, content=b"".join(chunks),
                              request=request, extensions=streamed.extensions)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Retry) and exc.immediate:
            return 0.0
        retry_after = exc.retry_after if isinstance(exc, _Retry) else None
        # A Retry-After above max_wait_s never gets here (it ends the call), so one below is
        # honoured in full rather than cut to the backoff ceiling.
        return backoff_delay(
            state.attempt_number,
            base=self.backoff_base,
            maximum=self.backoff_max if retry_after is None else max(self.backoff_max, self.max_wait_s),
            retry_after=retry_after,
            rng=self._rng,
        )

    def _out_of_retry_time(self, state: tenacity.RetryCallState) -> bool:
        """True when the next wait would take this call's total waiting past `max_retry_time_s`."""
        upcoming = state.upcoming_sleep or 0.0
        return state.idle_for + upcoming > self.max_retry_time_s

    def _log_retry(self, method: str, url: str, state: tenacity.RetryCallState) -> None:
        self.stats["retries"] += 1
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "%s %s: %s; retry %d/%d in %.1f s",
            method,
            redact(url),
            exc.reason if isinstance(exc, _Retry) else exc,
            state.attempt_number,
            self.max_retries,
            wait,
        )

    @staticmethod
    def _failure(response: httpx.Response) -> ConnectorError:
        status = response.status_code
        if status in (401, 403):
            return AuthError.from_response("credentials rejected or not permitted", response)
        if status >= 500:
            return VendorUnavailable.from_response("vendor error", response)
        return ClientError.from_response("request refused", response)

    def _exhausted(self, method: str, url: str, exc: _Retry, attempts: int) -> ConnectorError:
        if exc.response is not None:
            if exc.response.status_code == 429:
                return RateLimitExhausted.from_response(
                    f"still rate limited after {attempts} attempts", exc.response
                )
            if exc.immediate:
                return AuthError.from_response("credentials rejected after refresh", exc.response)
            return VendorUnavailable.from_response(f"gave up after {attempts} attempts", exc.response)
        return VendorUnavailable(
            f"gave up after {attempts} attempts: {exc.reason}: {exc.cause}", method=method, url=url
        )
