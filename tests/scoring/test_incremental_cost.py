"""Incremental rescoring costs what changed: counts of leads scored and rows read, never timings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Lead
from leadsync.core.scoring import load_sheet, rescore

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
TYPES = ["email_open", "email_click", "web_visit", "content_download", "webinar_attended", "form_started"]
URLS = ["https://x.jp/pricing", "https://x.jp/blog", None]


def _populate(store, h, leads: int, seed: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    keys = []
    counter = 0
    for i in range(leads):
        key = f"lead{i}@x{i % 7}.jp"
        keys.append(key)
        h.put_lead(store, Lead(key=key, email=key, title=rng.choice(["CEO", "部長", "担当", ""]),
                               employees=rng.choice([None, 30, 250, 900])))
        acts = []
        for _ in range(rng.randint(0, 6)):
            counter += 1
            kind = rng.choice(TYPES)
            when = NOW - timedelta(days=rng.uniform(-3, 120))
            acts.append(h.act(f"a{counter}", key, kind, when, rng.choice(URLS) if kind == "web_visit" else None))
        h.put_activities(store, acts)
    return keys


def _reads(store):  # type: ignore[no-untyped-def]
    """Statements that read leads or activities, as the connection runs them."""
    seen: list[str] = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if ("FROM activities" in sql or "FROM leads" in sql)
                                else None)
    return seen


def _activities_of(store, keys: list[str], since: float) -> int:  # type: ignore[no-untyped-def]
    marks = ",".join("?" * len(keys))
    return store.db.execute(f"SELECT COUNT(*) FROM activities WHERE occurred_at > ? AND lead_key IN ({marks})",
                            (since, *keys)).fetchone()[0]


@pytest.mark.parametrize("half_life", [None, 14.0])
def test_nothing_changed_does_no_scoring_work(store, h, half_life) -> None:  # type: ignore[no-untyped-def]
    settings = ScoringSettings(half_life_days=half_life)
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    _populate(store, h, 300)
    full = rescore(store, sheet, settings, NOW)
    assert full.scored == 300 and full.leads_read == 300
    assert full.activities_read == _activities_of(store, [r[0] for r in store.db.execute("SELECT key FROM leads")],
                                                  NOW.timestamp() - 90 * 86400)
    seen = _reads(store)
    again = rescore(store, sheet, settings, NOW)
    assert (again.scored, again.leads_read, again.activities_read, again.changed) == (0, 0, 0, [])
    assert seen == []  # not one statement read a lead or an activity
    history = store.db.execute("SELECT COUNT(*) FROM score_history").fetchone()[0]
    assert rescore(store, sheet, settings, NOW).scored == 0
    assert store.db.execute("SELECT COUNT(*) FROM score_history").fetchone()[0] == history


def test_one_percent_changed_reads_only_those_leads(store, h, sheet, settings) -> None:  # type: ignore[no-untyped-def]
    keys = _populate(store, h, 1000)
    rescore(store, sheet, settings, NOW)
    touched = keys[::100]  # 10 leads, 1%
    h.put_activities(store, [h.act(f"new{i}", key, "web_visit", NOW - timedelta(hours=1), "https://x.jp/pricing")
                             for i, key in enumerate(touched)])
    due = store.db.execute("SELECT COUNT(*) FROM scores WHERE next_change_at <= ?", (NOW.timestamp(),)).fetchone()[0]
    assert due == 0
    result = rescore(store, sheet, settings, NOW)
    assert result.scored == 10 and result.leads_read == 10
    assert result.activities_read == _activities_of(store, touched, NOW.timestamp() - 90 * 86400)
    assert result.activities_read < 100  # of about 3,000 stored


@pytest.mark.parametrize("half_life", [None, 10.0])
def test_time_alone_rescores_exactly_the_leads_crossing_an_edge(store, h, half_life) -> None:  # type: ignore[no-untyped-def]
    """Nothing changes upstream; as time passes, activities leave the 90-day window (and points
    decay). Each incremental run rescores only the leads whose next_change_at has come, and its
    scores equal those of a full rescore at that moment."""
    settings = ScoringSettings(half_life_days=half_life)
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    _populate(store, h, 400, seed=9)
    rescore(store, sheet, settings, NOW)
    total_rescored = 0
    for days in (0.5, 1, 2, 5, 9, 20, 31, 45):
        moment = NOW + timedelta(days=days)
        due = store.db.execute("SELECT COUNT(*) FROM scores WHERE next_change_at <= ?", (moment.timestamp(),)).fetchone()[0]
        reference = store.snapshot()
        result = rescore(store, sheet, settings, moment)
        assert result.scored == due and result.leads_read == due
        total_rescored += result.scored
        rescore(reference, sheet, settings, moment, full=True)
        # With decay the breakdown's decimals drift between edges by design: next_change_at is when
        # the rounded total can change. Without decay the whole breakdown must match.
        query = f"SELECT lead_key, total, segment{'' if half_life else ', breakdown'} FROM scores ORDER BY lead_key"
        assert [tuple(r) for r in store.db.execute(query)] == [tuple(r) for r in reference.db.execute(query)], days
        reference.close()
        reasons = {r[0] for r in store.db.execute("SELECT reason FROM score_history WHERE at = ?", (moment.timestamp(),))}
        assert reasons <= {"time"}
    assert 0 < total_rescored < 400 * 8  # edges were crossed, and far from every lead every time
