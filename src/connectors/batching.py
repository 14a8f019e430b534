"""Batch helpers: fixed-size chunks, and bisection to isolate bad records in all-or-nothing APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

__all__ = ["BatchRejected", "ItemResult", "bisect_batch", "chunked"]

T = TypeVar("T")
R = TypeVar("R")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class BatchRejected(Exception):
    """`send` raises this when the vendor refused a whole batch because of bad records.

    `reasons` maps the index (within the batch sent) of each record the vendor blamed to its
    reason, when the vendor says which (kintone keys errors by ``records[3]...``); empty when it
    does not, and the batch is then split in halves.
    """

    def __init__(self, message: str, reasons: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = dict(reasons or {})


@dataclass(frozen=True)
class ItemResult(Generic[T, R]):
    """The outcome for one item: `result` from `send` when ok, else the vendor's `error`."""

    item: T
    ok: bool
    result: R | None = None
    error: str | None = None


def bisect_batch(
    items: Sequence[T], send: Callable[[list[T]], Sequence[R]]
) -> list[ItemResult[T, R]]:
    """Send `items` as one batch; isolate the records an all-or-nothing API rejects.

    `send(batch)` returns one result per item or raises BatchRejected. Records the vendor names are
    failed at once and the rest resent; an unnamed rejection is split in halves recursively, so
    k bad records among n cost about k*log2(n) extra calls. Any other exception propagates.
    Results come back in input order.
    """
    results: list[ItemResult[T, R] | None] = [None] * len(items)

    def run(indexes: list[int]) -> None:
        if not indexes:
            return
        batch = [items[i] for i in indexes]
        try:
            answers = send(batch)
        except BatchRejected as rejected:
            named = {pos: reason for pos, reason in rejected.reasons.items() if 0 <= pos < len(indexes)}
            if named:
                for pos, reason in named.items():
                    results[indexes[pos]] = ItemResult(items[indexes[pos]], False, error=reason)
                run([index for pos, index in enumerate(indexes) if pos not in named])
                return
            if len(indexes) == 1:
                results[indexes[0]] = ItemResult(items[indexes[0]], False, error=rejected.message)
                return
            middle = len(indexes) // 2
            run(indexes[:middle])
            run(indexes[middle:])
            return
        if len(answers) != len(batch):
            raise ValueError(f"send returned {len(answers)} results for a batch of {len(batch)}")
        for index, answer in zip(indexes, answers):
            results[index] = ItemResult(items[index], True, result=answer)

    run(list(range(len(items))))
    return [result for result in results if result is not None]
