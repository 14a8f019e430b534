"""Marketo handoffs and scores against the strict fake: per-lead fences, error codes, unknown leads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import SetupMissing, ConnectorError, ReadContext, ScoreUpdate, TaskRequest
from leadsync_marketo.testing import MarketoFake
from leadsync.core.models import Activity, Lead, Segment
from leadsync_marketo.codes import record_is_transient
from leadsync_marketo.connector import MarketoConnector
from leadsync_marketo.settings import MarketoSettings

NOW = datetime.now(timezone.utc).replace(microsecond=0)
FIELDS = ["leadsyncScore", "leadsyncBehaviorScore", "leadsyncAttributeScore", "leadsyncSegment",
          "leadsyncSheetVersion", "leadsyncScoredAt", "leadsyncHandoffKey"]


class Died(BaseException):
    """The process stops here (kill -9): nothing after it runs, nothing catches it."""


def _fake(leads: int = 7, **options) -> tuple[MarketoFake, list[int]]:
    fake = MarketoFake(**options)
    fake.fields.update(FIELDS)
    fake.add_campaign(1001, qualification="any", done_field=None)  # the flow does not confirm by itself
    ids = [fake.add_lead(email=f"hot{i}@example.jp") for i in range(leads)]
    return fake, ids


def _connector(fake: MarketoFake, **overrides) -> MarketoConnector:
    values = {"plugin": "marketo", "base_url": "https://123-abc-456.mktorest.com", "client_id": "cid",
              "client_secret": "secret", "roles": ["leads", "activities", "scores", "tasks"],
              "handoff_campaign_id": 1001, "max_retries": 3, **overrides}
    connector = MarketoConnector("ma", MarketoSettings(**values), transport=httpx.MockTransport(fake.handle), sleep=lambda seconds: None)
    return connector


def _tasks(ids: list[int], *, retry_ambiguous: bool = False) -> list[TaskRequest]:
    return [TaskRequest(key=f"h{lead_id}", lead_key=f"hot{lead_id}", email=None, record_id=str(lead_id),
                        owner="sato@example.jp", subject="至急フォロー", body="価格ページ", due_at=NOW,
                        retry_ambiguous=retry_ambiguous) for lead_id in ids]


def _runs(fake: MarketoFake) -> dict[int, int]:
    counts: dict[int, int] = {}
    for run in fake.campaign_runs:
        counts[run["leadId"]] = counts.get(run["leadId"], 0) + 1
    return counts


def _die_on(connector: MarketoConnector, *, call: int, what: str) -> None:
    """Make the process 'die' at the `call`-th trigger, after ('after') or before ('before') it runs."""
    real = connector.client.trigger_campaign
    seen = {"n": 0}

    def trigger(*args, **kwargs):
        seen["n"] += 1
        if seen["n"] == call and what == "before":
            raise Died()
        real(*args, **kwargs)
        if seen["n"] == call and what == "after":
            raise Died()

    connector.client.trigger_campaign = trigger  # type: ignore[method-assign]


def _die_after_confirm(connector: MarketoConnector, *, confirms: int) -> None:
    real = connector.client.sync_leads
    seen = {"n": 0}

    def sync_leads(records, **kwargs):
        answers = real(records, **kwargs)
        if any(str(value).endswith("|sent") for record in records for value in record.values()):
            seen["n"] += 1
            if seen["n"] == confirms:
                raise Died()
        return answers

    connector.client.sync_leads = sync_leads  # type: ignore[method-assign]


def test_killed_after_the_first_confirmed_trigger_a_rerun_runs_every_campaign_once_without_dead_letters():
    fake, ids = _fake()
    with pytest.raises(Died):
        connector = _connector(fake)
        _die_after_confirm(connector, confirms=1)
        connector.create_tasks(_tasks(ids))
    assert _runs(fake) == {ids[0]: 1}
    # only the first lead was ever fenced: the six others were never touched
    assert [fake.leads[i].get("leadsyncHandoffKey") for i in ids[1:]] == [None] * 6
    results = _connector(fake).create_tasks(_tasks(ids))
    assert [(r.ok, r.error) for r in results] == [(True, None)] * 7
    assert _runs(fake) == {lead_id: 1 for lead_id in ids}


def test_killed_between_a_trigger_and_its_confirmation_leaves_one_lead_ambiguous_until_requeued():
    fake, ids = _fake()
    with pytest.raises(Died):
        connector = _connector(fake)
        _die_on(connector, call=3, what="after")
        connector.create_tasks(_tasks(ids))
    results = _connector(fake).create_tasks(_tasks(ids))
    ambiguous = [r for r in results if not r.ok]
    assert [r.key for r in ambiguous] == [f"h{ids[2]}"] and not ambiguous[0].retryable
    assert "may or may not have run" in (ambiguous[0].error or "") and "sync requeue" in (ambiguous[0].error or "")
    assert _runs(fake) == {lead_id: 1 for lead_id in ids}  # the ambiguous one did run, and only once
    # A person finds the campaign ran: nothing to do. Had it not run, requeue sends it again:
    fake2, ids2 = _fake(leads=2)
    with pytest.raises(Died):
        connector = _connector(fake2)
        _die_on(connector, call=1, what="before")  # marked pending, killed before the trigger left
        connector.create_tasks(_tasks(ids2[:1]))
    assert _runs(fake2) == {}
    again = _connector(fake2).create_tasks(_tasks(ids2[:1]))
    assert not again[0].ok and not again[0].retryable and _runs(fake2) == {}
    requeued = _connector(fake2).create_tasks(_tasks(ids2[:1], retry_ambiguous=True))
    assert requeued[0].ok and _runs(fake2) == {ids2[0]: 1}
    assert fake2.leads[ids2[0]]["leadsyncHandoffKey"] == f"h{ids2[0]}|sent"
    # requeued twice by mistake: the fence now says sent, so nothing runs again
    assert _connector(fake2).create_tasks(_tasks(ids2[:1], retry_ambiguous=True))[0].ok
    assert _runs(fake2) == {ids2[0]: 1}


def test_a_campaign_flow_that_marks_done_resolves_a_lost_answer_by_itself():
    fake, ids = _fake(leads=1, flows="queued")
    fake.add_campaign(1001, qualification="any")  # its flow ends with Change Data Value key|done
    fake.faults.append({"path": "/rest/v1/campaigns/1001/trigger.json", "lose_answer": True})
    first = _connector(fake).create_tasks(_tasks(ids))
    assert not first[0].ok and first[0].retryable  # may have run: kept for the next run
    assert fake.run_flows() == 1
    second = _connector(fake).create_tasks(_tasks(ids))
    assert second[0].ok and _runs(fake) == {ids[0]: 1}


@pytest.mark.parametrize("code", ["604", "608", "611", "615"])
def test_a_trigger_answered_6xx_was_not_executed_and_is_resent_at_once(code):
    fake, ids = _fake(leads=1)
    fake.faults.append({"path": "/rest/v1/campaigns/1001/trigger.json", "code": code})
    results = _connector(fake).create_tasks(_tasks(ids))
    assert results[0].ok and _runs(fake) == {ids[0]: 1} and len(fake.campaign_requests) == 1


def test_a_trigger_refused_6xx_until_retries_run_out_lifts_its_fence_and_is_sent_next_run():
    fake, ids = _fake(leads=3)
    fake.faults.extend({"path": "/rest/v1/campaigns/1001/trigger.json", "code": "611"} for _ in range(4))
    results = _connector(fake).create_tasks(_tasks(ids))
    assert [(r.ok, r.retryable) for r in results] == [(False, True)] * 3
    assert "611" in (results[0].error or "") and _runs(fake) == {}
    assert fake.leads[ids[0]].get("leadsyncHandoffKey") is None  # fence lifted: it did not run
    assert all(r.ok for r in _connector(fake).create_tasks(_tasks(ids)))
    assert _runs(fake) == {lead_id: 1 for lead_id in ids}


def test_a_500_inside_the_envelope_may_have_run_and_is_not_blindly_resent():
    fake, ids = _fake(leads=1)
    real = fake._campaign

    def ran_then_500(method, path, body):
        real(method, path, body)
        return 200, {"requestId": "x", "success": False, "errors": [{"code": "502", "message": "Bad Gateway"}]}

    fake._campaign = ran_then_500  # type: ignore[method-assign]
    first = _connector(fake).create_tasks(_tasks(ids))
    assert not first[0].ok and first[0].retryable
    fake._campaign = real  # type: ignore[method-assign]
    second = _connector(fake).create_tasks(_tasks(ids))
    assert not second[0].ok and not second[0].retryable and _runs(fake) == {ids[0]: 1}


def test_a_campaign_marketo_refuses_stops_the_connection_and_lifts_the_fence():
    fake, ids = _fake(leads=2)
    fake.add_campaign(1001, active=False, qualification="any")
    with pytest.raises(ConnectorError, match="Campaign is not active"):
        _connector(fake).create_tasks(_tasks(ids))
    assert fake.leads[ids[0]].get("leadsyncHandoffKey") is None and _runs(fake) == {}


def _scores(ids: list[int]) -> list[ScoreUpdate]:
    return [ScoreUpdate(key=f"s{i}", lead_key=f"l{i}", email=None, record_id=str(i), score=90, behavior_score=60,
                        attribute_score=30, segment=Segment.HOT, sheet_version="v1", scored_at=NOW) for i in ids]


def test_transient_record_reasons_stay_in_the_outbox_and_permanent_ones_keep_marketos_words():
    fake, ids = _fake(leads=3)
    fake.record_faults[ids[0]] = ("1029", "Too many jobs in queue")
    fake.record_faults[ids[1]] = ("1007", "Multiple leads match the lookup criteria")
    results = _connector(fake).push_scores(_scores(ids))
    assert [(r.ok, r.retryable) for r in results] == [(False, True), (False, False), (True, False)]
    assert results[1].error == "1007 Multiple leads match the lookup criteria"
    assert all(r.ok for r in _connector(fake).push_scores(_scores(ids[:1])))  # the next run lands it
    assert fake.leads[ids[0]]["leadsyncScore"] == 90


def test_a_missing_field_stops_the_connection_instead_of_dead_lettering_every_record():
    fake, ids = _fake(leads=2)
    fake.fields.discard("leadsyncSegment")
    with pytest.raises(SetupMissing) as caught:
        _connector(fake).push_scores(_scores(ids))
    assert "Field 'leadsyncSegment' not found" in caught.value.missing and "1006" in caught.value.missing


def test_record_codes_are_transient_only_when_every_reason_is():
    assert record_is_transient(["1029"]) and record_is_transient(["611", "1016"])
    assert not record_is_transient(["1029", "1004"]) and not record_is_transient([])


@pytest.mark.parametrize(("options", "ok", "words"), [
    ({"qualification": "any"}, True, "every time"),
    ({"qualification": "once"}, False, "qualification rule is 'once'"),
    ({"qualification": "interval"}, False, "every 1 day"),
    ({"qualification": "any", "active": False}, False, "not requestable"),
    ({"qualification": "any", "requestable": False}, False, "not requestable"),
])
def test_check_reads_the_smart_campaign_and_demands_every_time(options, ok, words):
    fake, _ = _fake(leads=0)
    fake.add_campaign(1001, **options)
    result = _connector(fake).check()
    item = next(i for i in result.items if i[0] == "handoff campaign 1001")
    assert item[1] is ok and words in item[2]
    assert ("GET", "/rest/asset/v1/smartCampaign/1001.json") in fake.log


def test_check_names_a_campaign_id_that_does_not_exist():
    fake, _ = _fake(leads=0)
    result = _connector(fake, handoff_campaign_id=4242).check()
    item = next(i for i in result.items if i[0] == "handoff campaign 4242")
    assert item[1] is False and "no record" in item[2]


def test_activities_of_a_long_unchanged_lead_arrive_after_that_lead():
    fake = MarketoFake()
    old = (NOW - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    veteran = fake.add_lead(old, email="Veteran@Example.jp", title="CEO")
    fresh = fake.add_lead(recent, email="fresh@example.jp")
    gone = fake.add_lead(old, email="gone@example.jp")
    for lead_id in (veteran, fresh, gone):
        fake.add_activity(lead_id, "Visit Webpage", recent, "pricing", Webpage_URL="https://example.jp/pricing")
    del fake.leads[gone]  # merged away in Marketo: its activities remain
    leads_stream, activities_stream = _connector(fake).streams()[:2]
    ctx = ReadContext(cursor=None, signpost=NOW + timedelta(minutes=1))
    from_changes = [r for page in leads_stream.read(ctx) for r in page.records]
    assert [lead.refs["ma"] for lead in from_changes] == [str(fresh)]  # 200 days ago is outside the window
    records = [r for page in activities_stream.read(ctx) for r in page.records]
    assert [type(r).__name__ for r in records] == ["Lead", "Activity", "Activity", "Rejected"]
    assert records[0].refs == {"ma": str(veteran)} and records[0].email == "veteran@example.jp"
    assert records[0].title == "CEO"
    assert "not found" in records[3].reason and str(gone) in records[3].reason
    by_id = [query for method, query in fake.log if query == "/rest/v1/leads.json"]
    assert len(by_id) == 2  # one leads-by-id call for the changes, one for the unknown leads


def test_the_unknown_leads_of_many_activities_are_fetched_300_ids_a_call():
    fake = MarketoFake(page_size=300)
    old = (NOW - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = [fake.add_lead(old, email=f"l{i}@example.jp") for i in range(650)]
    for lead_id in ids:
        fake.add_activity(lead_id, "Open Email", recent, "news")
    stream = _connector(fake, roles=["activities"]).streams()[0]
    records = [r for page in stream.read(ReadContext(cursor=None, signpost=NOW)) for r in page.records]
    assert sum(isinstance(r, Lead) for r in records) == 650 and sum(isinstance(r, Activity) for r in records) == 650
    seen: set[str] = set()
    for record in records:  # every activity comes after its lead
        if isinstance(record, Lead):
            seen.add(record.refs["ma"])
        else:
            assert record.lead_record_id in seen


def test_the_fake_refuses_more_than_300_ids_like_marketo():
    fake = MarketoFake()
    status, body = fake.answer("GET", "/rest/v1/leads.json",
                               {"filterType": "id", "filterValues": ",".join(map(str, range(301)))}, None,
                               _bearer(fake))
    assert status == 200 and body["success"] is False and body["errors"][0]["code"] == "1003"
    assert set(body) == {"requestId", "success", "errors"}


def _bearer(fake: MarketoFake) -> str:
    _, token = fake.answer("GET", "/identity/oauth/token", {"client_id": "cid", "client_secret": "secret"}, None, "")
    return f"Bearer {token['access_token']}"


def _keyed(ids: list[int], day: str) -> list[TaskRequest]:
    """Tasks with keys of the engine's form, opened on `day` (YYYYMMDD)."""
    return [TaskRequest(key=f"ls-{day}-{lead_id:016x}", lead_key=f"hot{lead_id}", email=None, record_id=str(lead_id),
                        owner="sato@example.jp", subject="至急フォロー", body="価格ページ", due_at=NOW)
            for lead_id in ids]


def test_a_handoff_planned_again_after_the_state_store_lost_it_adopts_the_run_one():
    fake, ids = _fake()
    connector = _connector(fake)
    first = connector.create_tasks(_keyed(ids, "20261120"))
    assert all(r.ok and r.adopted_key is None for r in first)
    # The state store lost those handoffs: the next run plans them again under keys of a later day.
    again = connector.create_tasks(_keyed(ids, "20261121"))
    assert [r.adopted_key for r in again] == [t.key for t in _keyed(ids, "20261120")]
    assert _runs(fake) == {lead_id: 1 for lead_id in ids}


def test_a_handoff_older_than_the_adoption_window_is_a_new_one():
    fake, ids = _fake(leads=2)
    connector = _connector(fake, adopt_within_days=30)
    connector.create_tasks(_keyed(ids, "20260901"))
    later = connector.create_tasks(_keyed(ids, "20261120"))
    assert all(r.ok and r.adopted_key is None for r in later)
    assert _runs(fake) == {lead_id: 2 for lead_id in ids}


def _sleeps_connector(fake: MarketoFake, slept: list[float], **overrides) -> MarketoConnector:
    values = {"plugin": "marketo", "base_url": "https://123-abc-456.mktorest.com", "client_id": "cid",
              "client_secret": "secret", "roles": ["leads", "activities", "scores", "tasks"],
              "handoff_campaign_id": 1001, "max_retries": 3, **overrides}
    return MarketoConnector("ma", MarketoSettings(**values), transport=httpx.MockTransport(fake.handle),
                            sleep=slept.append)


@pytest.mark.parametrize("code", ["606", "615"])
def test_a_trigger_refused_for_the_shared_window_waits_it_out_then_runs_once(code):
    fake, ids = _fake(leads=1)
    fake.faults.extend({"path": "/rest/v1/campaigns/1001/trigger.json", "code": code} for _ in range(2))
    slept: list[float] = []
    connector = _sleeps_connector(fake, slept)
    results = connector.create_tasks(_tasks(ids))
    assert results[0].ok and _runs(fake) == {ids[0]: 1} and len(fake.campaign_requests) == 1
    assert slept.count(20.0) == 2 and connector.client.window_waits == 2  # the whole window, each time
    assert fake.leads[ids[0]]["leadsyncHandoffKey"] == f"h{ids[0]}|sent"


def test_a_window_that_stays_full_leaves_scores_pending_not_dead():
    fake, ids = _fake(leads=2)
    fake.faults.extend({"path": "/rest/v1/leads.json", "code": "606"} for _ in range(10))
    slept: list[float] = []
    results = _sleeps_connector(fake, slept).push_scores(_scores(ids))
    assert [(r.ok, r.retryable) for r in results] == [(False, True)] * 2
    assert "606" in (results[0].error or "") and "not executed" in (results[0].error or "")
    assert slept == [20.0, 20.0, 20.0]  # max_retries waits of the 20-second window, then next run
    assert all(fake.leads[i].get("leadsyncScore") is None for i in ids)


def test_a_read_of_a_field_the_instance_lacks_is_setup_missing():
    fake, ids = _fake(leads=1)
    connector = _connector(fake)
    with pytest.raises(SetupMissing) as caught:
        connector.client.leads_by_id([str(ids[0])], ["email", "leadsyncNoSuchField"])
    assert "leadsyncNoSuchField" in caught.value.missing
