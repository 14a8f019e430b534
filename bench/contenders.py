"""The pull contenders of the side-by-side (d), each run alone in a subprocess for its own peak RSS.

`python -m bench.contenders NAME --url URL --workdir DIR` prints one JSON line: records read or
stored, seconds of work (after imports) and the process's peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CONTACT_PROPERTIES", "CONTENDERS", "LIST_PATH", "run_contender"]

LIST_PATH = "/crm/v3/objects/contacts"
TOKEN = "pat-fake-token"  # bench.hubspotfake.TOKEN
PAGE = 100  # the HubSpot list API's maximum


# What leadsync's HubSpot connector asks for, so every contender moves the same bytes.
CONTACT_PROPERTIES = (
    "company", "createdate", "email", "firstname", "hs_analytics_source", "hs_lead_status",
    "hubspot_owner_id", "industry", "jobtitle", "lastmodifieddate", "lastname", "numemployees", "phone",
)  # fmt: skip


def _properties() -> str:
    return ",".join(CONTACT_PROPERTIES)


def bare_httpx(url: str, workdir: Path) -> dict[str, Any]:
    """The ceiling: an httpx keep-alive paging loop that only parses the JSON and counts."""
    import httpx

    records = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        after: str | None = None
        while True:
            params = {"limit": PAGE, "properties": _properties()}
            if after:
                params["after"] = after
            response = client.get(LIST_PATH, params=params)
            response.raise_for_status()
            payload = response.json()
            records += len(payload["results"])
            after = ((payload.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return {"records": records}


def leadsync_pull(url: str, workdir: Path) -> dict[str, Any]:
    """leadsync's full pull: the HubSpot connector's contacts stream through the engine's ingest into a StateStore."""
    from datetime import datetime, timezone

    from leadsync.connectors.plugins import get_plugin_host
    from leadsync.core.config import Settings
    from leadsync.core.state import leads
    from leadsync.core.state.store import StateStore
    from leadsync.core.sync import engine
    from leadsync.core.sync.connections import open_connections

    settings = Settings(
        state={"path": str(workdir / "state.db")},
        connections={"hubspot": {"plugin": "hubspot", "roles": ["leads"], "token": TOKEN, "base_url": url}},
    )
    host = get_plugin_host()
    connectors = open_connections(settings, host)
    for connector in connectors.values():
        # The comparison is without a rate limit: drop the client-side HubSpot budget too.
        connector.client.limiter = None  # type: ignore[attr-defined]
    store = StateStore(settings.state_path)
    summary = engine.RunSummary()
    try:
        now = datetime.now(timezone.utc)
        engine.Run(store, settings, host, engine.RunOptions(), summary, connectors, sheet=None, tasks_to=None,
                   as_of=now, now=now).pull()
        if summary.failures:
            raise RuntimeError(f"leadsync pull failed: {summary.failures}")
        stored = leads.count(store.db)
    finally:
        store.close()
        for connector in connectors.values():
            connector.close()
    return {"records": stored, "pulled": summary.pulled["hubspot"]["leads"]}


def _dlt_source(url: str) -> Any:
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(
        {
            "client": {"base_url": url, "auth": {"type": "bearer", "token": TOKEN}},
            "resources": [
                {
                    "name": "contacts",
                    "endpoint": {
                        "path": LIST_PATH.lstrip("/"),
                        "params": {"limit": PAGE, "properties": _properties()},
                        "data_selector": "results",
                        "paginator": {"type": "cursor", "cursor_path": "paging.next.after", "cursor_param": "after"},
                    },
                }
            ],
        }
    )


def dlt_fetch(url: str, workdir: Path) -> dict[str, Any]:
    """dlt's rest_api source iterated without a pipeline: fetch and parse only."""
    records = 0
    for item in _dlt_source(url).resources["contacts"]:
        records += len(item) if isinstance(item, list) else 1
    return {"records": records}


def dlt_duckdb(url: str, workdir: Path) -> dict[str, Any]:
    """dlt's rest_api source in a pipeline into duckdb, loader file format parquet."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench_contacts",
        destination=dlt.destinations.duckdb(str(workdir / "dlt.duckdb")),
        dataset_name="hubspot",
        pipelines_dir=str(workdir / "dlt_pipelines"),
    )
    pipeline.run(_dlt_source(url), loader_file_format="parquet")
    with pipeline.sql_client() as client:
        stored = client.execute_sql("SELECT count(*) FROM contacts")[0][0]
    return {"records": int(stored), "loader_file_format": "parquet"}


CONTENDERS: dict[str, Callable[[str, Path], dict[str, Any]]] = {
    "bare_httpx": bare_httpx,
    "leadsync": leadsync_pull,
    "dlt_fetch": dlt_fetch,
    "dlt_duckdb": dlt_duckdb,
}


# Imported before the clock starts, so `seconds` is the pull itself (process_seconds includes them).
PRELOAD = {
    "bare_httpx": ("httpx",),
    "leadsync": ("leadsync.connectors.plugins", "leadsync.core.config", "leadsync.core.state.store",
                 "leadsync.core.sync.engine", "leadsync.core.sync.connections"),
    "dlt_fetch": ("dlt", "dlt.sources.rest_api"),
    "dlt_duckdb": ("dlt", "dlt.sources.rest_api", "dlt.destinations"),
}  # fmt: skip


def run_contender(name: str, url: str, workdir: Path) -> dict[str, Any]:
    """Run one contender in this process; add its work seconds, process seconds and peak RSS."""
    import importlib

    func = CONTENDERS[name]
    workdir.mkdir(parents=True, exist_ok=True)
    for module in PRELOAD.get(name, ()):
        importlib.import_module(module)
    started, cpu = time.perf_counter(), time.process_time()
    result = func(url, workdir)
    result["seconds"] = time.perf_counter() - started
    # CPU of every thread of the pull: steadier than wall time on a shared machine.
    result["cpu_seconds"] = time.process_time() - cpu
    # Linux reports ru_maxrss in KiB.
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["contender"] = name
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--experiment", action="append", default=[], help="a what-if patch (bench/experiments.py)")
    args = parser.parse_args(argv)
    if args.experiment:
        from bench.experiments import apply_experiments

        apply_experiments(args.experiment)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    print(json.dumps(run_contender(args.name, args.url, args.workdir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
