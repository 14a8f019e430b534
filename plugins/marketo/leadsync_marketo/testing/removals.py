"""Deleted and merged leads in the fake Marketo: Delete Leads, Merge Leads and what they leave behind.

Delete Lead removes the record and its activity log and lists it in Get Deleted Leads (a Delete
Lead activity, type 37). Merge Leads keeps the winner's id, fills its empty fields from the losers,
moves the losers' activity logs to it, records one Merge Leads activity (type 32) on it whose
``Merge IDs`` attribute names the losers, and removes the losers (listed by Get Deleted Leads too
when ``losers_in_deletedleads``: Adobe does not say, so tests try both).
"""

from __future__ import annotations

from typing import Any

from leadsync_marketo.testing.answers import envelope, error_envelope, iso, now

__all__ = ["RemovalsMixin"]


def _name(lead: dict[str, Any]) -> str:
    return " ".join(str(lead[f]) for f in ("firstName", "lastName") if lead.get(f)) or str(lead.get("email") or "")



class RemovalsMixin:
    """The deletion and merge half of `MarketoFake` (its state: leads, activities, changes, deleted)."""

    leads: dict[int, dict[str, Any]]
    activities: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    deleted: list[dict[str, Any]]
    losers_in_deletedleads: bool
    lock: Any
    _activity_ids: Any

    def delete_lead(self, lead_id: int, when: str | None = None) -> None:
        """Delete Lead: the record and its activity log are gone; Get Deleted Leads lists it."""
        with self.lock:
            self._delete(lead_id, iso(when) if when else now())

    def merge_leads(self, winner: int, losers: list[int], when: str | None = None, source: str = "Web service API"
                    ) -> None:
        """Merge Leads: the winner keeps its id and its non-empty values (a loser fills its empty ones),
        takes the losers' activity logs and gets one Merge Leads activity naming them; the losers are gone."""
        with self.lock:
            when = iso(when) if when else now()
            survivor = self.leads[winner]
            for loser_id in losers:
                loser = self.leads[loser_id]
                for field, value in loser.items():
                    if field not in ("id", "createdAt", "updatedAt") and value not in (None, "") \
                            and survivor.get(field) in (None, ""):
                        survivor[field] = value
                for item in self.activities + self.changes:
                    if item["leadId"] == loser_id:
                        item["leadId"] = winner
                del self.leads[loser_id]
                if self.losers_in_deletedleads:
                    self._record_deletion(loser_id, loser, when)
            number = next(self._activity_ids)
            self.activities.append({
                "id": number, "marketoGUID": str(number), "leadId": winner, "activityDate": when, "activityTypeId": 32,
                "primaryAttributeValueId": winner, "primaryAttributeValue": _name(survivor),
                "attributes": [{"name": "Merge IDs", "value": "[" + ",".join(map(str, losers)) + "]"},
                               {"name": "Merge Source", "value": source},
                               {"name": "Merged in Sales", "value": False},
                               {"name": "Master Updated", "value": True}]})
            survivor["updatedAt"] = when

    def _delete(self, lead_id: int, when: str) -> None:
        lead = self.leads.pop(lead_id)
        self.activities = [a for a in self.activities if a["leadId"] != lead_id]
        self.changes = [c for c in self.changes if c["leadId"] != lead_id]
        self._record_deletion(lead_id, lead, when)

    def _record_deletion(self, lead_id: int, lead: dict[str, Any], when: str) -> None:
        number = next(self._activity_ids)
        self.deleted.append({"id": number, "marketoGUID": str(number), "leadId": lead_id, "activityDate": when,
                             "activityTypeId": 37, "primaryAttributeValueId": lead_id,
                             "primaryAttributeValue": _name(lead), "attributes": []})

    def _delete_route(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        records = body.get("input") or []
        if not records or len(records) > 300:
            return 200, error_envelope("1003", "between 1 and 300 leads")
        result = []
        for record in records:
            lead_id = record.get("id") if isinstance(record, dict) else None
            if not isinstance(lead_id, int) or lead_id not in self.leads:
                result.append({"id": lead_id, "status": "skipped",
                               "reasons": [{"code": "1004", "message": "Lead not found"}]})
                continue
            self._delete(lead_id, now())
            result.append({"id": lead_id, "status": "deleted"})
        return 200, envelope(result)

    def _merge_route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            winner = int(path.split("/")[4])
            raw = query.get("leadIds") or query.get("leadId") or ""
            losers = [int(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            return 200, error_envelope("1003", "leadId/leadIds must be lead ids")
        if not losers:
            return 200, error_envelope("1003", "leadId or leadIds is required")
        missing = [i for i in [winner, *losers] if i not in self.leads]
        if missing:
            return 200, error_envelope("1004", f"Lead '{missing[0]}' not found")
        self.merge_leads(winner, losers)
        return 200, {"requestId": "fake#1", "success": True}
