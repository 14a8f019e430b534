"""A fake kintone domain: apps with field settings, records, the query subset leadsync uses, upsert PUT.

It answers like kintone: HTTP 400 ``CB_VA01`` with ``errors`` keyed ``records[i].CODE.value`` and an
all-or-nothing PUT, 404 ``GAIA_RE01``, 401 ``CB_AU01`` without credentials, 400 ``GAIA_IA02`` for an
invalid API token, 403 ``GAIA_NO01`` for a token of another app, 429 when asked to (``faults``),
``limit`` ≤ 500 and ``offset`` ≤ 10,000, and UPDATED_TIME kept to the minute. Queries take
``and``/``or``, parentheses, comparisons and ``[not] in (...)``; a GET URL over 8 KB answers 414;
``updateKey`` must name a field that prohibits duplicates, and no two records may share a value of
such a field; ``fail_next_put`` answers the next PUT with a kintone error body (``{code, id,
message, errors}``), e.g. 409 ``GAIA_CO02`` for a concurrent update.
Use ``httpx.MockTransport(fake.handle)`` in-process, or mount ``fake.handle`` on a fake server.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import httpx

from leadsync.connectors.testing import FakeApp, Request, Response, generate_demo, route

from leadsync_kintone.testing.domain import MAX_TOKENS, UserDirectory, basic_ok, guest_path
from leadsync_kintone.testing.query import QueryParser

__all__ = ["KintoneFake", "make_app", "minute", "seed_demo"]

_ORDER = re.compile(r"\s+order by\s+(\$id|\S+)\s+(asc|desc)", re.I)
_LIMIT = re.compile(r"\s+limit\s+(\d+)", re.I)
_OFFSET = re.compile(r"\s+offset\s+(\d+)", re.I)


def minute(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:00Z")


def _error(status: int, code: str, message: str, errors: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"code": code, "id": "fakeErrorId", "message": message}
    if errors:
        body["errors"] = errors
    return status, body


class KintoneFake:
    """State and behaviour of one fake kintone domain (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.apps: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, int] = {}
        self.users: dict[str, str] = {}  # login -> password
        self.faults: deque[tuple[int, dict[str, Any]]] = deque()
        self.put_faults: deque[tuple[int | None, tuple[int, dict[str, Any]]]] = deque()  # (app, answer) of next PUTs
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        self.deploys = 0
        self.deploy_polls = 2  # deploy-status answers that say PROCESSING before the outcome
        self.deploy_outcome = "SUCCESS"  # or FAIL / CANCEL
        self.basic: tuple[str, str] | None = None  # the domain's Basic authentication, when it has one
        self.directory = UserDirectory()  # cybozu.com users (the User API)

    def add_app(self, app: int, fields: dict[str, str], *, unique: tuple[str, ...] = (), token: str | None = None,
                updated_code: str = "更新日時", space: int | None = None) -> None:
        """An app; `space` puts it in that guest space (reached only at /k/guest/{space}/v1/)."""
        props = {code: {"type": kind, "code": code, "label": code, "unique": code in unique}
                 for code, kind in fields.items()}
        props[updated_code] = {"type": "UPDATED_TIME", "code": updated_code, "label": updated_code}
        self.apps[app] = {"fields": props, "records": {}, "ids": itertools.count(1), "updated": updated_code,
                          "space": space, "preview": {}, "deploy": None}
        if token:
            self.tokens[token] = app

    def add_record(self, app: int, values: dict[str, Any], *, updated: datetime | None = None) -> int:
        with self.lock:
            state = self.apps[app]
            record_id = next(state["ids"])
            state["records"][record_id] = {**values, "$revision": 1, state["updated"]: minute(updated)}
            return record_id

    def edit_record(self, app: int, record_id: int, values: dict[str, Any], *, updated: datetime | None = None) -> None:
        """A person's edit in kintone's UI (sales completing or reassigning a To-Do): the values
        change, the revision goes up and the update time moves, as on a save."""
        with self.lock:
            state = self.apps[app]
            record = state["records"][record_id]
            record.update(values)
            record["$revision"] += 1
            record[state["updated"]] = minute(updated)

    def fail_next_put(self, status: int, code: str, message: str, errors: dict[str, Any] | None = None,
                      *, app: int | None = None) -> None:
        """The next PUT records (to `app`, or any app) answers this kintone error body and applies nothing."""
        self.put_faults.append((app, _error(status, code, message, errors)))

    def records(self, app: int) -> dict[int, dict[str, Any]]:
        return self.apps[app]["records"]

    # -- transport -----------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        params: dict[str, Any] = {}
        fields: list[str] = []
        for name, value in request.url.params.multi_items():
            if name.startswith("fields"):
                fields.append(value)
            else:
                params[name] = value
        content = request.read()
        try:
            body = json.loads(content) if content else {}
        except ValueError:
            status, answer = _error(400, "CB_IJ01", "Invalid JSON string.")
            return httpx.Response(status, json=answer)
        status, answer = self.answer(request.method, request.url.path, params, fields, body, request.headers)
        return httpx.Response(status, json=answer)

    def answer(self, method: str, path: str, params: dict[str, Any], fields: list[str], body: Any,
               headers: httpx.Headers) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.log.append((method, path, {**params, **(body if isinstance(body, dict) else {})}))
            if self.faults:
                return self.faults.popleft()
            if self.basic and not basic_ok(headers, self.basic):
                return 401, {"message": "Basic authentication required"}  # cybozu.com's own page, before kintone
            if path == "/v1/users.json" and method == "GET":
                return self.directory.get(params, headers, self.users)
            space, path = guest_path(path)
            app = int(params.get("app") or (body.get("app") if isinstance(body, dict) else 0) or 0)
            denied = self._auth(headers, app, path)
            if denied:
                return denied
            if app in self.apps and self.apps[app]["space"] != space:
                return _error(400, "GAIA_IL23", "An app in a guest space is reached at /k/guest/{space id}/v1/."
                              if self.apps[app]["space"] else "The app is not in that guest space.")
            if path == "/k/v1/app/form/fields.json" and method == "GET":
                if app not in self.apps:
                    return _error(404, "GAIA_AP01", "The app does not exist.")
                return 200, {"properties": self.apps[app]["fields"], "revision": "1"}
            if path == "/k/v1/preview/app/form/fields.json" and method == "POST":
                self.apps[app]["preview"].update(body.get("properties") or {})  # live only once deployed
                return 200, {"revision": "2"}
            if path == "/k/v1/preview/app/deploy.json":
                return self._deploy(method, params, body)
            url = len(path) + 1 + len(urlencode({**params, **{f"fields[{i}]": f for i, f in enumerate(fields)}}))
            if method == "GET" and url > 8192:  # kintone: a request URL over 8 KB is refused
                return 414, {"message": "Request-URI Too Large"}
            if path == "/k/v1/records.json" and method == "GET":
                return self._get(app, params.get("query", ""), fields)
            if path == "/k/v1/records.json" and method == "PUT" and self.put_faults \
                    and self.put_faults[0][0] in (None, app):
                return self.put_faults.popleft()[1]
            if path == "/k/v1/records.json" and method == "PUT":
                return self._put(app, body)
            return _error(404, "CB_NO01", "Not found")

    def _deploy(self, method: str, params: dict[str, Any], body: Any) -> tuple[int, dict[str, Any]]:
        """POST starts a deploy of the preview settings; GET answers PROCESSING `deploy_polls` times,
        then the outcome (SUCCESS makes the preview fields live)."""
        if method == "POST":
            self.deploys += 1
            for item in body.get("apps") or []:
                self.apps[int(item["app"])]["deploy"] = {"left": self.deploy_polls, "status": "PROCESSING"}
            return 200, {}
        apps = [int(v) for k, v in params.items() if k.startswith("apps")]
        answer = []
        for app in apps:
            state = self.apps[app]
            deploy = state["deploy"] or {"left": 0, "status": "SUCCESS"}
            if deploy["status"] == "PROCESSING" and deploy["left"] <= 0:
                deploy["status"] = self.deploy_outcome
                if deploy["status"] == "SUCCESS":
                    state["fields"].update(state["preview"])
                    state["preview"] = {}
            deploy["left"] -= 1
            answer.append({"app": str(app), "status": deploy["status"]})
        return 200, {"apps": answer}

    def _auth(self, headers: httpx.Headers, app: int, path: str) -> tuple[int, dict[str, Any]] | None:
        token_header = headers.get("x-cybozu-api-token")
        password_header = headers.get("x-cybozu-authorization")
        if token_header:
            tokens = [t.strip() for t in ",".join(headers.get_list("x-cybozu-api-token")).split(",")]
            if len(tokens) > MAX_TOKENS:
                return _error(400, "GAIA_TL01", "Up to 9 API tokens can be specified in one request.")
            if any(t not in self.tokens for t in tokens):
                return _error(400, "GAIA_IA02", "The specified API token does not match the API token generated via an app.")
            if app and app not in {self.tokens[t] for t in tokens} and not path.startswith("/k/v1/preview/app/deploy"):
                return _error(403, "GAIA_NO01", "Using this API token, you cannot run the specified API.")
            return None
        if password_header:
            import base64

            login, _, password = base64.b64decode(password_header).decode().partition(":")
            if self.users.get(login) != password:
                return _error(401, "CB_WA01", "Password authentication failed.")
            return None
        return _error(401, "CB_AU01", "Please login.")

    def _rendered(self, app: int, record_id: int, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        props = self.apps[app]["fields"]
        out = {"$id": {"type": "__ID__", "value": str(record_id)},
               "$revision": {"type": "__REVISION__", "value": str(record["$revision"])}}
        for code, prop in props.items():
            value = record.get(code, [] if prop["type"] == "USER_SELECT" else "")
            out[code] = {"type": prop["type"], "value": value if not isinstance(value, (int, float)) else str(value)}
        return {k: v for k, v in out.items() if not fields or k in fields}

    def _get(self, app: int, query: str, fields: list[str]) -> tuple[int, dict[str, Any]]:
        if app not in self.apps:
            return _error(404, "GAIA_AP01", "The app does not exist.")
        limit, offset = 100, 0
        if match := _LIMIT.search(query):
            limit = int(match.group(1))
        if match := _OFFSET.search(query):
            offset = int(match.group(1))
        if limit > 500:
            return _error(400, "CB_VA01", "Missing or invalid input.", {"query": {"messages": ["limit must be 500 or less."]}})
        if offset > 10000:
            return _error(400, "CB_VA01", "Missing or invalid input.", {"query": {"messages": ["offset must be 10000 or less."]}})
        order = _ORDER.search(query)
        where = _LIMIT.sub("", _OFFSET.sub("", _ORDER.sub("", query))).strip()
        try:
            condition = QueryParser(where).parse() if where else None
        except ValueError as exc:
            return _error(400, "GAIA_IQ11", f"The query is invalid: {exc}")
        rows = [(rid, rec) for rid, rec in self.apps[app]["records"].items()
                if condition is None or self._matches(condition, rid, rec)]
        rows.sort(key=lambda item: item[0], reverse=bool(order and order.group(2).lower() == "desc"))
        page = rows[offset : offset + limit]
        return 200, {"records": [self._rendered(app, rid, rec, fields) for rid, rec in page], "totalCount": None}

    def _matches(self, node: Any, record_id: int, record: dict[str, Any]) -> bool:
        tag = node[0]
        if tag == "and":
            return self._matches(node[1], record_id, record) and self._matches(node[2], record_id, record)
        if tag == "or":
            return self._matches(node[1], record_id, record) or self._matches(node[2], record_id, record)
        if tag == "in":
            _, code, values, negate = node
            inside = (str(record_id) if code == "$id" else str(record.get(code, "") or "")) in values
            return not inside if negate else inside
        _, code, op, literal = node
        return self._holds(record_id, record, code, op, literal)

    @staticmethod
    def _holds(record_id: int, record: dict[str, Any], code: str, op: str, literal: str) -> bool:
        left: Any
        right: Any
        if code == "$id":
            left, right = record_id, int(literal)
        else:
            value = record.get(code)
            left, right = ("" if value is None else str(value)), literal
            if re.fullmatch(r"\d{4}-\d\d-\d\dT.*", right):
                left = datetime.fromisoformat(left.replace("Z", "+00:00")) if left else datetime.min.replace(tzinfo=timezone.utc)
                right = datetime.fromisoformat(right.replace("Z", "+00:00"))
        return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right,
                "=": left == right, "!=": left != right}[op]

    def _put(self, app: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.apps.get(app)
        if state is None:
            return _error(404, "GAIA_AP01", "The app does not exist.")
        records, upsert = body.get("records") or [], bool(body.get("upsert"))
        if len(records) > 100:
            return _error(400, "CB_VA01", "Missing or invalid input.", {"records": {"messages": ["100 or fewer."]}})
        props, errors, plan = state["fields"], {}, []
        for index, item in enumerate(records):
            target = None
            if "id" in item:
                target = int(item["id"])
                if target not in state["records"] and not upsert:
                    return _error(404, "GAIA_RE01", f"The specified record (ID: {target}) is not found.")
            elif "updateKey" in item:
                key = item["updateKey"]
                prop = props.get(key.get("field"))
                if prop is None or not prop.get("unique"):
                    errors[f"records[{index}].updateKey.field"] = {"messages": ["The field must prohibit duplicate values."]}
                    continue
                found = [rid for rid, rec in state["records"].items() if str(rec.get(key["field"])) == str(key["value"])]
                target = found[0] if found else None
                if target is None and not upsert:
                    return _error(404, "GAIA_RE01", "The specified record is not found.")
            values = {}
            for code, cell in (item.get("record") or {}).items():
                prop = props.get(code)
                if prop is None:
                    continue  # kintone ignores unknown field codes
                value = cell.get("value") if isinstance(cell, dict) else None
                if prop["type"] == "NUMBER" and value not in ("", None) and not re.fullmatch(r"-?\d+(\.\d+)?", str(value)):
                    errors[f"records[{index}].{code}.value"] = {"messages": ["Only numbers are allowed."]}
                if prop["type"] == "USER_SELECT" and self.directory.users:  # a login name of an existing user
                    known = {u["code"] for u in self.directory.users}
                    for who in value or []:
                        if not isinstance(who, dict) or who.get("code") not in known:
                            errors[f"records[{index}].{code}.value"] = {
                                "messages": [f"The user (code: {who.get('code') if isinstance(who, dict) else who}) is not found."]}
                values[code] = value
            if "updateKey" in item and target is None:
                values[item["updateKey"]["field"]] = item["updateKey"]["value"]
            plan.append((target, values))
        unique = [code for code, prop in props.items() if prop.get("unique")]
        claimed: dict[tuple[str, str], int | None] = {}
        for index, (target, values) in enumerate(plan):  # "prohibit duplicate values", as kintone enforces it
            for code in unique:
                value = values.get(code)
                if value in (None, ""):
                    continue
                holders = [rid for rid, rec in state["records"].items() if str(rec.get(code)) == str(value) and rid != target]
                if holders or (code, str(value)) in claimed:
                    errors[f"records[{index}].{code}.value"] = {"messages": ["This value already exists in another record."]}
                claimed[(code, str(value))] = target
        if errors:
            return _error(400, "CB_VA01", "Missing or invalid input.", errors)
        answer = []
        for target, values in plan:  # all-or-nothing: applied only once every record validated
            if target is None or target not in state["records"]:
                target = next(state["ids"]) if target is None else target
                state["records"][target] = {**values, "$revision": 1, state["updated"]: minute()}
                answer.append({"id": str(target), "revision": "1", "operation": "INSERT"})
            else:
                record = state["records"][target]
                record.update(values)
                record["$revision"] += 1
                record[state["updated"]] = minute()
                answer.append({"id": str(target), "revision": str(record["$revision"]), "operation": "UPDATE"})
        if not upsert:
            answer = [{"id": a["id"], "revision": a["revision"]} for a in answer]
        return 200, {"records": answer}


def seed_demo(fake: KintoneFake, anchor: datetime, app: int = 10, **options: int) -> int:
    """Put the demo leads (leadsync.core.demo) into the leads app; returns how many."""
    data = generate_demo(anchor, **options, sales=False)
    for row in data.leads:
        fake.add_record(app, {"メールアドレス": row.get("email") or "", "会社名": row.get("company") or "",
                              "姓": row.get("last_name") or "", "名": row.get("first_name") or "",
                              "役職": row.get("title") or "", "従業員数": row.get("employees") or "",
                              "業種": row.get("industry") or "", "ステータス": row.get("status") or ""})
    return len(data.leads)


def make_app(fake: KintoneFake) -> Any:
    """The fake as a FakeApp for leadsync.connectors.testing.fakeserver.FakeServer (real HTTP)."""

    class KintoneFakeApp(FakeApp):
        concurrency_limit = 100  # kintone: 100 concurrent requests per domain, then 429

        def rate_limited_response(self, request: Request) -> Response:
            return Response(429, json={"code": "GAIA_TM01", "id": "fake", "message": "Too many requests."})

        def _serve(self, request: Request) -> Response:
            params = {k: v for k, v in request.query.items() if not k.startswith("fields")}
            fields = [v for k, vs in request.query_lists.items() if k.startswith("fields") for v in vs]
            status, body = fake.answer(request.method, request.path, params, fields,
                                       request.json if request.json is not None else {}, httpx.Headers(request.headers))
            return Response(status, json=body)

        @route("GET", r"/(?:k/v1|k/guest/\d+/v1|v1)/.*")
        def get(self, request: Request) -> Response:
            return self._serve(request)

        @route("PUT", r"/k/(?:v1|guest/\d+/v1)/.*")
        def put(self, request: Request) -> Response:
            return self._serve(request)

        @route("POST", r"/k/(?:v1|guest/\d+/v1)/.*")
        def post(self, request: Request) -> Response:
            return self._serve(request)

    return KintoneFakeApp()
