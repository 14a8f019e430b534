"""Marketo connector end to end against the fake instance: read all, push, hand off, resend adds nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from leadsync.connectors import AmbiguousWriteError, ReadContext, ScoreUpdate, TaskRequest
from leadsync_marketo.testing import MarketoFake
from leadsync.core.models import Activity, ActivityType, Lead, Segment
from leadsync_marketo.connector import MarketoConnector
from leadsync_marketo.settings import MarketoSettings

NOW = datetime.now(timezone.utc) + timedelta(minutes=1)
WRITE_FIELDS = ["leadsyncScore", "leadsyncBehaviorScore", "leadsyncAttributeScore", "leadsyncSegment",
                "leadsyncSheetVersion", "leadsyncScoredAt", "leadsyncHandoffKey"]


def _setup(fake: MarketoFake, leads: int = 320) -> list[int]:
    fake.fields.update(WRITE_FIELDS)
    fake.add_campaign(1001, qualification="any")
    ids = []
    for i in range(leads):
        when = (NOW - timedelta(days=3, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lead_id = fake.add_lead(when, email=f"Lead{i}@Example.JP", company="㈱サンプル", numberOfEmployees=300,
                                title="部長")
        ids.append(lead_id)
        fake.add_activity(lead_id, "Visit Webpage", when, "pricing", Webpage_URL="https://example.jp/pricing")
        fake.add_activity(lead_id, "Open Email", when, "newsletter")
    fake.add_activity(ids[0], "Click Link", (NOW - timedelta(days=1)).isoformat(), "https://example.jp/whitepaper.pdf")
    fake.add_activity(ids[1], "Change Status in Progression", (NOW - timedelta(days=1)).isoformat(), "Webinar",
                      New_Status="Attended")
    fake.add_activity(ids[2], "Change Status in Progression", (NOW - timedelta(days=1)).isoformat(), "Webinar",
                      New_Status="Invited")
    return ids


def _connector(fake: MarketoFake) -> MarketoConnector:
    settings = MarketoSettings(plugin="marketo", base_url="https://123-abc-456.mktorest.com", client_id="cid",
                               client_secret="secret", roles=["leads", "activities", "scores", "tasks"],
                               handoff_campaign_id=1001)
    connector = MarketoConnector("ma", settings, transport=httpx.MockTransport(fake.handle), sleep=lambda seconds: None)
    return connector


def _read_all(stream, cursor=None):
    pages = list(stream.read(ReadContext(cursor=cursor, signpost=NOW)))
    return [r for p in pages for r in p.records], pages


def test_streams_read_everything_through_short_and_empty_pages_and_token_expiry() -> None:
    fake = MarketoFake(page_size=100, empty_page_every=3)
    ids = _setup(fake)
    connector = _connector(fake)
    leads_stream, activities_stream = connector.streams()[:2]
    leads, pages = _read_all(leads_stream)
    assert {lead.refs["ma"] for lead in leads if isinstance(lead, Lead)} == {str(i) for i in ids}
    sample = next(lead for lead in leads if isinstance(lead, Lead))
    assert sample.email and sample.email == sample.email.lower() and sample.company == "(株)サンプル"
    assert sample.employees == 300
    assert pages[-1].cursor.keys() == {"since"}
    fake.expire_tokens()  # 602 in an HTTP 200 answer mid-run: re-authenticate and go on
    activities, _ = _read_all(activities_stream)
    kinds = [a.type for a in activities if isinstance(a, Activity)]
    assert kinds.count(ActivityType.WEB_VISIT) == 320 and kinds.count(ActivityType.EMAIL_OPEN) == 320
    assert ActivityType.CONTENT_DOWNLOAD in kinds and ActivityType.WEBINAR_ATTENDED in kinds
    assert len(kinds) == 642  # "Invited" is not a status leadsync scores
    visit = next(a for a in activities if isinstance(a, Activity) and a.type is ActivityType.WEB_VISIT)
    assert visit.url == "https://example.jp/pricing" and visit.lead_record_id


def test_late_activity_with_an_earlier_date_is_caught_by_the_overlap() -> None:
    fake = MarketoFake()
    ids = _setup(fake, leads=3)
    stream = _connector(fake).streams()[1]
    _, pages = _read_all(stream)
    late = (NOW - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.add_activity(ids[0], "Fill Out Form", late, "contact")
    fake.add_activity(ids[0], "Fill Out Form", (NOW - timedelta(minutes=1)).isoformat(), "contact")
    again, _ = _read_all(stream, pages[-1].cursor)
    assert sum(1 for a in again if isinstance(a, Activity) and a.type is ActivityType.FORM_SUBMITTED) == 2


def test_scores_land_and_partial_failures_carry_marketo_reasons() -> None:
    fake = MarketoFake()
    ids = _setup(fake, leads=5)
    connector = _connector(fake)
    updates = [ScoreUpdate(key=f"s{i}", lead_key="x", email=None, record_id=str(lead_id), score=90,
                           behavior_score=60, attribute_score=30, segment=Segment.HOT, sheet_version="v1",
                           scored_at=NOW) for i, lead_id in enumerate(ids)]
    updates.append(ScoreUpdate(key="gone", lead_key="y", email=None, record_id="99999", score=1, behavior_score=1,
                               attribute_score=0, segment=Segment.COLD, sheet_version="v1", scored_at=NOW))
    results = connector.push_scores(updates)
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert results[-1].error == "1004 Lead not found" and not results[-1].retryable
    assert fake.leads[ids[0]]["leadsyncScore"] == 90 and fake.leads[ids[0]]["leadsyncSegment"] == "hot"
    # our own score fields are not watched, so a push does not read back as a lead change
    leads, _ = _read_all(connector.streams()[0], {"since": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert leads == []


def _task(key: str, record_id: str | None, email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key="k", email=email, record_id=record_id, owner="sato@example.jp",
                       subject="至急フォロー", body="価格ページ閲覧", due_at=NOW + timedelta(hours=9))


def test_handoffs_trigger_once_per_key_even_when_resent() -> None:
    fake = MarketoFake()
    ids = _setup(fake, leads=3)
    connector = _connector(fake)
    tasks = [_task("h1", str(ids[0])), _task("h2", None, email="brand.new@example.jp")]
    first = connector.create_tasks(tasks)
    second = connector.create_tasks(tasks)
    assert all(r.ok for r in first + second)
    assert len(fake.campaign_runs) == 2
    run = fake.campaign_runs[0]
    assert run["tokens"]["{{my.leadsync_subject}}"] == "至急フォロー" and run["leadId"] == ids[0]
    assert any(lead.get("email") == "brand.new@example.jp" for lead in fake.leads.values())


def test_a_lost_trigger_answer_is_never_blindly_resent() -> None:
    fake = MarketoFake()
    ids = _setup(fake, leads=3)
    fake.add_campaign(1001, done_field=None, qualification="any")  # the campaign's flow does not confirm
    connector = _connector(fake)
    real = connector.client.trigger_campaign

    def lost(*args, **kwargs):
        real(*args, **kwargs)
        raise AmbiguousWriteError("POST", "/rest/v1/campaigns/1001/trigger.json", "ReadTimeout")

    connector.client.trigger_campaign = lost  # type: ignore[method-assign]
    first = connector.create_tasks([_task("h9", str(ids[0]))])
    assert not first[0].ok and first[0].retryable
    connector.client.trigger_campaign = real  # type: ignore[method-assign]
    second = connector.create_tasks([_task("h9", str(ids[0]))])
    assert not second[0].ok and not second[0].retryable and "may or may not" in (second[0].error or "")
    assert len(fake.campaign_runs) == 1


def test_rate_limit_and_concurrency_answers_are_absorbed() -> None:
    fake = MarketoFake(rate_calls=1000)
    _setup(fake, leads=3)
    fake.faults.extend([{"code": "606"}, {"code": "615"}])
    connector = _connector(fake)
    assert connector.client.activity_types()["Visit Webpage"] == 1


def test_check_and_setup_create_missing_fields() -> None:
    fake = MarketoFake()
    fake.add_campaign(1001, qualification="any")
    connector = _connector(fake)
    assert not connector.check().ok
    done = connector.setup()
    assert any("leadsyncScore: created" in line for line in done)
    assert connector.check().ok
