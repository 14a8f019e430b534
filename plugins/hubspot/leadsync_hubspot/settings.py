"""The `[connections.NAME]` keys of a HubSpot connection, and its default property names."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from leadsync.connectors import ConnectionSettings

__all__ = ["DEFAULT_FIELDS", "HubSpotSettings"]

DEFAULT_BASE_URL = "https://api.hubapi.com"
# HubSpot's conservative starting budget (Free/Starter, public apps) and its CRM search limit.
DEFAULT_REQUESTS_PER_10S = 100
SEARCH_PER_SECOND = 5

# Canonical name -> HubSpot property name. `settings.fields` overrides any entry.
DEFAULT_FIELDS: dict[str, str] = {
    # what leadsync writes (created by `leadsync connections setup`)
    "score": "leadsync_score",
    "behavior_score": "leadsync_behavior_score",
    "attribute_score": "leadsync_attribute_score",
    "segment": "leadsync_segment",
    "sheet_version": "leadsync_sheet_version",
    "scored_at": "leadsync_scored_at",
    "task_key": "leadsync_key",
    # what leadsync reads from a contact
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "title": "jobtitle",
    "phone": "phone",
    "employees": "numemployees",
    "industry": "industry",
    "lead_source": "hs_analytics_source",
    "owner": "hubspot_owner_id",
    "status": "hs_lead_status",
    "created_at": "createdate",
    "updated_at": "lastmodifieddate",
}

ActivityObject = Literal["calls", "meetings", "emails"]


class HubSpotSettings(ConnectionSettings):
    """A private-app token, or an OAuth app's client id/secret and refresh token."""

    base_url: str | None = DEFAULT_BASE_URL
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_url: str | None = None  # default: <base_url>/oauth/2026-03/token
    # None (the default): start at 100 per 10 s (Free/Starter, public apps) and adopt the budget
    # HubSpot announces on every answer (X-HubSpot-RateLimit-Max per -Interval-Milliseconds; 190 on
    # Professional/Enterprise, 250 with the API limit increase). A number fixes the budget by hand.
    requests_per_10s: int | None = Field(None, ge=1, le=250)
    # CRM search: 5 requests per second per account, shared with every other integration of the
    # account. leadsync uses 5 - search_margin unless search_per_second is set by hand.
    search_per_second: int | None = Field(None, ge=1, le=5)
    search_margin: int = Field(1, ge=0, le=4)
    activity_objects: list[ActivityObject] = Field(default_factory=lambda: ["calls", "meetings"])
    # Width of one lastmodifieddate slice of an incremental search read.
    search_window_days: float = Field(30.0, gt=0)
    task_type: Literal["TODO", "CALL", "EMAIL"] = "TODO"
    # More contact properties to read into Lead.custom.
    extra_properties: list[str] = Field(default_factory=list)
    # An optimisation only, never needed for correctness: how long the engine lets HubSpot apply a
    # task create whose answer was lost before sending it again (the name is kept for old configs).
    index_settle_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_credential(self) -> HubSpotSettings:
        oauth = [self.client_id, self.client_secret, self.refresh_token]
        if self.token is None and not all(oauth):
            raise ValueError(
                "set either token (private app) or client_id, client_secret and refresh_token (OAuth)"
            )
        if self.token is not None and any(oauth):
            raise ValueError("set token or the OAuth keys (client_id, client_secret, refresh_token), not both")
        return self

    @property
    def search_rate(self) -> int:
        """Search requests per second leadsync allows itself."""
        return self.search_per_second or SEARCH_PER_SECOND - self.search_margin

    def field(self, canonical: str) -> str:
        """The HubSpot property name for a canonical field."""
        return self.fields.get(canonical, DEFAULT_FIELDS[canonical])

    @property
    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")
