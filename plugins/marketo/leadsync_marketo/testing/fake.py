"""A fake Marketo Engage REST instance: identity, leads, lead changes, activities, campaigns, limits.

It answers like Marketo: HTTP 200 with ``{requestId, success:false, errors:[{code, message}]}``
envelopes for token (600/601/602), rate (606), concurrency (615), quota (607) and unknown-resource
(610) errors; a queued fault with a 6xx code is answered before anything is executed, as Marketo
documents for 6xx; paging tokens that encode a position in time, with ``moreResult`` driving the
paging (pages may be short or empty); per-record ``status``/``reasons``; Get Leads by id with at most
300 values. Request Campaign needs a requestable (active trigger) campaign and runs a lead through
its flow only as its qualification rule allows (``once`` by default, ``any`` = every time); flows
run at once or, with ``flows="queued"``, only when ``run_flows()`` is called, as Marketo's campaign
queue does. The Asset API's Get Smart Campaign by Id describes the campaign.
Use ``httpx.MockTransport(fake.handle)`` in-process, or ``serve(fake)`` (testing.server) for a real HTTP server.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx

from leadsync_marketo.testing.answers import envelope, error_envelope, iso as _iso, now as _now
from leadsync_marketo.testing.removals import RemovalsMixin

__all__ = ["DEFAULT_TYPES", "MarketoFake", "envelope", "error_envelope"]

DEFAULT_TYPES = {1: "Visit Webpage", 2: "Fill Out Form", 3: "Click Link", 6: "Send Email", 9: "Unsubscribe Email",
                 10: "Open Email", 11: "Click Email", 12: "New Lead", 13: "Change Data Value", 32: "Merge Leads",
                 37: "Delete Lead", 104: "Change Status in Progression"}
STANDARD_FIELDS = ["id", "email", "firstName", "lastName", "company", "title", "phone", "numberOfEmployees",
                   "industry", "leadSource", "leadStatus", "createdAt", "updatedAt"]


LOST = -1  # answer() status of a request that was executed but whose answer is lost


class MarketoFake(RemovalsMixin):
    """State and behaviour of one fake instance (thread-safe)."""

    def __init__(self, *, client_id: str = "cid", client_secret: str = "secret", token_lifetime: float = 3600,
                 rate_calls: int = 100, rate_period: float = 20.0, concurrency: int = 10,
                 daily_quota: int = 50_000, page_size: int = 300, empty_page_every: int = 0,
                 flows: str = "immediate", clock: Callable[[], float] = time.monotonic,
                 losers_in_deletedleads: bool = True) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime, self.rate_calls, self.rate_period = token_lifetime, rate_calls, rate_period
        self.concurrency, self.daily_quota, self.page_size = concurrency, daily_quota, page_size
        self.empty_page_every = empty_page_every
        self.clock = clock
        self.lock = threading.RLock()
        self.leads: dict[int, dict[str, Any]] = {}
        self.fields: set[str] = set(STANDARD_FIELDS)
        self.types = dict(DEFAULT_TYPES)
        self.activities: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []  # Delete Lead activities (type 37), Get Deleted Leads' answers
        # Whether a merge's losers are also listed by Get Deleted Leads (Adobe does not say; tests try both).
        self.losers_in_deletedleads = losers_in_deletedleads
        self.campaigns: dict[int, dict[str, Any]] = {}
        self.campaign_runs: list[dict[str, Any]] = []  # leads that ran through a campaign's flow
        self.campaign_requests: list[dict[str, Any]] = []  # every lead of every accepted Request Campaign
        self.flows, self.queued = flows, deque()
        self.tokens: dict[str, float] = {}
        self.calls: deque[float] = deque()
        self.daily_calls = 0
        self.in_flight = 0
        self.log: list[tuple[str, str]] = []
        self.faults: deque[dict[str, Any]] = deque()  # queued answers: {"path": ..., "code": ...}
        # Per-record refusals of the next Sync Leads that touches a lead: lead id -> (code, message).
        self.record_faults: dict[int, tuple[str, str]] = {}
        self._ids = itertools.count(1)
        self._activity_ids = itertools.count(1000)
        self._nonce = itertools.count(1)
        self._pages = 0

    # -- seeding -------------------------------------------------------------------------------
    def add_lead(self, when: str | None = None, **fields: Any) -> int:
        with self.lock:
            lead_id = next(self._ids)
            when = _iso(when) if when else _now()
            self.leads[lead_id] = {"id": lead_id, "createdAt": when, "updatedAt": when, **fields}
            self._change(lead_id, 12, when, [])
            return lead_id

    def add_activity(self, lead_id: int, type_name: str, when: str, primary: str | None = None,
                     **attributes: Any) -> dict[str, Any]:
        with self.lock:
            type_id = next(k for k, v in self.types.items() if v == type_name)
            number = next(self._activity_ids)
            item = {"id": number, "marketoGUID": str(number), "leadId": lead_id, "activityDate": _iso(when),
                    "activityTypeId": type_id, "primaryAttributeValueId": 0, "primaryAttributeValue": primary,
                    "attributes": [{"name": k.replace("_", " "), "value": v} for k, v in attributes.items()]}
            self.activities.append(item)
            return item

    def add_campaign(self, campaign_id: int, *, name: str = "leadsync handoff", active: bool = True,
                     done_field: str | None = "leadsyncHandoffKey", qualification: str = "once",
                     kind: str = "trigger", requestable: bool = True) -> None:
        """A smart campaign. `requestable`: has 'Campaign is Requested (Web Service API)'; `qualification`:
        'once', 'any' (every time) or 'interval'; `done_field`: the flow's last step sets it to key|done."""
        self.campaigns[campaign_id] = {"id": campaign_id, "name": name, "type": kind, "active": active,
                                       "done_field": done_field, "qualification": qualification,
                                       "requestable": requestable}

    def run_flows(self) -> int:
        """Run the queued campaign requests through their flows (Marketo's campaign queue); how many ran."""
        with self.lock:
            ran = 0
            while self.queued:
                ran += self._run_flow(*self.queued.popleft())
            return ran

    def _run_flow(self, campaign: dict[str, Any], lead_id: int, tokens: dict[str, str]) -> int:
        lead = self.leads.get(lead_id)
        if lead is None:
            return 0
        already = any(r["campaignId"] == campaign["id"] and r["leadId"] == lead_id for r in self.campaign_runs)
        if already and campaign["qualification"] != "any":
            return 0  # the qualification rule lets a person through the flow once (or once per interval)
        self.campaign_runs.append({"campaignId": campaign["id"], "leadId": lead_id, "tokens": tokens})
        key = tokens.get("{{my.leadsync_key}}")
        if campaign["done_field"] and key:  # the flow's Change Data Value step
            lead[campaign["done_field"]] = f"{key}|done"
        return 1

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = self.clock() - 1

    def _change(self, lead_id: int, type_id: int, when: str, fields: list[dict[str, Any]]) -> None:
        number = next(self._activity_ids)
        self.changes.append({"id": number, "marketoGUID": str(number), "leadId": lead_id, "activityDate": when,
                             "activityTypeId": type_id, "fields": fields, "attributes": []})

    # -- transport -----------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        """An httpx handler: use with httpx.MockTransport(fake.handle)."""
        query = dict(request.url.params)
        body: Any = None
        content = request.read()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            query.update(dict(parse_qsl(content.decode())))
        elif content:
            try:
                body = json.loads(content)
            except ValueError:
                return httpx.Response(400, text="Bad Request")
        method = query.pop("_method", request.method) if request.method == "POST" else request.method
        status, answer = self.answer(method, request.url.path, query, body, request.headers.get("authorization", ""))
        if status == LOST:
            raise httpx.ReadTimeout("the fake applied the request and lost its answer", request=request)
        return httpx.Response(status, json=answer)

    def answer(self, method: str, path: str, query: dict[str, str], body: Any, authorization: str
               ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.log.append((method, path))
            if path == "/identity/oauth/token":
                return self._identity(query)
            if not authorization.startswith("Bearer "):
                return 200, error_envelope("600", "Access token not specified")
            expiry = self.tokens.get(authorization[7:])
            if expiry is None:
                return 200, error_envelope("601", "Access token invalid")
            if expiry <= self.clock():
                return 200, error_envelope("602", "Access token expired")
            if self.faults and self.faults[0].get("path") in (None, path):
                fault = self.faults.popleft()
                if fault.get("lose_answer"):  # executed, then the answer never reaches the client
                    self._route(method, path, query, body)
                    return LOST, {}
                # 6xx: "the request failed completely and was not executed" (Marketo's error codes page)
                return fault.get("status", 200), error_envelope(fault["code"], fault.get("message", "fault"))
            now = self.clock()
            while self.calls and self.calls[0] <= now - self.rate_period:
                self.calls.popleft()
            if len(self.calls) >= self.rate_calls:
                return 200, error_envelope("606", f"Max rate limit '{self.rate_calls}' exceeded with in "
                                                  f"'{int(self.rate_period)}' secs")
            if self.in_flight >= self.concurrency:
                return 200, error_envelope("615", f"Concurrent access limit '{self.concurrency}' reached")
            if self.daily_calls >= self.daily_quota:
                return 200, error_envelope("607", "Daily quota reached")
            self.calls.append(now)
            self.daily_calls += 1
            return self._route(method, path, query, body)

    def _identity(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("client_id") != self.client_id or query.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
        now = self.clock()
        for token, expiry in self.tokens.items():  # Marketo hands back the live token with its remaining life
            if expiry > now:
                return 200, {"access_token": token, "token_type": "bearer", "expires_in": int(expiry - now),
                             "scope": "api@example.com"}
        token = f"fake-token-{next(self._nonce)}:int"
        self.tokens[token] = now + self.token_lifetime
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": int(self.token_lifetime) - 1,
                     "scope": "api@example.com"}

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if path == "/rest/v1/leads/describe.json":
            return 200, envelope([{"id": i, "displayName": name, "dataType": "string", "rest": {"name": name}}
                                  for i, name in enumerate(sorted(self.fields))])
        if path == "/rest/v1/leads/schema/fields.json" and method == "POST":
            result = []
            for item in (body or {}).get("input", []):
                status = "skipped" if item["name"] in self.fields else "created"
                self.fields.add(item["name"])
                result.append({"name": item["name"], "status": status})
            return 200, envelope(result)
        if path == "/rest/v1/activities/types.json":
            return 200, envelope([{"id": k, "name": v, "primaryAttribute": {"name": "x", "dataType": "string"},
                                   "attributes": []} for k, v in sorted(self.types.items())])
        if path == "/rest/v1/activities/pagingtoken.json":
            since = query.get("sinceDatetime")
            if not since:
                return 200, error_envelope("1003", "sinceDatetime is required")
            return 200, envelope(None, nextPageToken=self._token((_iso(since), -1)))
        if path == "/rest/v1/activities/leadchanges.json":
            if not query.get("fields"):
                return 200, error_envelope("1003", "fields is required")
            watched = set(query["fields"].split(","))
            # Only New Lead and changes of the listed fields are reported, each with just those fields.
            changes = [c | {"fields": [f for f in c["fields"] if f["name"] in watched]} for c in self.changes
                       if c["activityTypeId"] == 12 or any(f["name"] in watched for f in c["fields"])]
            return self._page(changes, query, None)
        if path == "/rest/v1/activities/deletedleads.json":
            return self._page(self.deleted, query, None)
        if path == "/rest/v1/leads/delete.json" and method == "POST":
            return self._delete_route(body or {})
        if path.startswith("/rest/v1/leads/") and path.endswith("/merge.json") and method == "POST":
            return self._merge_route(path, query)
        if path == "/rest/v1/activities.json":
            raw_ids = query.get("activityTypeIds", "")
            ids = {int(x) for x in raw_ids.split(",") if x.strip()}
            if not ids or len(ids) > 10:
                return 200, error_envelope("1003", "activityTypeIds: between 1 and 10 ids")
            return self._page(self.activities, query, ids)
        if path == "/rest/v1/leads.json" and method == "GET":
            return self._get_leads(query)
        if path == "/rest/v1/leads.json" and method == "POST":
            return self._sync_leads(body or {})
        if path.startswith("/rest/v1/campaigns/"):
            return self._campaign(method, path, body or {})
        if path.startswith("/rest/asset/v1/smartCampaign/") and method == "GET":
            return self._smart_campaign(path)
        return 200, error_envelope("610", "Requested resource not found")

    def _token(self, key: tuple[str, int]) -> str:
        raw = json.dumps([key[0], key[1], next(self._nonce)])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], type_ids: set[int] | None
              ) -> tuple[int, dict[str, Any]]:
        try:
            date, number, _ = json.loads(base64.urlsafe_b64decode(query.get("nextPageToken", "").encode()))
        except ValueError:
            return 200, error_envelope("1003", "Invalid nextPageToken")
        self._pages += 1
        if self.empty_page_every and self._pages % self.empty_page_every == 0:
            return 200, {"requestId": "fake#1", "success": True, "moreResult": True,
                         "nextPageToken": self._token((date, number))}
        size = min(int(query.get("batchSize", 300) or 300), self.page_size)
        matching = sorted((i for i in items if (type_ids is None or i["activityTypeId"] in type_ids)
                           and (i["activityDate"], i["id"]) > (date, number)),
                          key=lambda i: (i["activityDate"], i["id"]))
        page, more = matching[:size], len(matching) > size
        last = (page[-1]["activityDate"], page[-1]["id"]) if page else (date, number)
        return 200, envelope([dict(i) for i in page], moreResult=more, nextPageToken=self._token(last))

    def _get_leads(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        kind, values = query.get("filterType"), [v for v in query.get("filterValues", "").split(",") if v]
        if not kind or not values:
            return 200, error_envelope("1003", "filterType and filterValues are required")
        if len(values) > 300:
            return 200, error_envelope("1003", "Too many filterValues (max 300)")
        fields = [f for f in query.get("fields", "").split(",") if f] or ["id", "email", "updatedAt", "firstName",
                                                                          "lastName", "createdAt"]
        unknown = [f for f in fields if f not in self.fields]
        if unknown:
            return 200, error_envelope("1006", f"Field '{unknown[0]}' not found")
        if kind == "id":
            found = [self.leads[int(v)] for v in values if v.isdigit() and int(v) in self.leads]
        else:
            found = [lead for lead in self.leads.values() if str(lead.get(kind)) in values]
        return 200, envelope([{f: lead.get(f) for f in ["id", *fields] if f in lead or f == "id"} for lead in found])

    def _sync_leads(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        action, lookup = body.get("action", "createOrUpdate"), body.get("lookupField", "email")
        records = body.get("input") or []
        if len(records) > 300:
            return 200, error_envelope("1003", "Too many records (max 300)")
        if lookup == "id" and action != "updateOnly":
            return 200, error_envelope("1003", "Lookup field 'id' only supported for updateOnly")
        result = []
        for record in records:
            unknown = [f for f in record if f not in self.fields]
            if unknown:
                result.append({"status": "skipped", "reasons": [{"code": "1006",
                                                                 "message": f"Field '{unknown[0]}' not found"}]})
                continue
            key = record.get(lookup)
            refused = self.record_faults.pop(int(key), None) if lookup == "id" and str(key).isdigit() else None
            if refused is not None:
                result.append({"status": "skipped", "reasons": [{"code": refused[0], "message": refused[1]}]})
                continue
            matches = [lead for lead in self.leads.values()
                       if key is not None and str(lead.get(lookup, "")).lower() == str(key).lower()]
            if len(matches) > 1:
                result.append({"status": "skipped", "reasons": [{"code": "1007", "message": "Multiple lead match lookup criteria"}]})
            elif matches:
                if action == "createOnly":
                    result.append({"id": matches[0]["id"], "status": "skipped",
                                   "reasons": [{"code": "1005", "message": "Lead already exists"}]})
                    continue
                lead = matches[0]
                changed = [{"id": 0, "name": f, "newValue": str(v), "oldValue": str(lead.get(f))}
                           for f, v in record.items() if f != lookup and lead.get(f) != v]
                lead.update({f: v for f, v in record.items() if f != "id"})
                if changed:
                    lead["updatedAt"] = _now()
                    self._change(lead["id"], 13, lead["updatedAt"], changed)
                result.append({"id": lead["id"], "status": "updated"})
            elif action == "updateOnly":
                result.append({"status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]})
            else:
                lead_id = self.add_lead(**{f: v for f, v in record.items() if f != "id"})
                result.append({"id": lead_id, "status": "created"})
        return 200, envelope(result)

    def _smart_campaign(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            campaign_id = int(path.rsplit("/", 1)[1].removesuffix(".json"))
        except ValueError:
            return 200, error_envelope("610", "Requested resource not found")
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:  # the Asset API answers an unknown id with a warning, not an error
            return 200, {"requestId": "fake#1", "success": True, "errors": [], "result": [],
                         "warnings": ["No assets found for the given search criteria."]}
        requestable = campaign["type"] == "trigger" and campaign["active"] and campaign["requestable"]
        info = {"id": campaign_id, "name": campaign["name"], "description": "", "type": campaign["type"],
                "isSystem": False, "isActive": campaign["active"], "isRequestable": requestable,
                "recurrence": {"weekdayOnly": False}, "qualificationRuleType": campaign["qualification"],
                "isCommunicationLimitEnabled": False, "smartListId": campaign_id, "flowId": campaign_id,
                "workspace": "Default", "status": "Active" if campaign["active"] else "Inactive",
                "createdAt": _now(), "updatedAt": _now()}
        if campaign["qualification"] == "interval":
            info |= {"qualificationRuleInterval": 1, "qualificationRuleUnit": "day"}
        return 200, {"requestId": "fake#1", "success": True, "errors": [], "warnings": [], "result": [info]}

    def _campaign(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.split("/")
        try:
            campaign_id = int(parts[4].removesuffix(".json"))
        except (IndexError, ValueError):
            return 200, error_envelope("610", "Requested resource not found")
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return 200, error_envelope("1013", "Campaign not found")
        info = {"id": campaign_id, "name": campaign["name"], "type": campaign["type"], "active": campaign["active"],
                "programName": "leadsync", "workspaceName": "Default", "createdAt": _now(), "updatedAt": _now()}
        if not path.endswith("/trigger.json"):
            return 200, envelope([info])
        if method != "POST":
            return 200, error_envelope("605", "Request method 'GET' not supported")
        leads = (body.get("input") or {}).get("leads") or []
        if campaign["type"] != "trigger" or not campaign["requestable"]:
            return 200, error_envelope("1003", "Trigger campaign needs 'Campaign is Requested' (Web Service API)")
        if not campaign["active"]:
            return 200, error_envelope("1003", "Campaign is not active")
        if not leads or len(leads) > 100:
            return 200, error_envelope("1003", "between 1 and 100 leads")
        tokens = {t["name"]: t["value"] for t in (body.get("input") or {}).get("tokens") or []}
        for item in leads:
            lead_id = int(item["id"])
            self.campaign_requests.append({"campaignId": campaign_id, "leadId": lead_id, "tokens": tokens})
            if self.flows == "queued":
                self.queued.append((campaign, lead_id, tokens))
            else:
                self._run_flow(campaign, lead_id, tokens)
        return 200, envelope([{"id": campaign_id}])
