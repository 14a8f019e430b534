"""The DuckDB baseline of the scoring bench computes the same totals as leadsync, and notices when they differ."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")  # a bench-only requirement (bench/requirements.txt)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.duckdb_baseline import run_baseline  # noqa: E402
from bench.scoring_bench import AS_OF, generate  # noqa: E402
from leadsync.core.config import ScoringSettings  # noqa: E402
from leadsync.core.scoring import DEFAULT_SHEET, load_sheet, rescore  # noqa: E402
from leadsync.core.state import scores  # noqa: E402
from leadsync.core.state.store import StateStore  # noqa: E402


def test_duckdb_totals_equal_leadsync_and_a_difference_is_counted(tmp_path: Path) -> None:
    generate(tmp_path / "state.db", 400, 4000)
    settings = ScoringSettings()
    sheet = load_sheet(DEFAULT_SHEET, settings)
    store = StateStore(tmp_path / "state.db")
    rescore(store, sheet, settings, AS_OF, full=True)
    result = run_baseline(store, sheet, AS_OF)
    assert (result["leads"], result["activities"], result["mismatches"]) == (400, 4000, 0)
    totals = {key: total for key, total, _ in scores.totals(store.db)}
    assert len(set(totals.values())) > 5  # the data spreads over many totals
    key = next(iter(totals))
    with store.transaction() as db:
        scores.put(db, key, totals[key] + 1, 0, 0, "cold", AS_OF.timestamp(), [])
    assert run_baseline(store, sheet, AS_OF)["mismatches"] == 1
    store.close()
