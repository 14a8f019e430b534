"""Contacts HubSpot no longer has: merged into another contact, or deleted to the recycling bin.

A merge leaves one live contact whose `hs_merged_object_ids` lists the ids merged into it; the
merged ids vanish from lists and search. A deleted contact is listed by
``GET /crm/v3/objects/contacts?archived=true`` with its `archivedAt` for 90 days. That list has no
date filter, so the whole bin is paged and only what was archived since the window's start
(the same start as the contact search before it) is reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from leadsync.connectors import HttpClient, PageRequest, Rejected, RemovedLead, TokenPaginator
from leadsync.core.models import Lead

from leadsync_hubspot.search import epoch_ms

__all__ = ["MERGED_IDS", "archived_pages", "with_merges"]

MERGED_IDS = "hs_merged_object_ids"  # "the Merged [record] IDs property", ids separated by ";"
BIN_PAGE_SIZE = 100  # the list API's maximum


def merged_ids(record: dict[str, Any]) -> list[str]:
    """The ids merged into `record` (never its own id), in the order HubSpot lists them."""
    value = (record.get("properties") or {}).get(MERGED_IDS)
    own = str(record.get("id") or "")
    found: list[str] = []
    for part in str(value or "").replace(",", ";").split(";"):
        part = part.strip()
        if part and part != own and part not in found:
            found.append(part)
    return found


def with_merges(mapper: Any, results: Sequence[dict[str, Any]]) -> list[Lead | Rejected | RemovedLead]:
    """Each contact mapped, followed by a RemovedLead for every id merged into it. A contact the
    mapper rejects reports no merge: the merged records' activities would have no lead to go to
    (the merge is reported when the contact is next read)."""
    records: list[Lead | Rejected | RemovedLead] = []
    for result in results:
        mapped = mapper(result)
        records.append(mapped)
        if isinstance(mapped, Lead):
            survivor = str(result.get("id"))
            records.extend(RemovedLead(old, merged_into=survivor) for old in merged_ids(result))
    return records


def _archived_ms(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def archived_pages(client: HttpClient, since_ms: int | None) -> Iterator[tuple[list[RemovedLead], bool]]:
    """(removals, last page?) for each page of the recycling bin: contacts archived after
    `since_ms` (all of them when None; one whose `archivedAt` is missing or unreadable too)."""
    params: dict[str, Any] = {"limit": BIN_PAGE_SIZE, "archived": "true", "properties": "hs_object_id"}
    paginator = TokenPaginator("results", ("paging", "next", "after"), "after", vendor="HubSpot contact recycling bin")
    for page in client.paginate(PageRequest("/crm/v3/objects/contacts", params=params), paginator):
        removed = []
        for item in page.items:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            archived = _archived_ms(item.get("archivedAt"))
            if since_ms is None or archived is None or archived > since_ms:
                removed.append(RemovedLead(str(item["id"])))
        yield removed, page.next is None
