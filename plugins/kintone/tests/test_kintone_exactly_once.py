"""Exactly-once task writes against the fake kintone: concurrent-update errors, adoption, unique keys."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import httpx

from leadsync.connectors import TaskRequest
from leadsync_kintone.adoption import MAX_ENCODED_QUERY, Wanted, lookup_queries

DUE = datetime(2025, 4, 1, 16, 0, tzinfo=timezone.utc)
HEADERS = {"X-Cybozu-API-Token": "lead-token-123,task-token-456"}


def task(key: str, record_id: str | None, email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=record_id, owner=None,
                       subject="MQL", body="why", due_at=DUE)


def keys(fake) -> list[str]:
    return sorted(r["leadsync_key"] for r in fake.records(30).values())


def test_a_concurrent_update_error_stays_in_the_outbox_and_ends_in_exactly_one_task(kintone_fake, kintone_connector):
    kt = kintone_connector()
    kintone_fake.fail_next_put(409, "GAIA_CO02", "The revision is not the latest. Someone may update a record.")
    [first] = kt.create_tasks([task("k1", "7", "a@x.jp")])
    assert not first.ok and first.retryable
    assert first.error.startswith("GAIA_CO02 (error id fakeErrorId): The revision is not the latest")
    assert keys(kintone_fake) == []
    [again] = kt.create_tasks([task("k1", "7", "a@x.jp")])
    assert again.ok and keys(kintone_fake) == ["k1"]


def test_validation_errors_are_dead_letters_with_kintone_detail(kintone_fake, kintone_connector):
    kt = kintone_connector()
    kintone_fake.fail_next_put(400, "CB_VA01", "Missing or invalid input.",
                               {"records[0].件名.value": {"messages": ["Required field."]}})
    [bad] = kt.create_tasks([task("k1", "7")])
    assert not bad.ok and not bad.retryable
    assert bad.error == "CB_VA01 (error id fakeErrorId): Missing or invalid input. records[0].件名.value: Required field."
    kintone_fake.fail_next_put(400, "CB_VA01", "Missing or invalid input.",
                               {"records[0].leadsync_key.value": {"messages": ["This value already exists in another record."]}})
    [race] = kt.create_tasks([task("k2", "8")])
    assert not race.ok and race.retryable  # another writer inserted the key first: a resend updates it


def test_an_open_task_under_another_key_is_adopted_not_duplicated(kintone_fake, kintone_connector):
    old = kintone_fake.add_record(30, {"leadsync_key": "old-1", "リードID": "1", "メールアドレス": "a@x.jp", "ステータス": "未着手"})
    kintone_fake.add_record(30, {"leadsync_key": "old-1b", "リードID": "1", "ステータス": "未着手"})
    kintone_fake.add_record(30, {"leadsync_key": "old-2", "リードID": "2", "ステータス": "完了"})
    mailed = kintone_fake.add_record(30, {"leadsync_key": "old-3", "メールアドレス": "c@x.jp", "ステータス": ""})
    kintone_fake.add_record(30, {"leadsync_key": "", "リードID": "4", "ステータス": "未着手"})  # not a leadsync task
    kt = kintone_connector()
    gets = len([e for e in kintone_fake.log if e[0] == "GET" and e[1] == "/k/v1/records.json"])
    results = kt.create_tasks([task("new-1", "1"), task("new-2", "2"), task("new-3", None, "C@x.jp"), task("new-4", "4")])
    assert len([e for e in kintone_fake.log if e[0] == "GET" and e[1] == "/k/v1/records.json"]) - gets == 1
    assert (results[0].adopted_key, results[0].external_id) == ("old-1", str(old))
    assert (results[2].adopted_key, results[2].external_id) == ("old-3", str(mailed))
    assert [results[1].adopted_key, results[3].adopted_key] == [None, None] and all(r.ok for r in results)
    assert keys(kintone_fake) == ["", "new-2", "new-4", "old-1", "old-1b", "old-2", "old-3"]


def test_a_resend_of_an_existing_open_task_sends_nothing(kintone_fake, kintone_connector):
    kt = kintone_connector()
    [first] = kt.create_tasks([task("k1", "7")])
    puts = len([e for e in kintone_fake.log if e[0] == "PUT"])
    [again] = kt.create_tasks([task("k1", "7")])
    assert again.ok and again.adopted_key is None and again.external_id == first.external_id
    assert len([e for e in kintone_fake.log if e[0] == "PUT"]) == puts and keys(kintone_fake) == ["k1"]


def test_look_ups_stay_under_the_url_limit_and_a_batch_of_100_is_one_query(kintone_fake, kintone_connector):
    kt = kintone_connector()
    batch = [Wanted(f"ls-20260401-{i:016x}", str(10000 + i)) for i in range(100)]  # keys as the engine makes them
    assert len(list(lookup_queries(kt.settings, batch))) == 1
    mailed = [Wanted(f"ls-20260401-{i:016x}", str(10000 + i), f"user{i:04d}@example.co.jp") for i in range(100)]
    assert len(list(lookup_queries(kt.settings, mailed))) == 2
    many = list(lookup_queries(kt.settings, [Wanted(f"ls-20260401-{i:016x}", str(i), f"user{i}@example.co.jp")
                                             for i in range(1000)]))
    assert len(many) > 2 and all(len(quote(q)) <= MAX_ENCODED_QUERY for q in many)
    assert sum(q.count("@example.co.jp") for q in many) == 1000 and sum(q.count('"ls-20260401-') for q in many) == 1000
    gets = len([e for e in kintone_fake.log if e[:2] == ("GET", "/k/v1/records.json")])
    results = kt.create_tasks([task(f"ls-20260401-{i:016x}", str(10000 + i), f"user{i:04d}@example.co.jp")
                               for i in range(100)])
    assert all(r.ok for r in results) and len(keys(kintone_fake)) == 100
    assert len([e for e in kintone_fake.log if e[:2] == ("GET", "/k/v1/records.json")]) - gets == 2, "two look-ups, no 414"


def test_fake_enforces_what_kintone_enforces(kintone_fake):
    with httpx.Client(transport=httpx.MockTransport(kintone_fake.handle), base_url="https://example.cybozu.com",
                      headers=HEADERS) as raw:
        put = {"app": 30, "upsert": True, "records": [{"updateKey": {"field": "件名", "value": "x"}, "record": {}}]}
        not_unique = raw.put("/k/v1/records.json", json=put).json()
        assert not_unique["code"] == "CB_VA01" and "records[0].updateKey.field" in not_unique["errors"]
        kintone_fake.add_record(30, {"leadsync_key": "k1"})
        dup = raw.put("/k/v1/records.json", json={"app": 30, "records": [{"id": 99, "record": {}}]})
        assert dup.status_code == 404 and dup.json()["code"] == "GAIA_RE01"
        second = raw.put("/k/v1/records.json", json={"app": 30, "upsert": True, "records": [
            {"updateKey": {"field": "leadsync_key", "value": "k2"}, "record": {}},
            {"updateKey": {"field": "leadsync_key", "value": "k2"}, "record": {}}]})
        assert second.status_code == 400 and "records[1].leadsync_key.value" in second.json()["errors"]
        long = raw.get("/k/v1/records.json", params={"app": 30, "query": "leadsync_key in (" + ", ".join(
            f'"{i:020d}"' for i in range(400)) + ")"})
        assert long.status_code == 414
        query = raw.get("/k/v1/records.json", params={"app": 30, "query": 'leadsync_key in ("k1", "k9") or $id = 5'}).json()
        assert [r["leadsync_key"]["value"] for r in query["records"]] == ["k1"]
        bad = raw.get("/k/v1/records.json", params={"app": 30, "query": "leadsync_key in ("})
        assert bad.status_code == 400 and bad.json()["code"] == "GAIA_IQ11"
