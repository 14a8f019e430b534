"""Fixtures for the kintone plugin tests: a connector wired to an in-process fake kintone domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leadsync.connectors.testing.fakes.kintone import KintoneFake
from leadsync_kintone.connector import KintoneConnector
from leadsync_kintone.settings import KintoneSettings

LEAD_APP_FIELDS = {
    "メールアドレス": "SINGLE_LINE_TEXT", "姓": "SINGLE_LINE_TEXT", "名": "SINGLE_LINE_TEXT",
    "会社名": "SINGLE_LINE_TEXT", "役職": "SINGLE_LINE_TEXT", "従業員数": "SINGLE_LINE_TEXT",
    "業種": "DROP_DOWN", "担当者": "USER_SELECT", "ステータス": "DROP_DOWN",
    "leadsync_score": "NUMBER", "leadsync_behavior_score": "NUMBER", "leadsync_attribute_score": "NUMBER",
    "leadsync_segment": "SINGLE_LINE_TEXT", "leadsync_sheet_version": "SINGLE_LINE_TEXT",
    "leadsync_scored_at": "DATETIME",
}
TASK_APP_FIELDS = {
    "leadsync_key": "SINGLE_LINE_TEXT", "件名": "SINGLE_LINE_TEXT", "内容": "MULTI_LINE_TEXT", "期限": "DATETIME",
    "担当者": "USER_SELECT", "優先度": "SINGLE_LINE_TEXT", "メールアドレス": "SINGLE_LINE_TEXT",
    "リードID": "SINGLE_LINE_TEXT", "ステータス": "DROP_DOWN", "完了日時": "DATETIME",
}


@pytest.fixture
def kintone_fake() -> KintoneFake:
    fake = KintoneFake()
    fake.add_app(10, LEAD_APP_FIELDS, unique=("メールアドレス",), token="lead-token-123")
    fake.add_app(30, TASK_APP_FIELDS, unique=("leadsync_key",), token="task-token-456")
    return fake


@pytest.fixture
def kintone_connector(kintone_fake: KintoneFake) -> Callable[..., KintoneConnector]:
    made: list[KintoneConnector] = []

    def make(**overrides: Any) -> KintoneConnector:
        values: dict[str, Any] = {
            "plugin": "kintone", "base_url": "https://example.cybozu.com",
            "api_token": "lead-token-123,task-token-456", "leads_app": 10, "tasks_app": 30,
            "roles": ["leads", "scores", "tasks"], **overrides,
        }
        transport = overrides.pop("transport", None) or httpx.MockTransport(kintone_fake.handle)
        values.pop("transport", None)
        connector = KintoneConnector("crm", KintoneSettings(**values), timezone="Asia/Tokyo", transport=transport)
        connector.api.http._sleep = lambda seconds: None
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
