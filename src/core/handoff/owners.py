"""Reps as the CRM knows them: the names in the configuration resolved once per run.

Marketing operations name reps the way they know them (an e-mail); the CRM takes its own id on a
task (HubSpot's owner id, a Salesforce User id, a kintone login code). `OwnerDirectory` asks the
task connection to resolve every configured name once, and any other name (a CRM owner, a routing
hook's answer) the first time it appears, so planning never sends a task to a rep the CRM will
reject: it names the rep and the config key, and the lead goes to the next rep instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from leadsync.connectors.base import Connector, Owner

__all__ = ["OwnerDirectory", "OwnerLookupFailed", "configured_owners"]

log = logging.getLogger(__name__)


class OwnerLookupFailed(Exception):
    """The task connection could not be asked about a rep: that connection fails this run."""

    def __init__(self, connection: str, cause: BaseException) -> None:
        self.connection, self.cause = connection, cause
        super().__init__(f"{type(cause).__name__}: {cause}")


def configured_owners(handoff: Any) -> list[tuple[str, str]]:
    """(config key, name) of every rep the handoff settings name, in order."""
    named = [(f"handoff.owners[{i}]", str(o).strip()) for i, o in enumerate(handoff.owners) if str(o).strip()]
    for i, rule in enumerate(handoff.routing):
        owner = str(rule.get("owner") or "").strip()
        if owner:
            named.append((f"handoff.routing[{i}].owner", owner))
    return named


class OwnerDirectory:
    """What the task connection says about each rep named in this run.

    Without a connection (a preview that talks to no vendor), every name is taken as it is.
    """

    def __init__(self, connector: Connector | None, named: Sequence[tuple[str, str]] = ()) -> None:
        self.connector = connector
        self.keys: dict[str, list[str]] = {}
        for key, ref in named:
            self.keys.setdefault(ref, []).append(key)
        self._known: dict[str, Owner] = {}
        self._warned: set[str] = set()
        self._resolve(list(self.keys))

    def _resolve(self, refs: Iterable[str]) -> None:
        wanted = [r for r in dict.fromkeys(refs) if r and r not in self._known]
        if not wanted:
            return
        if self.connector is None:
            found = {ref: Owner(ref=ref, id=ref) for ref in wanted}
        else:
            try:
                found = self.connector.resolve_owners(wanted)
            except Exception as exc:
                raise OwnerLookupFailed(self.connector.connection, exc) from exc
        for ref in wanted:
            self._known[ref] = found.get(ref) or Owner(ref=ref, id=None, problem="the CRM did not answer for it")

    def get(self, ref: str) -> Owner:
        """The rep `ref` names, asking the CRM the first time it is seen."""
        self._resolve([ref])
        return self._known[ref]

    def usable(self, ref: str) -> bool:
        """True when a task may go to `ref`; warns once per run and rep when it may not."""
        owner = self.get(ref)
        if not owner.usable and ref not in self._warned:
            self._warned.add(ref)
            where = ", ".join(self.keys.get(ref, [])) or "a CRM owner or routing hook"
            log.warning("owner %r (%s) cannot take tasks: %s; the lead goes to the next owner",
                        ref, where, self.describe(owner))
        return owner.usable

    def vendor_id(self, ref: str | None) -> str | None:
        """The id the CRM takes on a task for `ref` (None for None)."""
        return None if ref is None else self.get(ref).id

    def problems(self) -> list[tuple[str, Owner]]:
        """(config keys, owner) of every configured rep that cannot take tasks."""
        return [(", ".join(self.keys[ref]), self._known[ref]) for ref in self.keys if not self._known[ref].usable]

    @staticmethod
    def describe(owner: Owner) -> str:
        if owner.id is None:
            return owner.problem or "not found in the CRM"
        return owner.problem or "deactivated in the CRM"
