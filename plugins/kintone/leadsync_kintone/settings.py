"""The `[connections.NAME]` keys of a kintone connection and the default field codes (per app)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from leadsync.connectors import ConnectionSettings

__all__ = ["DEFAULT_ACTIVITY_FIELDS", "DEFAULT_LEAD_FIELDS", "DEFAULT_TASK_FIELDS", "KintoneSettings"]

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
    # API tokens (several: comma-separated, one per app) or a login name and password.
    api_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
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

    @model_validator(mode="after")
    def _credentials(self) -> KintoneSettings:
        if self.api_token is None and not (self.username and self.password):
            raise ValueError("set api_token, or username and password")
        if not self.base_url:
            raise ValueError("base_url is required, e.g. https://example.cybozu.com")
        return self

    def lead_field(self, canonical: str) -> str:
        return self.fields.get(canonical, DEFAULT_LEAD_FIELDS.get(canonical, ""))

    def activity_field(self, canonical: str) -> str:
        return self.activity_fields.get(canonical, DEFAULT_ACTIVITY_FIELDS.get(canonical, ""))

    def task_field(self, canonical: str) -> str:
        return self.task_fields.get(canonical, DEFAULT_TASK_FIELDS.get(canonical, ""))
