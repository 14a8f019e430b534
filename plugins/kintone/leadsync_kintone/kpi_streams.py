"""Inside-sales data from kintone: the rep and a canonical outcome on activities, and an
opportunities (案件) app whose field codes are configurable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from leadsync.connectors import (
    Page,
    ReadContext,
    Rejected,
    Stream,
    nfkc,
    normalize_email,
    normalize_outcome,
    parse_amount,
    parse_datetime,
    parse_opportunity_status,
)
from leadsync.core.models import Activity, ActivityType, Opportunity, OpportunityStatus

from leadsync_kintone.client import KintoneClient
from leadsync_kintone.mapping import ACTIVITY_LABELS, field_value
from leadsync_kintone.mapping import to_activity as base_activity
from leadsync_kintone.settings import DEFAULT_ACTIVITY_FIELDS, KintoneSettings
from leadsync_kintone.streams import ActivitiesStream, _seek

__all__ = ["DEFAULT_OPPORTUNITY_FIELDS", "OpportunitiesStream", "SalesActivitiesStream", "sales_streams"]

# Canonical name -> field code in the opportunities app (the codes of a Japanese app with these labels).
DEFAULT_OPPORTUNITY_FIELDS: dict[str, str] = {
    "email": "メールアドレス",
    "name": "案件名",
    "created_at": "作成日時",
    "stage": "フェーズ",
    "amount": "金額",
    "closed_at": "受注日",
    "status": "ステータス",
    "lost_reason": "失注理由",
    "owner": "担当者",
    "updated_at": "更新日時",
}
SALES_LABELS = {**ACTIVITY_LABELS, "商談獲得": ActivityType.MEETING_SET, "アポ獲得": ActivityType.MEETING_SET,
                "商談設定": ActivityType.MEETING_SET, "商談": ActivityType.MEETING, "商談実施": ActivityType.MEETING}


def _text(value: Any) -> str | None:
    """A field's value as text; a user selection field ([{"code", "name"}]) gives its first code."""
    if isinstance(value, list):
        value = next((v.get("code") for v in value if isinstance(v, dict) and v.get("code")), None)
    return nfkc(None if value is None else str(value))


class SalesActivitiesStream(ActivitiesStream):
    """The activities app with canonical outcomes, meetings booked, and the rep when `activity_fields`
    maps `owner` (a user selection or text field)."""

    def to_activity(self, raw: dict[str, Any]) -> Activity | Rejected:
        label = _text(field_value(raw, self.settings.activity_field("type")))
        if label in SALES_LABELS and label not in ACTIVITY_LABELS:  # meetings booked and held
            raw = {**raw, self.settings.activity_field("type"): {"value": SALES_LABELS[label].value}}
        activity = base_activity(raw, self.connection, self.settings, self.tz)
        if not isinstance(activity, Activity):
            return activity
        owner_code = self.settings.activity_fields.get("owner")
        owner = _text(field_value(raw, owner_code)) if owner_code else None
        return activity.model_copy(update={"outcome": normalize_outcome(activity.outcome), "owner": owner})

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        s = self.settings
        assert s.activities_app is not None
        codes = [s.activity_field(name) for name in DEFAULT_ACTIVITY_FIELDS]
        codes += [s.activity_fields["owner"]] if s.activity_fields.get("owner") else []
        yield from _seek(self.client, s.activities_app, s.activity_field("updated_at"), codes, ctx, s.initial_days,
                         self.to_activity)


class OpportunitiesStream(Stream):
    """Records of the opportunities app, incremental on its updated-time field."""

    name = "opportunities"

    def __init__(self, client: KintoneClient, connection: str, settings: KintoneSettings, tz: str) -> None:
        self.client, self.connection, self.settings, self.tz = client, connection, settings, tz

    def field(self, canonical: str) -> str:
        return self.settings.opportunity_fields.get(canonical, DEFAULT_OPPORTUNITY_FIELDS[canonical])

    def to_opportunity(self, raw: dict[str, Any]) -> Opportunity | Rejected:
        record_id = field_value(raw, "$id")
        key = f"{self.connection}:opportunity:{record_id}"
        try:
            email = normalize_email(_text(field_value(raw, self.field("email"))))
            created = parse_datetime(field_value(raw, self.field("created_at")), self.tz)
            if email is None or created is None:
                return Rejected(key=key, reason=f"record {record_id}: needs an e-mail and a creation date", payload=raw)
            raw_status = _text(field_value(raw, self.field("status")))
            status = parse_opportunity_status(raw_status) if raw_status else "open"
            if status is None:
                return Rejected(key=key, reason=f"record {record_id}: status {raw_status!r} is not open, won or lost",
                                payload=raw)
            closed = parse_datetime(field_value(raw, self.field("closed_at")), self.tz) if status != "open" else None
            if status != "open" and closed is None:
                return Rejected(key=key, reason=f"record {record_id}: {status} but no {self.field('closed_at')}",
                                payload=raw)
            amount_raw = field_value(raw, self.field("amount"))
            amount = parse_amount(amount_raw) if amount_raw not in (None, "") else None
            return Opportunity(
                source_id=f"{self.settings.opportunities_app}:{record_id}", connection=self.connection, email=email,
                name=_text(field_value(raw, self.field("name"))), created_at=created,
                stage=_text(field_value(raw, self.field("stage"))), amount=amount, closed_at=closed,
                status=OpportunityStatus(status), owner=_text(field_value(raw, self.field("owner"))),
                lost_reason=_text(field_value(raw, self.field("lost_reason"))) if status == "lost" else None,
            )
        except (ValueError, ValidationError, TypeError) as exc:
            return Rejected(key=key, reason=f"record {record_id}: {str(exc).splitlines()[0]}", payload=raw)

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        app = self.settings.opportunities_app
        assert app is not None
        codes = [self.field(name) for name in DEFAULT_OPPORTUNITY_FIELDS]
        yield from _seek(self.client, app, self.field("updated_at"), codes, ctx, self.settings.initial_days,
                         self.to_opportunity)


def sales_streams(client: KintoneClient, connection: str, settings: KintoneSettings, tz: str) -> list[Stream]:
    """The activities app's stream (with reps and outcomes) and the opportunities app's, where configured."""
    found: list[Stream] = []
    if settings.activities_app is not None:
        found.append(SalesActivitiesStream(client, connection, settings, tz))
    if settings.opportunities_app is not None:
        found.append(OpportunitiesStream(client, connection, settings, tz))
    return found
