"""The fake HubSpot's v4 associations batch read: per-input paging, 207 errors for inputs without any.

HubSpot's answer holds one result per input that has associations, `paging.next.after` on an input
with more than one page (sent back alongside that input's id), and an error (`NO_ASSOCIATIONS_FOUND`)
per input that has none; at most 1,000 inputs a call since 2025-02-10.
"""

from __future__ import annotations

import base64
from typing import Any

from leadsync.connectors.testing import FakeApp, Request, Response, route

from leadsync_hubspot.testing.fake_limits import error_body

__all__ = ["ASSOCIATIONS_BATCH_MAX", "FROM_CONTACT_TYPE", "TO_CONTACT_TYPE", "HubSpotAssociations"]

ASSOCIATIONS_BATCH_MAX = 1000
# HUBSPOT_DEFINED association type ids, object -> contacts and back (HubSpot's association type table).
TO_CONTACT_TYPE = {"tasks": 204, "calls": 194, "meetings": 200, "emails": 198, "deals": 3}
FROM_CONTACT_TYPE = {"tasks": 203, "calls": 193, "meetings": 199, "emails": 197, "deals": 4}


class HubSpotAssociations(FakeApp):
    """Reads the `associations` state: {object type: {record id: [contact ids]}}."""

    def _linked(self, from_type: str, to_type: str, record_id: str) -> list[str]:
        """Live ids of `to_type` records associated with one live `from_type` record, ascending."""
        if from_type == "contacts":
            links = self.state["associations"][to_type]
            found = [other for other, contacts in links.items() if record_id in contacts]
        else:
            found = list(self.state["associations"][from_type].get(record_id, []))
        live = self.state["objects"][to_type]
        return sorted((i for i in found if i in live and not live[i].get("archived")), key=int)

    @route("POST", r"/crm/v4/associations/(?P<src>contacts|tasks|calls|meetings|emails|deals)/(?P<dst>contacts|tasks|calls|meetings|emails|deals)/batch/read", write=False)
    def read_associations(self, request: Request) -> Response:
        """v4 batch read: one result per input that has associations, paged per input with `after`."""
        src, dst = request.params["src"], request.params["dst"]
        if (src == "contacts") == (dst == "contacts"):
            return Response(400, json=error_body(f"associations {src} -> {dst} are not modelled by this fake"))
        inputs = (request.json or {}).get("inputs") if isinstance(request.json, dict) else None
        if not isinstance(inputs, list) or not inputs:
            return Response(400, json=error_body("inputs is required"))
        if len(inputs) > ASSOCIATIONS_BATCH_MAX:  # HubSpot's limit since 2025-02-10
            return Response(400, json=error_body(f"Batch read associations supports at most {ASSOCIATIONS_BATCH_MAX} inputs."))
        type_id = FROM_CONTACT_TYPE[dst] if src == "contacts" else TO_CONTACT_TYPE[src]
        size = int(self.state["config"].get("associations_page_size") or 500)
        results, errors = [], []
        for item in inputs:
            record_id = str((item or {}).get("id") or "")
            source = self.state["objects"][src].get(record_id)
            targets = self._linked(src, dst, record_id) if source is not None and not source.get("archived") else []
            try:
                start = int(base64.urlsafe_b64decode(str(item["after"]).encode()).decode()) if item.get("after") else 0
            except (ValueError, UnicodeDecodeError):
                return Response(400, json=error_body(f"invalid after token for input {record_id}"))
            page = targets[start:start + size]
            if not page:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "message": f"No {dst} is associated with {src} {record_id}.",
                               "context": {"fromObjectId": [record_id]}, "errors": []})
                continue
            result: dict[str, Any] = {"from": {"id": record_id}, "to": [
                {"toObjectId": int(t), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
                for t in page]}
            if start + size < len(targets):
                token = base64.urlsafe_b64encode(str(start + size).encode()).decode()
                result["paging"] = {"next": {"after": token, "link": None}}
            results.append(result)
        return self._batch_answer(results, errors)
