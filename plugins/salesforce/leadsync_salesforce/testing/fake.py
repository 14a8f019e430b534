"""A fake Salesforce REST API: OAuth (three grants), SOQL with nextRecordsUrl, sObject Collections, quotas.

Shaped after the REST API developer guide: error arrays ``[{message, errorCode, fields}]``,
401 INVALID_SESSION_ID for an expired session, 403 REQUEST_LIMIT_EXCEEDED when the daily
allocation is spent, ``Sforce-Limit-Info`` on every answer, collection results in input order
with ``created`` on upserts. The SOQL subset: SELECT fields FROM object [WHERE ...] [ORDER BY ...]
[LIMIT n] with AND/OR/NOT, parentheses, = != < <= > >=, IN (...), strings, datetimes, numbers,
null, true/false. ``query`` leaves out records in the recycle bin (deleted or merged away,
``IsDeleted = true``); ``queryAll`` returns them with ``MasterRecordId`` until they are purged
(`RecycleBin`).

Strict where leadsync relies on it: a custom field marked unique rejects a second record with the
same value (``DUPLICATE_VALUE``), upserts need an External ID field, a URI over 16,384 bytes is
answered 414, and ``lock_rows`` makes the next task upserts fail per record with
``UNABLE_TO_LOCK_ROW`` (nothing applied), as a row held by another transaction does.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from leadsync.connectors.testing import FakeApp, Request, Response, route

from leadsync_salesforce.testing.recycle import RecycleBin
from leadsync_salesforce.testing.soql import SoqlError, field_value, matches, parse_soql
from leadsync_salesforce.testing.stamps import sf_time

__all__ = ["SalesforceFake", "SoqlError", "parse_soql", "sf_time"]

PREFIX = {"Lead": "00Q", "Task": "00T", "Event": "00U", "CampaignMember": "00v", "User": "005", "Contact": "003",
          "Opportunity": "006", "OpportunityContactRole": "00K"}
STANDARD = {
    "Lead": {"Id", "Email", "FirstName", "LastName", "Company", "Title", "Phone", "NumberOfEmployees", "Industry",
             "LeadSource", "OwnerId", "Status", "CreatedDate", "SystemModstamp", "IsConverted", "ConvertedDate",
             "ConvertedContactId", "ConvertedOpportunityId", "MasterRecordId"},
    "Task": {"Id", "WhoId", "WhatId", "OwnerId", "ActivityDate", "Subject", "Description", "Priority", "Status",
             "TaskSubtype", "IsClosed", "CompletedDateTime", "CallDurationInSeconds", "CallDisposition",
             "CreatedDate", "SystemModstamp"},
    "Event": {"Id", "WhoId", "OwnerId", "StartDateTime", "DurationInMinutes", "Subject", "CreatedDate", "SystemModstamp"},
    "Contact": {"Id", "Email", "FirstName", "LastName", "AccountId", "OwnerId", "CreatedDate", "SystemModstamp"},
    "Opportunity": {"Id", "Name", "AccountId", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "OwnerId",
                    "CreatedDate", "SystemModstamp"},
    "OpportunityContactRole": {"Id", "OpportunityId", "ContactId", "IsPrimary", "Role", "CreatedDate", "SystemModstamp"},
    "CampaignMember": {"Id", "LeadId", "CampaignId", "Status", "CreatedDate", "SystemModstamp"},
    "User": {"Id", "Username", "Email", "Name", "IsActive", "CreatedDate", "SystemModstamp"},
}
for _fields in STANDARD.values():
    _fields.add("IsDeleted")  # every object that goes to the recycle bin has it
STANDARD["Contact"].add("MasterRecordId")  # merged Leads and Contacts name their survivor
TASK_STATUSES = {"Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"}
PRIORITIES = {"High", "Normal", "Low"}


def with_checksum(id15: str) -> str:
    """The 18-character form of a 15-character id: a suffix encoding each 5-character chunk's capitals."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start:start + 5]) if "A" <= ch <= "Z")
        suffix += alphabet[bits]
    return id15 + suffix


def errors(message: str, code: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return [item]


_V = r"/services/data/v(?P<v>\d+\.\d)"


class SalesforceFake(RecycleBin, FakeApp):
    """Salesforce as leadsync uses it. Knobs in state["config"]: daily_limit, session_lifetime_s."""

    def __init__(self, *, client_id: str = "sf-cid", client_secret: str = "sf-secret", refresh_token: str = "sf-rtok",
                 username: str = "integration@example.jp") -> None:
        self._creds = {"client_id": client_id, "client_secret": client_secret, "refresh_token": refresh_token,
                       "username": username}
        self.url = ""  # set by the test once the server is up (instance_url)
        super().__init__()

    def initial_state(self) -> dict[str, Any]:
        return {"objects": {name: {} for name in STANDARD}, "custom_fields": {name: {} for name in STANDARD},
                "sessions": {}, "cursors": {}, "next_id": 1, "api_used": 0, "locks": {"count": 0, "keys": []},
                "busy": 0, "config": {"daily_limit": 100_000, "session_lifetime_s": 7200,
                                      "audience": "https://login.salesforce.com", **self._creds}}

    # -- seeding and inspection --------------------------------------------------------------
    def add(self, obj: str, fields: dict[str, Any], *, modstamp: datetime | None = None) -> str:
        record_id = with_checksum(f"{PREFIX[obj]}{self.state['next_id']:012d}")
        self.state["next_id"] += 1
        stamp = sf_time(modstamp)
        record = {"Id": record_id, "CreatedDate": stamp, "IsDeleted": False, **fields, "SystemModstamp": stamp}
        if obj == "Task":
            record.setdefault("IsClosed", record.get("Status") == "Completed")
        if obj == "Lead":
            record.setdefault("IsConverted", False)  # a checkbox is never null
        self.state["objects"][obj][record_id] = record
        return record_id

    def define_field(self, obj: str, name: str, *, external_id: bool = False, unique: bool = False) -> None:
        self.state["custom_fields"][obj][name] = {"name": name, "custom": True, "externalId": external_id, "unique": unique}

    def define_leadsync_fields(self, *, task_key_unique: bool = False) -> None:
        """The fields `connections setup` asks for; the Task key is an External ID, and Unique only
        when asked (leadsync does not rely on an org offering Unique on Activity fields)."""
        for name in ("Leadsync_Score__c", "Leadsync_Behavior_Score__c", "Leadsync_Attribute_Score__c",
                     "Leadsync_Segment__c", "Leadsync_Sheet_Version__c", "Leadsync_Scored_At__c"):
            self.define_field("Lead", name)
        self.define_field("Task", "Leadsync_Key__c", external_id=True, unique=task_key_unique)

    def add_user(self, username: str, *, email: str | None = None, active: bool = True) -> str:
        """A User (id 005...): a task's OwnerId must name an active one."""
        return self.add("User", {"Username": username, "Email": email or username, "Name": username.split("@")[0],
                                 "IsActive": active})

    def busy(self, count: int) -> None:
        """The next `count` API calls are refused: 403 REQUEST_LIMIT_EXCEEDED for concurrent requests."""
        self.state["busy"] = count

    def lock_rows(self, count: int = 0, *, keys: tuple[str, ...] = ()) -> None:
        """The next `count` task upsert records (or every upsert of these keys, once each) fail with
        UNABLE_TO_LOCK_ROW and change nothing."""
        self.state["locks"] = {"count": count, "keys": list(keys)}

    def _locked(self, key: Any) -> bool:
        locks = self.state.setdefault("locks", {"count": 0, "keys": []})
        if key in locks["keys"]:
            locks["keys"].remove(key)
            return True
        if locks["count"] > 0:
            locks["count"] -= 1
            return True
        return False

    def _duplicate(self, obj: str, fields: dict[str, Any], own_id: str | None) -> dict[str, Any] | None:
        """DUPLICATE_VALUE when a unique custom field's value is held by another record."""
        for name, spec in self.state["custom_fields"][obj].items():
            value = fields.get(name)
            if not spec.get("unique") or value in (None, ""):
                continue
            for other in self.state["objects"][obj].values():
                if other["Id"] != own_id and other.get(name) == value:
                    return {"statusCode": "DUPLICATE_VALUE", "fields": [name],
                            "message": f"duplicate value found: {name} duplicates value on record with id: {other['Id']}"}
        return None

    def records(self, obj: str) -> list[dict[str, Any]]:
        """The live records of `obj`, as `query` sees them (not those in the recycle bin)."""
        return [r for r in self.state["objects"][obj].values() if not r.get("IsDeleted")]

    def all_records(self, obj: str) -> list[dict[str, Any]]:
        """Live and recycle-bin records, as `queryAll` sees them."""
        return list(self.state["objects"][obj].values())

    def expire_sessions(self) -> None:
        for token in self.state["sessions"]:
            self.state["sessions"][token] = 0

    def _fields(self, obj: str) -> set[str]:
        return STANDARD[obj] | set(self.state["custom_fields"][obj])

    # -- framework hooks ---------------------------------------------------------------------
    def _limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.state['api_used']}/{self.state['config']['daily_limit']}"}

    def _answer(self, status: int, body: Any) -> Response:
        return Response(status, json=body, headers=self._limit_info())

    def before_request(self, request: Request) -> Response | None:
        if request.path.startswith("/services/oauth2/"):
            return None
        expiry = self.state["sessions"].get(request.bearer or "")
        if expiry is None or expiry < time.time():
            return Response(401, json=errors("Session expired or invalid", "INVALID_SESSION_ID"))
        uri = len(request.path) + 1 + len(urlencode(request.query_lists, doseq=True))
        if uri + sum(len(k) + len(v) + 4 for k, v in request.headers.items()) > 16_384:
            status = 414 if uri > 16_384 else 431
            return Response(status, body="URI Too Long" if status == 414 else "Request Header Fields Too Large")
        if self.state["api_used"] >= self.state["config"]["daily_limit"]:
            return self._answer(403, errors("TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"))
        if self.state.get("busy", 0) > 0:  # refused, not processed, not counted
            self.state["busy"] -= 1
            return self._answer(403, errors("ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
                                            "REQUEST_LIMIT_EXCEEDED"))
        self.state["api_used"] += 1
        return None

    @route("POST", r"/services/oauth2/token")
    def token(self, request: Request) -> Response:
        form, config = request.form, self.state["config"]
        grant = form.get("grant_type")
        good = False
        if grant == "refresh_token":
            good = form.get("client_id") == config["client_id"] and form.get("refresh_token") == config["refresh_token"]
        elif grant == "client_credentials":
            good = (form.get("client_id"), form.get("client_secret")) == (config["client_id"], config["client_secret"])
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            import jwt

            try:  # the fake trusts any key; it checks the claims the way the org would
                claims = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
                good = claims.get("iss") == config["client_id"] and claims.get("sub") == config["username"] \
                    and claims.get("exp", 0) > time.time()
            except jwt.PyJWTError:
                good = False
            else:  # the audience is the login host, never the My Domain the request went to
                if good and claims.get("aud") != config["audience"]:
                    return Response(400, json={"error": "invalid_grant", "error_description": "audience is invalid"})
        else:
            return Response(400, json={"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if not good:
            return Response(400, json={"error": "invalid_grant", "error_description": "authentication failure"})
        access = f"00D!{uuid.uuid4().hex}"
        self.state["sessions"][access] = time.time() + float(config["session_lifetime_s"])
        return Response(200, json={"access_token": access, "instance_url": self.url, "token_type": "Bearer",
                                   "id": f"{self.url}/id/00D000000000001/005000000000001",
                                   "issued_at": str(int(time.time() * 1000)), "signature": "fake"})

    # -- query -------------------------------------------------------------------------------
    def _batch(self, rows: list[dict[str, Any]], size: int, version: str, total: int) -> dict[str, Any]:
        body: dict[str, Any] = {"totalSize": total, "done": len(rows) <= size, "records": rows[:size]}
        if len(rows) > size:
            locator = f"01g{uuid.uuid4().hex[:15]}"
            self.state["cursors"][locator] = {"rows": rows[size:], "size": size, "total": total, "offset": size}
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{size}"
        return body

    @route("GET", rf"{_V}/query/?", write=False)
    def query(self, request: Request) -> Response:
        """Query: records in the recycle bin are left out."""
        return self._query(request, deleted=False)

    @route("GET", rf"{_V}/queryAll/?", write=False)
    def query_all(self, request: Request) -> Response:
        """QueryAll (v29.0 and later): also records deleted or merged away, still in the recycle bin."""
        if float(request.params["v"]) < 29:
            return self._answer(404, errors("The requested resource does not exist", "NOT_FOUND"))
        return self._query(request, deleted=True)

    def _query(self, request: Request, *, deleted: bool) -> Response:
        text = request.query.get("q", "")
        try:
            parsed = parse_soql(text)
        except SoqlError as exc:
            return self._answer(400, errors(f"{text[:80]}\n^\nERROR: {exc}", "MALFORMED_QUERY"))
        obj = parsed["object"]
        if obj not in STANDARD:
            return self._answer(400, errors(f"sObject type '{obj}' is not supported.", "INVALID_TYPE"))
        unknown = [f for f in parsed["fields"] if f not in self._fields(obj)]
        if unknown:
            return self._answer(400, errors(f"No such column '{unknown[0]}' on entity '{obj}'.", "INVALID_FIELD"))
        source = self.all_records(obj) if deleted else self.records(obj)
        rows = [r for r in source if parsed["where"] is None or matches(parsed["where"], r)]
        for field, descending in reversed(parsed["order"]):
            rows.sort(key=lambda r: (field_value(r, field) is None, str(field_value(r, field) or "")), reverse=descending)
        if parsed["limit"] is not None:
            rows = rows[: parsed["limit"]]
        shaped = [{"attributes": {"type": obj, "url": f"/services/data/v{request.params['v']}/sobjects/{obj}/{r['Id']}"},
                   **{f: r.get(f) for f in parsed["fields"]}} for r in rows]
        match = re.search(r"batchSize=(\d+)", request.header("sforce-query-options") or "")
        size = min(max(int(match.group(1)), 200), 2000) if match else 2000
        return self._answer(200, self._batch(shaped, size, request.params["v"], len(shaped)))

    @route("GET", rf"{_V}/(?:query|queryAll)/(?P<locator>01g\w+)-(?P<offset>\d+)")
    def query_more(self, request: Request) -> Response:
        cursor = self.state["cursors"].pop(request.params["locator"], None)
        if cursor is None:
            return self._answer(400, errors("invalid query locator", "INVALID_QUERY_LOCATOR"))
        return self._answer(200, self._batch(cursor["rows"], cursor["size"], request.params["v"], cursor["total"]))

    # -- writes ------------------------------------------------------------------------------
    def _problem(self, obj: str, record: dict[str, Any]) -> dict[str, Any] | None:
        for field, value in record.items():
            lead = self.state["objects"]["Lead"].get(str(value)) if field in ("WhoId", "LeadId") and value else None
            if lead is not None and lead.get("IsDeleted"):
                return {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": [field]}
            if field in ("WhoId", "LeadId") and value and lead is None:
                return {"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": [field]}
        owner = record.get("OwnerId")
        if obj == "Task" and owner is not None:
            user = self.state["objects"]["User"].get(str(owner))
            if user is None:
                code = "INVALID_CROSS_REFERENCE_KEY" if str(owner).startswith("005") else "MALFORMED_ID"
                return {"statusCode": code, "message": f"Assigned To ID: id value of incorrect type: {owner}",
                        "fields": ["OwnerId"]}
            if not user.get("IsActive"):
                return {"statusCode": "INACTIVE_OWNER_OR_USER",
                        "message": f"operation performed with inactive user [{owner}] as owner of task", "fields": []}
        if obj == "Task":
            if len(record.get("Subject") or "") > 255:
                return {"statusCode": "STRING_TOO_LONG", "message": "Subject: data value too large", "fields": ["Subject"]}
            for field, allowed in (("Status", TASK_STATUSES), ("Priority", PRIORITIES)):
                if field in record and record[field] not in allowed:
                    return {"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            "message": f"{field}: bad value for restricted picklist field: {record[field]}", "fields": [field]}
        return None

    def _collection_input(self, request: Request, obj: str | None) -> list[dict[str, Any]] | Response:
        body = request.json if isinstance(request.json, dict) else None
        records = body.get("records") if body else None
        if not isinstance(records, list):
            return self._answer(400, errors("Json Deserialization failed on token 'null'", "JSON_PARSER_ERROR"))
        if len(records) > 200:
            return self._answer(400, errors("Maximum number of records is 200", "EXCEEDED_ID_LIMIT"))
        for record in records:
            kind = (record.get("attributes") or {}).get("type")
            if kind not in STANDARD or (obj and kind != obj):
                return self._answer(400, errors("Each record needs attributes.type of the URI's object", "INVALID_TYPE"))
            unknown = [f for f in record if f not in ("attributes", "id") and f not in self._fields(kind)]
            if unknown:
                return self._answer(400, errors(f"No such column '{unknown[0]}' on sobject of type {kind}", "INVALID_FIELD"))
        return records

    @route("PATCH", rf"{_V}/composite/sobjects")
    def update_collection(self, request: Request) -> Response:
        records = self._collection_input(request, None)
        if isinstance(records, Response):
            return records
        results = []
        for record in records:
            kind, record_id = record["attributes"]["type"], str(record.get("id") or "")
            stored = self.state["objects"][kind].get(record_id)
            if stored is not None and stored.get("IsDeleted"):
                results.append({"success": False, "errors": [
                    {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]})
                continue
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id")}
            problem = (self._problem(kind, fields) or self._duplicate(kind, fields, record_id)) if stored else {
                "statusCode": "ENTITY_IS_DELETED" if record_id.startswith(PREFIX[kind]) else "MALFORMED_ID",
                "message": "entity is deleted" if record_id.startswith(PREFIX[kind]) else f"bad id {record_id}", "fields": []}
            if problem:
                results.append({"success": False, "errors": [problem]})
                continue
            self._save(kind, stored, fields)
            results.append({"id": record_id, "success": True, "errors": []})
        return self._answer(200, results)

    @route("PATCH", rf"{_V}/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)")
    def upsert_collection(self, request: Request) -> Response:
        obj, field = request.params["obj"], request.params["field"]
        if float(request.params["v"]) < 46:
            return self._answer(404, errors("The requested resource does not exist", "NOT_FOUND"))
        if obj not in STANDARD or not self.state["custom_fields"][obj].get(field, {}).get("externalId"):
            return self._answer(400, errors(f"Provided external ID field does not exist or is not accessible: {field}", "INVALID_FIELD"))
        records = self._collection_input(request, obj)
        if isinstance(records, Response):
            return records
        results = []
        for record in records:
            key = record.get(field)
            fields = {k: v for k, v in record.items() if k != "attributes"}
            problem = self._problem(obj, fields) if key else {"statusCode": "MISSING_ARGUMENT", "message": f"{field} not specified", "fields": []}
            if problem:
                results.append({"success": False, "errors": [problem]})
                continue
            if obj == "Task" and self._locked(key):
                results.append({"success": False, "errors": [{
                    "statusCode": "UNABLE_TO_LOCK_ROW", "fields": [],
                    "message": f"unable to obtain exclusive access to this record or 1 records: {fields.get('WhoId')}"}]})
                continue
            found = [r for r in self.records(obj) if r.get(field) == key]
            problem = self._duplicate(obj, fields, found[0]["Id"] if len(found) == 1 else None)
            if len(found) > 1:
                results.append({"success": False, "errors": [{"statusCode": "DUPLICATE_EXTERNAL_ID", "message": "more than one record", "fields": [field]}]})
            elif problem:
                results.append({"success": False, "errors": [problem]})
            elif found:
                self._save(obj, found[0], fields)
                results.append({"id": found[0]["Id"], "success": True, "errors": [], "created": False})
            else:
                new_id = self.add(obj, {**fields, "IsClosed": fields.get("Status") == "Completed"})
                results.append({"id": new_id, "success": True, "errors": [], "created": True})
        return self._answer(200, results)

    def _save(self, obj: str, stored: dict[str, Any], fields: dict[str, Any]) -> None:
        stored.update(fields, SystemModstamp=sf_time())
        if obj == "Task" and "Status" in fields:
            stored["IsClosed"] = fields["Status"] == "Completed"  # IsClosed follows the status

    @route("POST", rf"{_V}/sobjects/(?P<obj>Lead|Task)")
    def create(self, request: Request) -> Response:
        obj, fields = request.params["obj"], dict(request.json or {})
        required = [f for f in (("LastName", "Company") if obj == "Lead" else ()) if not fields.get(f)]
        if required:
            return self._answer(400, errors(f"Required fields are missing: {required}", "REQUIRED_FIELD_MISSING", required))
        unknown = [f for f in fields if f not in self._fields(obj)]
        if unknown:
            return self._answer(400, errors(f"No such column '{unknown[0]}' on sobject of type {obj}", "INVALID_FIELD"))
        duplicate = self._duplicate(obj, fields, None)
        if duplicate:
            return self._answer(400, errors(duplicate["message"], "DUPLICATE_VALUE", duplicate["fields"]))
        return self._answer(201, {"id": self.add(obj, fields), "success": True, "errors": []})

    @route("GET", rf"{_V}/sobjects/(?P<obj>\w+)/describe")
    def describe(self, request: Request) -> Response:
        obj = request.params["obj"]
        if obj not in STANDARD:
            return self._answer(404, errors("The requested resource does not exist", "NOT_FOUND"))
        fields = [{"name": n, "custom": False, "externalId": False, "unique": n == "Id"} for n in sorted(STANDARD[obj])]
        fields += list(self.state["custom_fields"][obj].values())
        return self._answer(200, {"name": obj, "fields": fields})
