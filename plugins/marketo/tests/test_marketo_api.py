"""Marketo transport: token handling, HTTP-200 error envelopes, rate limits, 414, malformed bodies."""

from __future__ import annotations

import httpx
import pytest
import respx

from leadsync.connectors import AuthError, ConnectorError, RateLimitExhausted
from leadsync_marketo.client import MarketoError

from leadsync_marketo.testing import envelope as marketo_ok
from leadsync_marketo.testing import error_envelope as marketo_error

MARKETO_BASE = "https://123-abc-456.mktorest.com"
MARKETO_SECRET = "marketo-secret-value-xyz"

TOKEN_URL = f"{MARKETO_BASE}/identity/oauth/token"


def _token(value: str = "tok-1") -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "bearer", "expires_in": 3599,
                                     "scope": "api@example.com"})


@respx.mock
def test_token_is_fetched_with_client_credentials_and_sent_as_bearer_header(marketo_connector) -> None:
    token = respx.get(TOKEN_URL).mock(return_value=_token())
    describe = respx.get(f"{MARKETO_BASE}/rest/v1/leads/describe.json").mock(
        return_value=httpx.Response(200, json=marketo_ok([{"id": 1, "displayName": "Email", "dataType": "email",
                                                             "rest": {"name": "email"}}]))
    )
    fields = marketo_connector().client.describe_fields()
    assert fields == {"email"}
    params = token.calls[0].request.url.params
    assert params["grant_type"] == "client_credentials" and params["client_id"] == "cid"
    sent = describe.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert "access_token" not in sent.url.params


@respx.mock
@pytest.mark.parametrize("code", ["601", "602"])
def test_expired_or_invalid_token_in_http_200_reauthenticates_once(marketo_connector, code) -> None:
    respx.get(TOKEN_URL).mock(side_effect=[_token("old"), _token("new")])
    route = respx.get(f"{MARKETO_BASE}/rest/v1/activities/types.json").mock(
        side_effect=[httpx.Response(200, json=marketo_error(code, "Access token expired")),
                     httpx.Response(200, json=marketo_ok([{"id": 1, "name": "Visit Webpage"}]))]
    )
    assert marketo_connector().client.activity_types() == {"Visit Webpage": 1}
    assert [c.request.headers["Authorization"] for c in route.calls] == ["Bearer old", "Bearer new"]


@respx.mock
def test_rejected_client_credentials_raise_auth_error_without_the_secret(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=httpx.Response(
        401, json={"error": "invalid_client", "error_description": "Bad client credentials"}))
    with pytest.raises(AuthError) as caught:
        marketo_connector().client.activity_types()
    assert MARKETO_SECRET not in str(caught.value) and MARKETO_SECRET not in repr(caught.value)


@respx.mock
@pytest.mark.parametrize("code", ["606", "615", "604", "608", "611"])
def test_rate_and_transient_codes_are_retried(marketo_connector, code) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    route = respx.get(f"{MARKETO_BASE}/rest/v1/activities/types.json").mock(
        side_effect=[httpx.Response(200, json=marketo_error(code, "Max rate limit '100' exceeded with in '20' secs")),
                     httpx.Response(200, json=marketo_ok([{"id": 2, "name": "Fill Out Form"}]))]
    )
    assert marketo_connector().client.activity_types() == {"Fill Out Form": 2}
    assert route.call_count == 2


@respx.mock
def test_daily_quota_stops_cleanly(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    route = respx.get(f"{MARKETO_BASE}/rest/v1/activities/types.json").mock(
        return_value=httpx.Response(200, json=marketo_error("607", "Daily quota reached")))
    with pytest.raises(RateLimitExhausted):
        marketo_connector().client.activity_types()
    assert route.call_count == 1


@respx.mock
def test_other_response_level_errors_raise_marketo_error_with_codes(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    respx.get(f"{MARKETO_BASE}/rest/v1/activities/types.json").mock(
        return_value=httpx.Response(200, json=marketo_error("603", "Access denied")))
    with pytest.raises(MarketoError) as caught:
        marketo_connector().client.activity_types()
    assert caught.value.codes == ["603"] and "603 Access denied" in str(caught.value)


@respx.mock
@pytest.mark.parametrize("body", [b"<html>gateway</html>", b"[1, 2]", b""])
def test_malformed_bodies_raise_a_clear_connector_error(marketo_connector, body) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    respx.get(f"{MARKETO_BASE}/rest/v1/activities/types.json").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(ConnectorError, match="not a JSON object"):
        marketo_connector().client.activity_types()


@respx.mock
def test_uri_too_long_is_resent_as_post_with_method_get(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    get = respx.get(f"{MARKETO_BASE}/rest/v1/leads.json").mock(return_value=httpx.Response(414, text="URI Too Long"))
    post = respx.post(f"{MARKETO_BASE}/rest/v1/leads.json").mock(
        return_value=httpx.Response(200, json=marketo_ok([{"id": 5, "email": "a@example.com"}])))
    leads = marketo_connector().client.leads_by_id(["5"], ["id", "email"])
    assert leads == [{"id": 5, "email": "a@example.com"}]
    assert get.call_count == 1
    form = dict(httpx.QueryParams(post.calls[0].request.content.decode()))
    assert form["_method"] == "GET" and form["filterType"] == "id" and form["filterValues"] == "5"


@respx.mock
def test_very_long_queries_go_as_post_without_a_failed_get(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    get = respx.get(f"{MARKETO_BASE}/rest/v1/leads.json").mock(return_value=httpx.Response(414))
    post = respx.post(f"{MARKETO_BASE}/rest/v1/leads.json").mock(return_value=httpx.Response(200, json=marketo_ok([])))
    fields = [f"customField{i:04d}" for i in range(600)]
    assert marketo_connector().client.leads_by_id(["1"], fields) == []
    assert get.call_count == 0 and post.call_count == 1


@respx.mock
def test_paging_loop_is_detected(marketo_connector) -> None:
    respx.get(TOKEN_URL).mock(return_value=_token())
    respx.get(f"{MARKETO_BASE}/rest/v1/activities.json").mock(
        return_value=httpx.Response(200, json=marketo_ok([], moreResult=True, nextPageToken="SAME")))
    pages = marketo_connector().client.token_pages("/rest/v1/activities.json", "SAME", {"activityTypeIds": "1"})
    with pytest.raises(ConnectorError, match="already given"):
        list(pages)
