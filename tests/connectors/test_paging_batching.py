"""Chunking and bisection of all-or-nothing batches (paginators: test_paginators.py)."""

from __future__ import annotations

import pytest

from leadsync.connectors.batching import BatchRejected, bisect_batch, chunked


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
