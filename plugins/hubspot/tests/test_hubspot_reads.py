"""Reading contacts, engagements and completed tasks from HubSpot (respx)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from leadsync.connectors import ConnectorError, ReadContext, Rejected, TaskUpdate
from leadsync.core.models import ActivityType, Lead


def contact(i: int, modified_ms: int = 1_743_500_000_000, **props: str) -> dict:
    return {
        "id": str(i),
        "properties": {
            "email": f"User{i}@Example.co.jp",
            "firstname": "太郎",
            "lastname": "山田",
            "company": "株式会社サンプル",
            "numemployees": "100～499名",
            "hs_lead_status": "OPEN",
            "lastmodifieddate": str(modified_ms),
            "hs_object_id": str(i),
            **props,
        },
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2025-03-01T00:00:00Z",
    }


def test_first_sync_lists_all_pages_then_switches_to_search(hubspot, api, signpost):
    pages = {
        None: {"results": [contact(1), contact(2)], "paging": {"next": {"after": "3", "link": "x"}}},
        "3": {"results": [contact(3), {"id": "4"}]},
    }
    route = api.get("/crm/v3/objects/contacts").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params.get("after")])
    )
    stream = hubspot.streams()[0]
    out = list(stream.read(ReadContext(cursor=None, signpost=signpost)))
    assert route.call_count == 2
    assert route.calls[0].request.url.params["limit"] == "100"
    assert out[0].cursor == {"mode": "list", "started": int(signpost.timestamp() * 1000), "after": "3"}
    assert out[1].cursor == {"mode": "search", "lo": int(signpost.timestamp() * 1000)}
    leads = [r for p in out for r in p.records if isinstance(r, Lead)]
    assert [lead.key for lead in leads] == ["user1@example.co.jp", "user2@example.co.jp", "user3@example.co.jp"]
    assert leads[0].refs == {"crm": "1"} and leads[0].employees == 100 and leads[0].status == "OPEN"
    rejected = [r for p in out for r in p.records if isinstance(r, Rejected)]
    assert len(rejected) == 1 and "no id or no properties" in rejected[0].reason


def test_list_resumes_from_its_stored_after_token(hubspot, api, signpost):
    route = api.get("/crm/v3/objects/contacts").mock(return_value=httpx.Response(200, json={"results": [contact(9)]}))
    cursor = {"mode": "list", "started": 5, "after": "9"}
    out = list(hubspot.streams()[0].read(ReadContext(cursor=cursor, signpost=signpost)))
    assert route.calls[0].request.url.params["after"] == "9"
    assert out[-1].cursor == {"mode": "search", "lo": 5, "bin_lo": int(signpost.timestamp() * 1000)}


def test_search_reads_a_same_timestamp_burst_by_id_keyset_without_after(hubspot, api, signpost):
    """450 contacts share one lastmodifieddate: three keyset pages, no `after`, no 10k problem."""
    stamp = int(signpost.timestamp() * 1000) - 60_000
    everyone = [contact(i, stamp) for i in range(1000, 1450)]
    bodies = []

    def answer(request):
        body = json.loads(request.content)
        bodies.append(body)
        filters = body["filterGroups"][0]["filters"]
        after = next((int(f["value"]) for f in filters if f["propertyName"] == "hs_object_id"), 0)
        rows = [c for c in everyone if int(c["id"]) > after][: body["limit"]]
        return httpx.Response(200, json={"total": len(everyone), "results": rows})

    api.post("/crm/v3/objects/contacts/search").mock(side_effect=answer)
    lo = stamp - 1000
    ctx = ReadContext(cursor={"mode": "search", "lo": lo}, signpost=signpost, lookback=timedelta(0))
    pages = list(hubspot.streams()[0].read(ctx))
    assert [len(p.records) for p in pages] == [200, 200, 50, 0]  # the last: the (empty) recycling bin
    assert all("after" not in b for b in bodies)
    assert all(b["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}] for b in bodies)
    assert pages[0].cursor["after_id"] == "1199" and pages[1].cursor["after_id"] == "1399"
    assert pages[-1].cursor == {"lo": int(signpost.timestamp() * 1000), "bin_lo": int(signpost.timestamp() * 1000)}
    window = bodies[0]["filterGroups"][0]["filters"]
    assert {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(lo)} in window
    assert {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(int(signpost.timestamp() * 1000))} in window
    assert len({r.key for p in pages for r in p.records}) == 450


def test_search_applies_lookback_and_resumes_mid_slice(hubspot, api, signpost):
    bodies = []
    api.post("/crm/v3/objects/contacts/search").mock(
        side_effect=lambda r: (bodies.append(json.loads(r.content)), httpx.Response(200, json={"results": []}))[1]
    )
    lo = int(signpost.timestamp() * 1000) - 3_600_000
    list(hubspot.streams()[0].read(ReadContext(cursor={"mode": "search", "lo": lo}, signpost=signpost)))
    assert bodies[0]["filterGroups"][0]["filters"][0]["value"] == str(lo - 300_000)
    bodies.clear()
    cursor = {"mode": "search", "lo": lo, "hi": lo + 10, "after_id": "77"}
    list(hubspot.streams()[0].read(ReadContext(cursor=cursor, signpost=signpost)))
    filters = bodies[0]["filterGroups"][0]["filters"]
    assert {"propertyName": "hs_object_id", "operator": "GT", "value": "77"} in filters
    assert {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(lo + 10)} in filters


def test_long_gap_is_skipped_with_one_probe(make_hubspot, api, signpost):
    hubspot = make_hubspot(search_window_days=1)
    bodies = []
    first = int(signpost.timestamp() * 1000) - 2 * 86_400_000

    def answer(request):
        body = json.loads(request.content)
        bodies.append(body)
        if body["limit"] == 1:
            return httpx.Response(200, json={"results": [{"id": "5", "properties": {"lastmodifieddate": str(first)}}]})
        return httpx.Response(200, json={"results": []})

    api.post("/crm/v3/objects/contacts/search").mock(side_effect=answer)
    pages = list(hubspot.streams()[0].read(ReadContext(cursor={"mode": "search", "lo": 0}, signpost=signpost)))
    assert bodies[0]["limit"] == 1  # the probe found the first change two days back
    assert bodies[1]["filterGroups"][0]["filters"][1]["value"] == str(first + 86_400_000)
    assert pages[-1].cursor == {"lo": int(signpost.timestamp() * 1000), "bin_lo": int(signpost.timestamp() * 1000)}


def test_malformed_search_body_is_a_clear_error(hubspot, api, signpost):
    api.post("/crm/v3/objects/contacts/search").mock(return_value=httpx.Response(200, text="<html>oops"))
    with pytest.raises(ConnectorError, match="not JSON"):
        list(hubspot.streams()[0].read(ReadContext(cursor={"mode": "search", "lo": 1}, signpost=signpost)))
    api.post("/crm/v3/objects/contacts/search").mock(return_value=httpx.Response(200, json={"total": 3}))
    with pytest.raises(ConnectorError, match="no results list"):
        list(hubspot.streams()[0].read(ReadContext(cursor={"mode": "search", "lo": 1}, signpost=signpost)))


def test_calls_become_activities_of_their_contact(hubspot, api, signpost):
    api.post("/crm/v3/objects/calls/search").mock(return_value=httpx.Response(200, json={"results": [
        {"id": "11", "properties": {"hs_timestamp": "2025-03-30T01:00:00Z", "hs_call_duration": "95000",
                                     "hs_call_disposition": "connected"}},
        {"id": "12", "properties": {"hs_timestamp": "2025-03-30T02:00:00Z"}},
        {"id": "13", "properties": {}},
    ]}))
    assoc = api.post("/crm/v4/associations/calls/contacts/batch/read").mock(return_value=httpx.Response(200, json={
        "status": "COMPLETE",
        "results": [
            {"from": {"id": "11"}, "to": [{"toObjectId": 501, "associationTypes": []}]},
            {"from": {"id": "13"}, "to": [{"toObjectId": 502, "associationTypes": []}]},
        ],
    }))
    api.post("/crm/v3/objects/meetings/search").mock(return_value=httpx.Response(200, json={"results": []}))
    streams = {s.name: s for s in hubspot.streams()}
    pages = list(streams["activities_calls"].read(ReadContext(cursor={"lo": 1743400000000}, signpost=signpost)))
    assert json.loads(assoc.calls[0].request.content) == {"inputs": [{"id": "11"}, {"id": "12"}, {"id": "13"}]}
    records = pages[0].records
    call = records[0]
    assert call.type is ActivityType.CALL and call.lead_record_id == "501" and call.duration_seconds == 95
    assert call.source_id == "calls:11" and call.outcome == "connected"
    assert isinstance(records[1], Rejected) and "hs_timestamp" in records[1].reason  # 12 has no contact: skipped
    assert len(records) == 2


def test_completed_leadsync_tasks_become_task_updates(hubspot, api, signpost):
    route = api.post("/crm/v3/objects/tasks/search").mock(return_value=httpx.Response(200, json={"results": [
        {"id": "900", "properties": {"leadsync_key": "task-1", "hs_task_status": "COMPLETED",
                                      "hs_task_completion_date": "1743400000000"}},
    ]}))
    assoc = api.post("/crm/v4/associations/tasks/contacts/batch/read").mock(return_value=httpx.Response(200, json={
        "status": "COMPLETE",
        "results": [{"from": {"id": "900"}, "to": [{"toObjectId": 501, "associationTypes": []}]}],
    }))
    stream = {s.name: s for s in hubspot.streams()}["task_updates"]
    pages = list(stream.read(ReadContext(cursor={"lo": 1743400000000}, signpost=signpost)))
    update = pages[0].records[0]
    assert isinstance(update, TaskUpdate) and update.key == "task-1" and update.external_id == "900"
    assert update.record_id == "501", "the task's contact names the lead"
    assert json.loads(assoc.calls[0].request.content) == {"inputs": [{"id": "900"}]}
    assert update.completed_at.timestamp() == 1743400000
    filters = json.loads(route.calls[0].request.content)["filterGroups"][0]["filters"]
    assert {"propertyName": "leadsync_key", "operator": "HAS_PROPERTY"} in filters
    assert {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"} in filters
