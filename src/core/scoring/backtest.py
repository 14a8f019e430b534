"""`score backtest`: which leads would change segment under a candidate sheet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from leadsync.core.config import ScoringSettings
from leadsync.core.scoring.batch import score_batch
from leadsync.core.scoring.loader import LeadIndex, load_activities, load_lead_columns
from leadsync.core.scoring.rescore import DAY, compute_scores
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore

__all__ = ["BacktestRow", "backtest", "sheet_totals"]


@dataclass(frozen=True)
class BacktestRow:
    lead_key: str
    email: str | None
    old_total: int
    new_total: int
    old_segment: str
    new_segment: str


def sheet_totals(store: StateStore, sheet: ScoringSheet, settings: ScoringSettings, as_of: datetime
                 ) -> dict[str, tuple[str | None, int, str]]:
    """lead key -> (email, total, segment) for every lead under `sheet`, without writing anything."""
    if sheet.has_plugin_conditions:
        emails = leads.emails(store.db)
        return {row[0]: (emails.get(row[0]), row[1], row[4])
                for rows in compute_scores(store, sheet, settings, as_of, None) for row in rows}
    keys, emails, fields, ids = load_lead_columns(store, sheet, None)
    longest = max((r.window_days for r in sheet.rules if r.is_behaviour), default=0.0)
    cols, _ = load_activities(store, sheet, LeadIndex(ids), as_of.timestamp() - longest * DAY, None)
    result = score_batch(sheet, len(keys), fields, cols, as_of)
    totals = (np.floor(result.behaviour + 0.5) + np.floor(result.attribute + 0.5)).astype(np.int64).tolist()
    return {key: (email, total, sheet.segment_for(total).value)
            for key, email, total in zip(keys, emails, totals, strict=True)}


def backtest(store: StateStore, current: ScoringSheet, candidate: ScoringSheet, settings: ScoringSettings,
             as_of: datetime) -> tuple[int, list[BacktestRow]]:
    """(leads compared, leads whose segment differs between the sheets), biggest moves first."""
    before = sheet_totals(store, current, settings, as_of)
    after = sheet_totals(store, candidate, settings, as_of)
    moved = [
        BacktestRow(key, email, total, after[key][1], segment, after[key][2])
        for key, (email, total, segment) in before.items()
        if key in after and after[key][2] != segment
    ]
    moved.sort(key=lambda r: (-abs(r.new_total - r.old_total), r.lead_key))
    return len(before), moved
