"""The canonical model every connector normalizes into (docs/architecture.md).

These classes are public API for plugin authors: vendor plugins import them, the engine stores
them, scoring and handoff read them. Times are always timezone-aware.
"""

from __future__ import annotations


import enum
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadsync.core.normalize import normalize_lead_source

__all__ = [
    "Activity",
    "ActivityType",
    "Handoff",
    "HandoffStatus",
    "Lead",
    "Opportunity",
    "OpportunityStatus",
    "RuleHit",
    "Score",
    "Segment",
    "looks_japanese",
]


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")


def looks_japanese(text: str | None) -> bool:
    """True when the text has kanji or kana (hiragana, katakana, half-width katakana)."""
    return bool(text and _JAPANESE.search(text))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("datetime must carry a time zone")
    return value


class ActivityType(str, enum.Enum):
    """What a lead did. Vendors' own activity kinds are mapped onto these."""

    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    CONTENT_DOWNLOAD = "content_download"
    WEB_VISIT = "web_visit"
    FORM_STARTED = "form_started"
    FORM_SUBMITTED = "form_submitted"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    CALL = "call"
    MEETING_SET = "meeting_set"  # a meeting was booked; occurred_at is when it was booked
    MEETING = "meeting"  # a meeting took place or was due; outcome held, no_show or canceled
    UNSUBSCRIBE = "unsubscribe"
    OTHER = "other"


class Segment(str, enum.Enum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class Lead(BaseModel):
    """One person, as one connection knows them, or merged across connections.

    `key` is the stable identity: the normalized e-mail, else ``"<connection>:<record id>"``.
    `refs` maps connection name to that system's record id.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = ""
    email: str | None = None
    refs: dict[str, str] = Field(default_factory=dict)
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    department: str | None = None
    phone: str | None = None
    employees: int | None = None
    employees_text: str | None = None
    industry: str | None = None
    lead_source: str | None = None
    owner: str | None = None
    status: str | None = None
    status_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom: dict[str, Any] = Field(default_factory=dict)

    _check_created = field_validator("created_at", "updated_at")(_aware)

    @field_validator("lead_source")
    @classmethod
    def _canonical_source(cls, value: str | None) -> str | None:
        """One vocabulary for every connection: '展示会' and 'Trade show' are both 'trade_show'."""
        return normalize_lead_source(value)

    @classmethod
    def from_normalized(cls, values: dict[str, Any]) -> Lead:
        """A Lead from field values a connector built with the toolkit's normalizers, without
        pydantic's validation (a connector's hot path: about three times cheaper).

        The caller vouches for the types: text as str (or None), `employees` an int, `refs` a dict
        of str, `custom` a dict with str keys; what nfkc, normalize_email, parse_employees and
        parse_datetime return is that. What validation would still do is done here: the lead
        source is canonicalized, a time without a time zone or an unknown field raises
        ValueError. For such values the lead equals `Lead(**values)`, field for field and in its
        stored JSON. Anything else belongs in `Lead(...)`, which validates. The lead takes `values`'
        dicts (`refs`, `custom`) as they are: pass fresh ones.
        """
        if cls is not Lead:  # a subclass may add fields and validators
            return cls(**values)
        fields = {**_LEAD_DEFAULTS, **values}
        if len(fields) != len(_LEAD_DEFAULTS):
            raise ValueError(f"Lead has no field {sorted(set(values) - set(_LEAD_DEFAULTS))[0]!r}")
        created, updated = fields["created_at"], fields["updated_at"]
        if (created is not None and created.tzinfo is None) or (updated is not None and updated.tzinfo is None):
            raise ValueError("datetime must carry a time zone")
        if "refs" not in values:
            fields["refs"] = {}
        if "custom" not in values:
            fields["custom"] = {}
        if fields["lead_source"] is not None:
            fields["lead_source"] = normalize_lead_source(fields["lead_source"])
        lead = cls.__new__(cls)
        _set = object.__setattr__  # what pydantic's model_construct sets, without its per-field loop
        _set(lead, "__dict__", fields)
        _set(lead, "__pydantic_fields_set__", set(values))
        _set(lead, "__pydantic_extra__", None)
        _set(lead, "__pydantic_private__", None)
        return lead

    @property
    def name(self) -> str:
        """Display name: family name first when the name looks Japanese (kanji or kana), given name
        first otherwise ("佐藤 花子", "Laura Taylor")."""
        if looks_japanese(self.last_name) or looks_japanese(self.first_name):
            parts = [p for p in (self.last_name, self.first_name) if p]
        else:
            parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts)


# Lead.from_normalized: every field in declaration order with its default.
_LEAD_DEFAULTS: dict[str, Any] = {name: info.default for name, info in Lead.model_fields.items()}


class Activity(BaseModel):
    """Something a lead did, as recorded by one connection."""

    model_config = ConfigDict(extra="forbid")

    source_id: str
    connection: str = ""
    lead_key: str = ""
    email: str | None = None
    lead_record_id: str | None = None
    type: ActivityType
    occurred_at: datetime
    url: str | None = None
    duration_seconds: int | None = None
    # Calls: connected, no_answer, voicemail, busy, gatekeeper, conversation, meeting_booked, ...;
    # meetings: held, no_show, canceled, scheduled (see leadsync.core.normalize.normalize_outcome).
    outcome: str | None = None
    owner: str | None = None  # the rep who made the call or holds the meeting
    details: dict[str, Any] = Field(default_factory=dict)

    _check_occurred = field_validator("occurred_at")(_aware)


class OpportunityStatus(str, enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Opportunity(BaseModel):
    """A deal (案件) linked to a lead: created, then closed won or lost."""

    model_config = ConfigDict(extra="forbid")

    source_id: str
    connection: str = ""
    lead_key: str = ""
    email: str | None = None
    lead_record_id: str | None = None
    name: str | None = None
    created_at: datetime
    stage: str | None = None
    amount: float | None = None
    closed_at: datetime | None = None
    status: OpportunityStatus = OpportunityStatus.OPEN
    lost_reason: str | None = None
    owner: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    _check_times = field_validator("created_at", "closed_at")(_aware)


class RuleHit(BaseModel):
    """One line of a score's breakdown: which rule fired, for how much, and why."""

    rule: str
    group: str
    points: float
    evidence: list[str] = Field(default_factory=list)


class Score(BaseModel):
    """A lead's score at one moment, with its breakdown."""

    lead_key: str
    email: str | None = None
    total: int
    behavior: int
    attribute: int
    segment: Segment
    sheet_version: str
    scored_at: datetime
    breakdown: list[RuleHit] = Field(default_factory=list)
    # The earliest moment at which the score changes with no new data (window expiry, decay).
    next_change_at: datetime | None = None


class HandoffStatus(str, enum.Enum):
    OPEN = "open"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Handoff(BaseModel):
    """One MQL episode: from the moment a lead turned hot until sales closes it."""

    id: int | None = None
    lead_key: str
    connection: str
    status: HandoffStatus = HandoffStatus.OPEN
    owner: str | None = None
    score: int
    segment: Segment = Segment.HOT
    opened_at: datetime
    due_at: datetime
    task_key: str
    closed_at: datetime | None = None
    close_reason: str | None = None
    first_touch_at: datetime | None = None
