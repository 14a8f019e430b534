"""Pagination loop detection, chunking and bisection of all-or-nothing batches."""

from __future__ import annotations

import pytest

from leadsync.connectors.batching import BatchRejected, bisect_batch, chunked
from leadsync.connectors.errors import PaginationLoopError
from leadsync.connectors.pagination import iterate_items, iterate_pages


def test_iterate_pages_follows_tokens_including_empty_pages() -> None:
    pages = {None: ([1, 2], "a"), "a": ([], "b"), "b": ([3], None)}
    calls: list[object] = []

    def fetch(token):
        calls.append(token)
        return pages[token]

    assert list(iterate_items(fetch)) == [1, 2, 3]
    assert calls == [None, "a", "b"]
    assert [next_token for _, next_token in iterate_pages(fetch)] == ["a", "b", None]


def test_iterate_pages_detects_loops() -> None:
    pages = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}
    with pytest.raises(PaginationLoopError, match="'a'"):
        list(iterate_items(lambda token: pages[token]))


def test_iterate_pages_max_pages_and_start() -> None:
    fetch = lambda token: ([token], (token or 0) + 1)  # noqa: E731 - endless source
    assert list(iterate_items(fetch, start=5, max_pages=3)) == [5, 6, 7]


def test_chunked() -> None:
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError):
        list(chunked([1], 0))


def make_sender(bad: set[int], *, name_indexes: bool):
    calls: list[list[int]] = []

    def send(batch: list[int]) -> list[str]:
        calls.append(batch)
        blamed = {i: f"record {v} invalid" for i, v in enumerate(batch) if v in bad}
        if blamed:
            raise BatchRejected("CB_VA01", blamed if name_indexes else None)
        return [f"ok-{v}" for v in batch]

    return send, calls


def test_bisect_batch_isolates_unnamed_bad_records() -> None:
    send, calls = make_sender({3, 9}, name_indexes=False)
    results = bisect_batch(list(range(16)), send)
    assert [r.item for r in results] == list(range(16))
    assert [r.item for r in results if not r.ok] == [3, 9]
    assert results[0].result == "ok-0" and results[3].error == "CB_VA01"
    assert len(calls) < 16  # far fewer calls than sending one by one


def test_bisect_batch_uses_named_indexes() -> None:
    send, calls = make_sender({2, 5}, name_indexes=True)
    results = bisect_batch(list(range(8)), send)
    assert [r.error for r in results if not r.ok] == ["record 2 invalid", "record 5 invalid"]
    assert len(calls) == 2


def test_bisect_batch_all_good_is_one_call_and_other_errors_propagate() -> None:
    send, calls = make_sender(set(), name_indexes=False)
    assert all(r.ok for r in bisect_batch([1, 2, 3], send)) and len(calls) == 1

    def broken(batch):
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        bisect_batch([1, 2], broken)
    with pytest.raises(ValueError, match="2 results for a batch of 3"):
        bisect_batch([1, 2, 3], lambda batch: ["a", "b"])
