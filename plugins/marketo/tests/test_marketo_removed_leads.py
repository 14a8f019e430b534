"""Leads deleted or merged in Marketo are reported as RemovedLead: Delete Lead activities (Get Deleted
Leads) and Merge Leads activities (type 32, on the winner, naming the losers in "Merge IDs")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import ReadContext, RemovedLead
from leadsync.core.models import Activity, Lead
from leadsync_marketo.connector import MarketoConnector
from leadsync_marketo.settings import MarketoSettings
from leadsync_marketo.testing import MarketoFake

NOW = datetime.now(timezone.utc) + timedelta(minutes=1)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _connector(fake: MarketoFake, roles: list[str] | None = None) -> MarketoConnector:
    settings = MarketoSettings(plugin="marketo", base_url="https://123-abc-456.mktorest.com", client_id="cid",
                               client_secret="secret", roles=roles or ["leads", "activities"])
    return MarketoConnector("ma", settings, transport=httpx.MockTransport(fake.handle), sleep=lambda seconds: None)


def _read_run(connector: MarketoConnector, cursors: dict[str, dict] | None = None, signpost: datetime = NOW):
    """Every stream of one run in order: (records of all streams, last cursor per stream)."""
    records, last = [], {}
    for stream in connector.streams():
        cursor = (cursors or {}).get(stream.name)
        for page in stream.read(ReadContext(cursor=cursor, signpost=signpost)):
            records.extend(page.records)
            last[stream.name] = page.cursor
    return records, last


def _seed(fake: MarketoFake) -> dict[str, int]:
    created = _stamp(NOW - timedelta(days=3))
    ids = {name: fake.add_lead(created, email=f"{name}@example.jp", title="部長") for name in
           ("winner", "loser", "gone", "kept")}
    fake.add_activity(ids["loser"], "Visit Webpage", created, "pricing", Webpage_URL="https://example.jp/pricing")
    return ids


@pytest.mark.parametrize("losers_listed_as_deleted", [True, False])
def test_a_merge_and_a_deletion_are_reported_with_the_winner_read_first(losers_listed_as_deleted):
    fake = MarketoFake(losers_in_deletedleads=losers_listed_as_deleted)
    ids = _seed(fake)
    fake.merge_leads(ids["winner"], [ids["loser"]], when=_stamp(NOW - timedelta(hours=2)))
    fake.delete_lead(ids["gone"], when=_stamp(NOW - timedelta(hours=1)))

    records, _ = _read_run(_connector(fake))
    removed = [r for r in records if isinstance(r, RemovedLead)]
    assert removed == [RemovedLead(str(ids["loser"]), merged_into=str(ids["winner"])), RemovedLead(str(ids["gone"]))]
    merge_at = records.index(removed[0])
    assert any(isinstance(r, Lead) and r.refs["ma"] == str(ids["winner"]) for r in records[:merge_at]), \
        "the survivor is read before the record merged into it"
    assert not any(isinstance(r, Activity) and r.type is None for r in records)


def test_a_merge_of_several_losers_names_each_and_a_lead_never_read_is_read_with_it():
    fake = MarketoFake()
    ids = _seed(fake)
    old = fake.add_lead(_stamp(NOW - timedelta(days=400)), email="old@example.jp")
    fake.merge_leads(old, [ids["loser"], ids["kept"]], when=_stamp(NOW - timedelta(minutes=10)))

    connector = _connector(fake)
    records, _ = _read_run(connector)
    removed = [r for r in records if isinstance(r, RemovedLead)]
    assert removed == [RemovedLead(str(ids["loser"]), merged_into=str(old)),
                       RemovedLead(str(ids["kept"]), merged_into=str(old))]
    first = records.index(removed[0])
    assert [r.refs["ma"] for r in records[:first] if isinstance(r, Lead)].count(str(old)) >= 1


def test_nothing_removed_costs_one_token_and_one_deleted_leads_page_per_run():
    fake = MarketoFake()
    _seed(fake)
    connector = _connector(fake)
    _read_run(connector)
    before = len(fake.log)
    stream = next(s for s in connector.streams() if s.name == "leads_removed")
    pages = list(stream.read(ReadContext(cursor=None, signpost=NOW)))
    calls = [path for _, path in fake.log[before:] if path != "/identity/oauth/token"]
    assert calls == ["/rest/v1/activities/pagingtoken.json", "/rest/v1/activities/deletedleads.json"]
    assert [r for p in pages for r in p.records] == [] and pages[-1].cursor["since"]


def test_the_cursor_moves_on_and_a_run_resumes_inside_the_deleted_leads_pages():
    fake = MarketoFake(page_size=2)
    created = _stamp(NOW - timedelta(days=3))
    ids = [fake.add_lead(created, email=f"l{i}@example.jp") for i in range(5)]
    for i, lead_id in enumerate(ids):
        fake.delete_lead(lead_id, when=_stamp(NOW - timedelta(days=2, hours=-i)))
    stream = next(s for s in _connector(fake, roles=["leads"]).streams() if s.name == "leads_removed")

    pages = list(stream.read(ReadContext(cursor=None, signpost=NOW)))
    assert [r.record_id for p in pages for r in p.records] == [str(i) for i in ids]
    # Interrupted after the first page of deletions: the next run starts where that page's cursor says.
    first = next(p for p in pages if p.records)
    resumed = list(stream.read(ReadContext(cursor=first.cursor, signpost=NOW)))
    assert [r.record_id for p in resumed for r in p.records] == [str(i) for i in ids[2:]]
    # A complete read stores the newest deletion's date: the next run re-reads only its look-back.
    later = NOW + timedelta(days=1)
    again = list(stream.read(ReadContext(cursor=pages[-1].cursor, signpost=later, lookback=timedelta(minutes=5))))
    assert [r.record_id for p in again for r in p.records] == [str(ids[-1])]


def test_without_the_activities_role_the_leads_removed_stream_reads_merges_itself():
    fake = MarketoFake()
    ids = _seed(fake)
    fake.merge_leads(ids["winner"], [ids["loser"]], when=_stamp(NOW - timedelta(hours=2)))
    connector = _connector(fake, roles=["leads"])
    records, _ = _read_run(connector)
    assert [r for r in records if isinstance(r, RemovedLead)] == [
        RemovedLead(str(ids["loser"]), merged_into=str(ids["winner"]))]


def test_a_merge_activity_without_usable_merge_ids_is_a_dead_letter_not_a_guess():
    fake = MarketoFake(losers_in_deletedleads=False)
    ids = _seed(fake)
    fake.merge_leads(ids["winner"], [ids["loser"]], when=_stamp(NOW - timedelta(hours=2)))
    merge = next(a for a in fake.activities if a["activityTypeId"] == 32)
    merge["attributes"] = [a for a in merge["attributes"] if a["name"] != "Merge IDs"]
    records, _ = _read_run(_connector(fake))
    assert [r for r in records if isinstance(r, RemovedLead)] == []
    rejected = [r for r in records if not isinstance(r, (Lead, Activity, RemovedLead))]
    assert len(rejected) == 1 and "Merge IDs" in rejected[0].reason


def test_the_fake_forgets_removed_leads_like_marketo():
    fake = MarketoFake()
    ids = _seed(fake)
    connector = _connector(fake, roles=["leads", "scores"])
    client = connector.client
    client.post(f"/rest/v1/leads/{ids['winner']}/merge.json?leadId={ids['loser']}", {}, idempotent=False)
    body = client.post("/rest/v1/leads/delete.json", {"input": [{"id": ids["gone"]}, {"id": 999}]}, idempotent=True)
    assert [r["status"] for r in body["result"]] == ["deleted", "skipped"]
    found = client.leads_by_id([str(i) for i in ids.values()], ["id", "email", "title"])
    assert sorted(r["id"] for r in found) == sorted([ids["winner"], ids["kept"]])
    assert all(a["leadId"] != ids["loser"] for a in fake.activities), "the loser's activity log went to the winner"
    assert {d["leadId"] for d in fake.deleted} == {ids["loser"], ids["gone"]}
