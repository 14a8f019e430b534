"""What users do to records in the fake org: delete (to the recycle bin), merge, undelete, purge, convert.

A record in the recycle bin keeps its row with ``IsDeleted = true`` (and, when merged away,
``MasterRecordId``): ``query`` leaves it out, ``queryAll`` returns it until it is purged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadsync_salesforce.testing.stamps import sf_time

__all__ = ["RecycleBin"]


class RecycleBin:
    """Deletes, merges and conversions on the fake org's records (``state["objects"]``)."""

    state: dict[str, Any]
    add: Callable[..., str]  # the app's: a new record's id

    def delete(self, obj: str, record_id: str) -> None:
        """To the recycle bin: IsDeleted = true, a new SystemModstamp; only queryAll sees it."""
        record = self.state["objects"][obj][record_id]
        record.update(IsDeleted=True, SystemModstamp=sf_time())

    def merge(self, obj: str, master_id: str, victim_ids: list[str]) -> None:
        """merge(): the victims are deleted with MasterRecordId = the master, their related
        Tasks, Events and CampaignMembers move to the master (no trigger, no new SystemModstamp on
        them), and the master is updated."""
        for victim in victim_ids:
            self.state["objects"][obj][victim].update(IsDeleted=True, MasterRecordId=master_id, SystemModstamp=sf_time())
            for child, field in (("Task", "WhoId"), ("Event", "WhoId"), ("CampaignMember", "LeadId")):
                for record in self.state["objects"][child].values():
                    if record.get(field) == victim:
                        record[field] = master_id
        self.state["objects"][obj][master_id]["SystemModstamp"] = sf_time()

    def undelete(self, obj: str, record_id: str) -> None:
        """Restored from the recycle bin: live again with a new SystemModstamp."""
        self.state["objects"][obj][record_id].update(IsDeleted=False, SystemModstamp=sf_time())

    def purge(self, obj: str, record_id: str) -> None:
        """emptyRecycleBin(), or the 15 days gone by: the record is gone even from queryAll."""
        del self.state["objects"][obj][record_id]

    def convert_lead(self, lead_id: str) -> str:
        """convertLead(): a Contact is made; the Lead stays (IsConverted = true), not deleted."""
        lead = self.state["objects"]["Lead"][lead_id]
        contact = self.add("Contact", {"Email": lead.get("Email"), "LastName": lead.get("LastName")})
        lead.update(IsConverted=True, ConvertedContactId=contact, Status="Closed - Converted", SystemModstamp=sf_time())
        return contact
