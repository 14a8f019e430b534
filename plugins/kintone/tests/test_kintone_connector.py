"""kintone connector against the fake domain: seek paging, auth errors, all-or-nothing writes, upserts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import (
    AuthError,
    ConnectorError,
    ReadContext,
    ScoreUpdate,
    TaskRequest,
    TaskUpdate,
)
from leadsync.core.models import Lead, Segment

NOW = datetime.now(timezone.utc) + timedelta(minutes=2)


def _score(key: str, record_id: str | None, score: int = 85) -> ScoreUpdate:
    return ScoreUpdate(key=key, lead_key=key, email=None, record_id=record_id, score=score, behavior_score=50,
                       attribute_score=score - 50, segment=Segment.HOT, sheet_version="v1", scored_at=NOW)


def _task(key: str, record_id: str | None, email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=record_id, owner="sato",
                       subject="フォローアップ", body="価格ページ閲覧", due_at=NOW + timedelta(hours=9))


def _read(stream, cursor=None):
    pages = list(stream.read(ReadContext(cursor=cursor, signpost=NOW)))
    return [r for p in pages for r in p.records], pages


def test_leads_are_read_by_id_seek_in_pages_of_500_and_cursor_resumes(kintone_fake, kintone_connector) -> None:
    for i in range(1203):
        kintone_fake.add_record(10, {"メールアドレス": f"User{i}@Example.co.jp", "会社名": "株式会社サンプル",
                                     "従業員数": "100～499名", "担当者": [{"code": "sato", "name": "佐藤"}]})
    connector = kintone_connector()
    leads, pages = _read(connector.streams()[0])
    assert len(pages) == 3 and len(leads) == 1203
    lead = leads[0]
    assert isinstance(lead, Lead) and lead.email == "user0@example.co.jp" and lead.employees == 100
    assert lead.owner == "sato" and lead.refs == {"crm": "1"}
    queries = [entry[2]["query"] for entry in kintone_fake.log if entry[1] == "/k/v1/records.json"]
    assert all("order by $id asc limit 500" in q and "offset" not in q for q in queries)
    assert "$id > 500" in queries[1] and '更新日時 >= "' in queries[0]
    assert pages[0].cursor["last_id"] == 500 and "last_id" not in pages[-1].cursor
    # an interrupted run resumes after the last committed page
    resumed, _ = _read(connector.streams()[0], pages[1].cursor)
    assert len(resumed) == 203


def test_a_new_record_in_the_same_minute_is_not_lost(kintone_fake, kintone_connector) -> None:
    kintone_fake.add_record(10, {"メールアドレス": "a@example.com"})
    stream = kintone_connector().streams()[0]
    _, pages = _read(stream)
    kintone_fake.add_record(10, {"メールアドレス": "b@example.com"})
    again, _ = _read(stream, pages[-1].cursor)
    assert "b@example.com" in {lead.email for lead in again}


def test_malformed_records_are_rejected_not_fatal(kintone_fake, kintone_connector) -> None:
    kintone_fake.add_record(10, {"メールアドレス": "", "会社名": "x"})
    leads, _ = _read(kintone_connector().streams()[0])
    assert isinstance(leads[0], Lead) and leads[0].key == "crm:1"


@pytest.mark.parametrize("token", ["wrong-token-999", ""])
def test_bad_or_missing_credentials_raise_auth_error(kintone_connector, token) -> None:
    connector = kintone_connector(api_token="x") if token == "" else kintone_connector(api_token=token)
    if token == "":
        connector.client.http.auth = None
    with pytest.raises(AuthError) as caught:
        list(connector.streams()[0].read(ReadContext(cursor=None, signpost=NOW)))
    assert ("GAIA_IA02" in str(caught.value)) or ("CB_AU01" in str(caught.value))
    assert "wrong-token-999" not in str(caught.value)


def test_token_of_another_app_is_an_auth_error(kintone_connector) -> None:
    with pytest.raises(AuthError, match="GAIA_NO01"):
        kintone_connector(api_token="task-token-456").push_scores([_score("k1", "1")])


def test_scores_isolate_the_record_kintone_rejects(kintone_fake, kintone_connector) -> None:
    for i in range(5):
        kintone_fake.add_record(10, {"メールアドレス": f"u{i}@example.com"})
    connector = kintone_connector()
    updates = [_score(f"s{i}", str(i + 1)) for i in range(5)] + [_score("gone", "999")]
    results = connector.push_scores(updates)
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert "GAIA_RE01" in (results[-1].error or "") and not results[-1].retryable
    assert kintone_fake.records(10)[3]["leadsync_score"] == "85"


def test_validation_error_names_the_record_and_the_rest_is_written(kintone_fake, kintone_connector) -> None:
    for i in range(3):
        kintone_fake.add_record(10, {"メールアドレス": f"u{i}@example.com"})
    kintone_fake.apps[10]["fields"]["leadsync_sheet_version"]["type"] = "NUMBER"
    connector = kintone_connector()
    results = connector.push_scores([_score("a", "1"), _score("b", "2"), _score("c", "3")])
    assert not any(r.ok for r in results)  # "v1" is no number: every record is named and failed
    assert "records[1].leadsync_sheet_version.value" in (results[1].error or "")
    puts = [e for e in kintone_fake.log if e[0] == "PUT"]
    assert len(puts) == 1


def test_tasks_are_upserted_on_the_key_and_a_resend_adds_nothing(kintone_fake, kintone_connector) -> None:
    connector = kintone_connector()
    tasks = [_task("handoff:1", None, email="New@Example.com"), _task("handoff:2", "1")]
    kintone_fake.add_record(10, {"メールアドレス": "old@example.com"})
    first = connector.create_tasks(tasks)
    second = connector.create_tasks(tasks)
    assert all(r.ok for r in first + second)
    assert [r.external_id for r in first] == [r.external_id for r in second]
    assert len(kintone_fake.records(30)) == 2
    assert {rec.get("メールアドレス") for rec in kintone_fake.records(10).values()} == {"old@example.com", "new@example.com"}
    stored = next(iter(kintone_fake.records(30).values()))
    assert stored["件名"] == "フォローアップ" and stored["担当者"] == [{"code": "sato"}]


def test_completed_tasks_are_reported(kintone_fake, kintone_connector) -> None:
    kintone_fake.add_record(30, {"leadsync_key": "handoff:9", "ステータス": "完了", "完了日時": "2026-01-05T03:00:00Z"})
    kintone_fake.add_record(30, {"leadsync_key": "handoff:10", "ステータス": "未着手"})
    stream = [s for s in kintone_connector().streams() if s.name == "tasks"][0]
    updates, _ = _read(stream)
    done = {u.key: u.completed_at for u in updates if isinstance(u, TaskUpdate)}
    assert done["handoff:9"] == datetime(2026, 1, 5, 3, tzinfo=timezone.utc) and done["handoff:10"] is None


def test_a_completed_todo_names_its_lead_by_its_lead_link_and_email(kintone_fake, kintone_connector) -> None:
    """What lets the engine rebuild a completed handoff a lost state store forgot."""
    kintone_fake.add_record(30, {"leadsync_key": "ls-20260105-aaaa", "ステータス": "完了", "リードID": "42",
                                 "メールアドレス": " Taro@Example.JP ", "完了日時": "2026-01-05T03:00:00Z",
                                 "担当者": [{"code": "kato", "name": "加藤"}, {"code": "sato", "name": "佐藤"}]})
    kintone_fake.add_record(30, {"leadsync_key": "ls-20260105-bbbb", "ステータス": "完了", "リードID": "４３",
                                 "完了日時": "2026-01-05T04:00:00Z"})  # typed in full width by a person
    kintone_fake.add_record(30, {"leadsync_key": "ls-20260105-cccc", "ステータス": "完了", "メールアドレス": "hanako@example.jp"})
    kintone_fake.add_record(30, {"leadsync_key": "ls-20260105-dddd", "ステータス": "完了"})
    stream = [s for s in kintone_connector().streams() if s.name == "tasks"][0]
    updates, _ = _read(stream)
    assert {u.key: (u.record_id, u.email, u.lead_key, u.owner) for u in updates} == {
        "ls-20260105-aaaa": ("42", "taro@example.jp", None, "kato"),  # the first user selected
        "ls-20260105-bbbb": ("43", None, None, None),
        "ls-20260105-cccc": (None, "hanako@example.jp", None, None),
        "ls-20260105-dddd": (None, None, None, None),  # names no lead: nothing can be rebuilt from it
    }


def test_the_lead_link_of_a_todo_follows_the_configured_field_codes(kintone_fake, kintone_connector) -> None:
    kintone_fake.apps[30]["fields"]["顧客レコード"] = {"type": "NUMBER", "code": "顧客レコード", "label": "顧客レコード"}
    kintone_fake.add_record(30, {"leadsync_key": "ls-20260105-aaaa", "ステータス": "完了", "顧客レコード": 7,
                                 "リードID": "99", "メールアドレス": "taro@example.jp"})
    connector = kintone_connector(task_fields={"lead_record_id": "顧客レコード", "email": ""})
    stream = [s for s in connector.streams() if s.name == "tasks"][0]
    [update], _ = _read(stream)
    assert (update.record_id, update.email) == ("7", None)


def test_check_reports_missing_fields_and_setup_adds_them(kintone_fake, kintone_connector) -> None:
    del kintone_fake.apps[10]["fields"]["leadsync_segment"]
    connector = kintone_connector()
    check = connector.check()
    assert not check.ok and any("leadsync_segment" in what and not ok for what, ok, _ in check.items)
    done = connector.setup()
    assert any("leadsync_segment" in line for line in done) and kintone_fake.deploys == 1
    assert connector.check().ok


def test_rate_limited_answers_are_retried_and_malformed_bodies_fail_clearly(kintone_fake, kintone_connector) -> None:
    kintone_fake.add_record(10, {"メールアドレス": "a@example.com"})
    kintone_fake.faults.append((429, {"code": "GAIA_TM01", "message": "too many concurrent requests"}))
    leads, _ = _read(kintone_connector().streams()[0])
    assert len(leads) == 1
    broken = kintone_connector(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>")))
    with pytest.raises(ConnectorError, match="not a JSON object"):
        _read(broken.streams()[0])
