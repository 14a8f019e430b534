"""A fake HubSpot CRM v3 API: contacts, engagements, tasks, search (10k cap), batch 207s, OAuth, 429s.

Shaped after developers.hubspot.com (search guide, batch/error handling, usage details). Knobs in
``state["config"]``: ``daily_limit`` (None: unlimited), ``index_lag_s`` (search sees an API write only
that many seconds later; default 2 s, as HubSpot's search is eventually consistent), ``token_lifetime_s``,
``associations_page_size`` (associated ids per input and page of a v4 associations batch read).
Primary reads (GET by id, list, batch/read, v4 associations reads) never lag. Archived records are
left out of search, lists, batch reads and associations reads.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from leadsync.connectors import parse_datetime, parse_employees
from leadsync.connectors.testing import FakeApp, Request, Response, generate_demo, route

from leadsync_hubspot.testing.search import OPERATORS, SEARCH_CAP, matches, search_page

__all__ = ["OPERATORS", "SEARCH_CAP", "HubSpotFake", "error_body", "matches", "search_page", "seed_demo"]

OBJECTS = ("contacts", "tasks", "calls", "meetings", "emails", "deals")
_OBJ = r"(?P<obj>contacts|tasks|calls|meetings|emails|deals)"
TASK_STATUSES = {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"}
TASK_PRIORITIES = {"LOW", "MEDIUM", "HIGH"}
TASK_TYPES = {"EMAIL", "CALL", "TODO"}
TASK_TO_CONTACT = 204
# HUBSPOT_DEFINED association type ids, object -> contacts and back (HubSpot's association type table).
TO_CONTACT_TYPE = {"tasks": 204, "calls": 194, "meetings": 200, "emails": 198, "deals": 3}
FROM_CONTACT_TYPE = {"tasks": 203, "calls": 193, "meetings": 199, "emails": 197, "deals": 4}
# Objects whose creation time is `createdate` (the others, engagements, have `hs_createdate`).
_CREATEDATE = ("contacts", "deals")
BATCH_MAX = 100  # inputs of one batch create/read/update/upsert/archive
ASSOCIATIONS_BATCH_MAX = 1000  # inputs of one associations batch read (since 2025-02-10)
BUILTIN_PROPERTIES = {
    "contacts": {"email", "firstname", "lastname", "company", "jobtitle", "phone", "numemployees", "industry",
                 "hs_analytics_source", "hubspot_owner_id", "hs_lead_status", "lifecyclestage", "createdate",
                 "lastmodifieddate", "hs_object_id"},
    "tasks": {"hs_timestamp", "hs_task_subject", "hs_task_body", "hubspot_owner_id", "hs_task_status",
              "hs_task_priority", "hs_task_type", "hs_task_completion_date", "hs_createdate",
              "hs_lastmodifieddate", "hs_object_id"},
}




def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> dict[str, Any]:
    """HubSpot's standard error document."""
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def modified_prop(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


class HubSpotFake(FakeApp):
    """HubSpot, as far as leadsync uses it. Private-app tokens and OAuth refresh tokens both work."""

    rate_limits = {"default": (100, 10.0), "search": (5, 1.0), "oauth": (1000, 10.0)}

    def __init__(self, *, tokens: tuple[str, ...] = ("pat-fake-token",), client_id: str = "cid",
                 client_secret: str = "csecret", refresh_token: str = "rtok", requests_per_10s: int = 100) -> None:
        self.rate_limits = {**self.rate_limits, "default": (requests_per_10s, 10.0)}
        self._creds = {"tokens": list(tokens), "client_id": client_id, "client_secret": client_secret,
                       "refresh_token": refresh_token}
        super().__init__()
        for entry in self.routes:  # every answer carries HubSpot's rate-limit headers
            entry.handler = self._with_limit_headers(entry.handler)

    def _with_limit_headers(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            response = handler(request)
            if request.endpoint != "default":
                return response
            calls, period = self.rate_limits["default"]
            used = len(self._windows.get("default", ()))
            headers = {"X-HubSpot-RateLimit-Max": str(calls), "X-HubSpot-RateLimit-Remaining": str(max(calls - used, 0)),
                       "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(period * 1000))}
            limit = self.state["config"].get("daily_limit")
            if limit is not None and request.bearer in self.state["config"]["tokens"]:  # OAuth calls get no Daily headers
                headers.update({"X-HubSpot-RateLimit-Daily": str(limit),
                                "X-HubSpot-RateLimit-Daily-Remaining": str(max(limit - self.state["daily_used"], 0))})
            response.headers = {**headers, **(response.headers or {})}
            return response

        return wrapped

    def initial_state(self) -> dict[str, Any]:
        return {
            "objects": {name: {} for name in OBJECTS},
            "associations": {name: {} for name in OBJECTS if name != "contacts"},
            "properties": {"contacts": {}, "tasks": {}},
            "access_tokens": {},  # token -> expiry (epoch s)
            "next_id": 1000,
            "daily_used": 0,
            "config": {"daily_limit": None, "index_lag_s": 2.0, "token_lifetime_s": 1800,
                       "associations_page_size": 500, **self._creds},
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

    def archive(self, object_type: str, record_id: str) -> bool:
        """Move a record to the recycling bin (HubSpot's archive); False when it was not live."""
        record = self.state["objects"][object_type].get(str(record_id))
        if record is None or record.get("archived"):
            return False
        record["archived"] = True
        record["archivedAt"] = iso(int(self.now() * 1000))
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
        return shown

    def _touch(self, object_type: str, record: dict[str, Any], modified_ms: int | None = None) -> None:
        modified = modified_ms or int(self.now() * 1000)
        record["properties"][modified_prop(object_type)] = str(modified)
        record["updatedAt"] = iso(modified)
        record["_indexed_at"] = time.time() + float(self.state["config"]["index_lag_s"] or 0)

    def define_property(self, object_type: str, name: str, kind: str = "string") -> None:
        self.state["properties"][object_type][name] = {"name": name, "type": kind, "fieldType": "text",
                                                       "groupName": f"{object_type[:-1]}information"}

    def records(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        """Live records (or, with `archived`, only the archived ones), as HubSpot's reads show them."""
        return [r for r in self.state["objects"][object_type].values() if bool(r.get("archived")) == archived]

    def expire_tokens(self) -> None:
        for token in self.state["access_tokens"]:
            self.state["access_tokens"][token] = 0

    # -- framework hooks ---------------------------------------------------------------------
    def rate_limited_response(self, request: Request) -> Response:
        policy = "SECONDLY" if request.endpoint == "search" else "TEN_SECONDLY_ROLLING"
        message = "You have reached your secondly limit." if policy == "SECONDLY" else \
            "You have reached your ten_secondly_rolling limit."
        return Response(429, json={"status": "error", "message": message, "errorType": "RATE_LIMIT",
                                   "correlationId": str(uuid.uuid4()), "policyName": policy,
                                   "requestId": str(uuid.uuid4())})

    def before_request(self, request: Request) -> Response | None:
        if request.path.startswith("/oauth/"):
            return None
        token = request.bearer
        config = self.state["config"]
        if token in config["tokens"]:
            pass
        elif token in self.state["access_tokens"]:
            if self.state["access_tokens"][token] < time.time():
                return Response(401, json=error_body(
                    "The OAuth token used to make this call expired 1 minute(s) ago.", "EXPIRED_AUTHENTICATION"))
        else:
            return Response(401, json=error_body(
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                "INVALID_AUTHENTICATION"))
        limit = config.get("daily_limit")
        if limit is not None and self.state["daily_used"] >= limit:
            return Response(429, json={"status": "error", "message": "You have reached your daily limit.",
                                       "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                                       "policyName": "DAILY", "requestId": str(uuid.uuid4())})
        self.state["daily_used"] += 1
        return None

    # -- OAuth -------------------------------------------------------------------------------
    @route("POST", r"/oauth/v1/token", endpoint="oauth")
    def token(self, request: Request) -> Response:
        form, config = request.form, self.state["config"]
        if form.get("grant_type") != "refresh_token":
            return Response(400, json={"status": "BAD_GRANT_TYPE", "message": "unsupported grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (config["client_id"], config["client_secret"]):
            return Response(400, json={"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"})
        if form.get("refresh_token") != config["refresh_token"]:
            return Response(400, json={"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
        access = f"at-{uuid.uuid4().hex}"
        lifetime = int(config["token_lifetime_s"])
        self.state["access_tokens"][access] = time.time() + lifetime
        return Response(200, json={"token_type": "bearer", "refresh_token": config["refresh_token"],
                                   "access_token": access, "expires_in": lifetime})

    # -- reads -------------------------------------------------------------------------------
    def _view(self, object_type: str, record: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        defaults = ["hs_object_id", "createdate", "lastmodifieddate"] if object_type == "contacts" else \
            ["hs_object_id", "createdate", "hs_lastmodifieddate"] if object_type == "deals" else \
            ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"]
        props = record["properties"]
        names = list(dict.fromkeys([*defaults, *(wanted or [])]))
        view = {"id": record["id"], "properties": {n: props.get(n) for n in names},
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

    # -- writes ------------------------------------------------------------------------------
    def _unknown_properties(self, obj: str, properties: dict[str, Any]) -> list[str]:
        known = BUILTIN_PROPERTIES.get(obj, set()) | set(self.state["properties"].get(obj, {}))
        return [name for name in properties if name not in known]

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
            if unknown:
                return Response(400, json=error_body("Property values were not valid", errors=[
                    {"message": f'Property "{n}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                     "context": {"propertyName": [n]}} for n in unknown]))
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

    def _task_problem(self, item: dict[str, Any]) -> str | None:
        props = item.get("properties") or {}
        if not props.get("hs_timestamp"):
            return "Property hs_timestamp is required"
        unknown = self._unknown_properties("tasks", props)
        if unknown:
            return f'Property "{unknown[0]}" does not exist'
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
        if not traced and any(problem for _, problem in problems):
            # Without a trace id on every input the first error fails the whole batch.
            return Response(400, json=error_body(next(p for _, p in problems if p)))
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

    # -- properties --------------------------------------------------------------------------
    @route("GET", r"/crm/v3/properties/(?P<obj>contacts|tasks)/groups")
    def property_groups(self, request: Request) -> Response:
        name = "contactinformation" if request.params["obj"] == "contacts" else "taskinformation"
        return Response(200, json={"results": [{"name": name, "label": "Information", "displayOrder": -1}]})

    @route("GET", r"/crm/v3/properties/(?P<obj>contacts|tasks)/(?P<name>[\w-]+)")
    def get_property(self, request: Request) -> Response:
        obj, name = request.params["obj"], request.params["name"]
        found = self.state["properties"][obj].get(name)
        if found is None and name in BUILTIN_PROPERTIES[obj]:
            found = {"name": name, "type": "string", "fieldType": "text"}
        if found is None:
            return Response(404, json=error_body(f"Unable to find property {name}", "OBJECT_NOT_FOUND"))
        return Response(200, json=found)

    @route("POST", r"/crm/v3/properties/(?P<obj>contacts|tasks)")
    def create_property(self, request: Request) -> Response:
        obj, body = request.params["obj"], request.json or {}
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            return Response(400, json=error_body(f"missing {', '.join(missing)}"))
        if body["name"] in self.state["properties"][obj] or body["name"] in BUILTIN_PROPERTIES[obj]:
            return Response(409, json=error_body(f"A property named '{body['name']}' already exists.", "CONFLICT"))
        self.state["properties"][obj][body["name"]] = dict(body)
        return Response(201, json=dict(body))

    # -- inspection helpers for tests --------------------------------------------------------
    def tasks_with_key(self, key_property: str = "leadsync_key", *, archived: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Live (or archived) tasks by their key property."""
        found: dict[str, list[dict[str, Any]]] = {}
        for record in self.records("tasks", archived=archived):
            key = record["properties"].get(key_property)
            if key:
                found.setdefault(key, []).append(record)
        return found


def seed_demo(app: HubSpotFake, anchor: datetime, *, seed: int = 7, leads: int = 300, activities: int = 5000,
              with_properties: bool = True) -> dict[str, str]:
    """Fill the fake with the demo leads as contacts and their calls/meetings; returns e-mail -> id."""
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
