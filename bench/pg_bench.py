"""Full rescore on PostgreSQL against SQLite: the same synthetic leads and activities in both.

    LEADSYNC_BENCH_PG_URL=postgresql://... python bench/pg_bench.py                 # 1,000,000 leads, 2,000,000 activities
    LEADSYNC_BENCH_PG_URL=postgresql://... python bench/pg_bench.py --leads 100000  # quicker

Each backend gets the same generated rows (bench/scoring_bench.py's generator, written through the
state layer's operations); then a full rescore runs in a child process per backend (time, peak
RSS, counts). The PostgreSQL project is a throw-away schema, dropped at the end unless --keep.
Figures: bench/README.md, "PostgreSQL state store".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scoring_bench import AS_OF, activity_rows, lead_rows  # noqa: E402


def _target(backend: str, where: str) -> Any:
    from leadsync.core.state.target import StateTarget

    if backend == "sqlite":
        return StateTarget(path=Path(where))
    url, project = where.rsplit("#", 1)
    return StateTarget(path=Path("unused"), url=url, project=project)


def generate(target: Any, leads: int, activities: int, seed: int = 7) -> None:
    """`leads` leads and `activities` activities, all dirty, through leads.put_many / activities.put_many."""
    from leadsync.core.state import activities as stored_activities
    from leadsync.core.state import leads as stored_leads
    from leadsync.core.state.target import open_store

    store = open_store(target)
    rng = random.Random(seed)
    now = AS_OF.timestamp()
    for rows in lead_rows(rng, leads, now, 50_000):
        with store.transaction() as db:
            stored_leads.put_many(db, rows)
    for rows in activity_rows(rng, leads, activities, now, 100_000):
        with store.transaction() as db:
            stored_activities.put_many(db, rows)
    store.close()


def full_rescore(target: Any) -> dict[str, Any]:
    """A full rescore of the store: seconds, peak RSS, leads scored and changed, hot leads."""
    from leadsync.core.config import ScoringSettings
    from leadsync.core.scoring import DEFAULT_SHEET, load_sheet, rescore
    from leadsync.core.state import scores
    from leadsync.core.state.target import open_store

    settings = ScoringSettings()
    sheet = load_sheet(DEFAULT_SHEET, settings)
    store = open_store(target)
    started = time.perf_counter()
    result = rescore(store, sheet, settings, AS_OF, full=True)
    elapsed = time.perf_counter() - started
    hot = len(scores.hot(store.db))
    store.close()
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "scored": result.scored, "changed": len(result.changed), "hot": hot}


def _child(backend: str, where: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--phase", backend, "--where", where], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(url: str, leads: int, activities: int, *, keep: bool = False) -> dict[str, Any]:
    """Generate the same data on both backends and run a full rescore on each (in child processes)."""
    from leadsync.core.state.projects import drop_project

    workdir = Path(tempfile.mkdtemp(prefix="leadsync-pgbench-"))
    project = f"bench_{uuid.uuid4().hex[:8]}"
    where = {"sqlite": str(workdir / "state.db"), "postgresql": f"{url}#{project}"}
    out: dict[str, Any] = {"leads": leads, "activities": activities}
    try:
        for backend in ("sqlite", "postgresql"):
            started = time.perf_counter()
            generate(_target(backend, where[backend]), leads, activities)
            out[backend] = {"generate_s": round(time.perf_counter() - started, 1), **_child(backend, where[backend])}
    finally:
        if not keep:
            drop_project(_target("postgresql", where["postgresql"]))
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, help="default: twice the leads")
    parser.add_argument("--url", default=os.environ.get("LEADSYNC_BENCH_PG_URL") or os.environ.get("LEADSYNC_TEST_PG_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the generated stores")
    parser.add_argument("--phase", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(full_rescore(_target(args.phase, args.where))))
        return
    if not args.url:
        parser.error("set LEADSYNC_BENCH_PG_URL (or --url) to a PostgreSQL database the bench may create schemas in")
    result = compare(args.url, args.leads, args.activities or 2 * args.leads, keep=args.keep)
    print(json.dumps(result, indent=2))
    base = result["sqlite"]["seconds"]
    for backend in ("sqlite", "postgresql"):
        r = result[backend]
        print(f"{backend:10} generate {r['generate_s']:7.1f} s  full rescore {r['seconds']:7.2f} s "
              f"({r['seconds'] / base:.2f}x)  peak RSS {r['peak_rss_mb']:5} MB  scored {r['scored']:,}  hot {r['hot']:,}")


if __name__ == "__main__":
    main()
