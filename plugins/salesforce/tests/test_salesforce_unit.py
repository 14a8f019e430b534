"""Salesforce connector against respx: auth, SOQL paging and encoding, collections, quota."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from leadsync.connectors import (
    AuthError,
    ConnectorError,
    RateLimitExhausted,
    ReadContext,
    Rejected,
    ScoreUpdate,
    TaskRequest,
)
from leadsync.core.models import Lead, Segment
from leadsync_salesforce import SalesforceSettings

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v62.0"
SIGNPOST = datetime(2025, 4, 1, 12, 0, tzinfo=timezone.utc)


def lead(i: int, stamp: str = "2025-04-01T03:00:00.000+0000") -> dict:
    return {"attributes": {"type": "Lead"}, "Id": f"00Q{i:015d}", "Email": f"U{i}@Example.jp", "LastName": "山田",
            "Company": "(株)サンプル", "NumberOfEmployees": 250, "Status": "Open", "SystemModstamp": stamp,
            "CreatedDate": "2025-01-01T00:00:00.000+0000"}


def test_flow_settings_are_checked():
    with pytest.raises(ValidationError, match="refresh_token"):
        SalesforceSettings(plugin="salesforce", client_id="c")
    with pytest.raises(ValidationError, match="username, private_key"):
        SalesforceSettings(plugin="salesforce", client_id="c", flow="jwt_bearer")


def test_soql_follows_next_records_url_and_encodes_the_query(make_sf, sf_api):
    sf = make_sf()
    first = sf_api.get(f"{DATA}/query").respond(200, json={
        "totalSize": 3, "done": False, "nextRecordsUrl": "/services/data/v62.0/query/01gABC-2", "records": [lead(1), lead(2)]})
    more = sf_api.get(f"{DATA}/query/01gABC-2").respond(200, json={"totalSize": 3, "done": True, "records": [lead(3), {"attributes": {"type": "Lead"}, "Id": "00Qbad", "SystemModstamp": "garbage"}]})
    stream = sf.streams()[0]
    pages = list(stream.read(ReadContext(cursor={"ts": "2025-03-31T10:00:00.000+0900", "id": "00Q0"}, signpost=SIGNPOST)))
    assert first.call_count == 1 and more.call_count == 1
    raw_query = urlsplit(str(first.calls[0].request.url)).query
    soql = parse_qs(raw_query)["q"][0]
    assert "SystemModstamp >= 2025-03-31T00:55:00Z" in soql  # cursor (+09:00) to UTC, minus 5 min lookback
    assert "SystemModstamp <= 2025-04-01T12:00:00Z" in soql and soql.endswith("ORDER BY SystemModstamp ASC, Id ASC")
    assert first.calls[0].request.headers["sforce-query-options"] == "batchSize=2000"
    leads = [r for p in pages for r in p.records if isinstance(r, Lead)]
    assert [l.key for l in leads] == ["u1@example.jp", "u2@example.jp", "u3@example.jp"]
    assert leads[0].employees == 250 and leads[0].refs == {"crm": "00Q000000000000001"}
    assert any(isinstance(r, Rejected) for r in pages[1].records)
    assert pages[0].cursor == {"ts": "2025-04-01T03:00:00.000+0000", "id": "00Q000000000000002"}


def test_plus_offsets_in_literals_are_percent_encoded(make_sf, sf_api):
    sf = make_sf()
    route = sf_api.get(f"{DATA}/query").respond(200, json={"totalSize": 0, "done": True, "records": []})
    list(sf.client.query("SELECT Id FROM Lead WHERE SystemModstamp > 2025-01-01T00:00:00+09:00"))
    raw = urlsplit(str(route.calls[0].request.url)).query
    assert "%2B09%3A00" in raw or "%2B09:00" in raw


def test_keyset_without_lookback_is_strict(make_sf, sf_api):
    sf = make_sf()
    route = sf_api.get(f"{DATA}/query").respond(200, json={"totalSize": 0, "done": True, "records": []})
    ctx = ReadContext(cursor={"ts": "2025-04-01T03:00:00.000+0000", "id": "00Q9"}, signpost=SIGNPOST, lookback=timedelta(0))
    pages = list(sf.streams()[0].read(ctx))
    soql = parse_qs(urlsplit(str(route.calls[0].request.url)).query)["q"][0]
    assert "(SystemModstamp > 2025-04-01T03:00:00Z OR (SystemModstamp = 2025-04-01T03:00:00Z AND Id > '00Q9'))" in soql
    assert pages[-1].cursor == {"ts": "2025-04-01T03:00:00.000+0000", "id": "00Q9"}


def test_invalid_session_reauthenticates_once(make_sf, sf_api):
    sf = make_sf()
    token = sf_api.post("https://login.salesforce.com/services/oauth2/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "s1", "instance_url": INSTANCE}),
        httpx.Response(200, json={"access_token": "s2", "instance_url": INSTANCE})])
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    route = sf_api.get(f"{DATA}/sobjects/Lead/describe").mock(side_effect=[
        httpx.Response(401, json=expired), httpx.Response(200, json={"fields": []})])
    sf.client.http.get(f"{sf.client.data_url}/sobjects/Lead/describe")
    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer s1", "Bearer s2"]
    assert parse_qs(token.calls[0].request.content.decode())["grant_type"] == ["refresh_token"]
    sf_api.get(f"{DATA}/sobjects/Task/describe").respond(401, json=[{"message": "nope", "errorCode": "INVALID_AUTH_HEADER"}])
    with pytest.raises(AuthError):
        sf.client.http.get(f"{sf.client.data_url}/sobjects/Task/describe")
    assert token.call_count == 2


def test_request_limit_exceeded_stops_cleanly(make_sf, sf_api):
    sf = make_sf()
    sf_api.get(f"{DATA}/query").respond(403, json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    with pytest.raises(RateLimitExhausted):
        list(sf.streams()[0].read(ReadContext(cursor=None, signpost=SIGNPOST)))


def test_jwt_bearer_signs_an_rs256_assertion(make_sf, sf_api):
    import jwt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    sf = make_sf(flow="jwt_bearer", username="sync@acme.jp", private_key=pem, refresh_token=None)
    token = sf_api.post("https://login.salesforce.com/services/oauth2/token").respond(200, json={"access_token": "s", "instance_url": INSTANCE})
    assert sf.client.data_url == DATA
    form = parse_qs(token.calls[0].request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com")
    assert claims["iss"] == "cid" and claims["sub"] == "sync@acme.jp"
    assert "BEGIN PRIVATE KEY" not in repr(sf.client.auth)


def test_scores_collection_results_in_input_order(make_sf, sf_api):
    sf = make_sf()
    route = sf_api.patch(f"{DATA}/composite/sobjects").respond(200, json=[
        {"id": "00Q1", "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}])
    updates = [ScoreUpdate(key=k, lead_key=k, email=None, record_id=r, score=81, behavior_score=50, attribute_score=31,
                           segment=Segment.HOT, sheet_version="v3", scored_at=SIGNPOST) for k, r in (("a", "00Q1"), ("b", "00Q2"), ("c", None))]
    results = sf.push_scores(updates)
    assert [(r.key, r.ok) for r in results] == [("a", True), ("b", False), ("c", False)]
    assert "ENTITY_IS_DELETED" in results[1].error and not results[1].retryable
    body = json.loads(route.calls[0].request.content)
    assert body["allOrNone"] is False and body["records"][0] == {
        "attributes": {"type": "Lead"}, "id": "00Q1", "Leadsync_Score__c": 81, "Leadsync_Behavior_Score__c": 50,
        "Leadsync_Attribute_Score__c": 31, "Leadsync_Segment__c": "hot", "Leadsync_Sheet_Version__c": "v3",
        "Leadsync_Scored_At__c": "2025-04-01T12:00:00+00:00"}


NO_OPEN_TASKS = {"totalSize": 0, "done": True, "records": []}


def test_tasks_upsert_on_the_external_id_with_org_date(make_sf, sf_api):
    sf = make_sf()
    sf_api.get(f"{DATA}/query").respond(200, json=NO_OPEN_TASKS)
    route = sf_api.patch(f"{DATA}/composite/sobjects/Task/Leadsync_Key__c").respond(200, json=[
        {"id": "00T1", "success": True, "errors": [], "created": True}])
    due = datetime(2025, 4, 1, 16, 30, tzinfo=timezone.utc)  # 01:30 on 2 April in Tokyo
    [result] = sf.create_tasks([TaskRequest(key="k1", lead_key="x", email=None, record_id="00Q1", owner="005A",
                                            subject="S" * 300, body="why", due_at=due)])
    assert result.ok and result.external_id == "00T1"
    record = json.loads(route.calls[0].request.content)["records"][0]
    assert record["ActivityDate"] == "2025-04-02" and len(record["Subject"]) == 255
    assert record["Leadsync_Key__c"] == "k1" and record["OwnerId"] == "005A" and record["WhoId"] == "00Q1"
    assert record["Priority"] == "High" and record["Status"] == "Not Started"


def test_malformed_collection_answer_is_a_clear_error(make_sf, sf_api):
    sf = make_sf()
    sf_api.get(f"{DATA}/query").respond(200, json=NO_OPEN_TASKS)
    sf_api.patch(f"{DATA}/composite/sobjects/Task/Leadsync_Key__c").respond(200, text="<html>")
    with pytest.raises(ConnectorError, match="not JSON"):
        sf.create_tasks([TaskRequest(key="k", lead_key="x", email=None, record_id="00Q1", owner=None,
                                     subject="s", body="b", due_at=SIGNPOST)])
