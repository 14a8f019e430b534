"""One person's records merged into one lead: which system wins which field (docs/architecture.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from leadsync.core.models import Lead
from leadsync.core.state import leads

__all__ = ["CRM_FIELDS", "merge_views", "rebuild"]

# Fields where the CRM's word is final when it has one.
CRM_FIELDS = ("owner", "status", "status_reason")
_SKIP = {"key", "refs", "custom"}


def merge_views(views: Sequence[tuple[str, Lead, bool]]) -> Lead:
    """Merge one person's views, given as (connection, lead, is_crm) tuples.

    A CRM view wins owner and status; for every other field the most recently updated
    non-empty value wins.
    """
    ordered = sorted(views, key=lambda v: (v[1].updated_at is not None, v[1].updated_at or 0, v[0]))
    merged: dict[str, Any] = {}
    refs: dict[str, str] = {}
    custom: dict[str, Any] = {}
    for connection, lead, _ in ordered:
        refs.update(lead.refs or {})
        custom.update(lead.custom)
        for name, value in lead:
            if name not in _SKIP and value not in (None, ""):
                merged[name] = value
    crm = [lead for _, lead, is_crm in ordered if is_crm]
    if crm:
        for name in CRM_FIELDS:
            for lead in reversed(crm):
                if getattr(lead, name) not in (None, ""):
                    merged[name] = getattr(lead, name)
                    break
    key = ordered[-1][1].key
    return Lead(key=key, refs=refs, custom=custom, **merged)


def rebuild(
    db: sqlite3.Connection, lead_key: str, crm_connections: set[str],
    fresh: tuple[str, str, Lead, str] | None = None,
) -> bool:
    """Recompute the merged lead from its views; `fresh` is the view just stored, already parsed."""
    if fresh is not None:
        connection, record_id, lead, view = fresh
        others = leads.other_views(db, lead_key, connection, record_id)
        if not others:  # one system knows this person: the view is the merged lead
            merged, data = lead, view
        else:
            merged, data = _merge(lead_key, others, crm_connections, (connection, lead))
    else:
        rows = leads.views(db, lead_key)
        if not rows:
            leads.delete(db, lead_key)
            return True
        merged, data = _merge(lead_key, rows, crm_connections)
    if leads.stored_data(db, lead_key) == data:
        return False
    leads.save(db, lead_key, merged.email, data, merged.lead_source)
    return True


def _merge(
    lead_key: str, stored: Sequence[tuple[str, str]], crm_connections: set[str], fresh: tuple[str, Lead] | None = None
) -> tuple[Lead, str]:
    """The merged lead of stored (connection, JSON) views and perhaps one fresh view, and its JSON."""
    views = [(conn, Lead.model_validate_json(data), conn in crm_connections) for conn, data in stored]
    if fresh is not None:
        views.append((fresh[0], fresh[1], fresh[0] in crm_connections))
    merged = merge_views(views).model_copy(update={"key": lead_key})
    return merged, merged.model_dump_json()
