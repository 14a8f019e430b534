"""Salesforce as documented, against the fake: JWT audience, resends that never reopen or reassign,
what check() may demand, REQUEST_LIMIT_EXCEEDED kinds, INVALID_FIELD as "not set up", owners."""

from __future__ import annotations

from datetime import datetime, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from leadsync.connectors import RateLimitExhausted, ScoreUpdate, SetupMissing, TaskRequest
from leadsync.core.models import Segment
from leadsync_salesforce import SalesforceConnector, SalesforceSettings
from leadsync_salesforce.auth import build_auth

DUE = datetime(2025, 4, 1, 16, 0, tzinfo=timezone.utc)
QUERY = r"/services/data/v62.0/query"
UPSERT = r"/services/data/v62.0/composite/sobjects/Task/Leadsync_Key__c"


def connect(url: str, **extra) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "sf-cid", "refresh_token": "sf-rtok", "login_url": url, **extra}
    return SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo", sleep=lambda s: None)


def task(key: str, who: str, owner: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=key, email=None, record_id=who, owner=owner, subject="MQL", body="why", due_at=DUE)


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# -- JWT bearer: aud is the login host ------------------------------------------------------------
@pytest.mark.parametrize(("login_url", "extra", "aud"), [
    ("https://login.salesforce.com", {}, "https://login.salesforce.com"),
    ("https://acme.my.salesforce.com", {}, "https://login.salesforce.com"),
    ("https://test.salesforce.com", {}, "https://test.salesforce.com"),
    ("https://acme--uat.sandbox.my.salesforce.com", {}, "https://test.salesforce.com"),
    ("https://acme.my.salesforce.com", {"sandbox": True}, "https://test.salesforce.com"),
    ("https://acme.my.site.com", {"audience": "https://acme.my.site.com/customers/"}, "https://acme.my.site.com/customers"),
])
def test_the_jwt_audience_is_the_login_host_never_the_my_domain(login_url, extra, aud):
    settings = SalesforceSettings.model_validate({"plugin": "salesforce", "client_id": "cid", "flow": "jwt_bearer",
                                                  "username": "u@x.jp", "private_key": pem(), "login_url": login_url, **extra})
    auth = build_auth(settings)
    claims = jwt.decode(auth.assertion(), options={"verify_signature": False})
    assert claims["aud"] == aud and claims["iss"] == "cid" and claims["sub"] == "u@x.jp"
    assert auth.token_url == f"{login_url}/services/oauth2/token"  # the request still goes to the configured host


def test_the_fake_refuses_an_assertion_whose_audience_is_a_my_domain(org):
    app, server = org
    app.state["config"]["username"] = "u@x.jp"
    good = connect(server.url, flow="jwt_bearer", username="u@x.jp", private_key=pem(), refresh_token=None)
    assert good.check().ok
    good.close()
    bad = connect(server.url, flow="jwt_bearer", username="u@x.jp", private_key=pem(), refresh_token=None,
                  audience=server.url)
    result = bad.check()
    assert not result.ok and "audience is invalid" in str(result.items)
    bad.close()


# -- a resend never reopens or reassigns ----------------------------------------------------------
def test_a_resend_after_sales_completed_and_reassigned_the_task_writes_nothing(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    rep, other = app.add_user("sato@example.jp"), app.add_user("kato@example.jp")
    sf = connect(server.url)
    [first] = sf.create_tasks([task("k1", lead, owner=rep)])
    assert first.ok
    stored = app.state["objects"]["Task"][first.external_id]
    stored.update(Status="Completed", IsClosed=True, OwnerId=other)  # sales did the work and passed it on
    upserts = len(server.requests_to(UPSERT))
    [again] = sf.create_tasks([task("k1", lead, owner=rep)])  # the outbox resends (a lost answer)
    assert again.ok and again.external_id == first.external_id and again.adopted_key is None
    assert len(server.requests_to(UPSERT)) == upserts, "nothing is written for a key that has its Task"
    assert (stored["Status"], stored["IsClosed"], stored["OwnerId"]) == ("Completed", True, other)
    assert len([t for t in app.records("Task") if t.get("Leadsync_Key__c") == "k1"]) == 1
    sf.close()


def test_a_new_key_for_a_lead_whose_task_is_closed_gets_a_new_task(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connect(server.url)
    [first] = sf.create_tasks([task("k1", lead)])
    app.state["objects"]["Task"][first.external_id].update(Status="Completed", IsClosed=True)
    [second] = sf.create_tasks([task("k2", lead)])
    assert second.ok and second.adopted_key is None and second.external_id != first.external_id
    sf.close()


# -- check(): what the org can set ----------------------------------------------------------------
def test_check_asks_the_task_key_to_be_an_external_id_and_not_unique(org):
    app, server = org
    sf = connect(server.url, roles=["scores", "tasks"])
    items = {name: (ok, detail) for name, ok, detail in sf.check().items}
    assert items["Task.Leadsync_Key__c"] == (True, "External ID")
    app.define_field("Task", "Leadsync_Key__c", external_id=False)
    result = sf.check()
    assert not result.ok and "External ID" in dict((n, d) for n, _, d in result.items)["Task.Leadsync_Key__c"]
    sf.close()


# -- REQUEST_LIMIT_EXCEEDED -----------------------------------------------------------------------
def test_a_concurrent_request_limit_is_waited_out_and_retried(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connect(server.url)
    sf.client  # authenticate before the limit bites
    app.busy(2)
    [result] = sf.create_tasks([task("k1", lead)])
    assert result.ok and app.state["busy"] == 0
    sf.close()


def test_a_concurrent_limit_that_outlasts_the_retries_leaves_every_write_pending(org):
    app, server = org
    leads = [app.add("Lead", {"Email": f"{i}@x.jp", "LastName": "a", "Company": "c"}) for i in range(3)]
    sf = connect(server.url)
    sf.check()
    app.busy(10_000)
    results = sf.create_tasks([task(f"k{i}", who) for i, who in enumerate(leads)])
    assert [(r.ok, r.retryable) for r in results] == [(False, True)] * 3
    assert all("ConcurrentRequests" in r.error for r in results)
    scores = sf.push_scores([ScoreUpdate(key="s", lead_key="s", email=None, record_id=leads[0], score=1, behavior_score=1,
                                         attribute_score=0, segment=Segment.COLD, sheet_version="v", scored_at=DUE)])
    assert [(r.ok, r.retryable) for r in scores] == [(False, True)]
    assert not [t for t in app.records("Task") if t.get("Leadsync_Key__c")]
    sf.close()


def test_the_total_requests_limit_stops_the_run(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connect(server.url)
    sf.check()
    app.state["config"]["daily_limit"] = app.state["api_used"]
    with pytest.raises(RateLimitExhausted, match="TotalRequests"):
        sf.create_tasks([task("k1", lead)])
    sf.close()


# -- INVALID_FIELD: not set up --------------------------------------------------------------------
def test_a_write_to_a_field_the_org_lacks_is_setup_missing_naming_it(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    del app.state["custom_fields"]["Lead"]["Leadsync_Score__c"]
    sf = connect(server.url)
    update = ScoreUpdate(key="s", lead_key="s", email=None, record_id=lead, score=80, behavior_score=50,
                         attribute_score=30, segment=Segment.HOT, sheet_version="v", scored_at=DUE)
    with pytest.raises(SetupMissing) as caught:
        sf.push_scores([update])
    assert caught.value.missing.startswith("Salesforce field Lead.Leadsync_Score__c")
    assert app.records("Lead")[0].get("Leadsync_Segment__c") is None  # nothing was applied
    sf.close()


# -- owners ---------------------------------------------------------------------------------------
def test_owners_resolve_by_email_username_or_id_once_with_inactive_and_unknown_named(org):
    app, server = org
    sato = app.add_user("sato@acme.example", email="Sato@Example.jp")
    gone = app.add_user("gone@acme.example", email="gone@example.jp", active=False)
    twin_a = app.add_user("a@acme.example", email="twin@example.jp")
    app.add_user("b@acme.example", email="twin@example.jp")
    sf = connect(server.url)
    sf.check()
    before = len(server.requests_to(QUERY))
    owners = sf.resolve_owners(["sato@example.jp", "sato@acme.example", sato[:15], "gone@example.jp",
                                "nobody@example.jp", "twin@example.jp", "a@acme.example"])
    assert len(server.requests_to(QUERY)) - before == 1, "one SOQL query for every name"
    assert owners["sato@example.jp"].id == owners["sato@acme.example"].id == owners[sato[:15]].id == sato
    assert owners["sato@example.jp"].usable
    assert owners["gone@example.jp"].id == gone and not owners["gone@example.jp"].usable
    assert "inactive" in owners["gone@example.jp"].problem
    assert owners["nobody@example.jp"].id is None and "no Salesforce User" in owners["nobody@example.jp"].problem
    assert owners["twin@example.jp"].id is None and "several active" in owners["twin@example.jp"].problem
    assert owners["a@acme.example"].id == twin_a  # a username is unique in Salesforce
    sf.close()


def test_the_fake_refuses_a_task_for_an_unknown_or_inactive_user(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    gone = app.add_user("gone@acme.example", active=False)
    sf = connect(server.url)
    results = sf.create_tasks([task("k1", lead, owner="sato"), task("k2", lead, owner=gone)])
    assert "MALFORMED_ID" in results[0].error and "INACTIVE_OWNER_OR_USER" in results[1].error
    assert not any(r.ok or r.retryable for r in results)
    sf.close()
