"""A minimal HubSpot-shaped contacts list (GET /crm/v3/objects/contacts) for the pull comparison.

Shaped like HubSpot's v3 list API: bearer auth, `limit` (at most 100) and `after` paging, the
requested `properties` only, ``paging.next.after``. Sized by the BENCH_CONTACTS environment variable
so it can run in its own process (`python -m leadsync.connectors.testing.fakeserver --app
bench.listfake:make_app`).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.testing.fakeserver import FakeApp, Request, Response, route

__all__ = ["CONTACT_PROPERTIES", "ContactsListFake", "contact_record", "make_app"]

LIST_MAX = 100
EPOCH = datetime(2025, 1, 6, tzinfo=timezone.utc)
FIRST_ID = 1001

# What leadsync's HubSpot connector asks for, so every contender moves the same bytes.
CONTACT_PROPERTIES = (
    "company", "createdate", "email", "firstname", "hs_analytics_source", "hs_lead_status",
    "hubspot_owner_id", "industry", "jobtitle", "lastmodifieddate", "lastname", "numemployees", "phone",
)  # fmt: skip

_LAST = ("佐藤", "鈴木", "高橋", "田中", "Smith", "伊藤", "渡辺", "Nakamura", "小林", "加藤")
_FIRST = ("太郎", "花子", "Ken", "由美", "翔", "Aiko", "大輔", "真由美", "John", "健一")
_COMPANY = ("株式会社サンプル", "テスト工業株式会社", "Acme Japan K.K.", "(株)ミライ商事", "北海道データ合同会社")
_TITLE = ("部長", "マーケティング課長", "CTO", "情報システム部 主任", "代表取締役", "Engineer")
_INDUSTRY = ("製造業", "IT・通信", "小売", "金融", "医療")
_SOURCE = ("ORGANIC_SEARCH", "PAID_SEARCH", "DIRECT_TRAFFIC", "EMAIL_MARKETING", "OFFLINE")
_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED")
_EMPLOYEES = ("10", "50", "120", "1,000", "300名", "5000")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def contact_record(index: int) -> dict[str, Any]:
    """The `index`-th contact (deterministic), as HubSpot's list API returns it."""
    record_id = str(FIRST_ID + index)
    created = EPOCH + timedelta(minutes=7 * index)
    modified = created + timedelta(days=3, seconds=index % 977)
    properties = {
        "company": _COMPANY[index % len(_COMPANY)],
        "createdate": _iso(created),
        "email": f"lead{index}@example{index % 97}.co.jp",
        "firstname": _FIRST[index % len(_FIRST)],
        "hs_analytics_source": _SOURCE[index % len(_SOURCE)],
        "hs_lead_status": _STATUS[index % len(_STATUS)],
        "hs_object_id": record_id,
        "hubspot_owner_id": str(70000 + index % 12),
        "industry": _INDUSTRY[index % len(_INDUSTRY)],
        "jobtitle": _TITLE[index % len(_TITLE)],
        "lastmodifieddate": _iso(modified),
        "lastname": _LAST[(index // 10) % len(_LAST)],
        "numemployees": _EMPLOYEES[index % len(_EMPLOYEES)],
        "phone": f"03-{1000 + index % 9000:04d}-{index % 10000:04d}",
    }
    return {
        "id": record_id,
        "properties": properties,
        "createdAt": properties["createdate"],
        "updatedAt": properties["lastmodifieddate"],
        "archived": False,
    }


class ContactsListFake(FakeApp):
    """Contacts paged by the v3 list API, with an optional HubSpot-style ten-secondly limit."""

    def __init__(self, contacts: int, *, per_10s: int | None = None) -> None:
        super().__init__()
        self.contacts = [contact_record(i) for i in range(contacts)]
        self.position = {c["id"]: n for n, c in enumerate(self.contacts)}
        if per_10s:
            self.rate_limits = {"default": (per_10s, 10.0)}

    def before_request(self, request: Request) -> Response | None:
        if not request.bearer:
            return Response(401, json={"status": "error", "message": "Authentication credentials not found.",
                                       "category": "INVALID_AUTHENTICATION"})  # fmt: skip
        return None

    def rate_limited_response(self, request: Request) -> Response:
        return Response(429, json={"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                   "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})  # fmt: skip

    @route("GET", r"/crm/v3/objects/contacts")
    def list_contacts(self, request: Request) -> Response:
        try:
            limit = min(int(request.query.get("limit", "10")), LIST_MAX)
        except ValueError:
            return Response(400, json={"status": "error", "message": "limit must be a number", "category": "VALIDATION_ERROR"})
        after = request.query.get("after")
        start = 0 if not after else self.position.get(after, len(self.contacts))
        page = self.contacts[start : start + limit]
        wanted = [p for p in (request.query.get("properties") or "").split(",") if p]
        if wanted:
            keep = set(wanted) | {"hs_object_id", "createdate", "lastmodifieddate"}
            page = [{**c, "properties": {k: v for k, v in c["properties"].items() if k in keep}} for c in page]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(self.contacts):
            next_id = self.contacts[start + limit]["id"]
            body["paging"] = {"next": {"after": next_id, "link": f"/crm/v3/objects/contacts?after={next_id}"}}
        return Response(200, json=body)


def make_app() -> ContactsListFake:
    """The app for a separate fake process: BENCH_CONTACTS contacts, BENCH_PER_10S limit (0: none)."""
    return ContactsListFake(
        int(os.environ.get("BENCH_CONTACTS", "1000")), per_10s=int(os.environ.get("BENCH_PER_10S", "0")) or None
    )
