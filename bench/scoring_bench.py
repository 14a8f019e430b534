"""Scoring benchmark: full and incremental rescore of a synthetic state store (time, peak RSS).

    python bench/scoring_bench.py            # 1,000,000 leads, 10,000,000 activities
    python bench/scoring_bench.py --quick    # 100,000 leads, 1,000,000 activities
    python bench/scoring_bench.py --db /tmp/bench.db --keep   # reuse a generated store

A reused store is first migrated to this leadsync's schema (timed and printed: a store of schema 5
gets activities.lead_id) and its scores and history are forgotten, all leads marked dirty, so the
full rescore is always the first one (empty scores table), as in a generated store.

Each phase runs in its own process so its peak RSS is its own (generation is not counted): the
full rescore, the sha256 of every score and history row it wrote, the DuckDB baseline of the same sheet over the same data (bench/duckdb_baseline.py,
skipped when duckdb is not installed; its totals are checked lead by lead against leadsync's),
the bytes on disk per table, an incremental rescore after 1% of the leads changed, and a run with
nothing changed. Each phase prints wall and CPU seconds (the build machine is shared: CPU seconds
are the steadier figure). Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

AS_OF = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
TITLES = ["代表取締役社長", "CEO", "営業部長", "Marketing Manager", "担当", "スタッフ", "Engineer", "課長",
          "Director", "VP Sales", "", "取締役 CTO", "ｼｽﾃﾑ担当", "Head of IT"]
INDUSTRIES = ["IT・ソフトウェア", "情報通信業", "Software", "製造業", "Manufacturing", "金融", "小売", "SaaS", ""]
EMPLOYEES = ["1,000人以上", "100-499名", "50～99名", "10-49名", "500名以上", ""]
TYPES = ["email_open"] * 5 + ["email_click"] * 2 + ["web_visit"] * 4 + ["content_download", "form_started",
                                                                     "webinar_attended", "webinar_registered"]
URLS = ["https://example.jp/pricing", "https://example.jp/blog/a", "https://example.jp/case/1",
        "https://example.jp/", "https://example.jp/plans/pro", "https://example.jp/docs"]


def lead_rows(rng: random.Random, leads: int, now: float, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The synthetic leads, as `leads.put_many` rows, `batch` at a time (all dirty)."""
    rows: list[tuple[Any, ...]] = []
    for i in range(leads):
        email = f"lead{i}@example{i % 997}.co.jp"
        data = json.dumps({"key": email, "email": email, "title": rng.choice(TITLES),
                           "industry": rng.choice(INDUSTRIES), "employees_text": rng.choice(EMPLOYEES),
                           "company": f"株式会社サンプル{i % 5000}", "refs": {"crm": str(i)}}, ensure_ascii=False)
        rows.append((email, email, data, now, 1))
        if len(rows) == batch or i == leads - 1:
            yield rows
            rows = []


def activity_rows(rng: random.Random, leads: int, activities: int, now: float,
                  batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The synthetic activities of the last 150 days, as `activities.put_many` rows, `batch` at a time."""
    rows: list[tuple[Any, ...]] = []
    span = 150 * 86400.0
    for j in range(activities):
        i = rng.randrange(leads)
        email = f"lead{i}@example{i % 997}.co.jp"
        kind = rng.choice(TYPES)
        when = now - rng.random() * span
        url = rng.choice(URLS) if kind == "web_visit" else None
        data = (f'{{"source_id":"act{j}","connection":"ma","lead_key":"{email}","type":"{kind}",'
                f'"occurred_at":{when:.0f},"url":{json.dumps(url)}}}')
        rows.append(("ma", f"act{j}", email, kind, when, url, data))
        if len(rows) == batch or j == activities - 1:
            yield rows
            rows = []


def generate(db_path: Path, leads: int, activities: int, seed: int = 7) -> None:
    from leadsync.core.state import activities as stored_activities
    from leadsync.core.state import leads as stored_leads
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path)
    rng = random.Random(seed)
    now = AS_OF.timestamp()
    with store.transaction() as db:
        for rows in lead_rows(rng, leads, now, 100_000):
            stored_leads.put_many(db, rows)
        for rows in activity_rows(rng, leads, activities, now, 200_000):
            stored_activities.put_many(db, rows)
    store.close()


def touch(db_path: Path, fraction: float, seed: int = 11) -> int:
    """Mark a fraction of the leads changed: one new activity each, marked for rescoring."""
    from leadsync.core.state import activities as stored_activities
    from leadsync.core.state import leads as stored_leads
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path)
    leads = stored_leads.max_rowid(store.db) or 0
    rng = random.Random(seed)
    chosen = rng.sample(range(leads), int(leads * fraction))
    keys = [f"lead{i}@example{i % 997}.co.jp" for i in chosen]
    with store.transaction() as db:
        stored_activities.put_many(
            db, [("ma", f"new{k}", k, "web_visit", AS_OF.timestamp() - 3600, "https://example.jp/pricing", "{}")
                 for k in keys], ignore_existing=True)
        stored_leads.mark_dirty_many(db, keys)
    store.close()
    return len(keys)


def run_sizes(db_path: Path) -> dict[str, object]:
    """Bytes on disk per table and index, and per lead / per activity."""
    from leadsync.core.state import retention
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path, readonly=True)
    tables = retention.table_bytes(store.db)
    rows = retention.counts(store.db)
    store.close()
    lead_parts = ("leads", "sqlite_autoindex_leads_1", "dirty_leads", "leads_source", "scores",
                  "sqlite_autoindex_scores_1", "scores_next_change")
    activity_parts = ("activities", "sqlite_autoindex_activities_1", "activities_lead", "activities_kpi")
    return {"tables": tables, "rows": rows,
            "per_lead": round(sum(tables.get(t, 0) for t in lead_parts) / max(rows["leads"], 1)),
            "per_activity": round(sum(tables.get(t, 0) for t in activity_parts) / max(rows["activities"], 1)),
            "file_bytes": sum(tables.values())}


def reset(db_path: Path) -> dict[str, float]:
    """Migrate the store if it is older (timed), forget its scores: the next full rescore is a first one."""
    from leadsync.core.state import scores
    from leadsync.core.state.store import StateStore

    started, cpu = time.perf_counter(), time.process_time()
    store = StateStore(db_path)
    migrated = {"migrate_seconds": round(time.perf_counter() - started, 1), "migrate_cpu": round(time.process_time() - cpu, 1)}
    with store.transaction() as db:
        scores.clear(db)
    store.close()
    return migrated


def run_digest(db_path: Path) -> dict[str, object]:
    """sha256 of every score row and history row (scores.digest)."""
    from leadsync.core.state import scores
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path, readonly=True)
    found = scores.digest(store.db)
    store.close()
    return found


def run_duckdb(db_path: Path) -> dict[str, object]:
    """The DuckDB baseline (bench/duckdb_baseline.py) over the same store, checked against its scores."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return {"missing": "duckdb is not installed (pip install -r bench/requirements.txt)"}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.duckdb_baseline import run_baseline
    from leadsync.core.config import ScoringSettings
    from leadsync.core.scoring import DEFAULT_SHEET, load_sheet
    from leadsync.core.state.store import StateStore

    settings = ScoringSettings()
    store = StateStore(db_path, readonly=True)
    result = run_baseline(store, load_sheet(DEFAULT_SHEET, settings), AS_OF)
    store.close()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def run_phase(db_path: Path, full: bool) -> dict[str, float]:
    from leadsync.core.config import ScoringSettings
    from leadsync.core.scoring import DEFAULT_SHEET, load_sheet, rescore
    from leadsync.core.state.store import StateStore

    settings = ScoringSettings()
    sheet = load_sheet(DEFAULT_SHEET, settings)
    store = StateStore(db_path)
    started, cpu = time.perf_counter(), time.process_time()
    result = rescore(store, sheet, settings, AS_OF, full=full)
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # none since the packed scan
    return {"seconds": round(elapsed, 2), "cpu_seconds": round(cpu_s, 2), "peak_rss_mb": round(peak_mb),
            "child_peak_rss_mb": round(child_mb), "scored": result.scored, "changed": len(result.changed),
            "leads_read": result.leads_read, "activities_read": result.activities_read}


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100k leads / 1M activities")
    parser.add_argument("--leads", type=int)
    parser.add_argument("--activities", type=int)
    parser.add_argument("--db", type=Path, help="state store to use (generated when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the generated store")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB baseline")
    parser.add_argument("--phase", choices=["full", "incremental", "duckdb", "sizes", "digest", "reset"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase in ("duckdb", "sizes", "digest", "reset"):
        run = {"duckdb": run_duckdb, "sizes": run_sizes, "digest": run_digest, "reset": reset}[args.phase]
        print(json.dumps(run(args.db)))
        return
    if args.phase:
        print(json.dumps(run_phase(args.db, full=args.phase == "full")))
        return
    leads = args.leads or (100_000 if args.quick else 1_000_000)
    activities = args.activities or leads * 10
    workdir = Path(tempfile.mkdtemp(prefix="leadsync-bench-"))
    db_path = args.db or workdir / "state.db"
    if not db_path.exists():
        started = time.perf_counter()
        generate(db_path, leads, activities)
        print(f"generated {leads:,} leads / {activities:,} activities in {time.perf_counter() - started:.0f} s "
              f"({db_path.stat().st_size / 1e9:.1f} GB)", flush=True)
    else:
        migrated = _child("--phase", "reset", "--db", str(db_path))
        print(f"reused {db_path}: scores forgotten; schema migration {migrated['migrate_seconds']} s "
              f"(cpu {migrated['migrate_cpu']} s)", flush=True)
    full = _child("--phase", "full", "--db", str(db_path))
    print(f"full rescore:        {full['seconds']:7.2f} s  peak RSS {full['peak_rss_mb']:6.0f} MB "
          f"(cpu {full['cpu_seconds']:.2f} s, child processes {full['child_peak_rss_mb']:.0f} MB)  scored {full['scored']:,} "
          f"activities read {full['activities_read']:,}", flush=True)
    digest = _child("--phase", "digest", "--db", str(db_path))
    print(f"written: {digest['scores']['rows']:,} scores sha256 {digest['scores']['sha256']}, "
          f"{digest['history']['rows']:,} history rows sha256 {digest['history']['sha256']}", flush=True)
    if not args.no_duckdb:
        duck = _child("--phase", "duckdb", "--db", str(db_path))
        if "missing" in duck:
            print(f"duckdb baseline: skipped, {duck['missing']}", flush=True)
        else:
            print(f"duckdb baseline:     {duck['seconds']:7.2f} s  peak RSS {duck['peak_rss_mb']:6.0f} MB "
                  f"(cpu {duck['cpu_seconds']:.2f} s, load {duck['load_seconds']:.0f} s untimed, {duck['threads']})  "
                  f"leads {duck['leads']:,} differing from leadsync {duck['mismatches']:,}  "
                  f"leadsync / duckdb {full['seconds'] / max(duck['seconds'], 1e-9):.2f}", flush=True)
    sizes = _child("--phase", "sizes", "--db", str(db_path))
    print(f"state size: {sizes['file_bytes'] / 1e9:.2f} GB; {sizes['per_lead']:,} bytes per lead (lead + score + "
          f"indexes), {sizes['per_activity']:,} bytes per activity (row + indexes); "
          + ", ".join(f"{name} {size / 1e6:,.0f} MB" for name, size in list(sizes["tables"].items())[:8]), flush=True)
    changed = touch(db_path, 0.01)
    incremental = _child("--phase", "incremental", "--db", str(db_path))
    print(f"incremental ({changed:,}): {incremental['seconds']:7.2f} s  peak RSS {incremental['peak_rss_mb']:6.0f} MB  "
          f"scored {incremental['scored']:,} changed {incremental['changed']:,} (cpu {incremental['cpu_seconds']:.2f} s, "
          f"activities read {incremental['activities_read']:,}; cpu / full cpu "
          f"{incremental['cpu_seconds'] / max(full['cpu_seconds'], 1e-9):.3f})", flush=True)
    unchanged = _child("--phase", "incremental", "--db", str(db_path))
    print(f"nothing changed: scored {unchanged['scored']:,}, leads read {unchanged['leads_read']:,}, "
          f"activities read {unchanged['activities_read']:,}", flush=True)
    if not args.keep and not args.db:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
