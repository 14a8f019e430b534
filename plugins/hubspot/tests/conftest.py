"""Fixtures for the HubSpot plugin's respx tests."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
import respx

from leadsync_hubspot import HubSpotConnector, HubSpotSettings

BASE = "https://api.hubapi.com"
SIGNPOST = datetime(2025, 4, 1, 12, 0, tzinfo=timezone.utc)


def make_connector(**keys: object) -> HubSpotConnector:
    values = {"plugin": "hubspot", "token": "pat-na1-secret-token", **keys}
    # no real backoff waits in unit tests
    connector = HubSpotConnector("crm", HubSpotSettings.model_validate(values), timezone="Asia/Tokyo", sleep=lambda s: None)
    connector.client.limiter = None
    return connector


@pytest.fixture
def hubspot() -> HubSpotConnector:
    connector = make_connector()
    yield connector
    connector.close()


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        # The contacts stream ends with the recycling bin (deleted contacts): empty unless a test says otherwise.
        router.get("/crm/v3/objects/contacts", params={"archived": "true"}, name="bin").mock(
            return_value=httpx.Response(200, json={"results": []}))
        yield router


@pytest.fixture
def make_hubspot():
    made: list[HubSpotConnector] = []

    def factory(**keys: object) -> HubSpotConnector:
        made.append(make_connector(**keys))
        return made[-1]

    yield factory
    for connector in made:
        connector.close()


@pytest.fixture
def signpost() -> datetime:
    return SIGNPOST
