"""Who gets a handoff: the CRM owner, a routing hook, routing rules, or a fair round robin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.core.errors import ConfigError
from leadsync.core.handoff.owners import OwnerDirectory
from leadsync.core.models import Lead, Score
from leadsync.core.normalize import nfkc, normalize_lead_source
from leadsync.core.state.store import StateStore

__all__ = ["ROUND_ROBIN_KEY", "OwnerRouter", "RoutingRule", "advance_round_robin", "parse_routing_rules"]

log = logging.getLogger(__name__)

ROUND_ROBIN_KEY = "handoff.round_robin"
_OPERATORS = ("equals", "contains", "in", "gte", "lt")


def _fold(value: Any) -> str:
    return (nfkc(str(value)) or "").casefold()


@dataclass(frozen=True)
class RoutingRule:
    """`field` of the lead (or of its custom fields) compared with every operator given."""

    field: str
    owner: str
    conditions: tuple[tuple[str, str], ...]

    def matches(self, lead: Lead) -> bool:
        value = getattr(lead, self.field) if self.field in Lead.model_fields else lead.custom.get(self.field)
        if value is None or value == "":
            return False
        for operator, expected in self.conditions:
            if not _holds(operator, value, expected):
                return False
        return True


def _holds(operator: str, value: Any, expected: str) -> bool:
    if operator in ("gte", "lt"):
        try:
            number, bound = float(value), float(expected)
        except (TypeError, ValueError):
            return False
        return number >= bound if operator == "gte" else number < bound
    text = _fold(value)
    if operator == "equals":
        return text == _fold(expected)
    if operator == "contains":
        return _fold(expected) in text
    return text in {_fold(item) for item in str(expected).split(",") if item.strip()}


def _expected(field: str, operator: str, value: Any) -> str:
    """The rule's value as leads carry it: lead sources in their canonical vocabulary."""
    text = str(value)
    if field != "lead_source" or operator not in ("equals", "in"):
        return text
    items = text.split(",") if operator == "in" else [text]
    return ",".join(normalize_lead_source(item) or item for item in items)


def parse_routing_rules(rules: Sequence[dict[str, Any]]) -> list[RoutingRule]:
    """Validate `handoff.routing`; errors name the rule's position and the key."""
    parsed = []
    for index, rule in enumerate(rules):
        where = f"handoff.routing[{index}]"
        unknown = set(rule) - {"field", "owner", *_OPERATORS}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (expected field, owner and one of {', '.join(_OPERATORS)})")
        if not str(rule.get("field") or "").strip():
            raise ConfigError(f"{where}: 'field' is required (e.g. industry, prefecture, employees)")
        if not str(rule.get("owner") or "").strip():
            raise ConfigError(f"{where}: 'owner' is required")
        conditions = tuple((op, _expected(str(rule["field"]).strip(), op, rule[op])) for op in _OPERATORS if op in rule)
        if not conditions:
            raise ConfigError(f"{where}: needs one of {', '.join(_OPERATORS)}")
        for op, expected in conditions:
            if op in ("gte", "lt"):
                try:
                    float(expected)
                except ValueError:
                    raise ConfigError(f"{where}: {op} must be a number, got {expected!r}") from None
        parsed.append(RoutingRule(str(rule["field"]).strip(), str(rule["owner"]).strip(), conditions))
    return parsed


class OwnerRouter:
    """Routes the leads of one planning pass; the round-robin pointer moves only in memory here.

    `apply_handoffs` persists the pointer for the tasks that were really planned, so a preview or
    an unapplied plan never skews the rotation.
    """

    def __init__(self, store: StateStore, owners: Sequence[str], rules: Sequence[dict[str, Any]], host: Any,
                 directory: OwnerDirectory | None = None) -> None:
        self.owners = [o for o in owners if o]
        self.rules = parse_routing_rules(rules)
        self.host = host
        self.directory = directory or OwnerDirectory(None)
        state = store.kv_get(ROUND_ROBIN_KEY, {}) or {}
        self._last: str | None = state.get("last")
        self._index: int = int(state.get("index", -1))

    def route(self, lead: Lead, score: Score, *, consume: bool = True) -> tuple[str | None, str]:
        """(owner, how): how is crm_owner, hook, rule, round_robin or none.

        A rep the CRM would reject (unknown, deactivated) is passed over with a warning: the lead
        goes to the next rule that matches, then to the round robin's next rep who can take it.
        """
        usable = self.directory.usable
        if lead.owner and usable(lead.owner):
            return lead.owner, "crm_owner"
        hooked = self._hook(lead, score)
        if hooked and usable(hooked):
            return hooked, "hook"
        for rule in self.rules:
            if rule.matches(lead) and usable(rule.owner):
                return rule.owner, "rule"
        start = self.next_index() if self.owners else 0
        for step in range(len(self.owners)):
            position = (start + step) % len(self.owners)
            owner = self.owners[position]
            if not usable(owner):
                continue
            if consume:
                self._last, self._index = owner, position
            return owner, "round_robin"
        return None, "none"

    @property
    def last_index(self) -> int:
        return self._index

    def next_index(self) -> int:
        """Position of the next owner: the one after the last served."""
        if self._last in self.owners:
            return (self.owners.index(self._last) + 1) % len(self.owners)
        # The last owner left the list: whoever moved into its position is the one who followed it.
        return self._index % len(self.owners) if self._index >= 0 else 0

    def _hook(self, lead: Lead, score: Score) -> str | None:
        if self.host is None:
            return None
        try:
            answer = self.host.hook.route_owner(lead=lead, score=score, owners=list(self.owners))
        except Exception as exc:  # a plugin's bug must not stop the handoff; rules still apply
            log.warning("route_owner hook failed for %s, falling back to rules: %s", lead.key, exc)
            return None
        return str(answer) if answer else None


def advance_round_robin(store: StateStore, owner: str, index: int) -> None:
    """Record the last owner the round robin really served (call inside the transaction)."""
    store.kv_set(ROUND_ROBIN_KEY, {"last": owner, "index": index})
