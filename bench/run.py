"""leadsync benchmarks: `python bench/run.py [--quick]` prints and writes bench/results/latest.md.

(a) a first sync against a HubSpot-shaped fake under its rate limits, (b) a rerun with nothing
changed, (c) the scoring helper's full and incremental rescore, (d) the same contacts pulled by
leadsync, dlt (fetch-only and into duckdb) and a bare httpx loop. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accounting import Budget  # noqa: E402
from bench.machine import describe_machine  # noqa: E402
from bench.pull_bench import run_pull_comparison  # noqa: E402
from bench.report import render  # noqa: E402
from bench.scoring_figures import run_scoring_bench  # noqa: E402
from bench.sync_bench import run_sync_scenario  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("sync", "scoring", "pull")
SIZES = {  # contacts, activities, contacts for the pull comparison
    "full": (100_000, 500_000, 100_000),
    "quick": (10_000, 50_000, 10_000),
}


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 contacts / 50,000 activities / 100k-lead scoring")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--contacts", type=int, help="contacts in the fake (default 100,000; quick 10,000)")
    parser.add_argument("--activities", type=int, help="activities in the fake (default 500,000; quick 50,000)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="the fake's latency per request")
    parser.add_argument("--per-10s", type=int, default=190, help="default-bucket limit (HubSpot Pro/Enterprise: 190)")
    parser.add_argument("--search-per-s", type=int, default=5, help="search limit (HubSpot: 5 per second)")
    parser.add_argument("--pull-latencies-ms", default=None,
                        help="latencies of the pull comparison (d), comma-separated; 0 makes it CPU-bound "
                             "(default: 30,0; quick: 30)")  # fmt: skip
    parser.add_argument("--render", type=Path, metavar="JSON", help="only re-render a results JSON as markdown")
    parser.add_argument("--profile-dir", type=Path, help="write cProfile stats of the leadsync runs of (a)/(b) here")
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME",
                        help="what-if patch of the leadsync side, see bench/experiments.py (off by default)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.md")
    args = parser.parse_args(argv)

    if args.render:
        report = render(json.loads(args.render.read_text(encoding="utf-8")))
        args.out.write_text(report, encoding="utf-8")
        print(report)
        return 0
    mode = "quick" if args.quick else "full"
    latencies = args.pull_latencies_ms or ("30" if args.quick else "30,0")
    contacts, activities, pull_contacts = SIZES[mode]
    contacts = args.contacts or contacts
    activities = args.activities if args.activities is not None else activities
    pull_contacts = args.contacts or pull_contacts
    parts = args.only or list(PARTS)
    started = time.perf_counter()
    results: dict = {
        "mode": mode,
        "command": "python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
    }
    if "sync" in parts:
        _log(f"(a)/(b) sync: {contacts:,} contacts, {activities:,} activities, {args.per_10s}/10 s, {args.search_per_s} searches/s")
        if args.profile_dir:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
        results["sync"] = run_sync_scenario(
            contacts, activities, latency=args.latency_ms / 1000, budget=Budget(args.per_10s, args.search_per_s),
            profile_dir=args.profile_dir, experiments=tuple(args.experiment),
        )  # fmt: skip
    if "scoring" in parts:
        _log("(c) scoring: bench/scoring_bench.py" + (" --quick" if args.quick else ""))
        results["scoring"] = run_scoring_bench(args.quick)
    if "pull" in parts:
        results["pull"] = []
        for latency_ms in (float(x) for x in latencies.split(",") if x.strip()):
            _log(f"(d) pull comparison: {pull_contacts:,} contacts, {latency_ms:.0f} ms latency")
            results["pull"].append(
                run_pull_comparison(pull_contacts, latency=latency_ms / 1000, experiments=tuple(args.experiment))
            )
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report = render(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(report)
    _log(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
