"""The fake HubSpot's account set-up: owners (`/crm/v3/owners`) and property definitions.

Owners carry two ids, as HubSpot's do: the owner `id` (what `hubspot_owner_id` takes) and the
user's `userId` (which HubSpot rejects as an owner). Archived owners are listed only with
`archived=true` and cannot own new records. A property is created only with every required field
and an existing `groupName`.
"""

from __future__ import annotations

import json
from typing import Any

from leadsync.connectors.testing import FakeApp, Request, Response, route

from leadsync_hubspot.testing.fake_limits import error_body

__all__ = ["BUILTIN_PROPERTIES", "HubSpotCrmSetup", "invalid_values"]

BUILTIN_PROPERTIES = {
    "contacts": {"email", "firstname", "lastname", "company", "jobtitle", "phone", "numemployees", "industry",
                 "hs_analytics_source", "hubspot_owner_id", "hs_lead_status", "lifecyclestage", "createdate",
                 "lastmodifieddate", "hs_object_id"},
    "tasks": {"hs_timestamp", "hs_task_subject", "hs_task_body", "hubspot_owner_id", "hs_task_status",
              "hs_task_priority", "hs_task_type", "hs_task_completion_date", "hs_createdate",
              "hs_lastmodifieddate", "hs_object_id"},
}
GROUPS = {"contacts": ["contactinformation"], "tasks": ["taskinformation"]}
OWNERS_PAGE_MAX = 500


def invalid_values(problems: list[dict[str, Any]]) -> dict[str, Any]:
    """HubSpot's 400 for property values it refuses: the list is embedded in the message as JSON
    (developers.hubspot.com changelog, property validations, 2023) and repeated in `errors`."""
    rows = [{"isValid": False, "message": p["message"], "error": p["error"], "name": p["name"]} for p in problems]
    return error_body(
        "Property values were not valid: " + json.dumps(rows),
        errors=[{"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}} for p in problems],
    )


class HubSpotCrmSetup(FakeApp):
    """Owners and property definitions of the fake account."""

    def setup_state(self) -> dict[str, Any]:
        """The part of the initial state this module keeps."""
        return {"owners": {}, "properties": {"contacts": {}, "tasks": {}},
                "groups": {k: list(v) for k, v in GROUPS.items()}, "next_owner": 70001}

    # -- seeding -----------------------------------------------------------------------------
    def add_owner(self, email: str, first: str = "", last: str = "", *, archived: bool = False,
                  owner_id: str | None = None) -> str:
        """Add a HubSpot user as an owner; returns the owner id (its userId is a different number)."""
        if owner_id is None:
            owner_id = str(self.state["next_owner"])
            self.state["next_owner"] += 1
        user_id = 9_000_000 + int(owner_id)
        self.state["owners"][owner_id] = {
            "id": owner_id, "email": email, "type": "PERSON", "firstName": first, "lastName": last,
            "userId": None if archived else user_id, "userIdIncludingInactive": user_id,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z", "archived": archived,
        }
        return owner_id

    def owner_problem(self, value: Any) -> dict[str, Any] | None:
        """Why `value` cannot be a `hubspot_owner_id` (None when it is a live owner's id)."""
        owner = self.state["owners"].get(str(value))
        if owner is not None and not owner["archived"]:
            return None
        return {"message": f"{value} is not a valid owner id", "error": "INVALID_OWNER_ID", "name": "hubspot_owner_id"}

    def define_property(self, object_type: str, name: str, kind: str = "string") -> None:
        self.state["properties"][object_type][name] = {"name": name, "type": kind, "fieldType": "text",
                                                       "groupName": GROUPS[object_type][0]}

    def known_properties(self, obj: str) -> set[str]:
        return BUILTIN_PROPERTIES.get(obj, set()) | set(self.state["properties"].get(obj, {}))

    # -- owners ------------------------------------------------------------------------------
    @route("GET", r"/crm/v3/owners/?")
    def list_owners(self, request: Request) -> Response:
        """Owners by `email` (exact, case-insensitive), `limit` (<= 500), `after`, `archived`."""
        try:
            limit = int(request.query.get("limit", "100"))
            after = int(request.query.get("after", "0") or 0)
        except ValueError:
            return Response(400, json=error_body("limit and after must be integers"))
        if not 1 <= limit <= OWNERS_PAGE_MAX:
            return Response(400, json=error_body(f"limit must be between 1 and {OWNERS_PAGE_MAX}"))
        archived = request.query.get("archived", "false").lower() == "true"
        email = (request.query.get("email") or "").strip().lower()
        found = [o for o in self.state["owners"].values()
                 if o["archived"] == archived and (not email or o["email"].lower() == email) and int(o["id"]) >= after]
        found.sort(key=lambda o: int(o["id"]))
        body: dict[str, Any] = {"results": found[:limit]}
        if len(found) > limit:
            body["paging"] = {"next": {"after": str(int(found[limit]["id"])), "link": None}}
        return Response(200, json=body)

    @route("GET", r"/crm/v3/owners/(?P<id>\d+)")
    def get_owner(self, request: Request) -> Response:
        """One owner by owner id, or by user id with `idProperty=userId`."""
        archived = request.query.get("archived", "false").lower() == "true"
        if request.query.get("idProperty", "id") == "userId":
            owner = next((o for o in self.state["owners"].values()
                          if str(o["userIdIncludingInactive"]) == request.params["id"]), None)
        else:
            owner = self.state["owners"].get(request.params["id"])
        if owner is None or owner["archived"] != archived:
            return Response(404, json=error_body("resource not found", "OBJECT_NOT_FOUND"))
        return Response(200, json=owner)

    # -- properties (the specific `/groups` before the general `/{name}`) ----------------------
    @route("GET", r"/crm/v3/properties/(?P<obj>contacts|tasks)/groups")
    def property_groups(self, request: Request) -> Response:
        names = self.state["groups"][request.params["obj"]]
        return Response(200, json={"results": [{"name": n, "label": n, "displayOrder": -1, "archived": False} for n in names]})

    @route("GET", r"/crm/v3/properties/(?P<obj>contacts|tasks)/(?P<name>[\w-]+)")
    def get_property(self, request: Request) -> Response:
        obj, name = request.params["obj"], request.params["name"]
        found = self.state["properties"][obj].get(name)
        if found is None and name in BUILTIN_PROPERTIES[obj]:
            found = {"name": name, "type": "string", "fieldType": "text", "groupName": GROUPS[obj][0]}
        if found is None:
            return Response(404, json=error_body(f"Unable to find property {name}", "OBJECT_NOT_FOUND"))
        return Response(200, json=found)

    @route("POST", r"/crm/v3/properties/(?P<obj>contacts|tasks)")
    def create_property(self, request: Request) -> Response:
        obj, body = request.params["obj"], request.json if isinstance(request.json, dict) else {}
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            return Response(400, json=error_body(f"Missing required fields: {', '.join(missing)}"))
        if body["groupName"] not in self.state["groups"][obj]:
            return Response(400, json=error_body(
                f"Property group {body['groupName']} does not exist", errors=[
                    {"message": f"group {body['groupName']} does not exist", "code": "PROPERTY_GROUP_DOESNT_EXIST",
                     "context": {"groupName": [body["groupName"]]}}]))
        if body["name"] in self.known_properties(obj):
            return Response(409, json=error_body(f"A property named '{body['name']}' already exists.", "CONFLICT"))
        self.state["properties"][obj][body["name"]] = dict(body)
        return Response(201, json=dict(body))
