"""Writing scores and tasks to HubSpot; auth and rate-limit answers (respx)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from leadsync.connectors import AuthError, RateLimitExhausted, ScoreUpdate, TaskRequest
from leadsync.core.models import Segment
from leadsync_hubspot import HubSpotSettings

SCORED = datetime(2025, 4, 1, 3, 0, tzinfo=timezone.utc)


def score(key: str, record_id: str | None, total: int = 80) -> ScoreUpdate:
    return ScoreUpdate(key=key, lead_key=f"{key}@x.jp", email=f"{key}@x.jp", record_id=record_id, score=total,
                       behavior_score=50, attribute_score=total - 50, segment=Segment.HOT,
                       sheet_version="v3", scored_at=SCORED)


def task(key: str, record_id: str | None = "501", email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=record_id, owner="77",
                       subject="MQL: 山田太郎 (score 85)", body="why: webinar + pricing page",
                       due_at=SCORED, priority="high")


def test_settings_need_exactly_one_credential():
    with pytest.raises(ValidationError, match="either token"):
        HubSpotSettings(plugin="hubspot")
    with pytest.raises(ValidationError, match="not both"):
        HubSpotSettings(plugin="hubspot", token="t", client_id="c", client_secret="s", refresh_token="r")
    assert "pat-secret" not in repr(HubSpotSettings(plugin="hubspot", token="pat-secret"))


def test_scores_batch_update_as_strings_with_207_matched_by_id(hubspot, api):
    def answer(request):
        inputs = json.loads(request.content)["inputs"]
        assert all(isinstance(v, str) for i in inputs for v in i["properties"].values())
        assert inputs[0]["properties"] == {
            "leadsync_score": "80", "leadsync_behavior_score": "50", "leadsync_attribute_score": "30",
            "leadsync_segment": "hot", "leadsync_sheet_version": "v3", "leadsync_scored_at": "1743476400000"}
        return httpx.Response(207, json={
            "status": "COMPLETE",
            # results out of input order on purpose
            "results": [{"id": "3", "properties": {}}, {"id": "1", "properties": {}}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some CONTACT objects",
                        "context": {"ids": ["2"]}, "errors": []}],
        })

    route = api.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=answer)
    results = hubspot.push_scores([score("a", "1"), score("b", "2"), score("c", "3"), score("d", None)])
    assert route.call_count == 1
    assert [(r.key, r.ok) for r in results] == [("a", True), ("b", False), ("c", True), ("d", False)]
    assert "OBJECT_NOT_FOUND" in results[1].error and not results[1].retryable
    assert results[0].external_id == "1"


def test_a_400_batch_is_bisected_to_the_bad_record(hubspot, api):
    def answer(request):
        inputs = json.loads(request.content)["inputs"]
        if any(i["id"] == "bad" for i in inputs):
            return httpx.Response(400, json={"status": "error", "category": "VALIDATION_ERROR",
                                             "message": "Property values were not valid"})
        return httpx.Response(200, json={"status": "COMPLETE", "results": [{"id": i["id"]} for i in inputs]})

    route = api.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=answer)
    results = hubspot.push_scores([score(str(i), "bad" if i == 2 else str(i)) for i in range(4)])
    assert [r.ok for r in results] == [True, True, False, True]
    assert "VALIDATION_ERROR" in results[2].error
    assert route.call_count > 1


def crm_reads(api, tasks: dict[str, list[dict]]):
    """Mock the two primary-store reads: contact -> task associations, then the tasks themselves."""
    def associations(request):
        body = json.loads(request.content)
        results = [{"from": {"id": i["id"]}, "to": [{"toObjectId": int(t["id"]), "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 203, "label": None}]} for t in tasks.get(i["id"], [])]}
            for i in body["inputs"] if tasks.get(i["id"])]
        return httpx.Response(200, json={"status": "COMPLETE", "results": results})

    def batch_read(request):
        body = json.loads(request.content)
        by_id = {t["id"]: t for found in tasks.values() for t in found}
        return httpx.Response(200, json={"status": "COMPLETE", "results": [
            {"id": i["id"], "properties": by_id[i["id"]], "archived": False} for i in body["inputs"] if i["id"] in by_id]})

    return (api.post("/crm/v4/associations/contacts/tasks/batch/read").mock(side_effect=associations),
            api.post("/crm/v3/objects/tasks/batch/read").mock(side_effect=batch_read))


def test_tasks_look_before_create_in_the_primary_store_and_carry_the_association(hubspot, api):
    assoc, read = crm_reads(api, {"501": [{"id": "900", "leadsync_key": "k1", "hs_task_status": "NOT_STARTED",
                                          "hs_createdate": "1743476400000"}]})
    searched = api.post("/crm/v3/objects/tasks/search").mock(return_value=httpx.Response(500))

    def create(request):
        inputs = json.loads(request.content)["inputs"]
        assert [i["objectWriteTraceId"] for i in inputs] == ["k2", "k3"]
        props = inputs[0]["properties"]
        assert props["hs_task_status"] == "NOT_STARTED" and props["hs_task_priority"] == "HIGH"
        assert props["hs_timestamp"] == "1743476400000" and props["hubspot_owner_id"] == "77"
        assert props["leadsync_key"] == "k2" and props["hs_task_type"] == "TODO"
        assert inputs[0]["associations"] == [{"to": {"id": "502"}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}]
        return httpx.Response(207, json={
            "status": "COMPLETE",
            "results": [{"id": "901", "objectWriteTraceId": "k2", "properties": {"leadsync_key": "k2"}}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "owner 77 is not valid",
                        "context": {"objectWriteTraceId": ["k3"]}}],
        })

    created = api.post("/crm/v3/objects/tasks/batch/create").mock(side_effect=create)
    results = hubspot.create_tasks([task("k1"), task("k2", record_id="502"), task("k3", record_id="503")])
    assert [(r.key, r.ok, r.external_id) for r in results] == [("k1", True, "900"), ("k2", True, "901"), ("k3", False, None)]
    assert "owner 77" in results[2].error and not results[2].retryable
    assert json.loads(assoc.calls[0].request.content) == {"inputs": [{"id": "501"}, {"id": "502"}, {"id": "503"}]}
    read_body = json.loads(read.calls[0].request.content)
    assert read_body["inputs"] == [{"id": "900"}]
    assert {"leadsync_key", "hs_task_status", "hs_createdate", "hubspot_owner_id"} <= set(read_body["properties"])
    assert searched.call_count == 0, "search lags writes: it is never asked before a create"
    assert created.call_count == 1


def test_task_for_a_lead_known_only_by_email_upserts_the_contact_first(hubspot, api):
    upsert = api.post("/crm/v3/objects/contacts/batch/upsert").mock(return_value=httpx.Response(200, json={
        "status": "COMPLETE", "results": [{"id": "777", "new": True, "properties": {"email": "new@x.jp"}}]}))
    crm_reads(api, {})
    created = api.post("/crm/v3/objects/tasks/batch/create").mock(return_value=httpx.Response(201, json={
        "status": "COMPLETE", "results": [{"id": "902", "objectWriteTraceId": "k9"}]}))
    [result] = hubspot.create_tasks([task("k9", record_id=None, email="New@X.jp")])
    assert result.ok and result.external_id == "902"
    assert json.loads(upsert.calls[0].request.content)["inputs"] == [
        {"id": "new@x.jp", "idProperty": "email", "properties": {"email": "new@x.jp"}}]
    assert json.loads(created.calls[0].request.content)["inputs"][0]["associations"][0]["to"] == {"id": "777"}


@pytest.mark.parametrize("answer", [
    httpx.ReadTimeout("slow"),
    httpx.Response(201, content=b'{"status":"COMPLETE","results":[{"id":"9', headers={"Content-Type": "application/json"}),
    httpx.Response(200, json=["not", "the", "batch", "answer"]),
])
def test_a_create_whose_answer_is_lost_or_unreadable_is_looked_up_again_at_once(hubspot, api, answer):
    state: dict[str, list[dict]] = {}
    crm_reads(api, state)

    def create(request):  # HubSpot applies the create, then the answer goes missing or arrives cut
        state["501"] = [{"id": "905", "leadsync_key": "k5", "hs_task_status": "NOT_STARTED", "hs_createdate": "1"}]
        if isinstance(answer, Exception):
            raise answer
        return answer

    api.post("/crm/v3/objects/tasks/batch/create").mock(side_effect=create)
    [result] = hubspot.create_tasks([task("k5")])
    assert result.ok and result.external_id == "905"


def test_a_lost_answer_not_found_again_stays_retryable_and_never_dead_letters(hubspot, api):
    crm_reads(api, {})
    api.post("/crm/v3/objects/tasks/batch/create").mock(return_value=httpx.Response(
        201, content=b"<html>gateway</html>", headers={"Content-Type": "text/html"}))
    [result] = hubspot.create_tasks([task("k6")])
    assert not result.ok and result.retryable and "not in HubSpot yet" in result.error


def test_ten_secondly_429_is_retried_and_daily_429_stops(hubspot, api):
    limited = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
               "errorType": "RATE_LIMIT", "correlationId": "c", "policyName": "TEN_SECONDLY_ROLLING", "requestId": "r"}
    route = api.get("/crm/v3/objects/contacts").mock(side_effect=[
        httpx.Response(429, json=limited), httpx.Response(200, json={"results": []})])
    assert hubspot.client.get("/crm/v3/objects/contacts").status_code == 200
    assert route.call_count == 2
    daily = dict(limited, policyName="DAILY", message="You have reached your daily limit.")
    api.get("/crm/v3/objects/contacts").mock(return_value=httpx.Response(429, json=daily))
    with pytest.raises(RateLimitExhausted):
        hubspot.client.get("/crm/v3/objects/contacts")


def test_private_app_401_fails_without_refresh(hubspot, api):
    api.get("/crm/v3/objects/contacts").mock(return_value=httpx.Response(401, json={
        "status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}))
    with pytest.raises(AuthError) as caught:
        hubspot.client.get("/crm/v3/objects/contacts")
    assert "pat-na1-secret-token" not in str(caught.value)


def test_oauth_refreshes_on_expiry_not_on_any_401(make_hubspot, api):
    hubspot = make_hubspot(token=None, client_id="cid", client_secret="csecret", refresh_token="rtok")
    token = api.post("/oauth/2026-03/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "at-1", "refresh_token": "rtok", "expires_in": 1800, "token_type": "bearer"}),
        httpx.Response(200, json={"access_token": "at-2", "refresh_token": "rtok", "expires_in": 1800, "token_type": "bearer"}),
    ])
    seen = []

    def contacts(request):
        seen.append(request.headers["authorization"])
        if len(seen) == 1:
            return httpx.Response(401, json={"status": "error", "category": "EXPIRED_AUTHENTICATION",
                                             "message": "The OAuth token used to make this call expired 1 minute(s) ago."})
        return httpx.Response(200, json={"results": []})

    api.get("/crm/v3/objects/contacts").mock(side_effect=contacts)
    hubspot.client.get("/crm/v3/objects/contacts")
    assert seen == ["Bearer at-1", "Bearer at-2"]
    form = parse_qs(token.calls[0].request.content.decode())
    assert form == {"grant_type": ["refresh_token"], "refresh_token": ["rtok"], "client_id": ["cid"], "client_secret": ["csecret"]}
    assert token.calls[0].request.headers["content-type"] == "application/x-www-form-urlencoded"
    api.get("/crm/v3/objects/deals").mock(return_value=httpx.Response(401, json={"category": "INVALID_AUTHENTICATION"}))
    with pytest.raises(AuthError):
        hubspot.client.get("/crm/v3/objects/deals")
    assert token.call_count == 2  # a plain 401 did not trigger a refresh


def test_check_and_setup_create_missing_properties(hubspot, api):
    existing = {"leadsync_score"}
    api.get(url__regex=r"/crm/v3/properties/(contacts|tasks)/leadsync_\w+$").mock(side_effect=lambda r: httpx.Response(
        200 if r.url.path.rsplit("/", 1)[-1] in existing else 404, json={}))
    api.get("/crm/v3/objects/contacts").mock(return_value=httpx.Response(200, json={"results": []}))
    api.get(url__regex=r"/crm/v3/properties/\w+/groups$").mock(return_value=httpx.Response(200, json={
        "results": [{"name": "contactinformation"}, {"name": "taskinformation"}]}))
    posted = api.post(url__regex=r"/crm/v3/properties/(contacts|tasks)$").mock(
        side_effect=lambda r: (existing.add(json.loads(r.content)["name"]), httpx.Response(201, json={}))[1])
    before = hubspot.check()
    assert not before.ok and sum(1 for item in before.items if not item[1]) == 6
    done = hubspot.setup()
    assert posted.call_count == 6 and any("already exists" in line for line in done)
    bodies = {json.loads(c.request.content)["name"]: json.loads(c.request.content) for c in posted.calls}
    assert "leadsync_score" not in bodies  # it existed already
    assert bodies["leadsync_scored_at"]["type"] == "datetime" and bodies["leadsync_key"]["groupName"] == "taskinformation"
    assert hubspot.check().ok
