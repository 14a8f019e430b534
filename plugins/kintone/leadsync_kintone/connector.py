"""The kintone connector: leads (and activities) apps in, scores and To-Do records out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from leadsync.connectors import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    ConnectorError,
    Owner,
    ScoreUpdate,
    SetupMissing,
    Stream,
    TaskRequest,
    WriteResult,
)

from leadsync_kintone.client import KintoneClient
from leadsync_kintone.settings import KintoneSettings
from leadsync_kintone.kpi_streams import sales_streams
from leadsync_kintone.owners import all_users, resolve_owners
from leadsync_kintone.streams import LeadsStream, TasksStream
from leadsync_kintone.writes import create_tasks, push_scores

__all__ = ["KintoneConnector"]

# Fields leadsync writes and the kintone field type `setup` creates for each.
SCORE_FIELD_TYPES = {"score": "NUMBER", "behavior_score": "NUMBER", "attribute_score": "NUMBER",
                     "segment": "SINGLE_LINE_TEXT", "sheet_version": "SINGLE_LINE_TEXT", "scored_at": "DATETIME"}
TASK_FIELD_TYPES = {"key": "SINGLE_LINE_TEXT", "subject": "SINGLE_LINE_TEXT", "body": "MULTI_LINE_TEXT",
                    "due_at": "DATETIME", "owner": "USER_SELECT", "priority": "SINGLE_LINE_TEXT",
                    "email": "SINGLE_LINE_TEXT", "lead_record_id": "SINGLE_LINE_TEXT"}


class KintoneConnector(Connector):
    """kintone apps through the REST API (API tokens or password authentication)."""

    name = "kintone"
    settings_model: ClassVar[type[ConnectionSettings]] = KintoneSettings
    capabilities = frozenset({Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS})
    batch_sizes: ClassVar[dict[str, int]] = {"scores": 100, "tasks": 100}

    default_roles = frozenset({Capability.LEADS})
    settings: KintoneSettings
    client: KintoneClient
    _fields_checked: set[int] | None = None  # apps whose written fields were found this run
    _directory: list[dict[str, Any]] | None = None  # the domain's users, once read this run

    def open_client(self) -> KintoneClient:
        return KintoneClient(self.settings, transport=self.transport, sleep=self.sleep)

    def streams(self) -> list[Stream]:
        roles = self.roles()
        streams: list[Stream] = []
        if Capability.LEADS in roles:
            streams.append(LeadsStream(self.client, self.connection, self.settings, self.timezone))
        if Capability.ACTIVITIES in roles:
            streams += sales_streams(self.client, self.connection, self.settings, self.timezone)
        if Capability.TASKS in roles and self.settings.tasks_app is not None:
            streams.append(TasksStream(self.client, self.connection, self.settings, self.timezone))
        return streams

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        self._require_fields(self.settings.leads_app)
        return push_scores(self.client, self.settings, updates)

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        if self.settings.tasks_app is not None:
            self._require_fields(self.settings.tasks_app)
        return create_tasks(self.client, self.settings, tasks)

    def resolve_owners(self, refs: Sequence[str]) -> dict[str, Owner]:
        return resolve_owners(self.client, refs, self._users)

    def _users(self) -> list[dict[str, Any]]:
        """The domain's users, read once per run (a connector lives for one run)."""
        if self._directory is None:
            self._directory = all_users(self.client)
        return self._directory

    def _require_fields(self, app: int) -> None:
        """Before the first write to `app` in this run: every field leadsync writes there exists.
        kintone ignores unknown field codes on write, so a missing field would lose data silently."""
        if self._fields_checked is None:
            self._fields_checked = set()
        checked = self._fields_checked
        if app in checked:
            return
        present = self.client.form_fields(app)
        missing = [code for a, _, code, _ in self._required() if a == app and code not in present]
        if missing:
            raise SetupMissing(f"kintone app {app} has no field {', '.join(missing)}")
        checked.add(app)

    def _required(self) -> list[tuple[int, str, str, str]]:
        """(app, canonical, field code, type) of every field leadsync writes."""
        s, roles = self.settings, set(self.settings.roles)
        needed = []
        if Capability.SCORES in roles:
            needed += [(s.leads_app, c, s.lead_field(c), t) for c, t in SCORE_FIELD_TYPES.items() if s.lead_field(c)]
        if Capability.TASKS in roles and s.tasks_app is not None:
            needed += [(s.tasks_app, c, s.task_field(c), t) for c, t in TASK_FIELD_TYPES.items() if s.task_field(c)]
        return needed

    def check(self) -> CheckResult:
        # kintone ignores unknown field codes on write, so a typo would lose data silently.
        result = CheckResult(ok=True)
        s = self.settings
        apps = {s.leads_app: "leads", s.activities_app: "activities", s.tasks_app: "tasks"}
        fields: dict[int, dict] = {}
        for app, role in apps.items():
            if app is None:
                continue
            try:
                fields[app] = self.client.form_fields(app)
                result.add(f"{role} app {app}", True, f"{len(fields[app])} fields")
            except ConnectorError as exc:
                result.add(f"{role} app {app}", False, str(exc))
        if s.leads_app in fields:
            for canonical in ("email", "updated_at"):
                code = s.lead_field(canonical)
                result.add(f"leads field {code}", code in fields[s.leads_app], canonical)
        for app, canonical, code, _ in self._required():
            if app in fields:
                present = code in fields[app]
                detail = canonical if present else f"missing ({canonical}); run `leadsync connections setup {self.connection}`"
                if present and canonical == "key" and not fields[app][code].get("unique"):
                    present, detail = False, "the task key field must have 'prohibit duplicate values' set"
                result.add(f"app {app} field {code}", present, detail)
        return result

    def setup(self) -> list[str]:
        done: list[str] = []
        by_app: dict[int, dict] = {}
        for app, canonical, code, kind in self._required():
            existing = by_app.setdefault(app, self.client.form_fields(app))
            if code in existing:
                continue
            prop = {"type": kind, "code": code, "label": code}
            if canonical == "key":
                prop |= {"unique": True, "required": False}
            by_app.setdefault(-app, {})[code] = prop
        for app in [a for a in by_app if a > 0]:
            new = by_app.get(-app) or {}
            if not new:
                done.append(f"app {app}: all leadsync fields exist")
                continue
            self.client.call("POST", "/k/v1/preview/app/form/fields.json", payload={"app": app, "properties": new},
                          idempotent=False)
            self.client.call("POST", "/k/v1/preview/app/deploy.json", payload={"apps": [{"app": app}]}, idempotent=True)
            self._await_deploy(app)
            done.append(f"app {app}: added fields {', '.join(new)} and deployed the app settings "
                        "(needs app administration permission; an API token needs the 'app management' right)")
        return done

    def _await_deploy(self, app: int) -> None:
        """Until kintone reports the deploy SUCCESS (GET /k/v1/preview/app/deploy.json): the new
        fields are not in the live app before that. FAIL or CANCEL, or still PROCESSING after
        `deploy_polls` looks, is an error; set-up is not reported done."""
        s = self.settings
        status = "PROCESSING"
        for attempt in range(s.deploy_polls):
            answer = self.client.call("GET", "/k/v1/preview/app/deploy.json", params={"apps[0]": app})
            status = next((str(a.get("status")) for a in answer.get("apps") or []
                           if isinstance(a, dict) and str(a.get("app")) == str(app)), "missing")
            if status == "SUCCESS":
                return
            if status != "PROCESSING":
                raise ConnectorError(f"kintone: deploying the settings of app {app} ended {status}; "
                                     "open the app settings in kintone and deploy them there")
            if attempt + 1 < s.deploy_polls:
                self.sleep(s.deploy_poll_s)
        raise ConnectorError(f"kintone: the deploy of app {app} is still {status} after {s.deploy_polls} looks; "
                             f"run `leadsync connections check {self.connection}` once kintone shows it done")

    def clock_skew(self) -> float | None:
        return self.client.http.clock_skew_s

