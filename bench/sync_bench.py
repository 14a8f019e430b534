"""(a) and (b): full `leadsync sync run`s against the HubSpot-shaped fake under its rate limits.

The runner (`python -m bench.sync_bench --url URL --state-dir DIR ...`) is one engine run in its own
process, so its peak RSS is its own; `run_sync_scenario` starts the fake in another process, runs
leadsync twice (first sync, then nothing changed upstream) and reads the fake's request log.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.accounting import Budget, bucket_minimum, bucket_phases, minimum_requests, summarize_requests
from bench.fakeproc import REPO, bench_env, fake_process, fetch_log
from bench.hubspotfake import TOKEN

__all__ = ["SHEET", "analyse_run", "run_engine", "run_sync_scenario"]

SHEET = Path(__file__).resolve().parent / "scoring-sheet.csv"
HUBSPOT_FAKE = "bench.hubspotfake:make_app"


def run_engine(
    url: str, state_dir: Path, budget: Budget, experiments: tuple[str, ...] = (), *, learn: bool = False
) -> dict[str, Any]:
    """One `run_sync` in this process against `url`; its summary, seconds, peak RSS and stage times.

    With `learn`, the connection sets no rate at all (as a leadsync.toml without `requests_per_10s`):
    leadsync starts at HubSpot's conservative default and adopts what the fake announces.

    `stages` maps each progress label ("pull hubspot/leads", "push") to [first, last] monotonic
    times of the engine's progress reports.
    """
    from leadsync.connectors.plugins import get_plugin_host
    from leadsync.core.config import Settings
    from leadsync.core.sync.engine import RunOptions, run_sync

    from bench.experiments import apply_experiments, prepare_state

    apply_experiments(list(experiments))
    prepare_state(state_dir / "state.db", list(experiments))

    rates = {} if learn else {"requests_per_10s": budget.per_10s, "search_per_second": budget.search_per_s}
    settings = Settings(
        state={"path": str(state_dir / "state.db")},
        scoring={"sheet": str(SHEET)},
        handoff={"owners": ["70001", "70002", "70003"]},
        connections={
            "hubspot": {
                "plugin": "hubspot",
                "roles": ["leads", "activities", "scores", "tasks"],
                "token": TOKEN,
                "base_url": url,
                **rates,
            }
        },
    )
    host = get_plugin_host()
    stages: dict[str, list[float]] = {}

    def progress(label: str, advance: int) -> None:
        now = time.monotonic()
        stages.setdefault(label, [now, now])[1] = now

    started = time.monotonic()
    summary = run_sync(settings, host, RunOptions(progress=progress))
    finished = time.monotonic()
    return {
        "summary": summary.to_json(),
        "seconds": finished - started,
        "started": started,
        "finished": finished,
        "stages": stages,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_subprocess(
    url: str, state_dir: Path, budget: Budget, timeout: float, profile: Path | None, experiments: tuple[str, ...],
    learn: bool = False,
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.sync_bench", "--url", url, "--state-dir", str(state_dir),
               "--per-10s", str(budget.per_10s), "--search-per-s", str(budget.search_per_s)]  # fmt: skip
    if learn:
        command.append("--learn")
    for name in experiments:
        command += ["--experiment", name]
    if profile is not None:
        command += ["--profile", str(profile)]
    completed = subprocess.run(command, capture_output=True, text=True, env=bench_env(), cwd=REPO, timeout=timeout)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-8:]
        raise RuntimeError(f"leadsync run failed (exit {completed.returncode}): " + " | ".join(tail))
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _timeline(run: dict[str, Any]) -> dict[str, float]:
    """Seconds the engine spent pulling, then scoring and handing off, then pushing (client clock)."""
    pulls = [times for label, times in run["stages"].items() if label.startswith("pull ")]
    pull_end = max((t[1] for t in pulls), default=run["started"])
    push = run["stages"].get("push")
    # The push reports after each batch; its first batch started right after planning ended.
    push_start = push[0] if push else run["finished"]
    return {"pull_s": pull_end - run["started"], "score_handoff_s": max(0.0, push_start - pull_end) if push else run["finished"] - pull_end,
            "push_s": run["finished"] - push_start if push else 0.0, "pull_end": pull_end}  # fmt: skip


def analyse_run(
    run: dict[str, Any], log: list[list[Any]], budget: Budget, latency: float, *, first_sync: bool,
    clock_offset: float | None = None,
) -> dict[str, Any]:
    """Per-phase requests against the minimums and rates; the run's totals and ratios.

    `clock_offset` is the fake server's start on the monotonic clock (log time + offset = client time).
    """
    summary = run["summary"]
    timeline = _timeline(run) if "stages" in run else None
    pulled = summary["pulled"].get("hubspot", {})
    minimum = minimum_requests(pulled, scores=summary["scores_pushed"], tasks=summary["tasks_created"], first_sync=first_sync,
                               budget=budget)
    rows = []
    bound_min_s = bound_s = 0.0
    pull_end = timeline["pull_end"] - clock_offset if timeline and clock_offset is not None else None
    by_bucket = bucket_minimum(minimum)
    for phase in bucket_phases(log, pull_end=pull_end):
        bucket, min_s = phase.binding(budget)
        duration = phase.duration(latency)
        bound = phase.rate_bound(budget)
        if bound:
            bound_min_s += min_s
            bound_s += duration
        wanted = by_bucket.get(phase.name, {})
        rows.append({
            "name": phase.name, "counts": phase.counts, "kinds": phase.kinds, "duration_s": duration,
            "binding": bucket, "rate_ratio": min_s / duration if duration > 0 else None, "rate_bound": bound,
            "requests": sum(phase.counts.values()), "minimum": sum(wanted.values()),
        })  # fmt: skip
    # The announced budget alone: phases bound by the ten-secondly bucket (HubSpot's -Max per -Interval).
    default_rows = [r for r in rows if r["rate_bound"] and r["binding"] == "default" and r["duration_s"] > 0]
    default_need = sum(r["rate_ratio"] * r["duration_s"] for r in default_rows)
    default_took = sum(r["duration_s"] for r in default_rows)
    min_default = sum(m.get("default", 0) for m in minimum.values())
    min_search = sum(m.get("search", 0) for m in minimum.values())
    requests = summarize_requests(log)
    records = sum(pulled.values()) + summary["scores_pushed"] + summary["tasks_created"]
    minimum_total = min_default + min_search
    return {
        **run,
        "requests": requests,
        "records": records,
        "phases": rows,
        "minimum": minimum,
        "minimum_total": minimum_total,
        # The vendor's floor: each bucket's minimum requests at its allowed rate, buckets in parallel.
        "theoretical_min_s": max(min_default / budget.rate("default"), min_search / budget.rate("search")),
        "rate_ratio": bound_min_s / bound_s if bound_s else None,
        "announced_rate_ratio": default_need / default_took if default_took else None,
        "request_ratio": requests["total"] / minimum_total if minimum_total else None,
        "timeline": timeline,
    }


def run_sync_scenario(
    contacts: int,
    activities: int,
    *,
    latency: float = 0.030,
    budget: Budget = Budget(190, 5),
    timeout: float = 5400.0,
    profile_dir: Path | None = None,
    experiments: tuple[str, ...] = (),
    learn: bool = False,
) -> dict[str, Any]:
    """(a) a first sync of `contacts`/`activities` under `budget`, then (b) a rerun with nothing changed.

    `learn`: leadsync is given no rate; the fake announces `budget` in HubSpot's headers."""
    env = {"BENCH_CONTACTS": str(contacts), "BENCH_ACTIVITIES": str(activities),
           "BENCH_PER_10S": str(budget.per_10s), "BENCH_SEARCH_PER_S": str(budget.search_per_s)}  # fmt: skip
    state_dir = Path(tempfile.mkdtemp(prefix="leadsync-bench-sync-"))
    clock_file = state_dir / "fake-clock"
    env["BENCH_CLOCK_FILE"] = str(clock_file)
    profile = (lambda name: profile_dir / f"{name}.pstats") if profile_dir else (lambda name: None)
    try:
        with fake_process(HUBSPOT_FAKE, latency=latency, env=env) as server:
            clock_offset = float(clock_file.read_text(encoding="utf-8"))
            first = _run_subprocess(server.url, state_dir, budget, timeout, profile("first_sync"), experiments, learn)
            log_first = fetch_log(server.url)
            second = _run_subprocess(server.url, state_dir, budget, timeout, profile("no_change"), experiments, learn)
            log_second = fetch_log(server.url)[len(log_first):]
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return {
        "contacts": contacts,
        "activities": activities,
        "latency_s": latency,
        "budget": {"per_10s": budget.per_10s, "search_per_s": budget.search_per_s},
        "experiments": list(experiments),
        "learned": learn,
        "first_sync": analyse_run(first, log_first, budget, latency, first_sync=True, clock_offset=clock_offset),
        "no_change": analyse_run(second, log_second, budget, latency, first_sync=False, clock_offset=clock_offset),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One leadsync sync run against a fake HubSpot (bench worker).")
    parser.add_argument("--url", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--per-10s", type=int, default=190)
    parser.add_argument("--search-per-s", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    parser.add_argument("--experiment", action="append", default=[], help="a what-if patch (bench/experiments.py)")
    parser.add_argument("--learn", action="store_true", help="set no rate: adopt the budget the fake announces")
    args = parser.parse_args(argv)
    budget = Budget(args.per_10s, args.search_per_s)
    experiments = tuple(args.experiment)
    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run_engine, args.url, args.state_dir, budget, experiments, learn=args.learn)
        profiler.dump_stats(args.profile)
    else:
        result = run_engine(args.url, args.state_dir, budget, experiments, learn=args.learn)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
