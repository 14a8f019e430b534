"""leadsync-marketo: the Adobe Marketo Engage connector plugin."""

from __future__ import annotations

from typing import Any

from leadsync.connectors import hookimpl

from leadsync_marketo.connector import MarketoConnector

__all__ = ["MarketoConnector", "register_connectors"]


@hookimpl
def register_connectors(register: Any) -> None:
    register(MarketoConnector)
