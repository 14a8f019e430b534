"""The `[connections.NAME]` keys of a kintone connection and the default field codes (per app)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from leadsync.connectors import ConnectionSettings

__all__ = ["DEFAULT_ACTIVITY_FIELDS", "DEFAULT_LEAD_FIELDS", "DEFAULT_TASK_FIELDS", "KintoneSettings", "MAX_API_TOKENS"]

# kintone takes at most 9 API tokens in one request (comma-separated or in several headers); a 10th
# is an error. leadsync sends every configured token on every call, so the setting holds at most 9.
MAX_API_TOKENS = 9

# Canonical name -> field code in the leads app. kintone field codes are chosen per app; these are
# the codes a Japanese app gets when fields are added with these labels.
DEFAULT_LEAD_FIELDS: dict[str, str] = {
    "email": "メールアドレス",
    "first_name": "名",
    "last_name": "姓",
    "company": "会社名",
    "title": "役職",
    "department": "部署名",
    "phone": "電話番号",
    "employees": "従業員数",
    "industry": "業種",
    "lead_source": "流入経路",
    "owner": "担当者",
    "status": "ステータス",
    "status_reason": "失注理由",
    "created_at": "作成日時",
    "updated_at": "更新日時",
    # fields leadsync writes
    "score": "leadsync_score",
    "behavior_score": "leadsync_behavior_score",
    "attribute_score": "leadsync_attribute_score",
    "segment": "leadsync_segment",
    "sheet_version": "leadsync_sheet_version",
    "scored_at": "leadsync_scored_at",
}
DEFAULT_ACTIVITY_FIELDS: dict[str, str] = {
    "email": "メールアドレス",
    "type": "種別",
    "occurred_at": "日時",
    "url": "URL",
    "duration_seconds": "通話秒数",
    "outcome": "結果",
    "updated_at": "更新日時",
}
DEFAULT_TASK_FIELDS: dict[str, str] = {
    "key": "leadsync_key",  # single-line text with "prohibit duplicate values": the upsert key
    "subject": "件名",
    "body": "内容",
    "due_at": "期限",
    "owner": "担当者",
    "priority": "優先度",
    "email": "メールアドレス",
    "lead_record_id": "リードID",
    "status": "ステータス",
    "completed_at": "完了日時",
    "updated_at": "更新日時",
}


class KintoneSettings(ConnectionSettings):
    """A kintone domain: leads app, optional activities app, To-Do app for tasks."""

    base_url: str | None = None  # https://{subdomain}.cybozu.com
    # API tokens (several: comma-separated, one per app, at most 9) or a login name and password.
    api_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    # Apps in a guest space are reached at /k/guest/{space}/v1/ (every app of the connection).
    guest_space_id: int | None = Field(None, gt=0)
    # The domain's Basic authentication (cybozu.com "Basic認証"), sent as `Authorization: Basic`
    # next to the kintone credentials; it is not kintone's password authentication.
    basic_username: str | None = None
    basic_password: SecretStr | None = None
    # `connections setup`: how often, and how many times, to ask whether the app deploy finished.
    deploy_poll_s: float = Field(1.0, gt=0)
    deploy_polls: int = Field(300, ge=1)
    leads_app: int
    activities_app: int | None = None
    # Optional opportunities (案件) app for the inside-sales KPIs; field codes in opportunity_fields.
    opportunities_app: int | None = None
    opportunity_fields: dict[str, str] = Field(default_factory=dict)
    tasks_app: int | None = None
    # Upsert key of the leads app (single-line text with "prohibit duplicate values"); None: by record id.
    lead_update_key: str | None = None
    activity_fields: dict[str, str] = Field(default_factory=dict)
    task_fields: dict[str, str] = Field(default_factory=dict)
    # Values of the To-Do app's status field that mean done.
    task_done_values: list[str] = Field(default_factory=lambda: ["完了", "Done", "Completed"])
    # Owner values are login names of kintone users (the user-selection field's `code`).
    initial_days: int = Field(365, gt=0)
    page_size: int = Field(500, ge=1, le=500)
    # kintone allows 100 concurrent requests per domain; leadsync stays far below.
    concurrency: int = Field(4, ge=1, le=100)
    calls_per_second: int = Field(10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected https://{subdomain}.cybozu.com")
        return value

    @field_validator("api_token")
    @classmethod
    def _tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        tokens = [t.strip() for t in value.get_secret_value().split(",")]
        if not all(tokens):
            raise ValueError("api_token: an empty token between commas")
        if len(tokens) > MAX_API_TOKENS:
            raise ValueError(f"api_token: {len(tokens)} tokens given; kintone accepts at most {MAX_API_TOKENS} "
                             "in one request (use password authentication for more apps)")
        return SecretStr(",".join(tokens))

    @model_validator(mode="after")
    def _credentials(self) -> KintoneSettings:
        if self.api_token is None and not (self.username and self.password):
            raise ValueError("set api_token, or username and password")
        if bool(self.basic_username) != bool(self.basic_password):
            raise ValueError("set both basic_username and basic_password (the domain's Basic authentication)")
        if not self.base_url:
            raise ValueError("base_url is required, e.g. https://example.cybozu.com")
        return self

    @property
    def api_tokens(self) -> list[str]:
        return self.api_token.get_secret_value().split(",") if self.api_token else []

    def api_path(self, path: str) -> str:
        """`/k/v1/...` as this connection reaches it: `/k/guest/{space}/v1/...` for a guest space."""
        if self.guest_space_id and path.startswith("/k/v1/"):
            return f"/k/guest/{self.guest_space_id}/v1/{path[len('/k/v1/'):]}"
        return path

    def lead_field(self, canonical: str) -> str:
        return self.fields.get(canonical, DEFAULT_LEAD_FIELDS.get(canonical, ""))

    def activity_field(self, canonical: str) -> str:
        return self.activity_fields.get(canonical, DEFAULT_ACTIVITY_FIELDS.get(canonical, ""))

    def task_field(self, canonical: str) -> str:
        return self.task_fields.get(canonical, DEFAULT_TASK_FIELDS.get(canonical, ""))
