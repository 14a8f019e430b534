"""What a connector is: settings, streams to read, writers to push through.

A vendor plugin subclasses :class:`Connector`, declares a pydantic :class:`ConnectionSettings`
model for its ``[connections.NAME]`` table, and registers the class through the
``register_connectors`` hook. The engine owns state, identity and the outbox; a connector only
talks to its vendor and speaks the canonical model.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from leadsync.core.models import Activity, Lead, Opportunity, Segment

__all__ = [
    "Capability",
    "CheckResult",
    "ConnectionSettings",
    "Connector",
    "Owner",
    "Page",
    "ReadContext",
    "Rejected",
    "RemovedTask",
    "ScoreUpdate",
    "Stream",
    "TaskCheck",
    "TaskRequest",
    "TaskUpdate",
    "WriteResult",
    "task_key_date",
]


class Capability(str, enum.Enum):
    """What a connection can do; `roles` in the config must be a subset."""

    LEADS = "leads"
    ACTIVITIES = "activities"
    SCORES = "scores"
    TASKS = "tasks"


class ConnectionSettings(BaseModel):
    """Keys every ``[connections.NAME]`` table accepts; plugins subclass to add their own.

    Secret fields should be typed ``pydantic.SecretStr`` so they never print.
    """

    model_config = ConfigDict(extra="forbid")

    plugin: str
    roles: list[Capability] = Field(default_factory=list)
    base_url: str | None = None
    # Field mapping for custom fields: canonical name -> vendor field/property name.
    fields: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 30.0
    max_retries: int = 6


@dataclass(frozen=True)
class ReadContext:
    """What the engine tells a stream before it reads.

    `cursor` is the opaque dict the stream yielded with its last committed page (None on the first
    run or a full refresh). `signpost` is the run's start: a stream must never hand back a cursor
    beyond it, so records changed during the run are read next time. `lookback` is the overlap a
    stream re-reads behind its cursor; the engine deduplicates what it sees twice.
    """

    cursor: dict[str, Any] | None
    signpost: datetime
    lookback: timedelta = timedelta(minutes=5)
    full_refresh: bool = False


@dataclass
class TaskUpdate:
    """A task's state as the CRM reports it (for SLA and first-touch reporting).

    `lead_key`, `email` and `record_id` name the lead the task belongs to (any one is enough;
    `record_id` is the connection's own id of the lead record, as in `Lead.record_id`). With
    them the engine rebuilds a completed handoff whose episode a lost state store no longer has,
    so the cooldown and re-qualification rules still apply to that lead. `owner` is the rep the
    task is assigned to, as the CRM names them (the value a `TaskRequest.owner` would carry); a
    rebuilt handoff keeps it.
    """

    key: str
    completed_at: datetime | None = None
    external_id: str | None = None
    lead_key: str | None = None
    email: str | None = None
    record_id: str | None = None
    owner: str | None = None


@dataclass
class Rejected:
    """A source record that could not be normalized: the engine dead-letters it and goes on.

    `key` names the record (``"leads.csv:12"``, a vendor id); `reason` names the field and what
    was wrong with it.
    """

    key: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemovedLead:
    """A lead record the vendor no longer has: deleted, or merged into another of its records.

    `record_id` is the connection's id of the record (the value `Lead.refs[connection]` carried);
    `merged_into` is the id of the record it was merged into, when the vendor says so. A leads
    stream yields it after the surviving record (when it reads both in one page) so the engine
    can move what named the removed record to the survivor's lead. An id leadsync never stored is
    ignored, so a stream may report every removal it sees.
    """

    record_id: str
    merged_into: str | None = None


@dataclass
class Page:
    """One committed unit of a stream: records and the cursor that covers them.

    The engine stores the records and the cursor in one transaction, so a crash between pages
    loses nothing and re-reads at most one page.
    """

    records: Sequence[Lead | Activity | Opportunity | TaskUpdate | Rejected | RemovedLead]
    cursor: dict[str, Any]


class Stream:
    """A named, resumable sequence of pages from one vendor object.

    `parallel`: True when the stream may be read at the same time as its connection's other
    streams (it shares nothing with them but the thread-safe HTTP client and rate limiter). The
    engine still commits every page, with its cursor, one at a time. Streams that rely on another
    having run first leave it False and are read one after the other, in `streams()` order.
    """

    name: ClassVar[str]
    parallel: ClassVar[bool] = False

    def read(self, ctx: ReadContext) -> Iterator[Page]:
        raise NotImplementedError


@dataclass(frozen=True)
class ScoreUpdate:
    """A score to write back to one connection. `key` is the outbox idempotency key."""

    key: str
    lead_key: str
    email: str | None
    record_id: str | None
    score: int
    behavior_score: int
    attribute_score: int
    segment: Segment
    sheet_version: str
    scored_at: datetime


@dataclass(frozen=True)
class TaskRequest:
    """A follow-up task to create exactly once. `key` is stable across retries and runs.

    `retry_ambiguous` is True only when a person re-queued this handoff after checking that an
    earlier attempt whose outcome the connector could not know (a fence left "maybe applied") did
    not take effect: the connector may then send it again despite its fence.
    """

    key: str
    lead_key: str
    email: str | None
    record_id: str | None
    owner: str | None
    subject: str
    body: str
    due_at: datetime
    priority: str = "high"
    retry_ambiguous: bool = False


def task_key_date(key: str) -> date | None:
    """The UTC date a handoff opened, read from its task key (`ls-YYYYMMDD-<digest>`); None for
    a key of another form (keys made before leadsync 0.2 carry no date)."""
    parts = key.split("-")
    if len(parts) == 3 and parts[0] == "ls" and len(parts[1]) == 8 and parts[1].isdigit():
        try:
            return date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class TaskCheck:
    """A handoff task the engine asks a connector to reconcile (see `Connector.reconcile_tasks`)."""

    key: str
    lead_key: str
    email: str | None
    record_id: str | None
    external_id: str | None = None


@dataclass(frozen=True)
class RemovedTask:
    """A duplicate live task the connector archived: `key` is shared with `kept`, the oldest."""

    key: str
    external_id: str
    kept: str


@dataclass
class WriteResult:
    """What the vendor said about one record of a write.

    ``ok`` is False for a record the vendor rejected; ``retryable`` tells the engine whether to
    keep it in the outbox (True: a transient error such as a row lock, the next run sends it
    again) or dead-letter it with ``error`` (False: no retry can fix it).

    ``adopted_key`` is set when a task create was satisfied by an open leadsync task the CRM
    already holds for the same lead under another key (the local state lost the write that made
    it): the engine then tracks the handoff under that key and creates nothing.
    """

    key: str
    ok: bool
    external_id: str | None = None
    error: str | None = None
    retryable: bool = False
    adopted_key: str | None = None


@dataclass(frozen=True)
class Owner:
    """A sales rep as the CRM knows them.

    `ref` is how the configuration or a hook named the rep (an e-mail, a login name or the
    vendor's own id); `id` is what the CRM takes on a task (HubSpot's owner id, a Salesforce User
    id, a kintone login code), None when `ref` does not resolve. `problem` says why a rep cannot
    take tasks (not found, deactivated), in words an operator can act on.
    """

    ref: str
    id: str | None
    active: bool = True
    name: str = ""
    problem: str = ""

    @property
    def usable(self) -> bool:
        """True when a task may be assigned to this rep."""
        return self.id is not None and self.active


@dataclass
class CheckResult:
    """The answer of `connections check`: one line per thing checked."""

    ok: bool
    items: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, what: str, ok: bool, detail: str = "") -> None:
        self.items.append((what, ok, detail))
        self.ok = self.ok and ok


class Connector:
    """Base class of every connector.

    Subclasses set `name` (the ``plugin =`` value), `settings_model` and `capabilities`, build
    their vendor client in `open_client` (from `settings`, `transport` and `sleep`, which the
    constructor stores), and override the methods of the capabilities they declare. Writes must be idempotent per
    record `key`: use the vendor's upsert by a unique external id, or look before creating in the
    vendor's primary store (never a search index that lags writes). Before creating a task, also
    look for an open leadsync task of the same lead under another key and adopt it
    (`WriteResult.adopted_key`), so a state store that lost recent writes never duplicates one.
    Per-record errors that a later attempt can fix (a row lock, a rate limit) are
    `retryable`; only errors no retry can fix become dead letters.
    """

    name: ClassVar[str]
    settings_model: ClassVar[type[ConnectionSettings]] = ConnectionSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Largest batch the vendor accepts per write call, by kind ("scores", "tasks").
    batch_sizes: ClassVar[dict[str, int]] = {"scores": 100, "tasks": 100}
    # Score batches the engine may have in flight at once (each in its own thread; task batches
    # always go one at a time). Above 1, `push_scores` must be safe to call from several threads
    # (the toolkit's HttpClient and RateLimiter are); the rate budget still paces every call.
    write_concurrency: ClassVar[int] = 1
    # What a connection reads and writes when its config names no roles (None: every capability).
    default_roles: ClassVar[frozenset[Capability] | None] = None

    def __init__(
        self,
        connection: str,
        settings: ConnectionSettings,
        *,
        timezone: str = "UTC",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`settings` is validated as `settings_model`; `transport` (an httpx transport, e.g. a
        fake vendor's) and `sleep` (how retries wait) go to the vendor client `open_client` builds."""
        if not isinstance(settings, self.settings_model):
            settings = self.settings_model.model_validate(settings.model_dump())
        self.connection = connection
        self.settings = settings
        self.timezone = timezone
        self.transport = transport
        self.sleep = sleep
        self.client: Any = self.open_client()

    def open_client(self) -> Any:
        """The vendor client of this connection (None for a connector that needs none)."""
        return None

    def roles(self) -> set[Capability]:
        """The capabilities this connection is configured for (all it has when none are set)."""
        return set(self.settings.roles) or set(self.default_roles or self.capabilities)

    # --- reading ---------------------------------------------------------------------------
    def streams(self) -> list[Stream]:
        """The streams this connection reads, in the order the engine should read them."""
        return []

    # --- writing ---------------------------------------------------------------------------
    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        raise NotImplementedError(f"{self.name} cannot write scores")

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        raise NotImplementedError(f"{self.name} cannot create tasks")

    def read_after_write_lag(self) -> float:
        """Seconds the vendor may take before a write shows up in its lagging reads (a search index).

        An optimisation only: correctness never rests on it. Look-before-create must read the
        vendor's primary (consistent) store, and `reconcile_tasks` is the backstop for a create the
        vendor applies after its answer was lost. The engine waits up to this long before resending
        a write whose answer was lost, which saves a duplicate-and-archive round trip.
        """
        return 0.0

    def reconcile_tasks(self, checks: Sequence[TaskCheck]) -> list[RemovedTask]:
        """Archive duplicate live tasks of recently created handoffs; return what was archived.

        For each check, read the vendor's primary store (never a lagging search index) for live
        tasks carrying ``check.key``; when there is more than one, keep the oldest and archive the
        others. The engine calls this every run with the handoffs whose task create was sent more
        than once (a lost answer, a kill, a timeout) within the reconcile window. Connectors whose
        create is an upsert by a unique key cannot duplicate and keep this default.
        """
        return []

    def resolve_owners(self, refs: Sequence[str]) -> dict[str, Owner]:
        """Each rep named in `refs` as the CRM knows them, keyed by ref (every ref present).

        The engine calls this once per run with the owners the configuration names, and again for
        a name a routing hook returns that it has not seen. Resolve e-mails to the vendor's owner
        id and mark deactivated reps inactive; an unknown ref gets ``id=None`` and a `problem`.
        Errors reaching the vendor propagate (the connection fails; nothing is handed off).
        The default, for connectors with no owner directory, takes every ref as it is.
        """
        return {ref: Owner(ref=ref, id=ref) for ref in refs}

    def clock_skew(self) -> float | None:
        """The vendor's clock minus this host's, in seconds, as last seen (None: unknown).

        Connectors built on `HttpClient` return its `clock_skew_s`; the engine uses it to place
        cursors on the vendor's clock, so changes the vendor stamps behind ours are not skipped.
        """
        return None

    # --- operations ------------------------------------------------------------------------
    def check(self) -> CheckResult:
        """Credentials, permissions and required custom fields."""
        return CheckResult(ok=True, items=[("configuration", True, "nothing to check")])

    def setup(self) -> list[str]:
        """Create what the connection needs (custom fields); return what was done or must be."""
        return []

    def close(self) -> None:
        """Release network resources."""
        if self.client is not None and hasattr(self.client, "close"):
            self.client.close()
