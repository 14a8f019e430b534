"""A fake HubSpot for tests and benchmarks: real HTTP through `leadsync.connectors.testing.FakeServer`.

It is at least as strict as HubSpot where leadsync depends on it: search lags writes and stops at
10,000 results, primary reads do not lag, rate limits and error bodies are HubSpot's.
"""

from __future__ import annotations

from leadsync_hubspot.testing.fake import HubSpotFake, error_body, seed_demo
from leadsync_hubspot.testing.search import OPERATORS, SEARCH_CAP, matches, search_page

__all__ = ["OPERATORS", "SEARCH_CAP", "HubSpotFake", "error_body", "matches", "search_page", "seed_demo"]
