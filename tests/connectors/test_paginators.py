"""Paginators driven by the HTTP client, and the incremental window (start, end, look-back, clamp)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from leadsync.connectors import (
    ConnectorError,
    HttpClient,
    Incremental,
    KeysetPaginator,
    NextUrlPaginator,
    PageRequest,
    PaginationLoopError,
    ReadContext,
    TokenPaginator,
    paginate,
)


def serve(pages: dict[str, dict], calls: list[httpx.Request]) -> httpx.MockTransport:
    """A vendor whose answer is chosen by the request's path and query (`pages` keys)."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        key = request.url.path + ("?" + request.url.query.decode() if request.url.query else "")
        if key not in pages:
            return httpx.Response(404, json={"message": f"no page {key}"})
        return httpx.Response(200, json=pages[key])

    return httpx.MockTransport(handle)


def client(pages: dict[str, dict], calls: list[httpx.Request]) -> HttpClient:
    return HttpClient(base_url="https://vendor.test", transport=serve(pages, calls), sleep=lambda s: None)


def test_token_paginator_follows_the_after_token_until_there_is_none() -> None:
    calls: list[httpx.Request] = []
    pages = {
        "/things?limit=2": {"results": [1, 2], "paging": {"next": {"after": "a"}}},
        "/things?limit=2&after=a": {"results": [3, 4], "paging": {"next": {"after": "b"}}},
        "/things?limit=2&after=b": {"results": [5]},
    }
    paginator = TokenPaginator("results", ("paging", "next", "after"), "after")
    got = list(client(pages, calls).paginate(PageRequest("/things", params={"limit": 2}), paginator))
    assert [p.items for p in got] == [[1, 2], [3, 4], [5]]
    assert [p.next for p in got] == ["a", "b", None]
    assert len(calls) == 3


def test_token_paginator_with_more_flag_follows_empty_pages_and_detects_loops() -> None:
    calls: list[httpx.Request] = []
    pages = {
        "/acts?nextPageToken=t0": {"result": [], "moreResult": True, "nextPageToken": "t1"},
        "/acts?nextPageToken=t1": {"result": [7], "moreResult": True, "nextPageToken": "t2"},
        "/acts?nextPageToken=t2": {"moreResult": False, "nextPageToken": "t3"},  # no result: empty
    }
    paginator = TokenPaginator("result", ("nextPageToken",), "nextPageToken", more_path=("moreResult",), optional=True)
    paginator.start("t0")
    got = list(client(pages, calls).paginate(PageRequest("/acts", params={"nextPageToken": "t0"}), paginator))
    assert [p.items for p in got] == [[], [7], []]
    assert got[-1].next is None
    looping = {"/acts?nextPageToken=t0": {"result": [1], "moreResult": True, "nextPageToken": "t0"}}
    again = TokenPaginator("result", ("nextPageToken",), "nextPageToken", more_path=("moreResult",))
    again.start("t0")
    with pytest.raises(PaginationLoopError, match="t0"):
        list(client(looping, []).paginate(PageRequest("/acts", params={"nextPageToken": "t0"}), again))


def test_token_loop_after_several_pages_is_detected() -> None:
    pages = {None: {"r": [1], "t": "a"}, "a": {"r": [2], "t": "b"}, "b": {"r": [3], "t": "a"}}
    fetched: list[object] = []

    def fetch(request: PageRequest) -> dict:
        fetched.append(request.params.get("t"))
        return pages[request.params.get("t")]

    with pytest.raises(PaginationLoopError, match="'a'"):
        list(paginate(fetch, PageRequest("/x"), TokenPaginator("r", ("t",), "t")))
    assert fetched == [None, "a", "b"]


def test_next_url_paginator_resolves_relative_urls_and_stops_when_done() -> None:
    calls: list[httpx.Request] = []
    pages = {
        "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead": {
            "records": [{"Id": "1"}], "done": False, "nextRecordsUrl": "/services/data/v60.0/query/01g-2000"},
        "/services/data/v60.0/query/01g-2000": {"records": [{"Id": "2"}], "done": True},
    }
    request = PageRequest("https://org.test/services/data/v60.0/query", params={"q": "SELECT Id FROM Lead"},
                          headers={"Sforce-Query-Options": "batchSize=200"})
    got = list(client(pages, calls).paginate(request, NextUrlPaginator("records", ("nextRecordsUrl",), done_path=("done",))))
    assert [p.items for p in got] == [[{"Id": "1"}], [{"Id": "2"}]]
    assert str(calls[1].url) == "https://org.test/services/data/v60.0/query/01g-2000"
    assert calls[1].headers["Sforce-Query-Options"] == "batchSize=200"  # headers carry over
    loop = {"/q": {"records": [], "done": False, "nextRecordsUrl": "/q2"}, "/q2": {"records": [], "done": False, "nextRecordsUrl": "/q2"}}
    with pytest.raises(PaginationLoopError):
        list(client(loop, []).paginate(PageRequest("/q"), NextUrlPaginator("records", ("nextRecordsUrl",), done_path=("done",))))


def test_keyset_paginator_asks_after_the_last_key_and_stops_on_a_short_page() -> None:
    records = [{"id": i} for i in range(1, 8)]

    def fetch(request: PageRequest) -> dict:
        after = request.params["after"]
        return {"records": [r for r in records if r["id"] > after][:3]}

    paginator = KeysetPaginator("records", limit=3, key=lambda r: r["id"], build=lambda req, after: req.with_params(after=after))
    got = list(paginate(fetch, paginator.first(PageRequest("/r"), 0), paginator))
    assert [[r["id"] for r in p.items] for p in got] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [p.next for p in got] == [3, 6, None]
    keyless = KeysetPaginator("records", limit=1, key=lambda r: r["id"], build=lambda req, after: req)
    with pytest.raises(ConnectorError, match="no key"):
        list(paginate(lambda req: {"records": [{"name": "x"}]}, PageRequest("/r"), keyless))


def test_an_answer_without_the_items_list_is_an_error() -> None:
    with pytest.raises(ConnectorError, match="no results list"):
        list(paginate(lambda req: {"results": "oops"}, PageRequest("/x"), TokenPaginator("results", ("after",), "after")))
    with pytest.raises(ConnectorError, match="not a JSON object"):
        list(client({"/x": []}, []).paginate(PageRequest("/x"), TokenPaginator("results", ("after",), "after")))  # type: ignore[dict-item]


SIGNPOST = datetime(2025, 4, 1, 3, 0, tzinfo=timezone.utc)


def test_incremental_window_first_run_resumed_and_full_refresh() -> None:
    ctx = ReadContext(cursor=None, signpost=SIGNPOST, lookback=timedelta(minutes=5))
    first = Incremental.of(ctx, None, initial=timedelta(days=30))
    assert (first.since, first.start, first.end) == (SIGNPOST - timedelta(days=30), SIGNPOST - timedelta(days=30, minutes=5), SIGNPOST)
    everything = Incremental.of(ctx, None)
    assert (everything.since, everything.start, everything.resumed) == (None, None, False)
    stored = SIGNPOST - timedelta(hours=1)
    resumed = Incremental.of(ctx, stored, lookback=timedelta(minutes=30))
    assert (resumed.since, resumed.start) == (stored, stored - timedelta(minutes=30))
    refresh = Incremental.of(ReadContext(None, SIGNPOST, full_refresh=True), stored, initial=timedelta(days=1))
    assert refresh.since == SIGNPOST - timedelta(days=1)


def test_incremental_advance_never_goes_back_nor_past_the_signpost() -> None:
    stored = SIGNPOST - timedelta(hours=1)
    window = Incremental.of(ReadContext(None, SIGNPOST), stored)
    assert window.advance(None) == stored
    assert window.advance(stored - timedelta(days=1)) == stored  # a late old change
    assert window.advance(SIGNPOST - timedelta(minutes=1)) == SIGNPOST - timedelta(minutes=1)
    assert window.advance(SIGNPOST + timedelta(hours=2)) == SIGNPOST  # clock skew at the vendor
    assert Incremental.of(ReadContext(None, SIGNPOST), None).advance(None) == SIGNPOST
