"""CPU per contact of each stage of leadsync's pull, one thread, no profiler (which inflates
Python-level work): HTTP (fetch and JSON), HubSpot mapping, ingest into a SQLite StateStore.

    .venv/bin/python -m bench.pull_stages --contacts 20000 [--rounds 3]

The pages are fetched once from the bench's HubSpot fake (its own process); each stage is then
timed on the same pages with `time.process_time()`, best of `--rounds`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.contenders import CONTACT_PROPERTIES, TOKEN
from bench.fakeproc import fake_process
from bench.pull_bench import LIST_FAKE


def _best(rounds: int, stage: Callable[[], Any], profile: bool = False) -> float:
    best = float("inf")
    for _ in range(rounds):
        # The pull holds a few pages at a time, this harness all of them: keep the collector from
        # scanning the held pages again and again (which the pull never does).
        gc.collect()
        gc.freeze()
        cpu = time.process_time()
        stage()
        best = min(best, time.process_time() - cpu)
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(stage)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("http", "mapping", "ingest"), help="print a cProfile of this stage")
    parser.add_argument("--stop-after", choices=("http", "mapping", "ingest"),
                        help="stop after this stage (instruction counts by stage: bench/README.md)")
    args = parser.parse_args()

    from leadsync.connectors import PageRequest, TokenPaginator
    from leadsync.core.sync.identity import ingest
    from leadsync.core.state.store import StateStore
    from leadsync_hubspot.client import build_client
    from leadsync_hubspot.mapping import ContactMapper
    from leadsync_hubspot.settings import HubSpotSettings

    env = {"BENCH_CONTACTS": str(args.contacts), "BENCH_ACTIVITIES": "0", "BENCH_PER_10S": "0"}
    with fake_process(LIST_FAKE, latency=0.0, env=env) as server:
        settings = HubSpotSettings(plugin="hubspot", token=TOKEN, base_url=server.url)
        params = {"limit": 100, "properties": ",".join(CONTACT_PROPERTIES)}
        payloads: list[Any] = []

        def fetch() -> None:
            client = build_client(settings)
            client.limiter = None
            paginator = TokenPaginator("results", ("paging", "next", "after"), "after")
            payloads[:] = [page.payload for page in
                           client.paginate(PageRequest("/crm/v3/objects/contacts", params=params), paginator)]
            client.close()

        http = _best(args.rounds, fetch, args.profile == "http")
    if args.stop_after == "http":
        return
    pages = [payload["results"] for payload in payloads]
    contacts = sum(len(p) for p in pages)
    mapper = ContactMapper(settings, "hubspot")
    mapped: list[list[Any]] = []

    def map_all() -> None:
        mapped[:] = [[mapper(r) for r in page] for page in pages]

    mapping = _best(args.rounds, map_all, args.profile == "mapping")
    if args.stop_after == "mapping":
        return

    def store_all() -> None:
        gc.collect()
        gc.freeze()
        workdir = Path(tempfile.mkdtemp(prefix="leadsync-stages-"))
        store = StateStore(workdir / "state.db")
        try:
            cpu = time.process_time()
            for records in mapped:
                with store.transaction() as db:
                    ingest(db, "hubspot", records, stream="leads", crm_connections={"hubspot"}, run_id=None)
                    store.set_cursor("hubspot", "leads", {"after": "x"})
            timings.append(time.process_time() - cpu)
        finally:
            store.close()
            shutil.rmtree(workdir, ignore_errors=True)

    timings: list[float] = []
    for _ in range(args.rounds):
        store_all()
    store = min(timings)
    if args.profile == "ingest":
        _best(0, store_all, True)
    if args.stop_after == "ingest":
        return
    bodies = [json.dumps(payload).encode() for payload in payloads]
    decode = _best(args.rounds, lambda: [json.loads(body) for body in bodies])
    per = 1e6 / contacts
    print(f"{contacts:,} contacts, CPU µs per contact (best of {args.rounds}):")
    print(f"  HTTP fetch + JSON decoding  {http * per:6.1f}   (of which JSON decoding {decode * per:.1f})")
    print(f"  HubSpot mapping             {mapping * per:6.1f}")
    print(f"  ingest + commit per page    {store * per:6.1f}")
    print(f"  sum                         {(http + mapping + store) * per:6.1f}")


if __name__ == "__main__":
    main()
