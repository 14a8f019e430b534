"""leadsync's plugin toolkit: everything a connector plugin imports, from this one module.

A plugin imports ``leadsync.connectors`` (and ``leadsync.connectors.testing`` in its tests) and the
canonical model, ``leadsync.core.models``; nothing else of leadsync. The submodules are the
toolkit's own layout and may move; the names below are the contract (docs/plugins/toolkit.md).
"""

from __future__ import annotations

from leadsync.connectors.auth import (
    Auth,
    BearerToken,
    HeaderToken,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    TokenAuth,
)
from leadsync.connectors.base import (
    Capability,
    CheckResult,
    ConnectionSettings,
    Connector,
    Owner,
    Page,
    ReadContext,
    Rejected,
    RemovedLead,
    RemovedTask,
    ScoreUpdate,
    Stream,
    TaskCheck,
    TaskRequest,
    TaskUpdate,
    WriteResult,
    task_key_date,
)
from leadsync.connectors.batching import BatchRejected, ItemResult, bisect_batch, chunked
from leadsync.connectors.errors import (
    AmbiguousWriteError,
    AuthError,
    ClientError,
    ConnectorError,
    HttpStatusError,
    PaginationLoopError,
    RateLimitExhausted,
    SetupMissing,
    VendorUnavailable,
)
from leadsync.connectors.hookspecs import hookimpl
from leadsync.connectors.http import Classifier, HttpClient
from leadsync.connectors.incremental import Incremental
from leadsync.connectors.paging import (
    JsonPage,
    KeysetPaginator,
    NextUrlPaginator,
    PageRequest,
    Paginator,
    TokenPaginator,
    paginate,
)
from leadsync.connectors.prefetch import prefetched
from leadsync.connectors.ratelimit import Rate, RateLimiter
from leadsync.connectors.redact import register_secret
from leadsync.connectors.retry import Resolution, default_classify
from leadsync.core.normalize import (
    lead_key,
    nfkc,
    normalize_email,
    normalize_outcome,
    parse_amount,
    parse_datetime,
    parse_employees,
    parse_opportunity_status,
)

__all__ = [
    # connector base types
    "Capability",
    "CheckResult",
    "ConnectionSettings",
    "Connector",
    "Owner",
    "Page",
    "ReadContext",
    "Rejected",
    "RemovedLead",
    "RemovedTask",
    "ScoreUpdate",
    "Stream",
    "TaskCheck",
    "TaskRequest",
    "TaskUpdate",
    "WriteResult",
    "task_key_date",
    # the HTTP client and how it classifies answers
    "Classifier",
    "HttpClient",
    "Resolution",
    "default_classify",
    # auth
    "Auth",
    "BearerToken",
    "HeaderToken",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "TokenAuth",
    "register_secret",
    # errors
    "AmbiguousWriteError",
    "AuthError",
    "ClientError",
    "ConnectorError",
    "HttpStatusError",
    "PaginationLoopError",
    "RateLimitExhausted",
    "SetupMissing",
    "VendorUnavailable",
    # hooks
    "hookimpl",
    # paging and incremental cursors
    "Incremental",
    "JsonPage",
    "KeysetPaginator",
    "NextUrlPaginator",
    "PageRequest",
    "Paginator",
    "TokenPaginator",
    "paginate",
    "prefetched",
    # rate limits and batches
    "BatchRejected",
    "ItemResult",
    "Rate",
    "RateLimiter",
    "bisect_batch",
    "chunked",
    # normalization of vendor values into the canonical model
    "lead_key",
    "nfkc",
    "normalize_email",
    "normalize_outcome",
    "parse_amount",
    "parse_datetime",
    "parse_employees",
    "parse_opportunity_status",
]
