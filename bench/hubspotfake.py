"""The HubSpot fake at benchmark scale: indexed list and search paths, seeded by environment variables.

`leadsync_hubspot.testing.HubSpotFake` answers a search by scanning every record,
which is right for tests and far too slow for 500,000 activities. This subclass answers the same
requests with the same bodies from a (modified, id) index; any search it does not recognise goes to
the original code. Run it in its own process:
`python -m leadsync.connectors.testing.fakeprocess --app bench.hubspotfake:make_app`.
"""

from __future__ import annotations

import heapq
import os
import time
from bisect import bisect_left, bisect_right
from typing import Any

from leadsync_hubspot.testing.fake import (
    _OBJ,
    OPERATORS,
    HubSpotFake,
    matches,
    modified_prop,
)
from leadsync.connectors.testing.fakeserver import Request, Response, route

__all__ = ["BenchHubSpotFake", "TOKEN", "is_hot", "make_app", "seed"]

TOKEN = "pat-fake-token"
BENCH_OWNERS = ("70001", "70002", "70003")
HOT_EVERY = 50  # one contact in 50 is hot: an executive with a recent meeting
_DAY_MS = 86_400_000
_TITLES = ("部長", "マーケティング課長", "情報システム部 主任", "Engineer", "営業担当", "マネージャー")
_EXEC_TITLE = "代表取締役社長"
_COMPANIES = ("株式会社サンプル", "テスト工業株式会社", "Acme Japan K.K.", "(株)ミライ商事", "北海道データ合同会社")
_INDUSTRIES = ("製造業", "IT・通信", "小売", "金融", "医療")
_EMPLOYEES = ("10", "50", "120", "1,000", "300名", "5000")
_LAST = ("佐藤", "鈴木", "高橋", "田中", "Smith", "伊藤", "渡辺", "Nakamura", "小林", "加藤")
_FIRST = ("太郎", "花子", "Ken", "由美", "翔", "Aiko", "大輔", "真由美", "John", "健一")


def is_hot(index: int) -> bool:
    """Whether the `index`-th seeded contact is built to score hot."""
    return index % HOT_EVERY == 7


class BenchHubSpotFake(HubSpotFake):
    """HubSpotFake with O(log n) paging and search for the request shapes leadsync sends."""

    def __init__(self, **kwargs: Any) -> None:
        self._stale: set[str] = set()
        self._modified_index: dict[str, tuple[list[int], list[int]]] = {}
        self._id_index: dict[str, list[int]] = {}
        super().__init__(**kwargs)
        # A benchmark measures throughput: its index is current. Search lag is tested on the plain fake.
        self.state["config"]["index_lag_s"] = 0.0

    def _touch(self, object_type: str, record: dict[str, Any], modified_ms: int | None = None) -> None:
        super()._touch(object_type, record, modified_ms)
        self._stale.add(object_type)

    def _indexes(self, obj: str) -> tuple[list[int], list[int], list[int]]:
        """(modified ms, id) sorted by both, and all ids sorted; rebuilt after a write."""
        records = self.state["objects"][obj]
        if obj in self._stale or obj not in self._modified_index or len(self._id_index[obj]) != len(records):
            prop = modified_prop(obj)
            pairs = sorted((int(r["properties"][prop]), int(r["id"])) for r in records.values())
            self._modified_index[obj] = ([m for m, _ in pairs], [i for _, i in pairs])
            self._id_index[obj] = sorted(int(i) for i in records)
            self._stale.discard(obj)
        mods, ids = self._modified_index[obj]
        return mods, ids, self._id_index[obj]

    @route("GET", rf"/crm/v3/objects/{_OBJ}")
    def list_objects(self, request: Request) -> Response:
        parsed = self.list_params(request)
        if isinstance(parsed, Response):
            return parsed
        obj, limit, after, wanted = parsed
        if str(request.query.get("archived", "false")).lower() == "true":
            return Response(200, json={"results": []})  # the recycling bin: the bench deletes nothing
        all_ids = self._indexes(obj)[2]
        start = bisect_left(all_ids, after)
        page_ids = all_ids[start : start + limit]
        records = self.state["objects"][obj]
        body: dict[str, Any] = {"results": [self.with_associations(obj, records[str(i)], self._view(obj, records[str(i)], wanted),
                                                                   request) for i in page_ids]}
        if start + limit < len(all_ids):
            nxt = str(page_ids[-1] + 1)
            body["paging"] = {"next": {"after": nxt, "link": f"/crm/v3/objects/{obj}?after={nxt}"}}
        return Response(200, json=body)

    @route("POST", rf"/crm/v3/objects/{_OBJ}/search", endpoint="search", write=False)
    def search(self, request: Request) -> Response:
        answer = self._fast_search(request.params["obj"], request.json)
        return answer if answer is not None else super().search(request)

    def _fast_search(self, obj: str, body: Any) -> Response | None:
        """The answer from the index, or None when the request is not one of the indexed shapes."""
        if not isinstance(body, dict) or body.get("after") or float(self.state["config"]["index_lag_s"] or 0) > 0:
            return None
        groups = body.get("filterGroups") or []
        sorts = body.get("sorts") or []
        prop = modified_prop(obj)
        if len(groups) > 1 or len(sorts) > 1:
            return None
        sort_by = sorts[0].get("propertyName") if sorts else None
        if sorts and (sort_by not in (prop, "hs_object_id") or str(sorts[0].get("direction", "ASC")).upper().startswith("DESC")):
            return None
        try:
            limit = int(body.get("limit", 10))
        except (TypeError, ValueError):
            return None
        if not 1 <= limit <= 200:
            return None
        mods, ids, _ = self._indexes(obj)
        lo, hi, after_id, rest = 0, len(mods), None, []
        for flt in (groups[0].get("filters") or []) if groups else []:
            name, op, value = flt.get("propertyName"), flt.get("operator", "EQ"), flt.get("value")
            if op not in OPERATORS:
                return None
            try:
                number = int(str(value)) if op in ("GT", "GTE", "LT", "LTE") else None
            except ValueError:
                return None
            if name == prop and number is not None:
                if op == "GT":
                    lo = max(lo, bisect_right(mods, number))
                elif op == "GTE":
                    lo = max(lo, bisect_left(mods, number))
                elif op == "LTE":
                    hi = min(hi, bisect_right(mods, number))
                else:
                    hi = min(hi, bisect_left(mods, number))
            elif name == "hs_object_id" and op == "GT" and number is not None:
                after_id = number if after_id is None else max(after_id, number)
            else:
                rest.append(flt)
        window = ids[lo:hi] if lo < hi else []
        if after_id is not None:
            window = [i for i in window if i > after_id]
        records = self.state["objects"][obj]
        if rest:
            window = [i for i in window if matches(records[str(i)], [{"filters": rest}])]
        if sort_by == prop:
            page = window[:limit]  # the window is in (modified, id) order already
        elif sort_by == "hs_object_id":
            page = heapq.nsmallest(limit, window)
        else:  # no sort: oldest created first, which is id order here
            page = heapq.nsmallest(limit, window)
        answer: dict[str, Any] = {"total": len(window), "results": [self._view(obj, records[str(i)], body.get("properties")) for i in page]}
        if limit < len(window):
            answer["paging"] = {"next": {"after": str(limit)}}
        return Response(200, json=answer)


def seed(app: BenchHubSpotFake, contacts: int, activities: int, *, now_ms: int | None = None) -> None:
    """`contacts` contacts and `activities` calls/meetings; hot contacts (see `is_hot`) get a recent meeting."""
    now = now_ms or int(time.time() * 1000)
    for name in ("leadsync_score", "leadsync_behavior_score", "leadsync_attribute_score"):
        app.define_property("contacts", name, "number")
    for name in ("leadsync_segment", "leadsync_sheet_version"):
        app.define_property("contacts", name)
    app.define_property("contacts", "leadsync_scored_at", "datetime")
    app.define_property("tasks", "leadsync_key")
    for owner_id in BENCH_OWNERS:  # the owners the benchmark's handoff names, by owner id
        app.add_owner(f"rep{owner_id}@example.com", owner_id=owner_id)
    ids: list[str] = []
    for index in range(contacts):
        created = now - (100 + index % 100) * _DAY_MS
        properties = {
            "email": f"lead{index}@example{index % 97}.co.jp",
            "firstname": _FIRST[index % len(_FIRST)],
            "lastname": _LAST[(index // 10) % len(_LAST)],
            "company": _COMPANIES[index % len(_COMPANIES)],
            "jobtitle": _EXEC_TITLE if is_hot(index) else _TITLES[index % len(_TITLES)],
            "phone": f"03-{1000 + index % 9000:04d}-{index % 10000:04d}",
            "numemployees": _EMPLOYEES[index % len(_EMPLOYEES)],
            "industry": _INDUSTRIES[index % len(_INDUSTRIES)],
            "hs_analytics_source": "ORGANIC_SEARCH",
            "hs_lead_status": "NEW",
        }
        modified = now - (1 + index % 59) * _DAY_MS - index % 86_000_000
        ids.append(app.add("contacts", properties, modified_ms=modified, created_ms=created))
    for number in range(activities if contacts else 0):
        owner = number % contacts
        if number < contacts and is_hot(owner):
            when = now - (1 + number % 10) * _DAY_MS
            props = {"hs_timestamp": when, "hs_meeting_start_time": when, "hs_meeting_end_time": when + 1_800_000,
                     "hs_meeting_outcome": "COMPLETED"}  # fmt: skip
            app.add("meetings", props, modified_ms=when, contact_id=ids[owner])
        else:
            when = now - (number * 1_234_567) % (120 * _DAY_MS) - _DAY_MS
            props = {"hs_timestamp": when, "hs_call_duration": 60_000 + number % 600_000, "hs_call_status": "COMPLETED",
                     "hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7", "hs_call_direction": "OUTBOUND"}  # fmt: skip
            app.add("calls", props, modified_ms=when, contact_id=ids[owner])


def make_app() -> BenchHubSpotFake:
    """The app of a separate fake process, from BENCH_CONTACTS, BENCH_ACTIVITIES, BENCH_PER_10S, BENCH_SEARCH_PER_S
    (and BENCH_NOW_MS, the seed's clock).

    With BENCH_CLOCK_FILE set, the monotonic time the server starts is written there.
    """
    per_10s = int(os.environ.get("BENCH_PER_10S", "0"))
    # 0: no rate limit (the pull comparison), the per-second budget included; a huge window keeps
    # the limit headers well-formed.
    app = BenchHubSpotFake(tokens=(TOKEN,), requests_per_10s=per_10s or 100,
                           per_second=None if per_10s else 1_000_000_000)
    if not per_10s:
        app.rate_limits = {"default": (1_000_000_000, 10.0)}
    else:
        app.rate_limits = {**app.rate_limits, "search": (int(os.environ.get("BENCH_SEARCH_PER_S", "5")), 1.0)}
    now_ms = int(os.environ["BENCH_NOW_MS"]) if os.environ.get("BENCH_NOW_MS") else None  # a fixed clock: same data every run
    seed(app, int(os.environ.get("BENCH_CONTACTS", "1000")), int(os.environ.get("BENCH_ACTIVITIES", "0")), now_ms=now_ms)
    clock_file = os.environ.get("BENCH_CLOCK_FILE")
    if clock_file:
        # The server's log times count from its start, which follows this at once; CLOCK_MONOTONIC
        # is shared by every process on the machine, so the bench can line the log up with the client.
        with open(clock_file, "w", encoding="utf-8") as handle:
            handle.write(repr(time.monotonic()))
    return app
