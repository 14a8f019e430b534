"""Profile leadsync's CPU-bound pull (bench (d) at 0 ms) under cProfile: where each contact's time goes.

    .venv/bin/python -m bench.profile_pull --contacts 20000 [--out pull.prof] [--top 30]
    .venv/bin/python -m bench.profile_pull --contacts 20000 --no-profile --digest   # sha256 of what was stored

With --digest the fake's clock is fixed (BENCH_NOW_MS), so two checkouts that store the same rows
print the same digest.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from bench.contenders import PRELOAD, leadsync_pull
from bench.fakeproc import fake_process
from bench.pull_bench import LIST_FAKE

DIGEST_NOW_MS = 1_790_000_000_000  # the fake's clock with --digest (2026-09-21)


def _digest(path: Path) -> str:
    from leadsync.core.state import leads
    from leadsync.core.state.store import StateStore

    store = StateStore(path)
    try:
        return leads.digest(store.db)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--out", default=None, help="write the cProfile stats here")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="time only")
    parser.add_argument("--digest", action="store_true",
                        help="fixed fake clock; print the sha256 of the leads and lead_refs tables")
    parser.add_argument("--one-thread", action="store_true",
                        help="no read-ahead threads, so cProfile (which sees one thread) sees all the work")
    args = parser.parse_args()
    if args.one_thread:
        import leadsync_hubspot.streams
        from leadsync.core.sync import engine

        def inline(source, depth=2):  # type: ignore[no-untyped-def]
            return source

        def in_turn(lanes, ready, depth=4):  # type: ignore[no-untyped-def]
            return ((key, page) for lane in lanes for key, pages in lane for page in pages)

        engine.interleaved = in_turn  # type: ignore[assignment]
        leadsync_hubspot.streams.prefetched = inline  # type: ignore[assignment]
    env = {"BENCH_CONTACTS": str(args.contacts), "BENCH_ACTIVITIES": "0", "BENCH_PER_10S": "0"}
    if args.digest:
        env["BENCH_NOW_MS"] = str(DIGEST_NOW_MS)
    digest = None
    for module in PRELOAD["leadsync"]:  # as the bench does: the clock starts after the imports
        importlib.import_module(module)
    with fake_process(LIST_FAKE, latency=args.latency_ms / 1000, env=env) as server:
        workdir = Path(tempfile.mkdtemp(prefix="leadsync-profile-"))
        try:
            profiler = None if args.no_profile else cProfile.Profile(time.process_time)  # CPU: steadier on a shared machine
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            result = leadsync_pull(server.url, workdir)
            if profiler:
                profiler.disable()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            if args.digest:
                digest = _digest(workdir / "state.db")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{result['records']:,} records in {seconds:.2f} s = {result['records'] / seconds:,.0f} records/s; "
          f"CPU {cpu:.2f} s = {cpu / result['records'] * 1e6:.0f} us per record")
    if digest:
        print(f"sha256 of leads + lead_refs: {digest}")
    if profiler:
        stats = pstats.Stats(profiler)
        if args.out:
            stats.dump_stats(args.out)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
