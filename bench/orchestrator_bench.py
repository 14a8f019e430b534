"""Many projects: N projects, each against its own fake HubSpot portal, run serially and in parallel.

`python bench/orchestrator_bench.py --projects 8 --contacts 20000` starts N fake portals (each its
own process, seeded alike, with HubSpot's rate limits), writes one leadsync.toml per project, and
runs every project's first sync twice over, on fresh portals and state each time:

- serial: one process runs the projects one after another through `leadsync_dagster.run_project`
  (the engine `leadsync sync run` calls), as cron running them in a row would;
- parallel: Dagster's multiprocess executor materializes `leadsync_dagster.project_assets` (one
  asset per project, a process each, `max_concurrent` = N); without Dagster installed, a plain
  process pool runs `run_project` instead (the report says which).

Each project is bound by its own portal's rate limit, so N projects in parallel should take about
as long as one. The figures are wall times from the start of the worker process (interpreter and
imports included) to its end, and their ratio; every project's counts are checked.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accounting import Budget  # noqa: E402
from bench.fakeproc import REPO, bench_env, fake_process  # noqa: E402
from bench.hubspotfake import TOKEN, is_hot  # noqa: E402
from bench.machine import describe_machine  # noqa: E402

__all__ = ["bench_job", "run_many_projects", "write_projects"]

SHEET = Path(__file__).resolve().parent / "scoring-sheet.csv"
HUBSPOT_FAKE = "bench.hubspotfake:make_app"
_PROJECTS_ENV = "LEADSYNC_BENCH_PROJECTS"
_CONCURRENCY_ENV = "LEADSYNC_BENCH_CONCURRENCY"


def write_projects(root: Path, urls: list[str], budget: Budget) -> list[Path]:
    """One folder and leadsync.toml per portal (p01, p02, ...); returns the config paths."""
    configs = []
    for number, url in enumerate(urls, start=1):
        folder = root / f"p{number:02d}"
        folder.mkdir(parents=True)
        (folder / "leadsync.toml").write_text(f"""[state]
path = "state.db"

[scoring]
sheet = "{SHEET}"

[handoff]
owners = ["70001", "70002", "70003"]

[connections.hubspot]
plugin = "hubspot"
roles = ["leads", "activities", "scores", "tasks"]
base_url = "{url}"
requests_per_10s = {budget.per_10s}
search_per_second = {budget.search_per_s}
""", encoding="utf-8")
        (folder / ".env").write_text(f"LEADSYNC_CONNECTIONS__HUBSPOT__TOKEN={TOKEN}\n", encoding="utf-8")
        configs.append(folder / "leadsync.toml")
    return configs


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {"project": outcome.project.name, "exit_status": outcome.exit_status, "summary": outcome.summary}


def _run_one(config: str) -> dict[str, Any]:
    from leadsync_dagster.projects import projects_from
    from leadsync_dagster.runner import run_project

    (project,) = projects_from([config])
    return _outcome_json(run_project(project))


def bench_job() -> Any:
    """The Dagster job of the parallel mode, rebuilt from the environment in every step process."""
    import dagster as dg

    from leadsync_dagster import project_assets

    assets = project_assets(json.loads(os.environ[_PROJECTS_ENV]), retries=0)
    executor = dg.multiprocess_executor.configured({"max_concurrent": int(os.environ[_CONCURRENCY_ENV])})
    defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("leadsync_bench", selection=assets)],
                          executor=executor)
    return defs.resolve_job_def("leadsync_bench")


def _run_dagster(configs: list[str], concurrency: int) -> list[dict[str, Any]]:
    import dagster as dg

    os.environ[_PROJECTS_ENV] = json.dumps(configs)
    os.environ[_CONCURRENCY_ENV] = str(concurrency)
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-dagster-") as home:
        with dg.DagsterInstance.local_temp(home) as instance:
            with dg.execute_job(dg.reconstructable(bench_job), instance=instance, raise_on_error=False) as result:
                failures = {e.step_key: e for e in result.get_step_failure_events()}
                outcomes = []
                for config in configs:
                    name = Path(config).parent.name
                    key = f"leadsync_{name}"
                    if key in failures:
                        data = failures[key].step_failure_data.user_failure_data
                        meta = data.metadata if data else {}
                    else:
                        (event,) = result.asset_materializations_for_node(key)
                        meta = event.metadata
                    summary = meta["summary"].value if "summary" in meta else {}
                    outcomes.append({"project": name, "exit_status": summary.get("exit_status", -1), "summary": summary})
    return outcomes


def _worker(mode: str, configs: list[str], concurrency: int) -> dict[str, Any]:
    started = time.monotonic()
    if mode == "serial":
        outcomes, executor = [_run_one(c) for c in configs], "one process, projects in a row"
    elif mode == "dagster":
        outcomes, executor = _run_dagster(configs, concurrency), f"dagster multiprocess executor, max_concurrent={concurrency}"
    else:
        with ProcessPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(_run_one, configs))
        executor = f"process pool, {concurrency} workers"
    return {"mode": mode, "executor": executor, "worker_seconds": time.monotonic() - started, "outcomes": outcomes}


def _start_portals(count: int, contacts: int, activities: int, latency: float, budget: Budget,
                   stack: ExitStack) -> list[str]:
    env = {"BENCH_CONTACTS": str(contacts), "BENCH_ACTIVITIES": str(activities),
           "BENCH_PER_10S": str(budget.per_10s), "BENCH_SEARCH_PER_S": str(budget.search_per_s)}  # fmt: skip
    with ThreadPoolExecutor(max_workers=count) as pool:  # seeding is the slow part: start them together
        contexts = list(pool.map(lambda _: fake_process(HUBSPOT_FAKE, latency=latency, env=env), range(count)))
        servers = list(pool.map(lambda c: c.__enter__(), contexts))
    for context in contexts:
        stack.push(context.__exit__)  # stopped on exit, each
    return [server.url for server in servers]


def _run_mode(mode: str, projects: int, contacts: int, activities: int, latency: float, budget: Budget,
              timeout: float) -> dict[str, Any]:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="leadsync-bench-orch-") as root:
        urls = _start_portals(projects, contacts, activities, latency, budget, stack)
        configs = [str(c) for c in write_projects(Path(root), urls, budget)]
        command = [sys.executable, "-m", "bench.orchestrator_bench", "--worker", mode,
                   "--concurrency", str(projects), *configs]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=bench_env(), cwd=REPO, timeout=timeout)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            raise RuntimeError(f"{mode} worker failed (exit {done.returncode}): " + " | ".join(tail))
        result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "seconds": seconds}


def run_many_projects(projects: int = 8, contacts: int = 20_000, activities: int = 20_000, *, latency: float = 0.030,
                      budget: Budget = Budget(190, 5), parallel: str | None = None, serial_too: bool = True,
                      timeout: float = 5400.0) -> dict[str, Any]:
    """Both modes on fresh portals and state; `parallel` is "dagster" or "pool" (default: dagster if
    installed); `serial_too=False` runs the parallel mode only (no ratio)."""
    if parallel is None:
        parallel = "dagster" if importlib.util.find_spec("dagster") else "pool"
    modes = ("serial", parallel) if serial_too else (parallel,)
    runs = {mode: _run_mode(mode, projects, contacts, activities, latency, budget, timeout) for mode in modes}
    serial, concurrent = runs.get("serial"), runs[parallel]
    return {
        "projects": projects, "contacts": contacts, "activities": activities, "latency_s": latency,
        "budget": {"per_10s": budget.per_10s, "search_per_s": budget.search_per_s},
        "hot_per_project": sum(is_hot(i) for i in range(contacts)),
        "serial": serial, "parallel": concurrent,
        "ratio": serial["seconds"] / concurrent["seconds"] if serial and concurrent["seconds"] else None,
    }  # fmt: skip


def render(result: dict[str, Any], machine: dict[str, Any]) -> str:
    """The figures as a markdown table."""
    lines = [f"{result['projects']} projects x {result['contacts']:,} contacts / {result['activities']:,} activities, "
             f"each against its own portal ({result['budget']['per_10s']} requests per 10 s, search "
             f"{result['budget']['search_per_s']}/s, {result['latency_s'] * 1000:.0f} ms latency); "
             f"machine: {machine.get('cores')} cores, load {machine.get('load_average')}",
             "", "| mode | executor | wall time (s) | projects exit 0 | tasks created | scores pushed |",
             "|---|---|---|---|---|---|"]
    for key in ("serial", "parallel"):
        run = result[key]
        if run is None:
            continue
        ok = sum(o["exit_status"] == 0 for o in run["outcomes"])
        tasks = sum(o["summary"].get("tasks_created", 0) for o in run["outcomes"])
        scores = sum(o["summary"].get("scores_pushed", 0) for o in run["outcomes"])
        lines.append(f"| {key} | {run['executor']} | {run['seconds']:.1f} | {ok}/{result['projects']} | {tasks:,} | {scores:,} |")
    if result["ratio"] is not None:
        lines += ["", f"serial / parallel wall time: **{result['ratio']:.2f}x**"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--activities", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--per-10s", type=int, default=190)
    parser.add_argument("--search-per-s", type=int, default=5)
    parser.add_argument("--parallel", choices=("dagster", "pool"), help="default: dagster if installed, else pool")
    parser.add_argument("--no-serial", action="store_true", help="run the parallel mode only")
    parser.add_argument("--out", type=Path, help="also write the JSON figures here")
    parser.add_argument("--worker", choices=("serial", "dagster", "pool"), help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("configs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.configs, args.concurrency), default=str), flush=True)
        return 0
    result = run_many_projects(args.projects, args.contacts, args.activities, latency=args.latency_ms / 1000,
                               budget=Budget(args.per_10s, args.search_per_s), parallel=args.parallel,
                               serial_too=not args.no_serial)
    machine = describe_machine()
    print(render(result, machine))
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, **result}, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
