"""KPI report benchmark: funnel, call timing, mql and plan over a synthetic state store.

    python bench/kpi_bench.py              # 1,000,000 leads, 10,000,000 activities (a quarter of them calls)
    python bench/kpi_bench.py --quick      # 100,000 leads, 1,000,000 activities
    python bench/kpi_bench.py --db /tmp/kpi.db --keep   # reuse a generated store

Prints the seconds each report takes (generation not counted) and the counts it found.
Measured on the shared 2-core build machine (1M leads / 10M activities, 1.5M calls a quarter):
funnel 30 days 0.7 s, quarter 1.5 s, by owner 4.0 s, by source 5.1 s; call-timing 2.3 s; mql 0.7 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

AS_OF = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
SOURCES = ["trade_show", "seminar", "web_inquiry", "content_download", "advertising", "referral", None]  # canonical codes
OWNERS = [f"rep{n:02d}" for n in range(40)]
MARKETING = ["email_open", "email_open", "web_visit", "web_visit", "email_click", "content_download"]
OUTCOMES = ["no_answer", "no_answer", "voicemail", "busy", "connected", "gatekeeper", "conversation"]


def generate(db_path: Path, leads: int, activities: int, seed: int = 7) -> None:
    from leadsync.core.state import activities as stored_activities
    from leadsync.core.state import kpi as kpi_state
    from leadsync.core.state import leads as stored_leads
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path)  # schema, all migrations
    rng = random.Random(seed)
    now = AS_OF.timestamp()
    span = 150 * 86400.0
    with store.transaction() as db:
        rows: list[tuple] = []
        for i in range(leads):
            email = f"lead{i}@example{i % 997}.co.jp"
            source = rng.choice(SOURCES)
            data = json.dumps({"key": email, "email": email, "lead_source": source}, ensure_ascii=False)
            rows.append((email, email, data, now, 0))
            if len(rows) == 100_000:
                stored_leads.put_many(db, rows)
                rows.clear()
        stored_leads.put_many(db, rows)
        rows.clear()
        for j in range(activities):
            i = rng.randrange(leads)
            email = f"lead{i}@example{i % 997}.co.jp"
            when = now - rng.random() * span
            roll = rng.random()
            if roll < 0.25:
                kind, outcome = "call", rng.choice(OUTCOMES)
                seconds = 0 if outcome in ("no_answer", "voicemail", "busy") else rng.randrange(1, 600)
                data = (f'{{"source_id":"a{j}","type":"call","duration_seconds":{seconds},"outcome":"{outcome}",'
                        f'"owner":"{rng.choice(OWNERS)}"}}')
            elif roll < 0.26:
                kind = rng.choice(["meeting_set", "meeting"])
                outcome = "held" if kind == "meeting" and rng.random() < 0.8 else None
                data = (f'{{"source_id":"a{j}","type":"{kind}","outcome":{json.dumps(outcome)},'
                        f'"owner":"{rng.choice(OWNERS)}"}}')
            else:
                kind = rng.choice(MARKETING)
                data = f'{{"source_id":"a{j}","type":"{kind}"}}'
            rows.append(("crm", f"a{j}", email, kind, when, None, data))
            if len(rows) == 200_000:
                stored_activities.put_many(db, rows)
                rows.clear()
        stored_activities.put_many(db, rows)
        rows.clear()
        scores = [(f"lead{i}@example{i % 997}.co.jp", t, "hot" if t >= 80 else "warm" if t >= 50 else "cold", now)
                  for i in range(leads) for t in [rng.randrange(0, 140)]]
        opportunities = []
        for k in range(leads // 10):
            i = rng.randrange(leads)
            email = f"lead{i}@example{i % 997}.co.jp"
            created = now - rng.random() * span
            status = rng.choice(["open", "won", "lost", "lost"])
            closed = created + rng.random() * 30 * 86400 if status != "open" else None
            opportunities.append(("crm", f"o{k}", email, status, created, closed, rng.choice([50, 100, 300]) * 10_000.0,
                                  rng.choice(OWNERS), "{}"))
        handoffs = []
        for h in range(leads // 20):
            i = rng.randrange(leads)
            opened = now - rng.random() * span
            handoffs.append((f"lead{i}@example{i % 997}.co.jp", "crm", rng.choice(["completed", "rejected", "expired"]),
                             rng.randrange(80, 140), "hot", opened, opened + 3600, f"t{h}"))
        kpi_state.put_benchmark_rows(db, scores=scores, opportunities=opportunities, handoffs=handoffs)
    kpi_state.analyze(store.db)
    store.close()


def measure(db_path: Path) -> list[tuple[str, float, str]]:
    from leadsync.core.config import Settings
    from leadsync.core.reports.kpi import build_call_timing, build_funnel, build_mql, build_plan
    from leadsync.core.reports.periods import Period
    from leadsync.core.state.store import StateStore

    settings = Settings()
    store = StateStore(db_path, readonly=True)
    month = Period(date(2025, 6, 1), date(2025, 6, 30), "Asia/Tokyo")
    quarter = Period(date(2025, 4, 1), date(2025, 6, 30), "Asia/Tokyo")
    results = []

    def timed(label: str, func, summary) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        value = func()
        results.append((label, time.perf_counter() - start, summary(value)))

    calls = lambda d: f"calls {d['stages']['calls']:,}, connects {d['stages']['connects']:,}"  # noqa: E731
    timed("funnel, 30 days", lambda: build_funnel(store, settings, month, None), calls)
    timed("funnel, quarter", lambda: build_funnel(store, settings, quarter, None), calls)
    timed("funnel by source, quarter", lambda: build_funnel(store, settings, quarter, "source"),
          lambda d: f"{len(d['groups'])} groups")
    timed("funnel by owner, quarter", lambda: build_funnel(store, settings, quarter, "owner"),
          lambda d: f"{len(d['groups'])} groups")
    timed("funnel by week, quarter", lambda: build_funnel(store, settings, quarter, "week"),
          lambda d: f"{len(d['groups'])} groups")
    timed("call-timing, quarter", lambda: build_call_timing(store, settings, quarter),
          lambda d: f"{len(d['cells'])} cells, {d['calls']:,} calls")
    timed("mql by source, quarter", lambda: build_mql(store, quarter, "source"),
          lambda d: f"{d['handoffs']:,} handoffs")
    timed("plan (90-day history)", lambda: build_plan(
        store, settings, today=date(2025, 6, 30), meetings=20, revenue=None, target=month, history_days=90,
        given={}, reps=None, deal_size=None), lambda d: f"calls {d['calls']:,}")
    store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--leads", type=int)
    parser.add_argument("--activities", type=int)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    leads = args.leads or (100_000 if args.quick else 1_000_000)
    activities = args.activities or (1_000_000 if args.quick else 10_000_000)
    folder = None if args.db else tempfile.TemporaryDirectory(prefix="kpi-bench-")
    db_path = args.db or Path(folder.name) / "state.db"  # type: ignore[union-attr]
    if not db_path.exists():
        start = time.perf_counter()
        generate(db_path, leads, activities)
        print(f"generated {leads:,} leads, {activities:,} activities in {time.perf_counter() - start:.0f} s "
              f"({db_path.stat().st_size / 1e9:.1f} GB)", file=sys.stderr)
    print("| report | seconds | found |\n|---|---|---|")
    for label, seconds, summary in measure(db_path):
        print(f"| {label} | {seconds:.2f} | {summary} |")
    if folder is not None and not args.keep:
        folder.cleanup()


if __name__ == "__main__":
    main()
