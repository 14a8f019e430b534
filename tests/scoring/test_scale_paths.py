"""The large-store paths of a rescore give exactly what the simple ones give.

The activity order (one quantized int64 key, checked, else lexsort), source ids looked up after
they were frozen into one text, and the full rescore's one-transaction rewrite (indexes rebuilt,
history copied from the stored rows, dirty flags cleared in one statement) against the chunked
path that incremental runs and PostgreSQL use.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from leadsync.core.config import ScoringSettings
from leadsync.core.models import Lead
from leadsync.core.scoring import load_sheet, rescore
from leadsync.core.scoring.batch import _lead_time_order
from leadsync.core.scoring.loader import SourceIds
from leadsync.core.state import leads, scores
from leadsync.core.state.store import StateStore

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("regime", ["spread", "whole_seconds", "sub_quantum", "one_lead", "huge_span"])
def test_lead_time_order_is_the_lexsort_order(regime: str) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    lead = rng.integers(0, 300 if regime != "one_lead" else 1, n).astype(np.int32)
    t = NOW.timestamp() - rng.random(n) * 150 * 86400
    if regime == "whole_seconds":  # many exact ties inside a lead
        t = np.floor(t / 3600) * 3600
    elif regime == "sub_quantum":  # distinct times closer than the key's quantum
        t = NOW.timestamp() + rng.integers(0, 4, n) * 2.0 ** -22
        t[0] = 0.0
    elif regime == "huge_span":
        t[:10] = 1.0
    rowid = np.arange(n)
    order = _lead_time_order(lead, t, rowid)
    assert np.array_equal(order, np.lexsort((rowid, t, lead)))


def test_source_ids_frozen_from_mixed_chunks_read_back_exactly() -> None:
    ids = SourceIds()
    first = ["a1", "é2", "x\x1ey"]  # a separator inside an id: added by lengths, not split
    ids.add(first)
    assert ids.add_separated("\x1e".join(["b1", "b22", "ü"]), 3)
    assert not ids.add_separated("c1\x1ec2", 3)  # another number of ids: refused, nothing added
    ids.add(["", "d4"])
    every = first + ["b1", "b22", "ü", "", "d4"]
    assert ids.size == len(every)
    assert [ids.get(i) for i in range(ids.size)] == every  # before freezing
    positions = np.array([7, 0, 2, 5, 3, 6, 1, 4, 2])
    assert ids.get_many(positions).tolist() == [every[p] for p in positions]  # frozen on first use
    assert [ids.get(i) for i in range(ids.size)] == every  # and after
    assert ids.get_many(np.zeros(0, np.int64)).tolist() == []


def _populate(store: StateStore, h, leads: int, seed: int) -> list[str]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    keys = []
    counter = 0
    for i in range(leads):
        key = f"lead{i}@x{i % 5}.jp"
        keys.append(key)
        h.put_lead(store, Lead(key=key, email=key, title=rng.choice(["CEO", "部長", "担当", ""]),
                               employees=rng.choice([None, 30, 250, 900])))
        acts = []
        for _ in range(rng.randint(0, 5)):
            counter += 1
            kind = rng.choice(["email_open", "web_visit", "content_download", "webinar_attended"])
            when = NOW - timedelta(days=rng.uniform(-2, 100))
            acts.append(h.act(f"a{counter}", key, kind, when, "https://x.jp/pricing" if kind == "web_visit" else None))
        h.put_activities(store, acts)
    return keys


def _state(store: StateStore) -> tuple[list, list, list, int]:  # type: ignore[type-arg]
    rows = store.db.execute("SELECT lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                            "next_change_at, breakdown FROM scores ORDER BY lead_key").fetchall()
    history = store.db.execute("SELECT id, lead_key, at, total, segment, previous_total, previous_segment, reason, "
                               "sheet_version FROM score_history ORDER BY id").fetchall()
    indexes = sorted(r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('scores', 'score_history')"))
    dirty = len(leads.dirty_keys(store.db))
    return [tuple(r) for r in rows], [tuple(r) for r in history], indexes, dirty


def test_full_rewrite_equals_the_chunked_path(tmp_path, h, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A first full rescore, a rescore after a sheet change and a forced full rescore give the same
    scores, history (ids included), indexes and dirty flags in one transaction as chunk by chunk."""
    monkeypatch.setattr(sys.modules["leadsync.core.scoring.rescore"], "WRITE_CHUNK", 7)
    settings = ScoringSettings()
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    other = load_sheet(h.DEFAULT_SHEET, ScoringSettings(half_life_days=20))
    results = []
    for mode in ("rewrite", "chunks"):
        store = StateStore(tmp_path / f"{mode}.db")
        keys = _populate(store, h, 60, seed=4)
        if mode == "chunks":  # the path PostgreSQL and incremental runs use
            monkeypatch.setattr(StateStore, "dialect", "sqlite, chunk by chunk")
        states = []
        first = rescore(store, sheet, settings, NOW, full=True)
        states.append(_state(store))
        h.put_activities(store, [h.act("late", keys[3], "webinar_attended", NOW - timedelta(hours=2))])
        again = rescore(store, other, settings, NOW + timedelta(days=1))  # a new sheet version: full
        states.append(_state(store))
        forced = rescore(store, other, settings, NOW + timedelta(days=1), full=True)  # nothing changed
        states.append(_state(store))
        results.append((states, [(r.scored, sorted(r.changed), sorted(r.segment_changed)) for r in (first, again, forced)]))
        store.close()
    assert results[0] == results[1]
    states, counts = results[0]
    assert counts[0][0] == 60 and len(counts[0][1]) == 60 and counts[2][1] == []
    assert len(states[0][1]) == 60 and states[2][1] == states[1][1]  # first scores each a change; none after
    assert states[0][2] == ["score_history_lead", "scores_next_change", "sqlite_autoindex_scores_1"]
    assert all(state[3] == 0 for state in states)


def test_a_failed_rewrite_leaves_scores_history_and_indexes_as_they_were(tmp_path, h, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = ScoringSettings()
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    store = StateStore(tmp_path / "state.db")
    _populate(store, h, 30, seed=9)
    rescore(store, sheet, settings, NOW, full=True)
    before = _state(store)
    leads.mark_all_dirty(store.db)
    calls = []
    original = scores.write

    def failing(db, rows, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        return original(db, rows, **kwargs)

    monkeypatch.setattr(sys.modules["leadsync.core.scoring.rescore"], "WRITE_CHUNK", 10)
    monkeypatch.setattr(scores, "write", failing)
    with pytest.raises(sqlite3.OperationalError):
        rescore(store, sheet, settings, NOW + timedelta(days=3), full=True)
    after = _state(store)
    assert after[:3] == before[:3] and after[3] == 30  # nothing written, indexes back, still dirty
    assert len(calls) == 2


def test_a_full_rescore_of_a_fresh_store_writes_history_without_binding_it_row_by_row(tmp_path, h) -> None:  # type: ignore[no-untyped-def]
    """First scores: the history of each chunk is one INSERT ... SELECT; rows are bound once (the scores)."""
    settings = ScoringSettings()
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    store = StateStore(tmp_path / "state.db")
    _populate(store, h, 25, seed=2)
    seen: list[str] = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if "score_history" in sql or "INSERT INTO scores" in sql
                                else None)
    rescore(store, sheet, settings, NOW, full=True)
    history = [sql for sql in seen if sql.startswith("INSERT INTO score_history")]
    assert len(history) == 1 and "SELECT lead_key, scored_at" in history[0]
    assert sum(sql.startswith("INSERT INTO scores") for sql in seen) == 25
    assert store.db.execute("SELECT count(*) FROM score_history").fetchone()[0] == 25


ODD_VALUES = [True, False, 1.5, 0.1, 1e300, 12345678901234567890, -(2**63), 2**63 - 1, {"a": [1, 2.5, None]},
              [1, "x"], "文字列", None, "", 0, -3, 'with "quote" and \\ and \u2028', "x" * 50]
SHEET_ROWS = """スコア種別,項目,条件,配点,備考,ルール,上限,半減期
属性スコア,カスタム値,,5,,custom.v is set,,
属性スコア,カスタム空,,3,,custom.w is empty,,
属性スコア,役職:経営者・役員,,30,,,,
属性スコア,企業規模:従業員500名以上,,25,,,,
属性スコア,フリーメール,,-15,,"email_domain in gmail.com",,
セグメント定義,ホットリード,合計80点以上,,,,,
セグメント定義,ウォームリード,50-79点,,,,,
セグメント定義,コールドリード,49点以下,,,,,
"""


def test_lead_fields_read_in_one_parse_are_what_json_extract_gives_per_path(tmp_path, h) -> None:  # type: ignore[no-untyped-def]
    """Booleans, reals, big integers, objects and arrays come back exactly as SQLite's json_extract
    of each path gives them (value and type), as before the one-parse read."""
    from leadsync.core.scoring.loader import load_lead_columns

    path = tmp_path / "sheet.csv"
    path.write_text(SHEET_ROWS, encoding="utf-8")
    sheet = load_sheet(path, ScoringSettings())
    store = StateStore(":memory:")
    for i, value in enumerate(ODD_VALUES * 2):
        email = f"u{i}@{'gmail.com' if i % 3 else 'x.jp'}"
        h.put_lead(store, Lead(key=email, email=email, title=["CEO", None, "担当"][i % 3], employees=[None, 600][i % 2],
                               employees_text=["1,000人以上", None][i % 2], custom={"v": value, "w": ODD_VALUES[-1 - i % len(ODD_VALUES)]}))
    columns = load_lead_columns(store, sheet, None)
    assert set(columns.fields) == {"custom.v", "custom.w", "title", "employees", "email_domain"}
    paths = {"custom.v": '$.custom."v"', "custom.w": '$.custom."w"', "title": "$.title"}
    for position, key in enumerate(columns.keys):
        for name, json_path in paths.items():
            codes, distinct = columns.fields[name]
            expected = store.db.execute("SELECT json_extract(data, ?) FROM leads WHERE key = ?", (json_path, key)).fetchone()[0]
            got = distinct[codes[position]]
            assert (got, type(got)) == (expected, type(expected)), (key, name)
    codes, distinct = columns.fields["employees"]
    assert [distinct[c] for c in codes] == [1000 if i % 2 == 0 else 600 for i in range(len(columns.keys))]
    codes, distinct = columns.fields["email_domain"]
    assert [distinct[c] for c in codes] == [k.split("@")[1] for k in columns.keys]


@pytest.mark.parametrize("ids", [[1, 2, 3, 7, 9], [5, 70_000, 10**9, 10**12]])  # dense: a table; sparse: a search
def test_lead_index_maps_rowids_to_positions_and_unknown_to_minus_one(ids: list[int]) -> None:
    from leadsync.core.scoring.loader import LeadIndex

    index = LeadIndex(np.array(ids, np.int64))
    asked = np.array([ids[2], ids[0], 4, ids[-1], 0, ids[-1] + 1, 6, ids[1]], np.int64)
    expected = [2, 0, -1, len(ids) - 1, -1, -1, -1, 1]
    assert index(asked).tolist() == expected
    assert LeadIndex(np.zeros(0, np.int64))(np.array([1, 2], np.int64)).tolist() == [-1, -1]
