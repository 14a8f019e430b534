"""A fake Salesforce org for tests: OAuth grants, a SOQL subset with nextRecordsUrl, sObject Collections.

Runs as real HTTP through `leadsync.connectors.testing.FakeServer`.
"""

from __future__ import annotations

from leadsync_salesforce.testing.fake import SalesforceFake, SoqlError, parse_soql, sf_time
from leadsync_salesforce.testing.seed import seed_demo

__all__ = ["SalesforceFake", "SoqlError", "parse_soql", "seed_demo", "sf_time"]
