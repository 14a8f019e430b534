"""Paginators: small objects that say where a page's records are and how to ask for the next page.

A paginator never sends anything: a client drives it (`HttpClient.paginate`, or `paginate` with
any `fetch` that turns a `PageRequest` into a JSON object, such as a vendor client that unwraps an
error envelope first). Each paginator keeps the tokens it has followed and raises
`PaginationLoopError` when the vendor hands one back twice, which would otherwise page forever.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from leadsync.connectors.errors import ConnectorError, PaginationLoopError

__all__ = [
    "JsonPage",
    "KeysetPaginator",
    "NextUrlPaginator",
    "PageRequest",
    "Paginator",
    "TokenPaginator",
    "paginate",
]


@dataclass(frozen=True)
class PageRequest:
    """One request of a paged read; paginators return changed copies (`with_params`, `with_url`)."""

    url: str
    method: str = "GET"
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    endpoint: str = "default"
    idempotent: bool | None = None

    def with_params(self, **params: Any) -> PageRequest:
        """This request with `params` added or replaced."""
        return dataclasses.replace(self, params={**self.params, **params})

    def with_url(self, url: str) -> PageRequest:
        """This request sent to `url`, with no query parameters of its own."""
        return dataclasses.replace(self, url=url, params={})


@dataclass(frozen=True)
class JsonPage:
    """One page: its records, the whole answer, and the state that asks for the next page.

    `next` is None after the last page; otherwise it is what a stream stores in its cursor to
    resume (a token, a next URL, the last key).
    """

    items: list[Any]
    payload: dict[str, Any]
    next: Any


def _dig(payload: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload


class Paginator:
    """Base of every paginator: the records' key, the next state, the next request, loop detection."""

    def __init__(self, items: str, *, vendor: str = "vendor", optional: bool = False) -> None:
        self.items_key = items
        self.vendor = vendor
        self.optional = optional  # True: an answer without the key is an empty page
        self._seen: set[Hashable] = set()

    def items(self, payload: dict[str, Any]) -> list[Any]:
        """The records of one answer; ConnectorError when the answer has no list there."""
        found = payload.get(self.items_key)
        if found is None and self.optional:
            found = []
        if not isinstance(found, list):
            raise ConnectorError(f"{self.vendor} answer has no {self.items_key} list")
        return found

    def next_state(self, payload: dict[str, Any], items: list[Any]) -> Any:
        """What asks for the next page, or None after the last (override)."""
        raise NotImplementedError

    def next_request(self, request: PageRequest, state: Any) -> PageRequest:
        """The request of the page after `request` (override)."""
        raise NotImplementedError

    def follow(self, state: Any) -> None:
        """Remember `state` as followed; PaginationLoopError when it was followed before."""
        if state in self._seen:
            raise PaginationLoopError(
                f"{self.vendor} handed back paging state {str(state)[:80]!r} it had already given "
                f"(after {len(self._seen) + 1} pages)"
            )
        self._seen.add(state)


class TokenPaginator(Paginator):
    """A token in the answer (`token_path`) sent back as query parameter `param` for the next page.

    HubSpot's ``paging.next.after`` and Marketo's ``nextPageToken`` are this. When `more_path` is
    given, only a false value there ends paging (Marketo answers short or empty pages while
    ``moreResult`` is still true); otherwise a missing or empty token does.
    """

    def __init__(
        self,
        items: str,
        token_path: Sequence[str],
        param: str,
        *,
        more_path: Sequence[str] | None = None,
        vendor: str = "vendor",
        optional: bool = False,
    ) -> None:
        super().__init__(items, vendor=vendor, optional=optional)
        self.token_path = tuple(token_path)
        self.param = param
        self.more_path = tuple(more_path) if more_path is not None else None

    def start(self, token: str) -> None:
        """Resume from `token` (it counts as followed)."""
        self._seen.add(token)

    def next_state(self, payload: dict[str, Any], items: list[Any]) -> str | None:
        token = _dig(payload, self.token_path)
        if self.more_path is not None and not _dig(payload, self.more_path):
            return None
        if token in (None, ""):
            if self.more_path is not None:
                raise PaginationLoopError(f"{self.vendor} says more results follow but gave no paging token")
            return None
        return str(token)

    def next_request(self, request: PageRequest, state: Any) -> PageRequest:
        return request.with_params(**{self.param: state})


class NextUrlPaginator(Paginator):
    """The answer names the URL of the next page (`url_path`); `done_path` true ends paging.

    Salesforce's query answers are this (``nextRecordsUrl``, ``done``). A relative URL is resolved
    against the URL of the page that named it; headers and the rate-limit class carry over.
    """

    def __init__(
        self, items: str, url_path: Sequence[str], *, done_path: Sequence[str] | None = None, vendor: str = "vendor"
    ) -> None:
        super().__init__(items, vendor=vendor)
        self.url_path = tuple(url_path)
        self.done_path = tuple(done_path) if done_path is not None else None

    def next_state(self, payload: dict[str, Any], items: list[Any]) -> str | None:
        url = _dig(payload, self.url_path)
        if self.done_path is not None and _dig(payload, self.done_path) in (True, None):
            return None
        return str(url) if url else None

    def next_request(self, request: PageRequest, state: Any) -> PageRequest:
        return request.with_url(urljoin(request.url, str(state)))


class KeysetPaginator(Paginator):
    """Pages by the last record's key: `build(request, after)` asks for records after `after`.

    Reading ``id > last`` sorted by id never skips or repeats a record when others change in
    between, and never meets an offset cap (kintone's offset stops at 10,000). A page shorter than
    `limit` is the last one; `key(record)` reads a record's key.
    """

    def __init__(
        self,
        items: str,
        *,
        limit: int,
        key: Callable[[Any], Any],
        build: Callable[[PageRequest, Any], PageRequest],
        vendor: str = "vendor",
    ) -> None:
        super().__init__(items, vendor=vendor)
        self.limit = limit
        self.key = key
        self.build = build

    def first(self, request: PageRequest, after: Any) -> PageRequest:
        """The request of the first page: records after `after`."""
        return self.build(request, after)

    def next_state(self, payload: dict[str, Any], items: list[Any]) -> Any:
        if len(items) < self.limit:
            return None
        try:
            return self.key(items[-1])
        except (KeyError, TypeError, ValueError):
            raise ConnectorError(f"{self.vendor}: a record has no key to page after") from None

    def next_request(self, request: PageRequest, state: Any) -> PageRequest:
        return self.build(request, state)


def paginate(
    fetch: Callable[[PageRequest], dict[str, Any]], request: PageRequest, paginator: Paginator
) -> Iterator[JsonPage]:
    """Pages of a paged read: `fetch` sends each request and returns its JSON object."""
    while True:
        payload = fetch(request)
        items = paginator.items(payload)
        state = paginator.next_state(payload, items)
        if state is not None:
            paginator.follow(state)
        yield JsonPage(items, payload, state)
        if state is None:
            return
        request = paginator.next_request(request, state)
