"""Prefetching keeps order, raises the source's error in place, and stops its thread early."""

from __future__ import annotations

import threading
import time

import pytest

from leadsync.connectors.prefetch import prefetched


def test_order_is_kept():
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_arrives_where_its_item_would_have():
    def source():
        yield 1
        yield 2
        raise ConnectionError("vendor went away")

    seen = []
    with pytest.raises(ConnectionError, match="vendor went away"):
        for item in prefetched(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_the_fetching_thread_stops_when_the_consumer_does():
    produced = []

    def source():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in prefetched(source(), depth=2):
        if item == 3:
            break
    time.sleep(0.3)
    assert len(produced) <= 8
    assert not [t for t in threading.enumerate() if t.name == "leadsync-prefetch"]


def test_the_next_item_is_fetched_while_the_current_one_is_consumed():
    fetched = [threading.Event() for _ in range(3)]

    def source():
        for i in range(3):
            fetched[i].set()
            yield i

    for item in prefetched(source()):
        if item < 2:  # still holding this item, the next one is already on its way
            assert fetched[item + 1].wait(timeout=10)
