"""How the fake HubSpot evaluates a CRM search request: filters, one sort, paging, the 10,000 cap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["MAX_FILTERS", "MAX_FILTERS_PER_GROUP", "MAX_GROUPS", "OPERATORS", "SEARCH_CAP", "matches", "search_page"]

SEARCH_CAP = 10_000  # "limited to 10,000 total results for any given query"
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25  # limits since the August 2024 change
OPERATORS = {"BETWEEN", "CONTAINS_TOKEN", "EQ", "GT", "GTE", "HAS_PROPERTY", "IN", "LT", "LTE", "NEQ",
             "NOT_CONTAINS_TOKEN", "NOT_HAS_PROPERTY", "NOT_IN"}


# -- search evaluation -----------------------------------------------------------------------------
def _comparable(value: Any) -> Any:
    """Numbers (ids, epoch ms) compare as numbers; ISO datetimes as epoch ms; the rest as lower text."""
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return text.lower()


def _test(record: dict[str, Any], flt: dict[str, Any]) -> bool:
    name, op = flt.get("propertyName"), flt.get("operator", "EQ")
    actual = record["properties"].get(name)
    if op == "HAS_PROPERTY":
        return actual not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    if actual in (None, ""):
        return op in ("NEQ", "NOT_IN")
    left = _comparable(actual)
    if op in ("IN", "NOT_IN"):
        inside = any(_comparable(v) == left for v in flt.get("values") or [])
        return inside if op == "IN" else not inside
    if op == "BETWEEN":
        return _comparable(flt.get("value")) <= left <= _comparable(flt.get("highValue"))
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = str(flt.get("value", "")).strip("*").lower() in str(actual).lower()
        return found if op == "CONTAINS_TOKEN" else not found
    right = _comparable(flt.get("value"))
    if type(left) is not type(right):
        left, right = str(actual).lower(), str(flt.get("value")).lower()
    return {"EQ": left == right, "NEQ": left != right, "GT": left > right, "GTE": left >= right,
            "LT": left < right, "LTE": left <= right}[op]


def matches(record: dict[str, Any], groups: list[dict[str, Any]]) -> bool:
    """Filter groups are ORed; the filters inside a group are ANDed."""
    if not groups:
        return True
    return any(all(_test(record, f) for f in g.get("filters") or []) for g in groups)


def search_page(obj: str, records: list[dict[str, Any]], body: Any, *, view: Any) -> tuple[int, dict[str, Any]]:
    """Answer one search request: (status, body). 400 for bad requests and paging beyond 10,000."""
    if not isinstance(body, dict):
        return 400, {"message": "Invalid input JSON on line 1"}
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS or any(len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups) \
            or sum(len(g.get("filters") or []) for g in groups) > MAX_FILTERS:
        return 400, {"message": f"at most {MAX_GROUPS} filterGroups, {MAX_FILTERS_PER_GROUP} filters each, {MAX_FILTERS} in all"}
    for group in groups:
        for flt in group.get("filters") or []:
            if flt.get("operator", "EQ") not in OPERATORS:
                return 400, {"message": f"unknown operator {flt.get('operator')}"}
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        return 400, {"message": "only one sort is allowed"}
    try:
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
    except (TypeError, ValueError):
        return 400, {"message": "limit and after must be integers"}
    if not 1 <= limit <= 200:
        return 400, {"message": f"limit must be between 1 and 200, got {limit}"}
    if after + limit > SEARCH_CAP:
        return 400, {"message": f"The maximum number of results for a search is {SEARCH_CAP}; paging beyond it is not possible"}
    found = [r for r in records if matches(r, groups)]
    if sorts:
        prop = sorts[0].get("propertyName")
        descending = str(sorts[0].get("direction", "ASCENDING")).upper().startswith("DESC")
        def key(r: dict[str, Any]) -> tuple[int, Any, int]:
            value = _comparable(r["properties"].get(prop) or 0)
            return (1, value, int(r["id"])) if isinstance(value, str) else (0, value, int(r["id"]))

        found.sort(key=key, reverse=descending)
    else:
        found.sort(key=lambda r: (r["createdAt"], int(r["id"])))  # oldest created first
    page = found[after: after + limit]
    answer: dict[str, Any] = {"total": len(found), "results": [view(r, body.get("properties")) for r in page]}
    if after + limit < len(found):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return 200, answer
