"""Helpers for the Marketo plugin tests: a connector against a respx-mocked instance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from leadsync_marketo.connector import MarketoConnector
from leadsync_marketo.settings import MarketoSettings

MARKETO_BASE = "https://123-abc-456.mktorest.com"
MARKETO_SECRET = "marketo-secret-value-xyz"


@pytest.fixture
def marketo_connector() -> Callable[..., MarketoConnector]:
    made: list[MarketoConnector] = []

    def make(**overrides: Any) -> MarketoConnector:
        values: dict[str, Any] = {
            "plugin": "marketo",
            "base_url": MARKETO_BASE,
            "client_id": "cid",
            "client_secret": MARKETO_SECRET,
            "roles": ["leads", "activities", "scores", "tasks"],
            "handoff_campaign_id": 1001,
            **overrides,
        }
        connector = MarketoConnector("ma", MarketoSettings(**values), timezone="Asia/Tokyo", sleep=lambda seconds: None)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
