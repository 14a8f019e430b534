"""The HubSpot streams: contacts, engagement activities and completed leadsync tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from leadsync.connectors import (
    HttpClient, Page, PageRequest, ReadContext, Rejected, Stream, TaskUpdate, TokenPaginator, prefetched,
)
from leadsync.core.models import Activity

from leadsync_hubspot.firstsync import FirstSyncPlan
from leadsync_hubspot.mapping import ContactMapper, activity_from_engagement, task_update_from_task
from leadsync_hubspot.primary import associated_ids
from leadsync_hubspot.removed import MERGED_IDS, archived_pages, with_merges
from leadsync_hubspot.search import epoch_ms, search_pages
from leadsync_hubspot.settings import DEFAULT_FIELDS, HubSpotSettings

__all__ = ["ContactsStream", "EngagementStream", "TaskCompletionStream"]

LIST_PAGE_SIZE = 100  # the list API's maximum
_DAY_MS = 86_400_000

_ENGAGEMENT_PROPERTIES = {
    "calls": ["hs_timestamp", "hs_call_duration", "hs_call_disposition", "hs_call_status", "hs_call_direction"],
    "meetings": ["hs_timestamp", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome"],
    "emails": ["hs_timestamp", "hs_email_direction"],
}


class ContactsStream(Stream):
    """Contacts: the list API for a first sync or full refresh, then search on lastmodifieddate.

    Each contact is followed by a RemovedLead for every id merged into it; after the contacts,
    the recycling bin reports the contacts deleted since the window's start (see `removed`).
    The bin is read after the contacts, from the same start, so a deleted contact a lagging
    search index still showed is removed again in the same run."""

    name = "leads"
    parallel = True  # shares only the client; see Stream

    def __init__(self, client: HttpClient, settings: HubSpotSettings, connection: str) -> None:
        self.client, self.settings, self.connection = client, settings, connection

    def _properties(self) -> list[str]:
        reads = [k for k in DEFAULT_FIELDS if k not in {"score", "behavior_score", "attribute_score", "segment",
                                                          "sheet_version", "scored_at", "task_key"}]
        return sorted({self.settings.field(k) for k in reads} | set(self.settings.extra_properties) | {MERGED_IDS})

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        cursor = ctx.cursor or {}
        # The bin's lower bound: the window start of the last complete bin read (none: the whole bin).
        bin_lo = None if ctx.full_refresh else cursor.get("bin_lo")
        last: dict[str, Any] = {}
        for page in self._contacts(ctx, cursor):
            last = dict(page.cursor or {})
            yield Page(page.records, {**last, "bin_lo": bin_lo} if bin_lo is not None else last)
        yield from self._bin(ctx, last, bin_lo)

    def _contacts(self, ctx: ReadContext, cursor: dict[str, Any]) -> Iterator[Page]:
        if ctx.full_refresh or not cursor or cursor.get("mode") == "list":
            yield from self._list(ctx, cursor if cursor.get("mode") == "list" and not ctx.full_refresh else None)
            return
        mapper = ContactMapper(self.settings, self.connection)
        for page in search_pages(
            self.client,
            "contacts",
            date_prop=self.settings.field("updated_at"),
            properties=self._properties(),
            ctx=ctx,
            window_ms=int(self.settings.search_window_days * _DAY_MS),
        ):
            yield Page(with_merges(mapper, page.results), page.cursor)

    def _bin(self, ctx: ReadContext, last: dict[str, Any], bin_lo: Any) -> Iterator[Page]:
        """The recycling bin's contacts archived after the window start (the look-back before
        `bin_lo`); the last page moves `bin_lo` to this run's signpost."""
        since = int(bin_lo) - int(ctx.lookback.total_seconds() * 1000) if bin_lo is not None else None
        done = {**last, "bin_lo": epoch_ms(ctx.signpost)}
        kept = {**last, "bin_lo": bin_lo} if bin_lo is not None else last
        for removed, final in archived_pages(self.client, since):
            yield Page(list(removed), done if final else kept)

    def _list(self, ctx: ReadContext, resume: dict[str, Any] | None) -> Iterator[Page]:
        # Changes made after the list began are newer than `started` and the search picks them up.
        started = int(resume["started"]) if resume else epoch_ms(ctx.signpost)
        # The next page is requested while this one is mapped: a round trip costs more than mapping.
        mapper = ContactMapper(self.settings, self.connection)
        for results, after in prefetched(self._list_pages(resume.get("after") if resume else None)):
            records = with_merges(mapper, results)
            if after is None:
                yield Page(records, {"mode": "search", "lo": started})
                return
            yield Page(records, {"mode": "list", "started": started, "after": after})

    def _list_pages(self, after: str | None) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Raw list pages and the paging token that follows each (None after the last)."""
        params: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "properties": ",".join(self._properties())}
        if after:
            params["after"] = after
        paginator = TokenPaginator("results", ("paging", "next", "after"), "after", vendor="HubSpot contact list")
        for page in self.client.paginate(PageRequest("/crm/v3/objects/contacts", params=params), paginator):
            yield page.items, page.next


# HubSpot's documented maxima: 200 results a search page, 1,000 ids an associations batch read
# (developers.hubspot.com changelog "Batch Read Limit for HubSpot Associations API", 2025-02-10).
_SEARCH_PAGE = 200
_ASSOCIATIONS_BATCH = 1000


class EngagementStream(Stream):
    """Calls, meetings or logged e-mails (search on hs_lastmodifieddate) with their contact."""

    properties: dict[str, list[str]] = _ENGAGEMENT_PROPERTIES  # what the search reads, by object type
    parallel = True  # shares only the client and the (locked) first-sync plan; see Stream

    def __init__(self, client: HttpClient, settings: HubSpotSettings, connection: str, object_type: str,
                 plan: FirstSyncPlan | None = None) -> None:
        self.client, self.settings, self.connection = client, settings, connection
        self.object_type = object_type
        self.name = f"activities_{object_type}"  # type: ignore[misc]  # one cursor per object type
        self.plan = plan
        self._inline: dict[str, list[str]] | None = None  # contact ids a list page carried inline

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        cursor = ctx.cursor or {}
        if cursor.get("mode") == "list" and not ctx.full_refresh:
            yield from self._list(ctx, cursor)
            return
        if (ctx.full_refresh or not cursor) and self.plan is not None and self.plan.lists(self.object_type):
            yield from self._list(ctx, None)
            return
        yield from self._search(ctx)

    def _list(self, ctx: ReadContext, resume: dict[str, Any] | None) -> Iterator[Page]:
        """A first sync through the list API, contact ids inline; then search from when the list began."""
        started = int(resume["started"]) if resume else epoch_ms(ctx.signpost)
        params: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "properties": ",".join(self.properties[self.object_type]),
                                  "associations": "contacts"}
        if resume and resume.get("after"):
            params["after"] = resume["after"]
        paginator = TokenPaginator("results", ("paging", "next", "after"), "after",
                                   vendor=f"HubSpot {self.object_type} list")
        pages = self.client.paginate(PageRequest(f"/crm/v3/objects/{self.object_type}", params=params), paginator)
        for page in prefetched(pages):
            self._inline = {str(r.get("id")): _inline_contacts(r) for r in page.items if r.get("id")}
            try:
                records = self._activities(page.items)
            finally:
                self._inline = None
            if page.next is None:
                yield Page(records, {"lo": started})
                return
            yield Page(records, {"mode": "list", "started": started, "after": page.next})

    def _search(self, ctx: ReadContext) -> Iterator[Page]:
        pending: list[dict[str, Any]] = []
        for page in search_pages(
            self.client,
            self.object_type,
            date_prop="hs_lastmodifieddate",
            properties=self.properties[self.object_type],
            ctx=ctx,
            window_ms=int(self.settings.search_window_days * _DAY_MS),
        ):
            # Search pages hold 200; one associations read takes up to 1,000 ids. Gather search
            # pages up to that, then commit them as one page under the last one's cursor.
            pending += page.results
            if len(pending) + _SEARCH_PAGE > _ASSOCIATIONS_BATCH or not page.results:
                yield Page(self._activities(pending), page.cursor)
                pending = []
            else:
                last_cursor = page.cursor
                continue
        if pending:
            yield Page(self._activities(pending), last_cursor)

    def _activities(self, results: list[dict[str, Any]]) -> list[Any]:
        """One activity per engagement and associated contact: a call with three contacts credits
        each of them (the lowest contact id keeps the plain source id `calls:<id>`, the others get
        `calls:<id>:contact:<contact id>`). An engagement with no contact is no lead's activity."""
        contacts = self._contacts([str(r.get("id")) for r in results if r.get("id")])
        records: list[Any] = []
        for record in results:
            linked = sorted(contacts.get(str(record.get("id") or "")) or [], key=lambda c: (len(c), c))
            for position, contact in enumerate(linked):
                activity = activity_from_engagement(self.object_type, record, contact, self.connection)
                if position and isinstance(activity, Activity):
                    activity = activity.model_copy(update={"source_id": f"{activity.source_id}:contact:{contact}"})
                records.append(activity)
        return records

    def _contacts(self, ids: list[str]) -> dict[str, list[str]]:
        """Engagement id -> associated contact ids, through the v4 associations batch read."""
        if self._inline is not None:  # a list page carried them
            return {i: self._inline.get(i) or [] for i in ids}
        return associated_ids(self.client, self.object_type, "contacts", ids) if ids else {}


def _inline_contacts(record: dict[str, Any]) -> list[str]:
    """The contact ids of a list answer's record (`associations.contacts.results[].id`), in order."""
    associations = record.get("associations")
    found = (associations.get("contacts") or {}) if isinstance(associations, dict) else {}
    results = found.get("results") if isinstance(found, dict) else None
    return [str(a["id"]) for a in results or [] if isinstance(a, dict) and a.get("id")]


class TaskCompletionStream(Stream):
    """Tasks leadsync created (leadsync_key set) that sales completed, as TaskUpdate records."""

    name = "task_updates"
    parallel = True  # shares only the client; see Stream

    def __init__(self, client: HttpClient, settings: HubSpotSettings, connection: str) -> None:
        self.client, self.settings, self.connection = client, settings, connection

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        key = self.settings.field("task_key")
        filters = [
            {"propertyName": key, "operator": "HAS_PROPERTY"},
            {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"},
        ]
        for page in search_pages(
            self.client,
            "tasks",
            date_prop="hs_lastmodifieddate",
            properties=[key, "hs_task_status", "hs_task_completion_date", "hubspot_owner_id"],
            ctx=ctx,
            filters=filters,
            window_ms=int(self.settings.search_window_days * _DAY_MS),
        ):
            ids = [str(r["id"]) for r in page.results if isinstance(r, dict) and r.get("id")]
            # The task's contact (its one task -> contact association) is the lead it belongs to;
            # search does not return associations, the v4 batch read does.
            contacts = associated_ids(self.client, "tasks", "contacts", ids) if ids else {}
            yield Page([_with_contact(task_update_from_task(r, self.settings), contacts.get(str(r.get("id"))))
                        for r in page.results], page.cursor)


def _with_contact(update: TaskUpdate | Rejected, contact_ids: list[str] | None) -> TaskUpdate | Rejected:
    """The update naming the task's (first) associated contact as its lead."""
    if isinstance(update, TaskUpdate) and contact_ids:
        update.record_id = contact_ids[0]
    return update
