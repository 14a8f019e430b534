"""The fake HubSpot's contact merges, as HubSpot documents them.

`POST /crm/v3/objects/contacts/merge` ({primaryObjectId, objectIdToMerge}). Since HubSpot's merge
change the result is a new contact with a new id and both originals are merged into it; before it,
the primary kept its id. Either way the survivor's `hs_merged_object_ids` lists the merged ids
(";"-separated), the merged ids vanish from lists and search (they are not in the recycling bin),
a read by a merged id answers the survivor, and the survivor's engagements are the union.
"""

from __future__ import annotations

import time
from typing import Any

from leadsync.connectors.testing import Request, Response, route

from leadsync_hubspot.testing.fake_limits import error_body

__all__ = ["HubSpotMerges"]

MERGED_IDS = "hs_merged_object_ids"


def _ids(value: Any) -> list[str]:
    return [p for p in str(value or "").split(";") if p]


class HubSpotMerges:
    """Mixin for HubSpotFake: contact merges and reads by a merged id."""

    state: dict[str, Any]

    def merge_contacts(self, primary: str, to_merge: str, *, new_id: bool | None = None, indexed: bool = True) -> str:
        """Merge `to_merge` into `primary` as a HubSpot user did (`indexed`: search already shows the
        result); returns the surviving id. `new_id` None: the fake's `merge_new_id` setting."""
        contacts = self.state["objects"]["contacts"]
        primary, to_merge = str(primary), str(to_merge)
        first, second = contacts.get(primary), contacts.get(to_merge)
        if primary == to_merge or first is None or second is None or first.get("archived") or second.get("archived"):
            raise KeyError(f"cannot merge {to_merge} into {primary}")
        if new_id is None:
            new_id = bool(self.state["config"].get("merge_new_id", True))
        merged = [*_ids(first["properties"].get(MERGED_IDS)), *_ids(second["properties"].get(MERGED_IDS)), to_merge]
        properties = {**second["properties"], **{k: v for k, v in first["properties"].items() if v not in (None, "")}}
        if not indexed:  # search shows the merged records until its index catches up
            until = time.time() + float(self.state["config"]["index_lag_s"] or 0)
            gone = [to_merge, primary] if new_id else [to_merge]
            self.state.setdefault("stale", []).extend(
                {**contacts[i], "properties": dict(contacts[i]["properties"]), "_object": "contacts", "_until": until}
                for i in gone)
        del contacts[to_merge]
        if new_id:
            del contacts[primary]
            merged.append(primary)
            survivor = str(self.state["next_id"])
            self.state["next_id"] += 1
            record = {**first, "id": survivor, "properties": {**properties, "hs_object_id": survivor}}
            contacts[survivor] = record
        else:
            survivor, record = primary, first
            record["properties"] = properties
        record["properties"][MERGED_IDS] = ";".join(dict.fromkeys(merged))
        record.pop("_index_view", None)
        self._touch("contacts", record)  # type: ignore[attr-defined]
        if indexed:
            record["_indexed_at"] = 0
        aliases = self.state.setdefault("merged", {})
        for old in {primary, to_merge} - {survivor}:
            aliases[old] = survivor
        for old, now in list(aliases.items()):
            if now in (primary, to_merge) and now != survivor:
                aliases[old] = survivor
        for links in self.state["associations"].values():
            for engagement, contact_ids in links.items():
                links[engagement] = list(dict.fromkeys(survivor if c in (primary, to_merge) else c for c in contact_ids))
        return survivor

    def resolve_merged(self, object_type: str, record_id: str) -> dict[str, Any] | None:
        """The live contact a merged id points to (None for other objects and unknown ids)."""
        if object_type != "contacts":
            return None
        survivor = self.state.get("merged", {}).get(str(record_id))
        return self.state["objects"]["contacts"].get(survivor) if survivor else None

    @route("POST", r"/crm/v3/objects/contacts/merge")
    def merge_route(self, request: Request) -> Response:
        body = request.json
        if not isinstance(body, dict) or not body.get("primaryObjectId") or not body.get("objectIdToMerge"):
            return Response(400, json=error_body("primaryObjectId and objectIdToMerge are required"))
        try:
            survivor = self.merge_contacts(str(body["primaryObjectId"]), str(body["objectIdToMerge"]), indexed=False)
        except KeyError:
            return Response(404, json=error_body("resource not found", "OBJECT_NOT_FOUND"))
        record = self.state["objects"]["contacts"][survivor]
        return Response(200, json=self._view("contacts", record, [MERGED_IDS]))  # type: ignore[attr-defined]
