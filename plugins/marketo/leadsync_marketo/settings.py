"""The `[connections.NAME]` keys of a Marketo connection and the default field and activity maps."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from leadsync.connectors import ConnectionSettings
from leadsync.core.models import ActivityType

__all__ = [
    "DEFAULT_ACTIVITY_TYPES",
    "DEFAULT_FIELDS",
    "DEFAULT_PROGRAM_STATUSES",
    "LEAD_READ_FIELDS",
    "WRITE_FIELDS",
    "MarketoSettings",
]

# Canonical name -> Marketo REST field name. Read fields are intersected with what
# /rest/v1/leads/describe.json lists, so a field an instance lacks is skipped, not an error.
DEFAULT_FIELDS: dict[str, str] = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "title": "title",
    "department": "department",
    "phone": "phone",
    "employees": "numberOfEmployees",
    "industry": "industry",
    "lead_source": "leadSource",
    "status": "leadStatus",
    "owner": "",  # Marketo is usually the MA side; map e.g. "sfdcLeadOwnerId" if owners live here
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    # custom fields leadsync writes (created by `leadsync connections setup`)
    "score": "leadsyncScore",
    "behavior_score": "leadsyncBehaviorScore",
    "attribute_score": "leadsyncAttributeScore",
    "segment": "leadsyncSegment",
    "sheet_version": "leadsyncSheetVersion",
    "scored_at": "leadsyncScoredAt",
    "handoff_key": "leadsyncHandoffKey",
}

LEAD_READ_FIELDS = (
    "email", "first_name", "last_name", "company", "title", "department", "phone", "employees",
    "industry", "lead_source", "status", "owner", "created_at", "updated_at",
)
# Canonical name -> (Marketo dataType for Create Lead Fields, display name).
WRITE_FIELDS: dict[str, tuple[str, str]] = {
    "score": ("integer", "leadsync Score"),
    "behavior_score": ("integer", "leadsync Behavior Score"),
    "attribute_score": ("integer", "leadsync Attribute Score"),
    "segment": ("string", "leadsync Segment"),
    "sheet_version": ("string", "leadsync Sheet Version"),
    "scored_at": ("datetime", "leadsync Scored At"),
    "handoff_key": ("string", "leadsync Handoff Key"),
}

# Marketo activity type *names* (ids are per instance, read from /rest/v1/activities/types.json).
DEFAULT_ACTIVITY_TYPES: dict[str, ActivityType] = {
    "Visit Webpage": ActivityType.WEB_VISIT,
    "Fill Out Form": ActivityType.FORM_SUBMITTED,
    "Click Link": ActivityType.WEB_VISIT,  # a link to a document counts as a download
    "Open Email": ActivityType.EMAIL_OPEN,
    "Click Email": ActivityType.EMAIL_CLICK,
    "Unsubscribe Email": ActivityType.UNSUBSCRIBE,
    "Change Status in Progression": ActivityType.OTHER,  # program statuses: see below
}

# Program statuses of "Change Status in Progression" that mean something for scoring; other
# statuses are skipped. Event/webinar channels use "Registered" and "Attended" by default.
DEFAULT_PROGRAM_STATUSES: dict[str, ActivityType] = {
    "Registered": ActivityType.WEBINAR_REGISTERED,
    "Attended": ActivityType.WEBINAR_ATTENDED,
    "Attended On-demand": ActivityType.WEBINAR_ATTENDED,
}


class MarketoSettings(ConnectionSettings):
    """A Marketo Engage instance reached with a LaunchPoint custom service (client credentials)."""

    # REST endpoint from Admin > Integration > Web Services, e.g. https://123-ABC-456.mktorest.com
    base_url: str | None = None
    # Identity endpoint; default: <base_url>/identity
    identity_url: str | None = None
    client_id: str
    client_secret: SecretStr
    partition_name: str | None = None
    # The trigger Smart Campaign ("Campaign is Requested: Web Service API") that hands a lead to sales.
    handoff_campaign_id: int | None = None
    # A lead whose fence shows another handoff sent this many days before this one (a state store
    # that lost its recent writes planned it again under a new key) is not run through again.
    adopt_within_days: int = Field(30, ge=0)
    # My-token names the campaign's flow can use; {name} is replaced by subject, body, due_at ...
    token_format: str = "{{{{my.leadsync_{name}}}}}"
    # First run (or full refresh): read changes and activities this many days back.
    initial_days: int = Field(90, gt=0)
    # Activities are re-read this far behind the cursor: Marketo records some activities late.
    activity_overlap_minutes: float = Field(30, ge=0)
    # Extra or overriding activity-type names -> leadsync activity types.
    activity_types: dict[str, ActivityType] = Field(default_factory=dict)
    program_statuses: dict[str, ActivityType] = Field(default_factory=dict)
    # Marketo allows 100 calls / 20 s per instance; the docs advise 50 per integration.
    calls_per_20s: int = Field(50, ge=1, le=100)
    concurrency: int = Field(4, ge=1, le=10)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if value.endswith("/rest"):
            value = value[: -len("/rest")]
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected the REST endpoint URL, e.g. https://123-ABC-456.mktorest.com")
        return value

    def field(self, canonical: str) -> str:
        """The Marketo field name for a canonical field ('' when unmapped)."""
        return self.fields.get(canonical, DEFAULT_FIELDS.get(canonical, ""))

    def token_name(self, name: str) -> str:
        return self.token_format.format(name=name)
