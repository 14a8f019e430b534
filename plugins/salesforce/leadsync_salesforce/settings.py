"""The `[connections.NAME]` keys of a Salesforce connection, and its default field names."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from leadsync.connectors import ConnectionSettings

__all__ = ["DEFAULT_FIELDS", "SalesforceSettings"]

# Canonical name -> Salesforce field API name. `settings.fields` overrides any entry.
DEFAULT_FIELDS: dict[str, str] = {
    "score": "Leadsync_Score__c",
    "behavior_score": "Leadsync_Behavior_Score__c",
    "attribute_score": "Leadsync_Attribute_Score__c",
    "segment": "Leadsync_Segment__c",
    "sheet_version": "Leadsync_Sheet_Version__c",
    "scored_at": "Leadsync_Scored_At__c",
    "task_key": "Leadsync_Key__c",
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "company": "Company",
    "title": "Title",
    "phone": "Phone",
    "employees": "NumberOfEmployees",
    "industry": "Industry",
    "lead_source": "LeadSource",
    "owner": "OwnerId",
    "status": "Status",
    "created_at": "CreatedDate",
    "updated_at": "SystemModstamp",
}


class SalesforceSettings(ConnectionSettings):
    """OAuth through a connected app: refresh token, client credentials or JWT bearer."""

    # The instance (My Domain) URL; the token response's instance_url wins when it has one.
    base_url: str | None = None
    login_url: str = "https://login.salesforce.com"
    api_version: str = Field("v62.0", pattern=r"^v\d{2,3}\.\d$")
    flow: Literal["refresh_token", "client_credentials", "jwt_bearer"] = "refresh_token"
    client_id: str
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    username: str | None = None  # jwt_bearer: the user the token is for
    private_key: SecretStr | None = None  # jwt_bearer: PEM RSA key of the connected app's certificate
    # jwt_bearer: the assertion's `aud`. Salesforce wants the login host (login/test.salesforce.com,
    # or an Experience Cloud site URL), never a My Domain URL; by default derived from login_url.
    audience: str | None = None
    sandbox: bool | None = None  # jwt_bearer: None = a sandbox when login_url says so
    page_size: int = Field(2000, ge=200, le=2000)  # Sforce-Query-Options batchSize (a hint)
    org_timezone: str | None = None  # ActivityDate is a date in this zone (default: scoring.timezone)
    task_status: str = "Not Started"
    task_priority: str = "High"
    # CampaignMember statuses that mean a webinar registration / attendance.
    webinar_registered_statuses: list[str] = Field(default_factory=lambda: ["Registered"])
    webinar_attended_statuses: list[str] = Field(default_factory=lambda: ["Attended"])
    read_campaign_members: bool = True

    @model_validator(mode="after")
    def _flow_keys(self) -> SalesforceSettings:
        needed = {"refresh_token": ["refresh_token"], "client_credentials": ["client_secret", "base_url"],
                  "jwt_bearer": ["username", "private_key"]}[self.flow]
        missing = [name for name in needed if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"flow {self.flow} needs {', '.join(missing)}")
        return self

    def field(self, canonical: str) -> str:
        return self.fields.get(canonical, DEFAULT_FIELDS[canonical])

    @property
    def jwt_audience(self) -> str:
        """The JWT bearer assertion's `aud`: https://test.salesforce.com for a sandbox, else
        https://login.salesforce.com (whatever host the token request itself goes to)."""
        if self.audience:
            return self.audience.rstrip("/")
        host = (urlsplit(self.login_url).hostname or "").lower()
        sandbox = self.sandbox if self.sandbox is not None else (
            host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"))
        return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"

    @property
    def token_url(self) -> str:
        # client_credentials must use the My Domain host; the others may use login.salesforce.com.
        host = self.base_url if self.flow == "client_credentials" else self.login_url
        return f"{(host or self.login_url).rstrip('/')}/services/oauth2/token"
