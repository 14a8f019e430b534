"""A fake Marketo instance for tests: the identity endpoint, HTTP-200 error envelopes, paging tokens,
Sync Leads and Request Campaign (use `MarketoFake.handle` as an httpx.MockTransport handler, or `serve`)."""

from __future__ import annotations

from leadsync_marketo.testing.fake import DEFAULT_TYPES, MarketoFake, envelope, error_envelope
from leadsync_marketo.testing.server import serve

__all__ = ["DEFAULT_TYPES", "MarketoFake", "envelope", "error_envelope", "serve"]
