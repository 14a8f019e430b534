"""Fixtures for the Salesforce plugin's tests."""

from __future__ import annotations

import pytest
import respx

from leadsync_salesforce import SalesforceConnector, SalesforceSettings

LOGIN = "https://login.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"


def _make(**keys: object) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "cid", "client_secret": "csecret", "refresh_token": "rtok", **keys}
    connector = SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo")
    connector.api.client._sleep = lambda seconds: None
    return connector


@pytest.fixture
def make_sf():
    made: list[SalesforceConnector] = []

    def factory(**keys: object) -> SalesforceConnector:
        made.append(_make(**keys))
        return made[-1]

    yield factory
    for connector in made:
        connector.close()


@pytest.fixture
def sf_api():
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{LOGIN}/services/oauth2/token").respond(200, json={
            "access_token": "00D!session-1", "instance_url": INSTANCE, "token_type": "Bearer", "id": "x", "issued_at": "1"})
        yield router
