"""Generic cursor paging with loop detection (a vendor repeating a token would page forever)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TypeVar

from leadsync.connectors.errors import PaginationLoopError

__all__ = ["iterate_items", "iterate_pages"]

T = TypeVar("T")
Token = TypeVar("Token", bound=Hashable)


def iterate_pages(
    fetch: Callable[[Token | None], tuple[Sequence[T], Token | None]],
    *,
    start: Token | None = None,
    max_pages: int | None = None,
) -> Iterator[tuple[Sequence[T], Token | None]]:
    """Yield `(items, next_token)` per page until `fetch` returns no next token.

    `fetch(token)` gets None (or `start`) first, then each next token in turn. An empty page with
    a next token is followed (Marketo does that). Raises PaginationLoopError when a token comes back
    that was already fetched.
    """
    seen: set[Token] = set()
    token = start
    pages = 0
    while True:
        if token is not None:
            if token in seen:
                raise PaginationLoopError(
                    f"pagination loop: next page token {str(token)[:80]!r} was already fetched "
                    f"(after {pages} pages)"
                )
            seen.add(token)
        items, next_token = fetch(token)
        pages += 1
        yield items, next_token
        if next_token is None or next_token == "":
            return
        if max_pages is not None and pages >= max_pages:
            return
        token = next_token


def iterate_items(
    fetch: Callable[[Token | None], tuple[Sequence[T], Token | None]],
    *,
    start: Token | None = None,
    max_pages: int | None = None,
) -> Iterator[T]:
    """Every item of every page, in order (see `iterate_pages`)."""
    for items, _ in iterate_pages(fetch, start=start, max_pages=max_pages):
        yield from items
