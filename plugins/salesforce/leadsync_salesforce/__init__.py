"""leadsync-salesforce: the Salesforce connector plugin."""

from __future__ import annotations

from typing import Any

from leadsync.connectors import hookimpl

from leadsync_salesforce.connector import SalesforceConnector
from leadsync_salesforce.settings import SalesforceSettings

__all__ = ["SalesforceConnector", "SalesforceSettings", "register_connectors"]


@hookimpl
def register_connectors(register: Any) -> None:
    register(SalesforceConnector)
