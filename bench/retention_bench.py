"""How a year of daily runs grows the state store, and what `leadsync state vacuum` gives back.

    python bench/retention_bench.py                 # 20,000 leads, 365 daily runs, 2% of leads active a day
    python bench/retention_bench.py --leads 100000  # bigger

Every day: 2% of the leads get a new activity, a run is recorded (start, finish with a summary),
the engine's rescore runs at that day (history rows for changes, leads crossing a window edge
rescored by time), each changed score is planned in the outbox and acknowledged (as a push
would), one hot lead in 50 gets a task create, and every tenth day one write is dead-lettered
and re-queued. All through leadsync's own state operations. At the end: bytes per table, then
`retention.prune` with keep_days (default 180) and `compact`, as `leadsync state vacuum` does.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scoring_bench import AS_OF, generate  # noqa: E402

PRUNED = ("score_history", "score_history_lead", "runs", "outbox", "sqlite_autoindex_outbox_1", "outbox_pending",
          "outbox_pending_lead", "outbox_resent", "dead_letters")


class _SimulatedClock:
    """Stands in for the `time` module of the state operations: time() is the simulated moment."""

    now = AS_OF.timestamp()

    def time(self) -> float:
        return self.now


def simulate(db_path: Path, leads: int, days: int, active: float, seed: int = 5) -> dict[str, object]:
    from leadsync.core.config import ScoringSettings
    from leadsync.core.scoring import DEFAULT_SHEET, load_sheet, rescore
    from leadsync.core.state import activities, dead_letters, outbox, retention, runs
    from leadsync.core.state import leads as stored_leads
    from leadsync.core.state.store import StateStore

    settings = ScoringSettings()
    sheet = load_sheet(DEFAULT_SHEET, settings)
    store = StateStore(db_path)
    rescore(store, sheet, settings, AS_OF, full=True)
    start_bytes = retention.table_bytes(store.db)
    rng = random.Random(seed)
    counter = 0
    clock = _SimulatedClock()
    for module in (outbox, runs, dead_letters):  # their rows are stamped with the simulated day
        module.time = clock  # type: ignore[attr-defined]
    for day in range(1, days + 1):
        moment = AS_OF + timedelta(days=day)
        clock.now = moment.timestamp()
        chosen = rng.sample(range(leads), int(leads * active))
        keys = [f"lead{i}@example{i % 997}.co.jp" for i in chosen]
        with store.transaction() as db:
            run_id = runs.start(db)
            rows = []
            for key in keys:
                counter += 1
                kind = rng.choice(["web_visit", "email_open", "email_click", "content_download"])
                url = rng.choice(["https://example.jp/pricing", "https://example.jp/blog/a"]) if kind == "web_visit" else None
                rows.append(("ma", f"d{counter}", key, kind, moment.timestamp() - 3600, url,
                             json.dumps({"source_id": f"d{counter}", "connection": "ma", "lead_key": key, "type": kind})))
            activities.put_many(db, rows)
            stored_leads.mark_dirty_many(db, keys)
        result = rescore(store, sheet, settings, moment)
        with store.transaction() as db:
            for n, key in enumerate(result.changed):
                score_key = f"score:crm:{key}:{day}"
                outbox.enqueue(db, key=score_key, connection="crm", kind="score", lead_key=key,
                               payload={"email": key, "score": n, "segment": "warm", "fingerprint": f"{n}|warm|v"},
                               run_id=run_id)
                outbox.mark_done(db, score_key, None)
                if n % 50 == 0:
                    task_key = f"task:crm:{key}:{day}"
                    outbox.enqueue(db, key=task_key, connection="crm", kind="task", lead_key=key,
                                   payload={"subject": "Follow up", "lead": key}, run_id=run_id)
                    outbox.mark_done(db, task_key, f"T{day}-{n}")
            if day % 10 == 0:
                dead_key = f"score:crm:dead:{day}"
                outbox.enqueue(db, key=dead_key, connection="crm", kind="score", lead_key=keys[0], payload={}, run_id=run_id)
                outbox.mark_dead(db, dead_key, "INVALID_EMAIL: the vendor refused the record")
                dead_letters.add(db, run_id=run_id, connection="crm", kind="score", key=dead_key,
                                 reason="INVALID_EMAIL", payload={"email": keys[0]})
                for dead_id, *_ in dead_letters.unacknowledged(db, None):
                    outbox.requeue(db, dead_key)  # a person re-queued it; the next push acknowledged it
                    outbox.mark_done(db, dead_key, None)
                    dead_letters.acknowledge(db, dead_id)
            runs.finish(db, run_id, "ok", 0, {"scored": result.scored, "changed": len(result.changed),
                                              "pulled": {"ma": {"activities": len(keys)}}, "duration_s": 12.3})
    end = retention.table_bytes(store.db)
    rows_end = retention.counts(store.db)
    store.close()
    return {"start": start_bytes, "end": end, "rows": rows_end, "moment": (AS_OF + timedelta(days=days)).timestamp()}


def vacuum(db_path: Path, keep_days: int, now: float) -> dict[str, object]:
    from leadsync.core.state import retention
    from leadsync.core.state.store import StateStore

    store = StateStore(db_path)
    with store.transaction() as db:
        deleted = retention.prune(db, before=now - keep_days * 86400.0, reconcile_since=now - 86400.0)
    compacted = retention.compact(store.db)
    tables = retention.table_bytes(store.db)
    rows = retention.counts(store.db)
    store.close()
    return {"deleted": deleted.as_dict(), "bytes": compacted["bytes"], "tables": tables, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--activities-per-lead", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--active", type=float, default=0.02, help="share of leads with a new activity each day")
    parser.add_argument("--keep-days", type=int, default=180)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="leadsync-retention-"))
    db_path = workdir / "state.db"
    started = time.perf_counter()
    generate(db_path, args.leads, args.leads * args.activities_per_lead)
    grown = simulate(db_path, args.leads, args.days, args.active)
    mb = lambda tables, names: sum(tables.get(n, 0) for n in names) / 1e6  # noqa: E731
    start, end = grown["start"], grown["end"]
    print(f"{args.leads:,} leads, {args.days} daily runs, {args.active:.0%} of leads active a day "
          f"({time.perf_counter() - started:.0f} s)")
    for label, names in (("score history", ("score_history", "score_history_lead")), ("runs", ("runs",)),
                         ("outbox", ("outbox", "sqlite_autoindex_outbox_1", "outbox_pending", "outbox_pending_lead",
                                     "outbox_resent")), ("dead letters", ("dead_letters",)),
                         ("activities", ("activities", "sqlite_autoindex_activities_1", "activities_lead", "activities_kpi")),
                         ("scores", ("scores", "sqlite_autoindex_scores_1", "scores_next_change"))):
        grew = mb(end, names) - mb(start, names)
        print(f"  {label:<14} +{grew:8.1f} MB in {args.days} days ({grew * 1e6 / args.days / 1e3:,.1f} kB a day)")
    print(f"  rows at the end: {json.dumps(grown['rows'])}")
    total_end = sum(end.values())
    result = vacuum(db_path, args.keep_days, grown["moment"])
    print(f"file before vacuum {total_end / 1e6:,.1f} MB; `state vacuum` with keep_days {args.keep_days}: deleted "
          f"{json.dumps(result['deleted'])}; file after {result['bytes'] / 1e6:,.1f} MB; bookkeeping tables "
          f"{mb(end, PRUNED):,.1f} -> {mb(result['tables'], PRUNED):,.1f} MB")
    for path in workdir.iterdir():
        path.unlink()
    workdir.rmdir()


if __name__ == "__main__":
    main()
