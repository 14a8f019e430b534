"""The Marketo Engage connector: leads and activities in, scores and handoffs out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from leadsync.connectors import (
    AuthError,
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    ConnectorError,
    ScoreUpdate,
    Stream,
    TaskRequest,
    WriteResult,
)

from leadsync_marketo.client import MarketoClient, MarketoError
from leadsync_marketo.settings import WRITE_FIELDS, MarketoSettings
from leadsync_marketo.removals import RemovedLeadsStream
from leadsync_marketo.streams import ActivitiesStream, LeadsStream
from leadsync_marketo.writes import create_handoffs, push_scores

__all__ = ["MarketoConnector"]


class MarketoConnector(Connector):
    """Adobe Marketo Engage through its REST API (LaunchPoint custom service credentials)."""

    name = "marketo"
    settings_model: ClassVar[type[ConnectionSettings]] = MarketoSettings
    capabilities = frozenset({Capability.LEADS, Capability.ACTIVITIES, Capability.SCORES, Capability.TASKS})
    # Sync Leads takes 300 records; handoffs are one Request Campaign call per lead (≤100 per batch).
    batch_sizes: ClassVar[dict[str, int]] = {"scores": 300, "tasks": 100}

    default_roles = frozenset({Capability.LEADS, Capability.ACTIVITIES})
    settings: MarketoSettings
    client: MarketoClient

    def open_client(self) -> MarketoClient:
        return MarketoClient(self.settings, transport=self.transport, sleep=self.sleep)

    def streams(self) -> list[Stream]:
        roles = self.roles()
        yielded: set[str] = set()  # lead ids this run has handed to the engine, shared by the streams
        merged: set[str] = set()  # lead ids this run reported merged away (not reported again as deleted)
        streams: list[Stream] = []
        if Capability.LEADS in roles:
            streams.append(LeadsStream(self.client, self.connection, self.settings, self.timezone, yielded))
        if Capability.ACTIVITIES in roles:
            streams.append(ActivitiesStream(self.client, self.connection, self.settings, self.timezone, yielded,
                                            merged))
        if Capability.LEADS in roles:  # after the activities stream, which reads the merges when it runs
            streams.append(RemovedLeadsStream(self.client, self.connection, self.settings, self.timezone, yielded,
                                              merged, read_merges=Capability.ACTIVITIES not in roles))
        return streams

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        return push_scores(self.client, self.settings, updates)

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        return create_handoffs(self.client, self.settings, tasks)

    def _needed_fields(self) -> dict[str, str]:
        roles = set(self.settings.roles)
        needed = {}
        for canonical in WRITE_FIELDS:
            if canonical == "handoff_key" and Capability.TASKS not in roles:
                continue
            if canonical != "handoff_key" and Capability.SCORES not in roles:
                continue
            if self.settings.field(canonical):
                needed[canonical] = self.settings.field(canonical)
        return needed

    def check(self) -> CheckResult:
        result = CheckResult(ok=True)
        try:
            available = self.client.describe_fields()
        except AuthError as exc:
            result.add("credentials", False, str(exc))
            return result
        except ConnectorError as exc:
            result.add("credentials", False, str(exc))
            return result
        result.add("credentials", True, f"token from {self.client.auth.token_url}")
        for canonical, field in self._needed_fields().items():
            present = field in available
            result.add(f"lead field {field}", present, "" if present else f"missing ({canonical}); run `leadsync connections setup {self.connection}`")
        if Capability.TASKS in set(self.settings.roles):
            self._check_campaign(result)
        return result

    def _check_campaign(self, result: CheckResult) -> None:
        """The handoff campaign as the Asset API describes it: requestable, and runs a lead every time.

        Request Campaign runs a lead through the flow only as often as the campaign's qualification
        rule allows (default "once"): a lead handed to sales again later would silently not run.
        leadsync itself guarantees one run per handoff, so the rule must be "every time" (`any`).
        """
        campaign = self.settings.handoff_campaign_id
        if campaign is None:
            result.add("handoff campaign", False, "handoff_campaign_id is not set")
            return
        what = f"handoff campaign {campaign}"
        try:
            info = self.client.smart_campaign(campaign)
        except ConnectorError as exc:
            codes = exc.codes if isinstance(exc, MarketoError) else []
            hint = " (the API user's role needs Read-Only Assets)" if "603" in codes else ""
            result.add(what, False, f"{exc}{hint}")
            return
        name = repr(info.get("name"))
        if info.get("type") != "trigger" or not info.get("isRequestable"):
            result.add(what, False, f"{name}: not requestable; it must be an active trigger campaign with "
                                    "'Campaign is Requested' (Source: Web Service API)")
            return
        rule = info.get("qualificationRuleType")
        if rule != "any":
            detail = (f"every {info.get('qualificationRuleInterval')} {info.get('qualificationRuleUnit')}"
                      if rule == "interval" else str(rule))
            result.add(what, False, f"{name}: qualification rule is '{detail}', so Marketo would silently skip a "
                                    "lead handed to sales a second time; set Schedule > Smart Campaign Settings > "
                                    "'Each person can run through the flow: every time' (leadsync sends each "
                                    "handoff once)")
            return
        result.add(what, True, f"{name}: requestable, runs a lead every time it is requested")

    def setup(self) -> list[str]:
        available = self.client.describe_fields()
        missing = {c: f for c, f in self._needed_fields().items() if f not in available}
        done: list[str] = []
        if missing:
            payload = {"input": [
                {"name": field, "displayName": WRITE_FIELDS[canonical][1], "dataType": WRITE_FIELDS[canonical][0],
                 "description": "written by leadsync"}
                for canonical, field in missing.items()
            ]}
            try:
                body = self.client.post("/rest/v1/leads/schema/fields.json", payload, idempotent=True)
                for item in body.get("result") or []:
                    done.append(f"lead field {item.get('name')}: {item.get('status')}")
            except MarketoError as exc:
                done.append(f"could not create lead fields ({exc}); create them in Admin > Field Management: "
                            + ", ".join(f"{f} ({WRITE_FIELDS[c][0]})" for c, f in missing.items()))
        else:
            done.append("all leadsync lead fields exist")
        if Capability.TASKS in set(self.settings.roles):
            done.append(
                "Request Campaign: create a trigger Smart Campaign with 'Campaign is Requested (Source: Web Service "
                "API)', qualification rule 'every time', program my-tokens {{my.leadsync_subject}}, {{my.leadsync_body}}, {{my.leadsync_due_at}}, "
                "{{my.leadsync_owner}}, {{my.leadsync_key}}, a flow step (Create Task / Send Alert) and a last step "
                f"Change Data Value {self.settings.field('handoff_key')} = {{{{my.leadsync_key}}}}|done; "
                "set its id as handoff_campaign_id"
            )
        return done
