"""HttpClient: retries, Retry-After, idempotency of writes, auth refresh, limiter hook, redaction."""

from __future__ import annotations

import logging
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from leadsync.connectors.auth import BearerToken, HeaderToken, OAuth2ClientCredentials, OAuth2RefreshToken
from leadsync.connectors.errors import (
    AmbiguousWriteError,
    AuthError,
    ClientError,
    RateLimitExhausted,
    VendorUnavailable,
)
from leadsync.connectors.http import HttpClient
from leadsync.connectors.ratelimit import Rate, RateLimiter
from leadsync.connectors.retry import Resolution

BASE = "https://api.vendor.test"


class Sleeps(list):
    """An injectable sleep that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(sleeps: Sleeps, **kwargs) -> HttpClient:
    kwargs.setdefault("rng", lambda low, high: high)  # deterministic "jitter": the ceiling
    return HttpClient(base_url=BASE, sleep=sleeps, **kwargs)


@respx.mock
def test_retry_after_seconds_is_honoured(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})]
    )
    with make_client(sleeps) as client:
        response = client.get("/things")
    assert response.json() == {"ok": 1}
    assert route.call_count == 2
    assert sleeps == [7.0]


@respx.mock
def test_retry_after_http_date_is_honoured_and_a_long_one_ends_the_call(sleeps: Sleeps) -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    late = format_datetime(datetime.now(timezone.utc) + timedelta(hours=2), usegmt=True)
    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": soon}),
            httpx.Response(503, headers={"Retry-After": late}),
            httpx.Response(200),
        ]
    )
    with make_client(sleeps, backoff_max=60.0) as client, pytest.raises(RateLimitExhausted) as caught:
        client.get("/x")
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30.5
    assert "vendor asked to wait 120 minutes" in str(caught.value)  # two hours: not clamped to 60 s


@respx.mock
def test_a_vendor_asking_to_wait_an_hour_ends_every_later_call_of_the_client_without_a_request(sleeps: Sleeps) -> None:
    # Streams read side by side share one client: once the vendor said "an hour", none may ask again.
    first = respx.get(f"{BASE}/contacts").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    other = respx.post(f"{BASE}/calls/search").mock(return_value=httpx.Response(200, json={}))
    limiter = RateLimiter({"default": Rate(100, 10.0), "search": Rate(5, 1.0)}, sleep=sleeps)
    with make_client(sleeps, limiter=limiter) as client:
        with pytest.raises(RateLimitExhausted, match="vendor asked to wait 60 minutes"):
            client.get("/contacts")
        with pytest.raises(RateLimitExhausted, match="vendor asked to wait 60 minutes"):
            client.post("/calls/search", json={}, endpoint="search")
    assert first.call_count == 1 and other.call_count == 0 and sleeps == []


@respx.mock
def test_5xx_is_retried_with_exponential_backoff_then_succeeds(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(500), httpx.Response(502), httpx.Response(504), httpx.Response(200)]
    )
    with make_client(sleeps, backoff_base=0.5) as client:
        assert client.get("/x").status_code == 200
    assert route.call_count == 4
    assert sleeps == [0.5, 1.0, 2.0]


@respx.mock
def test_jitter_stays_within_the_exponential_ceiling(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(side_effect=[httpx.Response(500)] * 5 + [httpx.Response(200)])
    with HttpClient(base_url=BASE, sleep=sleeps, backoff_base=1.0, backoff_max=4.0) as client:
        client.get("/x")
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= s <= c for s, c in zip(sleeps, ceilings))


@respx.mock
def test_501_is_not_retried(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(501, text="nope"))
    with make_client(sleeps) as client, pytest.raises(VendorUnavailable) as info:
        client.get("/x")
    assert route.call_count == 1
    assert info.value.status == 501
    assert sleeps == []


@respx.mock
def test_5xx_retries_exhausted_raise_vendor_unavailable(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(503, json={"message": "down"}))
    with make_client(sleeps, max_retries=3) as client, pytest.raises(VendorUnavailable) as info:
        client.get("/x")
    assert route.call_count == 4
    assert info.value.status == 503
    assert "down" in str(info.value)
    assert info.value.exit_code == 4


@respx.mock
def test_persistent_429_raises_rate_limit_exhausted(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429))
    with make_client(sleeps, max_retries=2) as client, pytest.raises(RateLimitExhausted):
        client.get("/x")
    assert len(sleeps) == 2


@respx.mock
def test_get_read_timeout_is_retried(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200)])
    with make_client(sleeps) as client:
        assert client.get("/x").status_code == 200
    assert route.call_count == 2


@respx.mock
def test_timeouts_exhausted_raise_vendor_unavailable(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("slow"))
    with make_client(sleeps, max_retries=2) as client, pytest.raises(VendorUnavailable) as info:
        client.get("/x")
    assert "ReadTimeout" in str(info.value)


@respx.mock
def test_connection_error_is_retried_even_for_post(sleeps: Sleeps) -> None:
    route = respx.post(f"{BASE}/tasks").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ConnectTimeout("syn"), httpx.Response(201)]
    )
    with make_client(sleeps) as client:
        assert client.post("/tasks", json={"a": 1}).status_code == 201
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed"), httpx.ReadError("reset")]
)
@respx.mock
def test_post_that_may_have_been_applied_raises_ambiguous_write(sleeps: Sleeps, failure) -> None:
    route = respx.post(f"{BASE}/tasks").mock(side_effect=[failure, httpx.Response(201)])
    with make_client(sleeps) as client, pytest.raises(AmbiguousWriteError) as info:
        client.post("/tasks", json={"subject": "call"})
    assert route.call_count == 1  # never blindly resent
    assert info.value.method == "POST"


@respx.mock
def test_post_500_is_ambiguous_but_429_and_503_are_retried(sleeps: Sleeps) -> None:
    respx.post(f"{BASE}/a").mock(side_effect=[httpx.Response(500), httpx.Response(201)])
    respx.post(f"{BASE}/b").mock(
        side_effect=[httpx.Response(429), httpx.Response(503), httpx.Response(201)]
    )
    with make_client(sleeps) as client:
        with pytest.raises(AmbiguousWriteError):
            client.post("/a", json={})
        assert client.post("/b", json={}).status_code == 201


@respx.mock
def test_post_marked_idempotent_is_retried_after_timeout(sleeps: Sleeps) -> None:
    route = respx.post(f"{BASE}/search").mock(side_effect=[httpx.ReadTimeout("t"), httpx.Response(200)])
    with make_client(sleeps) as client:
        assert client.post("/search", json={}, idempotent=True).status_code == 200
    assert route.call_count == 2


@respx.mock
def test_4xx_raises_client_error_with_parsed_body(sleeps: Sleeps) -> None:
    body = {"code": "CB_VA01", "errors": {"records[0].score.value": {"messages": ["bad"]}}}
    respx.put(f"{BASE}/k/v1/records.json").mock(return_value=httpx.Response(400, json=body))
    with make_client(sleeps) as client, pytest.raises(ClientError) as info:
        client.put("/k/v1/records.json", json={})
    assert info.value.status == 400
    assert info.value.json == body
    assert "CB_VA01" in str(info.value)
    assert sleeps == []


@respx.mock
def test_static_token_rejected_raises_auth_error(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(401, json={"message": "bad token"}))
    with make_client(sleeps, auth=BearerToken("pat-na1-0123456789")) as client:
        with pytest.raises(AuthError) as info:
            client.get("/x")
    assert info.value.exit_code == 4


@respx.mock
def test_classify_refresh_then_retry_refreshes_the_token(sleeps: Sleeps) -> None:
    """Marketo answers HTTP 200 with error 601/602 when the token expired."""
    tokens = iter(["tok-first-aaaa", "tok-second-bbbb"])
    token_route = respx.get(f"{BASE}/identity/oauth/token").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"access_token": next(tokens), "expires_in": 3599, "token_type": "bearer"}
        )
    )
    seen: list[str] = []

    def leads(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer tok-first-aaaa":
            return httpx.Response(200, json={"success": False, "errors": [{"code": "602", "message": "expired"}]})
        return httpx.Response(200, json={"success": True, "result": [{"id": 1}]})

    respx.get(f"{BASE}/rest/v1/leads.json").mock(side_effect=leads)

    def marketo(response: httpx.Response) -> Resolution | None:
        body = response.json()
        codes = {e["code"] for e in body.get("errors", [])}
        if codes & {"601", "602"}:
            return Resolution.REFRESH_AUTH_THEN_RETRY
        return None

    auth = OAuth2ClientCredentials(
        f"{BASE}/identity/oauth/token", "cid", "client-secret-xyz", method="GET", params_in="query"
    )
    with make_client(sleeps, auth=auth, classify=marketo) as client:
        response = client.get("/rest/v1/leads.json")
    assert response.json()["result"] == [{"id": 1}]
    assert seen == ["Bearer tok-first-aaaa", "Bearer tok-second-bbbb"]
    assert token_route.call_count == 2
    query = token_route.calls[0].request.url.params
    assert query["grant_type"] == "client_credentials" and query["client_secret"] == "client-secret-xyz"
    assert sum(sleeps) == 0  # a refresh retries at once


@respx.mock
def test_refresh_only_once_per_request(sleeps: Sleeps) -> None:
    respx.post(f"{BASE}/token").mock(
        return_value=httpx.Response(200, json={"access_token": "tok-cccccc", "expires_in": 1800})
    )
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(401, json=[{"errorCode": "INVALID_SESSION_ID"}]))
    auth = OAuth2RefreshToken(f"{BASE}/token", "cid", "sec-ret-1", "refresh-tok-1")
    with make_client(sleeps, auth=auth) as client, pytest.raises(AuthError) as info:
        client.get("/x")
    assert route.call_count == 2
    assert "INVALID_SESSION_ID" in str(info.value)


@respx.mock
def test_oauth_refresh_token_expiry_and_rotation(sleeps: Sleeps) -> None:
    now = [1000.0]
    issued = iter([("acc-one-1111", "refresh-two-2222"), ("acc-two-3333", None)])

    def token(request: httpx.Request) -> httpx.Response:
        access, rotated = next(issued)
        body = {"access_token": access, "expires_in": 1800}
        if rotated:
            body["refresh_token"] = rotated
        return httpx.Response(200, json=body)

    token_route = respx.post(f"{BASE}/oauth/v1/token").mock(side_effect=token)
    api = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(200))
    rotations: list[str] = []
    auth = OAuth2RefreshToken(
        f"{BASE}/oauth/v1/token", "cid", "secret-abc", "refresh-one-1111",
        on_rotate=rotations.append, clock=lambda: now[0],
    )
    with make_client(sleeps, auth=auth) as client:
        client.get("/x")
        client.get("/x")  # still valid: no token call
        assert token_route.call_count == 1
        now[0] += 1800 - 30  # inside the refresh margin
        client.get("/x")
    assert token_route.call_count == 2
    form = dict(httpx.QueryParams(token_route.calls[0].request.content.decode()))
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "refresh-one-1111"
    second = dict(httpx.QueryParams(token_route.calls[1].request.content.decode()))
    assert second["refresh_token"] == "refresh-two-2222"
    assert rotations == ["refresh-two-2222"]
    assert [c.request.headers["Authorization"] for c in api.calls] == [
        "Bearer acc-one-1111", "Bearer acc-one-1111", "Bearer acc-two-3333",
    ]


@respx.mock
def test_token_endpoint_rejection_is_auth_error_without_secrets(sleeps: Sleeps) -> None:
    respx.post(f"{BASE}/token").mock(
        return_value=httpx.Response(400, json={"error": "invalid_grant", "refresh_token": "refresh-sss-999"})
    )
    auth = OAuth2RefreshToken(f"{BASE}/token", "cid", "topsecret-888", "refresh-sss-999")
    with make_client(sleeps, auth=auth) as client, pytest.raises(AuthError) as info:
        client.get("/x")
    text = str(info.value) + repr(info.value) + repr(auth)
    assert "invalid_grant" in text
    assert "refresh-sss-999" not in text and "topsecret-888" not in text


@respx.mock
def test_quota_exhausted_from_classifier(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(
        return_value=httpx.Response(403, json=[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "quota"}])
    )

    def salesforce(response: httpx.Response) -> Resolution | None:
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
            return Resolution.QUOTA_EXHAUSTED
        return None

    with make_client(sleeps, classify=salesforce) as client, pytest.raises(RateLimitExhausted):
        client.get("/x")


@respx.mock
def test_header_token_and_absolute_url(sleeps: Sleeps) -> None:
    route = respx.get("https://other.test/k/v1/records.json").mock(return_value=httpx.Response(200))
    with make_client(sleeps, auth=HeaderToken("X-Cybozu-API-Token", "kt-token-123")) as client:
        client.get("https://other.test/k/v1/records.json", params={"app": 3})
    request = route.calls[0].request
    assert request.headers["X-Cybozu-API-Token"] == "kt-token-123"
    assert request.url.params["app"] == "3"


@respx.mock
def test_limiter_waits_after_hubspot_headers_say_zero_remaining(sleeps: Sleeps) -> None:
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter({"default": Rate(100, 10.0)}, clock=lambda: now[0], sleep=fake_sleep)
    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(200, headers={"X-HubSpot-RateLimit-Remaining": "0",
                                         "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}),
            httpx.Response(200, headers={"X-HubSpot-RateLimit-Remaining": "99"}),
        ]
    )
    with make_client(sleeps, limiter=limiter) as client:
        client.get("/x")
        assert sleeps == []
        client.get("/x")
    assert sleeps == [pytest.approx(10.0)]


@respx.mock
def test_secrets_are_redacted_in_errors_and_logs(sleeps: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    from leadsync.connectors.redact import install_log_redaction

    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(500), httpx.Response(400, json={"echo": "my-private-key-42"})]
    )
    handler = caplog.handler
    install_log_redaction(handler)
    with caplog.at_level(logging.DEBUG, logger="leadsync"):
        with make_client(sleeps, secrets=["my-private-key-42"]) as client, pytest.raises(ClientError) as info:
            client.get("/x", params={"access_token": "tok-in-url-77", "q": "1"})
    text = str(info.value) + repr(info.value)
    assert "my-private-key-42" not in text and "tok-in-url-77" not in text
    assert "access_token=***" in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry 1/6" in logged
    assert "tok-in-url-77" not in logged and "access_token=***" in logged


@respx.mock
def test_per_request_timeout_and_stats(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/slow").mock(return_value=httpx.Response(200))
    with make_client(sleeps, timeout=30.0) as client:
        client.get("/slow", timeout=2.5)
        client.get("/slow")
    timeouts = [call.request.extensions["timeout"]["read"] for call in route.calls]
    assert timeouts == [2.5, 30.0]
    assert client.stats["requests"] == 2 and client.stats["retries"] == 0


@respx.mock
def test_client_credentials_in_post_body(sleeps: Sleeps) -> None:
    token = respx.post(f"{BASE}/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "cc-token-1234", "expires_in": 3599})
    )
    api = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(200))
    auth = OAuth2ClientCredentials(f"{BASE}/oauth/token", "cid", "cc-secret-5678")
    with make_client(sleeps, auth=auth) as client:
        client.get("/x")
    form = dict(httpx.QueryParams(token.calls[0].request.content.decode()))
    assert form == {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "cc-secret-5678"}
    assert not token.calls[0].request.url.params
    assert api.calls[0].request.headers["Authorization"] == "Bearer cc-token-1234"
    assert "cc-secret-5678" not in repr(auth)


@respx.mock
def test_token_response_without_access_token_is_auth_error(sleeps: Sleeps) -> None:
    respx.post(f"{BASE}/oauth/token").mock(return_value=httpx.Response(200, json={"error": "nope"}))
    auth = OAuth2ClientCredentials(f"{BASE}/oauth/token", "cid", "cc-secret-5678")
    with make_client(sleeps, auth=auth) as client, pytest.raises(AuthError, match="no access_token"):
        client.get("/x")


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        OAuth2ClientCredentials("https://t", "id", "secret", method="PUT")
    with pytest.raises(ValueError):
        HttpClient(base_url=BASE, max_retries=-1)


@respx.mock
def test_retry_after_beyond_max_wait_ends_the_call_at_once(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with make_client(sleeps, max_wait_s=60.0) as client, pytest.raises(RateLimitExhausted) as caught:
        client.get("/x")
    assert route.call_count == 1  # not hammered
    assert sleeps == []  # and not slept out
    assert "vendor asked to wait 60 minutes" in str(caught.value)


@respx.mock
def test_retry_after_below_max_wait_is_honoured_in_full(sleeps: Sleeps) -> None:
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "90"}), httpx.Response(200)]
    )
    with make_client(sleeps, max_wait_s=120.0, backoff_max=30.0) as client:
        assert client.get("/x").status_code == 200
    assert sleeps == [90.0]  # no hidden cap below the configured ceiling


@respx.mock
def test_a_429_storm_is_bounded_by_the_total_retry_time(sleeps: Sleeps) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "60"}))
    with make_client(sleeps, max_retries=10, max_retry_time_s=150.0) as client, pytest.raises(RateLimitExhausted) as caught:
        client.get("/x")
    assert sleeps == [60.0, 60.0]  # a third wait would pass 150 s
    assert route.call_count == 3
    assert "after 3 attempts" in str(caught.value)
