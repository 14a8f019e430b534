"""Profile the steps a first sync runs after its pull (score, hand off, score-push planning), CPU clock.

    .venv/bin/python -m bench.profile_after_pull --contacts 100000 --activities 500000 [--top 25]

The state store after the pull is built once by a fast pull with no rate limit (kept in
`--cache DIR`, default /tmp/leadsync-after-pull-<sizes>) and every profile runs on a copy of it, so
each step is timed on the same data. The fake stays up for the hand-off's owner look-up; nothing is
sent (the push's planning is profiled, not its requests).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.fakeproc import fake_process
from bench.hubspotfake import TOKEN
from bench.sync_bench import HUBSPOT_FAKE, SHEET

STEPS = ("score", "hand_off", "plan_push")


def _settings(url: str, state: Path) -> Any:
    from leadsync.core.config import Settings

    return Settings(
        state={"path": str(state)},
        scoring={"sheet": str(SHEET)},
        handoff={"owners": ["70001", "70002", "70003"]},
        connections={"hubspot": {"plugin": "hubspot", "roles": ["leads", "activities", "scores", "tasks"],
                                 "token": TOKEN, "base_url": url}},
    )  # fmt: skip


def _run(url: str, state: Path) -> Any:
    """An engine Run on `state` with unlimited clients (the fake has no limit either) and writes off."""
    from leadsync.connectors.plugins import get_plugin_host
    from leadsync.core import scoring
    from leadsync.core.state.store import StateStore
    from leadsync.core.sync import engine
    from leadsync.core.sync.connections import open_connections, task_connection

    settings = _settings(url, state)
    host = get_plugin_host()
    connectors = open_connections(settings, host)
    for connector in connectors.values():
        connector.client.limiter = None  # type: ignore[attr-defined]
    sheet = scoring.load_sheet(settings.sheet_path, settings.scoring, scoring.scoring_conditions(host))
    now = datetime.now(timezone.utc)
    store = StateStore(settings.state_path)
    return engine.Run(store, settings, host, engine.RunOptions(), engine.RunSummary(run_id=1), connectors, sheet,
                      task_connection(settings), as_of=now, now=now)


def build(url: str, target: Path) -> float:
    """Pull everything into `target` (a fresh store); seconds taken."""
    from leadsync.core.state import runs

    started = time.perf_counter()
    run = _run(url, target)
    with run.store.transaction() as db:
        run.summary.run_id = runs.start(db)
    run.pull()
    if run.summary.failures:
        raise RuntimeError(f"pull failed: {run.summary.failures}")
    run.store.close()
    return time.perf_counter() - started


def profile_steps(url: str, base: Path, steps: tuple[str, ...], top: int, out: Path | None) -> dict[str, float]:
    """Run `steps` in order on a copy of `base`; CPU seconds per step, one cProfile over all of them."""
    workdir = Path(tempfile.mkdtemp(prefix="leadsync-after-pull-"))
    try:
        shutil.copy(base, workdir / "state.db")
        run = _run(url, workdir / "state.db")
        profiler = cProfile.Profile(time.process_time)
        seconds: dict[str, float] = {}
        for step in steps:
            cpu, wall = time.process_time(), time.perf_counter()
            profiler.enable()
            if step == "plan_push":
                run.options.dry_run = True  # plan the score writes, send nothing
                run.push()
            else:
                getattr(run, step)()
            profiler.disable()
            seconds[step] = time.process_time() - cpu
            seconds[step + "_wall"] = time.perf_counter() - wall
        summary = run.summary
        print(f"scored {summary.scored:,}, tasks planned {summary.tasks_planned:,}, "
              f"scores planned {summary.scores_planned:,}")
        run.store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    stats = pstats.Stats(profiler)
    if out:
        stats.dump_stats(out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=500_000)
    parser.add_argument("--cache", type=Path, default=None, help="where the pulled store is kept between runs")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, in order, of {STEPS}")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="write the cProfile stats here")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.gettempdir()) / f"leadsync-after-pull-{args.contacts}-{args.activities}"
    cache.mkdir(parents=True, exist_ok=True)
    base = cache / "pulled.db"
    env = {"BENCH_CONTACTS": str(args.contacts), "BENCH_ACTIVITIES": str(args.activities), "BENCH_PER_10S": "0"}
    with fake_process(HUBSPOT_FAKE, latency=0.0, env=env) as server:
        if not base.exists():
            partial = cache / "pulling.db"
            partial.unlink(missing_ok=True)
            print(f"pulled the store in {build(server.url, partial):.1f} s")
            partial.rename(base)
        steps = tuple(s for s in args.steps.split(",") if s)
        seconds = profile_steps(server.url, base, steps, args.top, args.out)
    print("CPU seconds per step (wall in brackets): " + ", ".join(
        f"{s} {seconds[s]:.2f} ({seconds[s + '_wall']:.2f})" for s in steps))


if __name__ == "__main__":
    main()
