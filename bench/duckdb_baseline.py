"""(c) baseline: the same scoring sheet computed by one DuckDB SQL query over the same data.

What a data engineer would write instead of leadsync: the activities and leads copied into DuckDB
(untimed, like a warehouse that already holds them), the behaviour rows of the sheet as
aggregates over the window, the revisit row as a window function over distinct local days, and
the attribute rows as lookup tables (the sheet's keyword classes evaluated once per distinct field
value, as a dbt seed would hold them) joined in, one row per group by the largest |points|. Only
sheets without decay and plugin conditions are translated (the bench sheet and the default one).
The bench checks that every lead's total and segment equal leadsync's.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from leadsync.core.scoring.batch import TYPE_CODES, factorize
from leadsync.core.scoring.loader import CHUNK, LeadIndex, load_lead_columns
from leadsync.core.scoring.rules import ActivityCondition, FieldCondition, RevisitCondition
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state import activities, scores
from leadsync.core.state.store import StateStore

__all__ = ["load_into_duckdb", "score_query", "run_baseline"]

DAY = 86400


def _fixed_offset(zone: str, start: datetime, end: datetime) -> int:
    """The zone's UTC offset in seconds, which must not change between start and end (no DST)."""
    tz = ZoneInfo(zone)
    offsets = {int((start + timedelta(days=d)).astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
               for d in range(0, (end - start).days + 2)}
    if len(offsets) != 1:
        raise ValueError(f"{zone} changes its UTC offset in the window; the baseline handles fixed offsets only")
    return offsets.pop()


def load_into_duckdb(con: Any, store: StateStore, sheet: ScoringSheet) -> dict[str, Any]:
    """Copy leads (index, a code per attribute field) and activities (lead index, type code, time,
    URL for URL-matched types) into DuckDB tables `leads`, `acts` and one `attr_<field>` lookup
    per field; returns the lookup tables' columns."""
    keys, _emails, fields, ids = load_lead_columns(store, sheet, None)
    index = LeadIndex(ids)
    table: dict[str, np.ndarray] = {"i": np.arange(len(keys), dtype=np.int64)}
    lookups: dict[str, list[str]] = {}
    for name, values in fields.items():
        codes, distinct = values if isinstance(values, tuple) else factorize(values)
        table[f"f_{name}"] = codes.astype(np.int64)
        flags: dict[str, np.ndarray] = {"code": np.arange(len(distinct), dtype=np.int64)}
        for position, rule in enumerate(sheet.rules):
            cond = rule.condition
            if isinstance(cond, FieldCondition) and cond.field == name:
                flags[f"r{position}"] = np.array([cond.test(v) is not None for v in distinct], bool)
        con.register(f"attr_src_{name}", flags)
        con.execute(f"CREATE OR REPLACE TABLE attr_{name} AS SELECT * FROM attr_src_{name}")
        lookups[name] = [c for c in flags if c != "code"]
    con.register("leads_src", table)
    con.execute("CREATE OR REPLACE TABLE leads AS SELECT * FROM leads_src")
    url_types = sorted({t for r in sheet.rules if isinstance(r.condition, ActivityCondition) and r.condition.url_patterns
                        for t in r.condition.types})
    con.execute("CREATE OR REPLACE TABLE acts (lead INTEGER, typ TINYINT, t DOUBLE, url VARCHAR)")
    copied = 0
    for rows in activities.scan(store.db, type_codes=TYPE_CODES, url_types=url_types, since=float("-inf"), chunk=CHUNK):
        chunk = {"lead": index(np.fromiter((r[0] for r in rows), np.int64, len(rows))),
                 "typ": np.fromiter((r[1] for r in rows), np.int8, len(rows)),
                 "t": np.fromiter((r[2] for r in rows), np.float64, len(rows)),
                 "url": np.array([r[3] for r in rows] + [None], object)[:-1]}
        con.register("acts_src", chunk)
        con.execute("INSERT INTO acts SELECT * FROM acts_src WHERE lead >= 0")
        copied += len(rows)
    return {"leads": len(keys), "activities": copied, "lookups": lookups, "keys": keys}


def score_query(sheet: ScoringSheet, as_of: datetime) -> str:
    """One SELECT giving (i, total) for every lead under `sheet` at `as_of`."""
    now = as_of.timestamp()
    behaviour: list[str] = []
    revisits: list[str] = []
    groups: dict[str, list[tuple[int, Any]]] = {}
    for position, rule in enumerate(sheet.rules):
        cond = rule.condition
        if rule.half_life_days:
            raise ValueError(f"rule {rule.name!r}: decay is not translated")
        start = now - rule.window_days * DAY
        if isinstance(cond, ActivityCondition):
            test = f"typ IN ({','.join(str(TYPE_CODES[t]) for t in sorted(cond.types))}) AND t > {start!r} AND t <= {now!r}"
            if cond.url_patterns:
                if any("[" in p for p in cond.url_patterns):
                    raise ValueError(f"rule {rule.name!r}: bracket globs are not translated")
                globs = " OR ".join(f"lower(url) GLOB '{p.lower()}'" for p in cond.url_patterns)
                test += f" AND url IS NOT NULL AND url <> '' AND ({globs})"
            counted = "1" if rule.cap is None else f"least(count(*) FILTER (WHERE {test}), {rule.cap})"
            fires = f"count(*) FILTER (WHERE {test}) >= {cond.min_count}" + (" AND false" if rule.cap == 0 else "")
            behaviour.append(f"CASE WHEN {fires} THEN {counted} * {rule.points!r} ELSE 0 END")
        elif isinstance(cond, RevisitCondition):
            offset = _fixed_offset(sheet.timezone, datetime.fromtimestamp(start, ZoneInfo("UTC")), as_of)
            revisits.append(
                f"(SELECT lead, {rule.points!r} AS pts FROM (SELECT lead, day, lead(day, {cond.min_days - 1}) OVER "
                f"(PARTITION BY lead ORDER BY day) AS later FROM (SELECT DISTINCT lead, floor((t + {offset}) / {DAY}) "
                f"AS day FROM acts WHERE typ = {TYPE_CODES['web_visit']} AND t > {start!r} AND t <= {now!r})) "
                f"WHERE later - day <= {cond.period_days - 1} GROUP BY lead)")
        elif isinstance(cond, FieldCondition):
            groups.setdefault(rule.group, []).append((position, rule))
        else:
            raise ValueError(f"rule {rule.name!r}: plugin conditions are not translated")
    attribute: list[str] = []
    joins: list[str] = []
    fields = sorted({rule.condition.field for members in groups.values() for _, rule in members})
    for name in fields:
        joins.append(f"JOIN attr_{name} a_{name} ON a_{name}.code = l.f_{name}")
    for members in groups.values():
        ranked = sorted(members, key=lambda m: (-abs(m[1].points), m[0]))  # largest |points|, first row on ties
        cases = " ".join(f"WHEN a_{rule.condition.field}.r{position} THEN {rule.points!r}" for position, rule in ranked)
        attribute.append(f"CASE {cases} ELSE 0 END")
    behaviour_sum = " + ".join(behaviour) or "0"
    revisit_joins = "".join(f" LEFT JOIN {sql} v{k} ON v{k}.lead = l.i" for k, sql in enumerate(revisits))
    revisit_sum = "".join(f" + coalesce(v{k}.pts, 0)" for k in range(len(revisits)))
    return (
        f"WITH b AS (SELECT lead, {behaviour_sum} AS pts FROM acts GROUP BY lead) "
        f"SELECT l.i, CAST(floor(coalesce(b.pts, 0){revisit_sum} + 0.5) AS BIGINT) "
        f"+ CAST(floor({' + '.join(attribute) or '0'} + 0.5) AS BIGINT) AS total "
        f"FROM leads l {' '.join(joins)} LEFT JOIN b ON b.lead = l.i{revisit_joins} ORDER BY l.i"
    )


def run_baseline(store: StateStore, sheet: ScoringSheet, as_of: datetime) -> dict[str, Any]:
    """Load, time the query, and compare every lead's total and segment with the stored scores."""
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    loaded = load_into_duckdb(con, store, sheet)
    load_s = time.perf_counter() - started
    query = score_query(sheet, as_of)
    started, cpu = time.perf_counter(), time.process_time()
    rows = con.execute(query).fetchnumpy()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    totals = rows["total"]
    stored = {key: (total, segment) for key, total, segment in scores.totals(store.db)}
    keys = loaded["keys"]
    mismatches = sum(
        1 for key, total in zip(keys, totals.tolist(), strict=True)
        if stored.get(key) != (total, sheet.segment_for(total).value)
    )
    con.close()
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu_s, 2), "load_seconds": round(load_s, 1),
            "leads": loaded["leads"], "activities": loaded["activities"], "mismatches": mismatches,
            "threads": "duckdb default (all cores)"}
