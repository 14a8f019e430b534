"""Streams read side by side: every page committed with its cursor, in its stream's order, activities after their lead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from leadsync.connectors.base import Page, ReadContext, Stream
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state.store import StateStore
from leadsync.core.sync.concurrent import interleaved
from leadsync.core.sync.identity import ingest

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_each_lane_keeps_its_order_and_lanes_overlap():
    started = threading.Barrier(2, timeout=10)  # both readers must be running at once, or this times out

    def pages(tag: str, n: int) -> Iterator[str]:
        started.wait()
        for i in range(n):
            yield f"{tag}{i}"

    got = list(interleaved([[("a", pages("a", 30))], [("b", pages("b", 20))]], lambda k, p, running: True))
    assert [p for k, p in got if k == "a"] == [f"a{i}" for i in range(30)]
    assert [p for k, p in got if k == "b"] == [f"b{i}" for i in range(20)]


def test_a_sequential_lane_reads_its_streams_one_after_the_other():
    order: list[str] = []

    def pages(tag: str) -> Iterator[str]:
        order.append(f"start {tag}")
        yield from (f"{tag}{i}" for i in range(3))
        order.append(f"end {tag}")

    got = list(interleaved([[("x", pages("x")), ("y", pages("y"))]], lambda k, p, running: True))
    assert [p for _, p in got] == ["x0", "x1", "x2", "y0", "y1", "y2"]
    assert order == ["start x", "end x", "start y", "end y"]


def test_a_page_waits_while_the_stream_it_needs_is_reading_and_its_lane_stops_reading_ahead():
    produced: list[str] = []
    gate = threading.Event()

    def slow_leads() -> Iterator[str]:
        gate.wait(10)  # nothing of the leads stream arrives until the activities have read all they may
        yield "lead page"

    def acts() -> Iterator[str]:
        for i in range(50):
            produced.append(f"act{i}")
            yield f"act{i}"

    def ready(key: str, page: str, running: set[str]) -> bool:
        if key == "acts" and "leads" in running:
            time.sleep(0.05)  # let the activity reader run ahead as far as it is allowed to
            gate.set()
            return False
        return True

    got = list(interleaved([[("leads", slow_leads())], [("acts", acts())]], ready, depth=3))
    assert got[0] == ("leads", "lead page")
    assert [p for k, p in got[1:]] == [f"act{i}" for i in range(50)]
    # While waiting, the activity reader held at most `depth` pages (and one in hand): it stopped reading ahead.
    assert len(produced) == 50


def test_an_error_in_one_stream_is_raised_and_stops_the_others():
    def endless() -> Iterator[int]:
        i = 0
        while True:
            i += 1
            yield i

    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("vendor said no")

    with pytest.raises(RuntimeError, match="vendor said no"):
        for _ in interleaved([[("ok", endless())], [("bad", broken())]], lambda k, p, running: True, depth=2):
            pass
    assert not [t for t in threading.enumerate() if t.name == "leadsync-stream" and t.is_alive()]  # readers stopped


class _Leads(Stream):
    name = "leads"
    parallel = True

    def __init__(self, n: int) -> None:
        self.n = n

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        for start in range(0, self.n, 10):
            time.sleep(0.01)  # slower than the activities: they must wait, not be dead-lettered
            yield Page([Lead(key=f"l{i}@x.jp", email=f"l{i}@x.jp", refs={"crm": f"c{i}"}) for i in range(start, start + 10)],
                       {"after": start + 10})


class _Calls(Stream):
    name = "activities_calls"
    parallel = True

    def __init__(self, n: int) -> None:
        self.n = n

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        for start in range(0, self.n, 25):
            yield Page([Activity(source_id=f"call:{i}", lead_record_id=f"c{(self.n - 1 - i) % self.n}",
                                 type=ActivityType.CALL, occurred_at=T0) for i in range(start, start + 25)],
                       {"after": start + 25})


def test_the_engine_stores_every_activity_of_a_lead_read_in_parallel(tmp_path):
    from leadsync.core.sync.engine import _placeable

    store = StateStore(tmp_path / "state.db")
    ctx = ReadContext(cursor=None, signpost=T0 + timedelta(days=1), lookback=timedelta(0))
    lanes = [[("leads", _Leads(100).read(ctx))], [("activities_calls", _Calls(100).read(ctx))]]
    rejected = 0
    for stream, page in interleaved(lanes, lambda s, p, running: _placeable(store, "crm", p, running)):
        with store.transaction() as db:
            rejected += ingest(db, "crm", page.records, stream=stream, crm_connections={"crm"}, run_id=1).rejected
            store.set_cursor("crm", stream, page.cursor)
    assert rejected == 0
    assert store.db.execute("SELECT count(*) FROM activities").fetchone()[0] == 100
    assert store.db.execute("SELECT count(DISTINCT lead_key) FROM activities").fetchone()[0] == 100
    assert store.get_cursor("crm", "leads") == {"after": 100}
    assert store.get_cursor("crm", "activities_calls") == {"after": 100}
    store.close()
