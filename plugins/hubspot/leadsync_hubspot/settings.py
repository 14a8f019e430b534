"""The `[connections.NAME]` keys of a HubSpot connection, and its default property names."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from leadsync.connectors import ConnectionSettings

__all__ = ["DEFAULT_FIELDS", "HubSpotSettings"]

DEFAULT_BASE_URL = "https://api.hubapi.com"

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
    token_url: str | None = None  # default: <base_url>/oauth/v1/token
    # 100 per 10 s on Free/Starter and for public apps; 190 on Professional/Enterprise private apps.
    requests_per_10s: int = Field(100, ge=1, le=200)
    # CRM search has its own budget of 5 requests per second per account.
    search_per_second: int = Field(5, ge=1, le=5)
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

    def field(self, canonical: str) -> str:
        """The HubSpot property name for a canonical field."""
        return self.fields.get(canonical, DEFAULT_FIELDS[canonical])

    @property
    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")
