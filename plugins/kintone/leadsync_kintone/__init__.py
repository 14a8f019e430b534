"""leadsync-kintone: the kintone connector plugin."""

from __future__ import annotations

from typing import Any

from leadsync.connectors import hookimpl

from leadsync_kintone.connector import KintoneConnector

__all__ = ["KintoneConnector", "register_connectors"]


@hookimpl
def register_connectors(register: Any) -> None:
    register(KintoneConnector)
