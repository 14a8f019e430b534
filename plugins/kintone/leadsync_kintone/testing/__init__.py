"""A fake kintone domain for tests: apps, the query language subset leadsync sends, $id seek, errors.

Use `KintoneFake.handle` as an httpx.MockTransport handler, or `make_app` for real HTTP through
`leadsync.connectors.testing.FakeServer`.
"""

from __future__ import annotations

from leadsync_kintone.testing.fake import KintoneFake, make_app, minute, seed_demo

__all__ = ["KintoneFake", "make_app", "minute", "seed_demo"]
