"""leadsync-hubspot: the HubSpot CRM connector plugin."""

from __future__ import annotations

from typing import Any

from leadsync.connectors import hookimpl

from leadsync_hubspot.connector import HubSpotConnector
from leadsync_hubspot.settings import HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings", "register_connectors"]


@hookimpl
def register_connectors(register: Any) -> None:
    register(HubSpotConnector)
