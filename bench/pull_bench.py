"""(d) The same contacts pulled by leadsync, dlt (fetch-only and into duckdb) and a bare httpx loop."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fakeproc import REPO, bench_env, fake_process, fetch_log

__all__ = ["CONTENDER_ORDER", "LIST_FAKE", "run_pull_comparison"]

CONTENDER_ORDER = ("bare_httpx", "leadsync", "dlt_fetch", "dlt_duckdb")
LIST_FAKE = "bench.hubspotfake:make_app"


def _run_one(name: str, url: str, workdir: Path, timeout: float, experiments: tuple[str, ...] = ()) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.contenders", name, "--url", url, "--workdir", str(workdir)]
    if name == "leadsync":  # what-if patches change leadsync only
        for experiment in experiments:
            command += ["--experiment", experiment]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=bench_env(), cwd=REPO, timeout=timeout)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"contender {name} failed (exit {completed.returncode}): " + " | ".join(tail))
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    # Interpreter start, imports and the pull: what a scheduled job pays each run.
    result["process_seconds"] = elapsed
    return result


def run_pull_comparison(
    contacts: int,
    *,
    latency: float,
    contenders: tuple[str, ...] = CONTENDER_ORDER,
    app: str = LIST_FAKE,
    app_env: dict[str, str] | None = None,
    timeout: float = 900.0,
    experiments: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Pull `contacts` contacts with each contender, one subprocess each, against one fake process.

    Returns {"contacts", "latency_s", "results": {name: {records, requests, seconds,
    records_per_s, peak_rss_mib, ...}}}. Request counts come from the fake's own log.
    """
    env = {"BENCH_CONTACTS": str(contacts), "BENCH_ACTIVITIES": "0", "BENCH_PER_10S": "0", **(app_env or {})}
    results: dict[str, dict[str, Any]] = {}
    with fake_process(app, latency=latency, env=env) as server:
        for name in contenders:
            before = len(fetch_log(server.url))
            workdir = Path(tempfile.mkdtemp(prefix=f"leadsync-bench-{name}-"))
            try:
                result = _run_one(name, server.url, workdir, timeout, experiments)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            result["requests"] = len(fetch_log(server.url)) - before
            result["records_per_s"] = result["records"] / result["seconds"] if result["seconds"] else 0.0
            results[name] = result
    return {"contacts": contacts, "latency_s": latency, "results": results, "experiments": list(experiments)}
