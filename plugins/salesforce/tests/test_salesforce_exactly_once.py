"""Exactly-once task writes against the fake Salesforce: row locks, adoption, unique keys."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx

from leadsync.connectors import TaskRequest
from leadsync_salesforce.testing import SalesforceFake
from leadsync_salesforce import SalesforceConnector, SalesforceSettings
from leadsync_salesforce.tasks import MAX_ENCODED_QUERY, lookup_queries

DUE = datetime(2025, 4, 1, 16, 0, tzinfo=timezone.utc)
QUERY = r"/services/data/v62.0/query"
UPSERT = r"/services/data/v62.0/composite/sobjects/Task/Leadsync_Key__c"


def connect(url: str) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "sf-cid", "refresh_token": "sf-rtok", "login_url": url}
    return SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo", sleep=lambda s: None)


def task(key: str, who: str | None, email: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=email or key, email=email, record_id=who, owner=None,
                       subject="MQL", body="why", due_at=DUE)


def keyed(app: SalesforceFake) -> list[dict]:
    return [t for t in app.records("Task") if t.get("Leadsync_Key__c")]


def test_a_lock_error_on_a_task_upsert_ends_one_run_later_in_exactly_one_task(org):
    app, server = org
    leads = [app.add("Lead", {"Email": f"l{i}@x.jp", "LastName": "l", "Company": "c"}) for i in range(3)]
    sf = connect(server.url)
    app.lock_rows(keys=("k1",))
    first = sf.create_tasks([task(f"k{i}", who) for i, who in enumerate(leads)])
    assert [r.ok for r in first] == [True, False, True]
    assert first[1].retryable and "UNABLE_TO_LOCK_ROW" in first[1].error and "exclusive access" in first[1].error
    assert sorted(t["Leadsync_Key__c"] for t in keyed(app)) == ["k0", "k2"]
    again = sf.create_tasks([task("k1", leads[1])])  # the next run resends what stayed in the outbox
    assert again[0].ok and again[0].adopted_key is None
    assert sorted(t["Leadsync_Key__c"] for t in keyed(app)) == ["k0", "k1", "k2"]
    sf.close()


def test_only_errors_no_retry_can_fix_are_dead_letters_with_salesforce_detail(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connect(server.url)
    [bad] = sf.create_tasks([task("k1", "00Q999999999999999")])
    assert not bad.ok and not bad.retryable
    assert bad.error == "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id (WhoId)"
    sf.settings = sf.settings.model_copy(update={"task_status": "Bogus"})
    [picklist] = sf.create_tasks([task("k2", lead)])
    assert not picklist.retryable and picklist.error.startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status")
    assert "(Status)" in picklist.error
    sf.close()


def test_an_open_task_under_another_key_is_adopted_not_duplicated(org):
    app, server = org
    leads = [app.add("Lead", {"Email": f"l{i}@x.jp", "LastName": "l", "Company": "c"}) for i in range(4)]
    older = app.add("Task", {"WhoId": leads[0], "Leadsync_Key__c": "old-0", "Status": "Not Started", "Subject": "MQL"})
    app.add("Task", {"WhoId": leads[0], "Leadsync_Key__c": "old-0b", "Status": "Not Started", "Subject": "MQL"})
    app.add("Task", {"WhoId": leads[1], "Leadsync_Key__c": "old-1", "Status": "Completed", "Subject": "MQL"})
    app.add("Task", {"WhoId": leads[2], "Status": "Not Started", "Subject": "a call"})  # not a leadsync task
    sf = connect(server.url)
    before = len(server.requests_to(QUERY))
    results = sf.create_tasks([task(f"new-{i}", who) for i, who in enumerate(leads)])
    assert len(server.requests_to(QUERY)) - before == 1, "one look-up query for the whole batch"
    assert results[0].ok and results[0].adopted_key == "old-0" and results[0].external_id == older
    assert [r.adopted_key for r in results[1:]] == [None, None, None] and all(r.ok for r in results)
    assert sorted(t["Leadsync_Key__c"] for t in keyed(app)) == ["new-1", "new-2", "new-3", "old-0", "old-0b", "old-1"]
    sf.close()


def test_a_resend_of_an_existing_open_task_sends_nothing(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    sf = connect(server.url)
    [first] = sf.create_tasks([task("k1", lead)])
    upserts = len(server.requests_to(UPSERT))
    [again] = sf.create_tasks([task("k1", lead)])
    assert again.ok and again.adopted_key is None and again.external_id == first.external_id
    assert len(server.requests_to(UPSERT)) == upserts and len(keyed(app)) == 1
    sf.close()


def test_the_look_up_of_a_full_batch_is_one_query_within_the_uri_limit(org):
    app, server = org
    leads = [app.add("Lead", {"Email": f"l{i}@x.jp", "LastName": "l", "Company": "c"}) for i in range(200)]
    real_keys = [(f"ls-20250401-{i:016x}", who) for i, who in enumerate(leads)]  # the engine's key shape
    assert len(list(lookup_queries("Leadsync_Key__c", real_keys))) == 1
    sf = connect(server.url)
    assert all(r.ok for r in sf.create_tasks([task(f"k{i}", who) for i, who in enumerate(leads)]))
    assert len(keyed(app)) == 200
    many = list(lookup_queries("Leadsync_Key__c", [(f"ls-20250401-{i:016x}", f"00Q{i:015d}") for i in range(2000)]))
    assert len(many) > 1 and sum(q.count("'00Q") for q in many) == 2000 and sum(q.count("'ls-") for q in many) == 2000
    from urllib.parse import quote
    assert all(len(quote(q)) <= MAX_ENCODED_QUERY for q in many)
    sf.close()


def test_fake_rejects_what_salesforce_rejects(org):
    app, server = org
    lead = app.add("Lead", {"Email": "a@x.jp", "LastName": "a", "Company": "c"})
    app.define_field("Task", "Unique_Key__c", unique=True)  # where an org has Unique, the fake enforces it
    app.add("Task", {"WhoId": lead, "Unique_Key__c": "k1", "Status": "Not Started"})
    token = httpx.post(f"{server.url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": "sf-cid", "refresh_token": "sf-rtok"}).json()["access_token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as raw:
        dup = raw.post("/services/data/v62.0/sobjects/Task", json={"WhoId": lead, "Unique_Key__c": "k1"})
        assert dup.status_code == 400 and dup.json()[0]["errorCode"] == "DUPLICATE_VALUE"
        app.define_field("Task", "Plain_Key__c")
        not_external = raw.patch("/services/data/v62.0/composite/sobjects/Task/Plain_Key__c",
                                 json={"allOrNone": False, "records": []})
        assert not_external.status_code == 400 and not_external.json()[0]["errorCode"] == "INVALID_FIELD"
        long_query = raw.get("/services/data/v62.0/query", params={"q": "SELECT Id FROM Lead WHERE Email IN (" + ",".join(
            f"'{i}@x.jp'" for i in range(3000)) + ")"})
        assert long_query.status_code == 414
        app.lock_rows(1)
        locked = raw.patch("/services/data/v62.0/composite/sobjects/Task/Leadsync_Key__c", json={"allOrNone": False, "records": [
            {"attributes": {"type": "Task"}, "Leadsync_Key__c": "k9", "WhoId": lead}]}).json()
        assert locked == [{"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "fields": [],
                                                         "message": f"unable to obtain exclusive access to this record or 1 records: {lead}"}]}]
        assert not [t for t in app.records("Task") if t.get("Leadsync_Key__c") == "k9"]
