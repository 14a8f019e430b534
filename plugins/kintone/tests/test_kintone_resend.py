"""A resend never reopens or reassigns a To-Do sales worked on: the look-up before each batch finds
every record carrying one of the batch's keys, whatever its status or owner, and nothing is written
for such a key. Against the fake kintone, where "sales" edits records as kintone's UI would."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.connectors import TaskRequest

DUE = datetime(2025, 4, 1, 16, 0, tzinfo=timezone.utc)
USERS = {"sato": "sato@example.co.jp", "kato": "kato@example.co.jp"}


def task(key: str, record_id: str | None, email: str | None = None, owner: str | None = "sato") -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=record_id, owner=owner,
                       subject="MQL", body="why", due_at=DUE)


def calls(fake, method: str) -> int:
    return len([e for e in fake.log if e[0] == method and e[1] == "/k/v1/records.json"])


def with_users(fake):
    for code, email in USERS.items():
        fake.directory.add(code, email)
    return fake


def test_a_resend_after_sales_completed_the_todo_writes_nothing(kintone_fake, kintone_connector):
    kt = kintone_connector()
    with_users(kintone_fake)
    [first] = kt.create_tasks([task("k1", "7", "a@x.jp")])
    assert first.ok
    record_id = int(first.external_id)
    kintone_fake.edit_record(30, record_id, {"ステータス": "完了", "完了日時": "2025-04-02T01:00:00Z"})
    before = dict(kintone_fake.records(30)[record_id])
    puts, gets = calls(kintone_fake, "PUT"), calls(kintone_fake, "GET")
    [again] = kt.create_tasks([task("k1", "7", "a@x.jp")])  # the outbox resends: the answer was lost
    assert again.ok and again.external_id == first.external_id and again.adopted_key is None
    assert calls(kintone_fake, "PUT") == puts, "nothing is written for a key that has its record"
    assert calls(kintone_fake, "GET") - gets == 1, "one look-up"
    assert kintone_fake.records(30)[record_id] == before, "status, owner and revision unchanged"
    assert before["ステータス"] == "完了" and before["担当者"] == [{"code": "sato"}]


def test_a_resend_after_sales_reassigned_the_todo_writes_nothing(kintone_fake, kintone_connector):
    kt = kintone_connector()
    with_users(kintone_fake)
    [first] = kt.create_tasks([task("k1", "7", "a@x.jp", owner="sato")])
    record_id = int(first.external_id)
    kintone_fake.edit_record(30, record_id, {"担当者": [{"code": "kato"}], "ステータス": "対応中", "件名": "MQL (kato)"})
    puts = calls(kintone_fake, "PUT")
    [again] = kt.create_tasks([task("k1", "7", "a@x.jp", owner="sato")])
    assert again.ok and again.external_id == first.external_id and again.adopted_key is None
    assert calls(kintone_fake, "PUT") == puts
    stored = kintone_fake.records(30)[record_id]
    assert (stored["担当者"], stored["ステータス"], stored["件名"], stored["$revision"]) == \
        ([{"code": "kato"}], "対応中", "MQL (kato)", 2)
    # kato merges the lead into another record and re-links the To-Do: the key still finds it
    kintone_fake.edit_record(30, record_id, {"リードID": "8", "メールアドレス": "b@x.jp"})
    [third] = kt.create_tasks([task("k1", "7", "a@x.jp", owner="sato")])
    assert third.ok and third.external_id == first.external_id and third.adopted_key is None
    assert calls(kintone_fake, "PUT") == puts, "a key is found whatever lead the record now names"
    assert (stored["担当者"], stored["リードID"], stored["$revision"]) == ([{"code": "kato"}], "8", 3)
    assert len(kintone_fake.records(30)) == 1


def test_a_mixed_batch_is_one_look_up_and_writes_only_the_new_keys(kintone_fake, kintone_connector):
    """Done, reassigned, open, adoptable and new keys in one batch of 100: one GET, one PUT."""
    kt = kintone_connector()
    done = kintone_fake.add_record(30, {"leadsync_key": "k0", "リードID": "0", "ステータス": "完了", "担当者": [{"code": "x"}]})
    moved = kintone_fake.add_record(30, {"leadsync_key": "k1", "リードID": "1", "ステータス": "未着手", "担当者": [{"code": "y"}]})
    other = kintone_fake.add_record(30, {"leadsync_key": "old-2", "リードID": "2", "ステータス": "未着手"})
    kintone_fake.add_record(30, {"leadsync_key": "old-3", "リードID": "3", "ステータス": "完了"})  # closed: not adopted
    snapshot = {i: dict(kintone_fake.records(30)[i]) for i in (done, moved, other)}
    gets, puts = calls(kintone_fake, "GET"), calls(kintone_fake, "PUT")
    results = kt.create_tasks([task(f"k{i}", str(i), owner=None) for i in range(100)])
    assert calls(kintone_fake, "GET") - gets == 1 and calls(kintone_fake, "PUT") - puts == 1
    assert [(r.external_id, r.adopted_key) for r in results[:3]] == [(str(done), None), (str(moved), None),
                                                                     (str(other), "old-2")]
    assert all(r.ok for r in results) and {i: kintone_fake.records(30)[i] for i in snapshot} == snapshot
    keys = sorted(r["leadsync_key"] for r in kintone_fake.records(30).values())
    assert keys == sorted(["k0", "k1", "old-2", "old-3"] + [f"k{i}" for i in range(3, 100)])


def test_a_batch_whose_look_up_matches_more_than_500_records_is_paged(kintone_fake, kintone_connector):
    """kintone answers at most 500 records a call: the look-up pages by $id and misses no key."""
    kt = kintone_connector()
    for i in range(600):  # 600 open leadsync To-Dos of one lead, and the batch's own keys among the last
        kintone_fake.add_record(30, {"leadsync_key": f"old-{i:03d}", "リードID": "7", "ステータス": "未着手"})
    done = kintone_fake.add_record(30, {"leadsync_key": "k-late", "リードID": "8", "ステータス": "完了"})
    gets = calls(kintone_fake, "GET")
    results = kt.create_tasks([task("k-late", "8"), task("k-new", "7")])
    assert calls(kintone_fake, "GET") - gets == 2, "one query, two pages (500 + the rest)"
    assert (results[0].external_id, results[0].adopted_key) == (str(done), None)
    assert results[1].adopted_key == "old-000"


def test_a_new_key_for_a_lead_whose_todo_is_completed_never_touches_or_adopts_it(kintone_fake, kintone_connector):
    """A new key for a lead whose earlier To-Do is completed (after the cooldown, a re-MQL) gets its
    own To-Do: the completed one is never touched (sales' word stands) and is not adopted. (After a
    lost state store the engine does not plan such a lead within the cooldown at all: the To-Do
    stream's completion rebuilds the closed episode, test_kintone_lost_completed.py.)"""
    kt = kintone_connector()
    [first] = kt.create_tasks([task("ls-20250301-aaaa", "7", "a@x.jp", owner=None)])
    kintone_fake.edit_record(30, int(first.external_id), {"ステータス": "完了", "担当者": [{"code": "kato"}]})
    before = dict(kintone_fake.records(30)[int(first.external_id)])
    [second] = kt.create_tasks([task("ls-20250320-bbbb", "7", "a@x.jp", owner=None)])
    assert second.ok and second.adopted_key is None and second.external_id != first.external_id
    assert kintone_fake.records(30)[int(first.external_id)] == before
    assert sorted(r["leadsync_key"] for r in kintone_fake.records(30).values()) == ["ls-20250301-aaaa", "ls-20250320-bbbb"]
