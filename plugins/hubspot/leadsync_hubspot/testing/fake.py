"""A fake HubSpot CRM v3 API: contacts, engagements, tasks, search (10k cap), batch 207s, OAuth, 429s.

Shaped after developers.hubspot.com (search guide, batch/error handling, usage details). Knobs in
``state["config"]``: ``daily_limit`` (None: unlimited), ``index_lag_s`` (search sees an API write only
that many seconds later; default 2 s, as HubSpot's search is eventually consistent), ``token_lifetime_s``,
``associations_page_size`` (associated ids per input and page of a v4 associations batch read).
Primary reads (GET by id, list, batch/read, v4 associations reads) never lag. Archived records are
left out of search, lists, batch reads and associations reads. Auth, OAuth and the rate limits live in
`fake_limits`, owners and property definitions in `fake_crm`, the associations read in
`fake_associations`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from leadsync.connectors import parse_datetime, parse_employees
from leadsync.connectors.testing import Request, Response, generate_demo, route

from leadsync_hubspot.testing.fake_associations import HubSpotAssociations
from leadsync_hubspot.testing.fake_crm import HubSpotCrmSetup, invalid_values
from leadsync_hubspot.testing.fake_limits import HubSpotGate, error_body
from leadsync_hubspot.testing.fake_merge import HubSpotMerges
from leadsync_hubspot.testing.search import OPERATORS, SEARCH_CAP, matches, search_page

__all__ = ["OPERATORS", "SEARCH_CAP", "HubSpotFake", "error_body", "matches", "search_page", "seed_demo"]

OBJECTS = ("contacts", "tasks", "calls", "meetings", "emails", "deals")
_OBJ = r"(?P<obj>contacts|tasks|calls|meetings|emails|deals)"
TASK_STATUSES = {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"}
TASK_PRIORITIES = {"LOW", "MEDIUM", "HIGH"}
TASK_TYPES = {"EMAIL", "CALL", "TODO"}
TASK_TO_CONTACT = 204
# Objects whose creation time is `createdate` (the others, engagements, have `hs_createdate`).
_CREATEDATE = ("contacts", "deals")
BATCH_MAX = 100  # inputs of one batch create/read/update/upsert/archive


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# HubSpot's own datetime properties of the objects this fake models. A write may give a datetime as
# epoch milliseconds or ISO 8601; a read answers ISO 8601 in UTC with milliseconds
# ("2024-01-15T10:30:00.000Z", developers.hubspot.com CRM object and calls guides). This fake keeps
# what was written and renders it on the way out.
DATETIME_PROPERTIES = frozenset({
    "createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "hs_timestamp",
    "hs_task_completion_date", "hs_meeting_start_time", "hs_meeting_end_time", "closedate",
})


def as_read(value: Any) -> Any:
    """A stored datetime value as HubSpot reads it back (ISO 8601, UTC, milliseconds)."""
    if value in (None, ""):
        return value
    text = str(value)
    if text.lstrip("-").isdigit():
        return iso(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso(int(moment.timestamp() * 1000))


def modified_prop(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


class HubSpotFake(HubSpotGate, HubSpotCrmSetup, HubSpotAssociations, HubSpotMerges):
    """HubSpot, as far as leadsync uses it. Private-app tokens and OAuth refresh tokens both work."""

    def initial_state(self) -> dict[str, Any]:
        return {
            "objects": {name: {} for name in OBJECTS},
            "associations": {name: {} for name in OBJECTS if name != "contacts"},
            **self.setup_state(),
            "access_tokens": {},  # token -> expiry (epoch s)
            "next_id": 1000,
            "daily_used": 0,
            "config": {"index_lag_s": 2.0, "associations_page_size": 500, **self.gate_config()},
        }

    # -- seeding -----------------------------------------------------------------------------
    def add(self, object_type: str, properties: dict[str, Any], *, modified_ms: int | None = None,
            created_ms: int | None = None, contact_id: str | None = None, indexed: bool = True) -> str:
        """Store one record (values as strings, the way HubSpot keeps them); returns its id.

        A seeded record is already in the search index (`indexed`); an API write passes False and
        search sees it only `index_lag_s` later.
        """
        record_id = str(self.state["next_id"])
        self.state["next_id"] += 1
        created = created_ms or modified_ms or int(self.now() * 1000)
        props = {k: None if v is None else str(v) for k, v in properties.items()}
        props["hs_object_id"] = record_id
        props["createdate" if object_type in _CREATEDATE else "hs_createdate"] = str(created)
        record = {"id": record_id, "properties": props, "createdAt": iso(created), "archived": False}
        self.state["objects"][object_type][record_id] = record
        self._touch(object_type, record, modified_ms)
        if indexed:
            record["_indexed_at"] = 0
        if contact_id is not None:
            self.state["associations"][object_type][record_id] = [str(contact_id)]
        return record_id

    def user_edit(self, object_type: str, record_id: str, properties: dict[str, Any]) -> None:
        """Change a record as a HubSpot user did a while ago: new values, a new modification date,
        and already in the search index."""
        record = self.state["objects"][object_type][record_id]
        record["properties"].update({k: None if v is None else str(v) for k, v in properties.items()})
        self._touch(object_type, record)
        record["_indexed_at"] = 0
        record.pop("_index_view", None)

    def archive(self, object_type: str, record_id: str, *, at_ms: int | None = None) -> bool:
        """Move a record to the recycling bin (HubSpot's archive, at `at_ms` or now); False when it
        was not live. Search is eventually consistent: until the index catches up (`index_lag_s`)
        it still shows a deleted contact as it was."""
        record = self.state["objects"][object_type].get(str(record_id))
        if record is None or record.get("archived"):
            return False
        if object_type == "contacts":  # modelled for contacts only (what leadsync searches and sees deleted)
            self.state.setdefault("stale", []).append(
                {**record, "properties": dict(record["properties"]), "_object": object_type,
                 "_until": time.time() + float(self.state["config"]["index_lag_s"] or 0)})
        record["archived"] = True
        record["archivedAt"] = iso(at_ms if at_ms is not None else int(self.now() * 1000))
        return True

    @staticmethod
    def _before_update(record: dict[str, Any]) -> None:
        """Keep the version search shows while the index catches up with the coming update."""
        if record.get("_indexed_at", 0) <= time.time():
            record["_index_view"] = {"properties": dict(record["properties"]), "updatedAt": record["updatedAt"]}

    def _searchable(self, obj: str) -> list[dict[str, Any]]:
        """What the lagging index shows: the current version once indexed, else the one before."""
        now, shown = time.time(), []
        for record in self.records(obj):
            if record.get("_indexed_at", 0) <= now:
                shown.append(record)
            elif record.get("_index_view"):
                shown.append({**record, **record["_index_view"]})
        live = {r["id"] for r in shown}
        shown += [r for r in self.state.get("stale", []) if r["_object"] == obj and r["_until"] > now and r["id"] not in live]
        return shown

    def _touch(self, object_type: str, record: dict[str, Any], modified_ms: int | None = None) -> None:
        modified = modified_ms or int(self.now() * 1000)
        record["properties"][modified_prop(object_type)] = str(modified)
        record["updatedAt"] = iso(modified)
        record["_indexed_at"] = time.time() + float(self.state["config"]["index_lag_s"] or 0)

    def records(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        """Live records (or, with `archived`, only the archived ones), as HubSpot's reads show them."""
        return [r for r in self.state["objects"][object_type].values() if bool(r.get("archived")) == archived]

    def expire_tokens(self) -> None:
        for token in self.state["access_tokens"]:
            self.state["access_tokens"][token] = 0

    # -- reads -------------------------------------------------------------------------------
    def _view(self, object_type: str, record: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        defaults = ["hs_object_id", "createdate", "lastmodifieddate"] if object_type == "contacts" else \
            ["hs_object_id", "createdate", "hs_lastmodifieddate"] if object_type == "deals" else \
            ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"]
        props = record["properties"]
        names = list(dict.fromkeys([*defaults, *(wanted or [])]))
        custom = self.state["properties"].get(object_type, {})
        dated = {n for n in names if n in DATETIME_PROPERTIES or (custom.get(n) or {}).get("type") == "datetime"}
        view = {"id": record["id"], "properties": {n: as_read(props.get(n)) if n in dated else props.get(n) for n in names},
                "createdAt": record["createdAt"], "updatedAt": record["updatedAt"], "archived": bool(record.get("archived"))}
        if record.get("archived"):
            view["archivedAt"] = record.get("archivedAt")
        return view

    def with_associations(self, obj: str, record: dict[str, Any], view: dict[str, Any], request: Request) -> dict[str, Any]:
        """A list answer's record with the associated ids the `associations` parameter asks for.

        HubSpot: a comma-separated list of object types; unknown ones are ignored; each is answered
        as {"results": [{"id", "type"}]} (CollectionResponseAssociatedId); a record with none has no key.
        This fake models engagement -> contact associations only.
        """
        wanted = [t for t in request.query.get("associations", "").split(",") if t]
        if "contacts" not in wanted or obj == "contacts" or obj not in self.state["associations"]:
            return view
        linked = self.state["associations"][obj].get(str(record["id"])) or []
        if linked:
            kind = {"meetings": "meeting_event", "deals": "deal"}.get(obj, obj.rstrip("s"))
            view["associations"] = {"contacts": {"results": [{"id": str(c), "type": f"{kind}_to_contact"}
                                                             for c in linked]}}
        return view

    def list_params(self, request: Request) -> tuple[str, int, int, list[str]] | Response:
        """(object type, limit, after, properties) of a list call, or HubSpot's 400 for bad ones."""
        obj = request.params["obj"]
        try:
            limit = int(request.query.get("limit", "10"))
            after = int(request.query.get("after", "0") or 0)
        except ValueError:
            return Response(400, json=error_body("limit and after must be integers"))
        if not 1 <= limit <= 100:
            return Response(400, json=error_body(f"limit must be between 1 and 100, got {limit}"))
        return obj, limit, after, [p for p in request.query.get("properties", "").split(",") if p]

    @route("GET", rf"/crm/v3/objects/{_OBJ}")
    def list_objects(self, request: Request) -> Response:
        parsed = self.list_params(request)
        if isinstance(parsed, Response):
            return parsed
        obj, limit, after, wanted = parsed
        archived = request.query.get("archived", "false").lower() == "true"
        if archived and self.state["config"].get("archived_list_broken"):
            return Response(200, json={"status": "ok"})  # a fault for tests: an answer with no results list
        ordered = sorted((r for r in self.records(obj, archived=archived) if int(r["id"]) >= after), key=lambda r: int(r["id"]))
        page = ordered[:limit]
        body: dict[str, Any] = {"results": [self.with_associations(obj, r, self._view(obj, r, wanted), request)
                                            for r in page]}
        if len(ordered) > limit:
            nxt = str(int(page[-1]["id"]) + 1)
            body["paging"] = {"next": {"after": nxt, "link": f"/crm/v3/objects/{obj}?after={nxt}"}}
        return Response(200, json=body)

    @route("POST", rf"/crm/v3/objects/{_OBJ}/search", endpoint="search", write=False)
    def search(self, request: Request) -> Response:
        obj = request.params["obj"]
        status, body = search_page(obj, self._searchable(obj), request.json, view=lambda r, w: self._view(obj, r, w))
        return Response(status, json=body if status == 200 else error_body(body["message"]))

    @route("GET", rf"/crm/v3/objects/{_OBJ}/(?P<id>\d+)")
    def get_object(self, request: Request) -> Response:
        obj = request.params["obj"]
        record = self.state["objects"][obj].get(request.params["id"])
        archived = request.query.get("archived", "false").lower() == "true"
        if record is None and not archived:
            record = self.resolve_merged(obj, request.params["id"])  # a merged id reads the survivor
        if record is None or bool(record.get("archived")) != archived:
            return Response(404, json=error_body("resource not found", "OBJECT_NOT_FOUND"))
        wanted = [p for p in request.query.get("properties", "").split(",") if p]
        return Response(200, json=self._view(obj, record, wanted))

    @route("POST", rf"/crm/v3/objects/{_OBJ}/batch/read", write=False)
    def batch_read(self, request: Request) -> Response:
        """Read by id (or, for contacts, by e-mail with idProperty); missing ids come back as a 207."""
        obj, body = request.params["obj"], request.json
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not isinstance(body.get("properties"), list):
            return Response(400, json=error_body("inputs and properties are required"))
        inputs = body["inputs"]
        if not 1 <= len(inputs) <= BATCH_MAX:
            return Response(400, json=error_body(f"inputs must hold 1 to {BATCH_MAX} records, got {len(inputs)}"))
        id_property = body.get("idProperty")
        if id_property not in (None, "hs_object_id") and not (obj == "contacts" and id_property == "email"):
            return Response(400, json=error_body(f"{id_property} is not a unique property of {obj}"))
        archived = request.query.get("archived", "false").lower() == "true"
        results, missing = [], []
        for item in inputs:
            if not isinstance(item, dict) or not str(item.get("id") or ""):
                return Response(400, json=error_body("every input needs an id"))
            wanted = str(item["id"])
            if id_property == "email":
                found = next((r for r in self.state["objects"][obj].values()
                              if (r["properties"].get("email") or "").lower() == wanted.strip().lower()), None)
            else:
                found = self.state["objects"][obj].get(wanted)
            if found is None or bool(found.get("archived")) != archived:
                missing.append(wanted)
            else:
                results.append(self._view(obj, found, body["properties"]))
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"Could not get some {obj} objects, they may be deleted or not exist. Check that ids are valid.",
                   "context": {"ids": missing}, "errors": []}] if missing else []
        return self._batch_answer(results, errors)

    @route("POST", r"/crm/v3/objects/tasks/batch/archive")
    def archive_tasks(self, request: Request) -> Response:
        inputs = (request.json or {}).get("inputs") if isinstance(request.json, dict) else None
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= BATCH_MAX:
            return Response(400, json=error_body(f"inputs must hold 1 to {BATCH_MAX} records"))
        if not all(isinstance(item, dict) and str(item.get("id") or "") for item in inputs):
            return Response(400, json=error_body("every input needs an id"))
        for item in inputs:
            self.archive("tasks", str(item["id"]))
        return Response(204)

    # -- writes ------------------------------------------------------------------------------
    def _unknown_properties(self, obj: str, properties: dict[str, Any]) -> list[dict[str, Any]]:
        known = self.known_properties(obj)
        return [{"message": f'Property "{n}" does not exist', "error": "PROPERTY_DOESNT_EXIST", "name": n}
                for n in properties if n not in known]

    def _batch_answer(self, results: list[dict[str, Any]], errors: list[dict[str, Any]], created: bool = False) -> Response:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(int(self.now() * 1000)),
                                "completedAt": iso(int(self.now() * 1000))}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
            return Response(207, json=body)
        return Response(201 if created else 200, json=body)

    @route("POST", r"/crm/v3/objects/contacts/batch/update")
    def update_contacts(self, request: Request) -> Response:
        inputs = (request.json or {}).get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return Response(400, json=error_body("inputs must hold 1 to 100 records"))
        for item in inputs:
            unknown = self._unknown_properties("contacts", item.get("properties") or {})
            if unknown:  # HubSpot refuses the whole batch
                return Response(400, json=invalid_values(unknown))
        results, missing = [], []
        for item in inputs:
            record = self.state["objects"]["contacts"].get(str(item.get("id")))
            if record is None or record.get("archived"):
                missing.append(str(item.get("id")))
                continue
            self._before_update(record)
            record["properties"].update({k: None if v is None else str(v) for k, v in item["properties"].items()})
            self._touch("contacts", record)
            results.append(self._view("contacts", record, list(item["properties"])))
        results.reverse()  # HubSpot does not promise input order
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                   "context": {"ids": missing}, "errors": []}] if missing else []
        return self._batch_answer(results, errors)

    @route("POST", r"/crm/v3/objects/contacts/batch/upsert")
    def upsert_contacts(self, request: Request) -> Response:
        inputs = (request.json or {}).get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return Response(400, json=error_body("inputs must hold 1 to 100 records"))
        results = []
        for item in inputs:
            if item.get("idProperty") != "email":
                return Response(400, json=error_body("idProperty must be a unique property such as email"))
            email = str(item.get("id") or "").strip().lower()
            found = next((r for r in self.records("contacts") if (r["properties"].get("email") or "").lower() == email), None)
            if found is None:
                new_id = self.add("contacts", {**(item.get("properties") or {}), "email": email}, indexed=False)
                found, is_new = self.state["objects"]["contacts"][new_id], True
            else:
                self._before_update(found)
                found["properties"].update({k: str(v) for k, v in (item.get("properties") or {}).items()})
                self._touch("contacts", found)
                is_new = False
            results.append({**self._view("contacts", found, ["email"]), "new": is_new})
        return self._batch_answer(results, [])

    def _task_problem(self, item: dict[str, Any]) -> str | dict[str, Any] | None:
        """A plain message, a property-values error (HubSpot's body), or None for a valid task."""
        props = item.get("properties") or {}
        if not props.get("hs_timestamp"):
            return "Property hs_timestamp is required"
        unknown = self._unknown_properties("tasks", props)
        if props.get("hubspot_owner_id") not in (None, ""):
            unknown += [p for p in [self.owner_problem(props["hubspot_owner_id"])] if p]
        if unknown:
            return invalid_values(unknown)
        for name, allowed in (("hs_task_status", TASK_STATUSES), ("hs_task_priority", TASK_PRIORITIES), ("hs_task_type", TASK_TYPES)):
            if props.get(name) is not None and props[name] not in allowed:
                return f"{props[name]} was not one of the allowed options for {name}"
        for association in item.get("associations") or []:
            target = str((association.get("to") or {}).get("id"))
            types = association.get("types") or []
            if target not in self.state["objects"]["contacts"]:
                return f"contact {target} does not exist"
            if not any(t.get("associationCategory") == "HUBSPOT_DEFINED" and t.get("associationTypeId") == TASK_TO_CONTACT for t in types):
                return "association type must be HUBSPOT_DEFINED 204 (task to contact)"
        return None

    @route("POST", r"/crm/v3/objects/tasks/batch/create")
    def create_tasks(self, request: Request) -> Response:
        inputs = (request.json or {}).get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return Response(400, json=error_body("inputs must hold 1 to 100 records"))
        traced = all(item.get("objectWriteTraceId") for item in inputs)
        problems = [(item, self._task_problem(item)) for item in inputs]
        first = next((p for _, p in problems if p), None)
        if first is not None and (not traced or isinstance(first, dict)):
            # Without a trace id on every input the first error fails the whole batch; so does a
            # property value HubSpot refuses (an unknown property, an owner that is not an owner id).
            return Response(400, json=first if isinstance(first, dict) else error_body(first))
        results, errors = [], []
        for item, problem in problems:
            if problem:
                errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": problem,
                               "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]}, "errors": []})
                continue
            contact = next((str(a["to"]["id"]) for a in item.get("associations") or []), None)
            task_id = self.add("tasks", item["properties"], contact_id=contact, indexed=False)
            view = self._view("tasks", self.state["objects"]["tasks"][task_id], list(item["properties"]))
            if item.get("objectWriteTraceId"):
                view["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(view)
        return self._batch_answer(results, errors, created=True)

    @route("PATCH", r"/crm/v3/objects/tasks/(?P<id>\d+)")
    def update_task(self, request: Request) -> Response:
        record = self.state["objects"]["tasks"].get(request.params["id"])
        if record is None or record.get("archived"):
            return Response(404, json=error_body("resource not found", "OBJECT_NOT_FOUND"))
        self._before_update(record)
        record["properties"].update({k: str(v) for k, v in ((request.json or {}).get("properties") or {}).items()})
        self._touch("tasks", record)
        return Response(200, json=self._view("tasks", record, list(record["properties"])))

    # -- inspection helpers for tests --------------------------------------------------------
    def tasks_with_key(self, key_property: str = "leadsync_key", *, archived: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Live (or archived) tasks by their key property."""
        found: dict[str, list[dict[str, Any]]] = {}
        for record in self.records("tasks", archived=archived):
            key = record["properties"].get(key_property)
            if key:
                found.setdefault(key, []).append(record)
        return found


DEMO_OWNERS = ("501", "502", "503")


def seed_demo(app: HubSpotFake, anchor: datetime, *, seed: int = 7, leads: int = 300, activities: int = 5000,
              with_properties: bool = True, owners: tuple[str, ...] = DEMO_OWNERS) -> dict[str, str]:
    """Fill the fake with the demo leads as contacts and their calls/meetings; returns e-mail -> id.

    `owners` are owner ids added as the account's owners (e-mail `rep<id>@example.com`)."""
    for owner_id in owners:
        if owner_id not in app.state["owners"]:
            app.add_owner(f"rep{owner_id}@example.com", "Rep", owner_id, owner_id=owner_id)
    data = generate_demo(anchor, seed=seed, leads=leads, activities=activities, sales=False)
    ids: dict[str, str] = {}
    for row in data.leads:
        updated = parse_datetime(row.get("updated_at") or row.get("created_at") or anchor.isoformat())
        created = parse_datetime(row.get("created_at")) or updated
        props = {"email": row.get("email"), "firstname": row.get("first_name"), "lastname": row.get("last_name"),
                 "company": row.get("company"), "jobtitle": row.get("title"), "phone": row.get("phone"),
                 "numemployees": row.get("employees") or parse_employees(row.get("employees")),
                 "industry": row.get("industry"), "hs_analytics_source": row.get("lead_source"),
                 "hs_lead_status": row.get("status")}
        ids[row["email"]] = app.add("contacts", {k: v for k, v in props.items() if v},
                                    modified_ms=int(updated.timestamp() * 1000), created_ms=int(created.timestamp() * 1000))
    kinds = {"call": "calls", "meeting": "meetings"}
    for row in data.activities:
        object_type = kinds.get(row["type"])
        if object_type is None or row["email"] not in ids:
            continue  # web and e-mail behaviour lives in the MA, not in CRM engagements
        when = int(parse_datetime(row["occurred_at"]).timestamp() * 1000)
        props = {"hs_timestamp": str(when)}
        if object_type == "calls" and row.get("duration_seconds"):
            props["hs_call_duration"] = str(int(float(row["duration_seconds"])) * 1000)
        app.add(object_type, props, modified_ms=when, contact_id=ids[row["email"]])
    if with_properties:
        for name in ("leadsync_score", "leadsync_behavior_score", "leadsync_attribute_score"):
            app.define_property("contacts", name, "number")
        for name in ("leadsync_segment", "leadsync_sheet_version"):
            app.define_property("contacts", name)
        app.define_property("contacts", "leadsync_scored_at", "datetime")
        app.define_property("tasks", "leadsync_key")
    return ids
