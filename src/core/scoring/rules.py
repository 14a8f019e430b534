"""The scoring sheet's condition language: condition objects and the parser of the `ルール` column.

Grammar (one condition per row; documented with examples in docs/scoring.md):

    behaviour   TYPE[|TYPE...] [url GLOB[|GLOB...]] [count>=N] [within Nd]
                pricing_page [count>=N] [within Nd]          (url = scoring.pricing_url_patterns)
                revisit [N days in Md] [within Nd]             (web visits on N different days)
    attribute   title is exec|manager|staff     industry is it|manufacturing|finance|...
                FIELD has K1, K2 ...            keyword list (NFKC, case-insensitive)
                FIELD in V1, V2 ...             equals one of (case-insensitive)
                FIELD = V | != V | >= N | > N | <= N | < N | A-B (numeric range) | is empty | is set
                email_domain in gmail.com, yahoo.co.jp         (the domain or a subdomain of it)
    plugin      KIND: ARGUMENT                  a condition registered by a plugin
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leadsync.core.models import ActivityType
from leadsync.core.normalize import nfkc, normalize_lead_source, parse_employees
from leadsync.core.scoring.keywords import (
    INDUSTRY_CLASSES,
    TITLE_CLASSES,
    KeywordMatcher,
    class_matcher,
    normalize_text,
)

__all__ = [
    "ActivityCondition",
    "FieldCondition",
    "PluginCondition",
    "RevisitCondition",
    "RuleSyntaxError",
    "field_value",
    "parse_rule",
]

ACTIVITY_TYPES = {t.value for t in ActivityType}
# Activity types whose records carry a URL; a url pattern on any other type can never match.
URL_TYPES = frozenset({"web_visit", "email_click", "content_download", "form_started", "form_submitted"})
LEAD_FIELDS = (
    "email", "first_name", "last_name", "company", "title", "department", "phone", "employees",
    "industry", "lead_source", "owner", "status", "status_reason",
)
NUMERIC_OPS = (">=", "<=", "!=", ">", "<", "=")


class RuleSyntaxError(ValueError):
    """A rule text that does not parse; the sheet loader adds file, row and column."""


@dataclass(frozen=True)
class ActivityCondition:
    """Activities of some types (and URL globs) at least `min_count` times within the window."""

    types: frozenset[str]
    url_patterns: tuple[str, ...] = ()
    min_count: int = 1
    window_days: float | None = None  # None: scoring.window_days

    def url_matches(self, url: str | None) -> bool:
        if not self.url_patterns:
            return True
        if not url:
            return False
        text = url.lower()
        return any(fnmatch.fnmatchcase(text, pattern.lower()) for pattern in self.url_patterns)

    def describe(self) -> str:
        text = "|".join(sorted(self.types))
        if self.url_patterns:
            text += " url " + "|".join(self.url_patterns)
        if self.min_count != 1:
            text += f" count>={self.min_count}"
        if self.window_days is not None:
            text += f" within {self.window_days:g}d"
        return text


@dataclass(frozen=True)
class RevisitCondition:
    """Web visits on at least `min_days` different local days within some `period_days` period."""

    min_days: int = 2
    period_days: int = 7
    window_days: float | None = None

    def describe(self) -> str:
        text = f"revisit {self.min_days} days in {self.period_days}d"
        if self.window_days is not None:
            text += f" within {self.window_days:g}d"
        return text


@dataclass(frozen=True)
class FieldCondition:
    """A test on one lead field: keyword list, value list, comparison, range or emptiness."""

    field: str
    op: str  # has | in | domain | cmp | range | empty | set | class
    values: tuple[Any, ...] = ()
    matcher: KeywordMatcher | None = field(default=None, compare=False, hash=False)

    def test(self, value: Any) -> str | None:
        """Evidence (the field value as text) when the condition holds, else None."""
        op = self.op
        if op == "empty":
            return f"{self.field}=(empty)" if value in (None, "") else None
        if value in (None, ""):
            return None
        shown = f"{self.field}={value}"
        if op in ("has", "class"):
            assert self.matcher is not None
            return shown if self.matcher.find(value) else None
        if op == "set":
            return shown
        if op == "in":
            return shown if normalize_text(value) in self.values else None
        if op == "domain":
            text = normalize_text(value)
            return shown if any(text == d or text.endswith("." + d) for d in self.values) else None
        if op == "range":
            number = _as_number(value)
            low, high = self.values
            return shown if number is not None and low <= number <= high else None
        if op == "cmp":
            operator, target = self.values
            if isinstance(target, float):
                number = _as_number(value)
                return shown if number is not None and _compare(number, operator, target) else None
            return shown if _compare(normalize_text(value), operator, target) else None
        raise AssertionError(op)

    def describe(self) -> str:
        if self.op in ("empty", "set"):
            return f"{self.field} is {self.op}"
        if self.op == "cmp":
            return f"{self.field} {self.values[0]} {self.values[1]}"
        if self.op == "range":
            return f"{self.field} {self.values[0]:g}-{self.values[1]:g}"
        if self.op == "class":
            return f"{self.field} is {self.values[0]}"
        return f"{self.field} {self.op} " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class PluginCondition:
    """A condition kind registered by a plugin: ``condition(lead, activities, as_of)`` returns
    evidence (a list of strings, or True) when it holds, else None/False/[]."""

    kind: str
    argument: str
    condition: Callable[..., Any] = field(compare=False, hash=False)

    def describe(self) -> str:
        return f"{self.kind}: {self.argument}"


Condition = ActivityCondition | RevisitCondition | FieldCondition | PluginCondition


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    number = parse_employees(str(value))
    return None if number is None else float(number)


def _compare(left: Any, operator: str, right: Any) -> bool:
    return {
        "=": left == right, "!=": left != right, ">=": left >= right,
        "<=": left <= right, ">": left > right, "<": left < right,
    }[operator]


def field_value(lead: Any, name: str) -> Any:
    """The value a field condition sees: `employees` falls back to parsing `employees_text`,
    `email_domain` is the part after @, `custom.X` reads a custom field."""
    if name == "employees":
        return lead.employees if lead.employees is not None else parse_employees(lead.employees_text)
    if name == "email_domain":
        return lead.email.rsplit("@", 1)[-1].lower() if lead.email and "@" in lead.email else None
    if name.startswith("custom."):
        return lead.custom.get(name[7:])
    return getattr(lead, name)


# --- parsing --------------------------------------------------------------------------------
_WITHIN = re.compile(r"\s+within\s+(\d+(?:\.\d+)?)\s*d(?:ays?)?\s*$", re.IGNORECASE)
_COUNT = re.compile(r"\s+count\s*>=\s*(\d+)\s*$", re.IGNORECASE)
_URL = re.compile(r"\s+url\s+(\S+)\s*$", re.IGNORECASE)
_REVISIT = re.compile(r"^revisit(?:\s+(\d+)\s*days?\s+in\s+(\d+)\s*d(?:ays?)?)?$", re.IGNORECASE)
_FIELD = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*(?:\.[^\s]+)?)\s*(?P<rest>.*)$", re.IGNORECASE)
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(?:-|\.\.|~|〜)\s*(-?\d+(?:\.\d+)?)$")


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in re.split(r"[,、]", text) if part.strip().strip("\"'"))


def _take(pattern: re.Pattern[str], text: str) -> tuple[str, re.Match[str] | None]:
    match = pattern.search(text)
    return (text[: match.start()], match) if match else (text, None)


def parse_activity(text: str, pricing_patterns: tuple[str, ...]) -> ActivityCondition | RevisitCondition:
    rest, within = _take(_WITHIN, " " + text.strip())
    window = float(within.group(1)) if within else None
    if window is not None and window <= 0:
        raise RuleSyntaxError("within must be more than 0 days")
    rest = rest.strip()
    if match := _REVISIT.match(rest):
        days = int(match.group(1) or 2)
        period = int(match.group(2) or 7)
        if days < 2 or period < 1:
            raise RuleSyntaxError("revisit needs at least 2 days in a period of at least 1 day")
        return RevisitCondition(days, period, window)
    rest, count = _take(_COUNT, " " + rest)
    rest, url = _take(_URL, rest)
    words = rest.strip()
    if not words:
        raise RuleSyntaxError("expected an activity type, e.g. web_visit")
    patterns: tuple[str, ...] = tuple(p for p in url.group(1).split("|") if p) if url else ()
    types: set[str] = set()
    for word in words.split("|"):
        name = word.strip().lower()
        if name == "pricing_page":
            types.add("web_visit")
            patterns = patterns or pricing_patterns
        elif name in ACTIVITY_TYPES:
            types.add(name)
        else:
            raise RuleSyntaxError(f"unknown activity type {word.strip()!r} (expected one of {', '.join(sorted(ACTIVITY_TYPES))})")
    minimum = int(count.group(1)) if count else 1
    if minimum < 1:
        raise RuleSyntaxError("count must be at least 1")
    return ActivityCondition(frozenset(types), patterns, minimum, window)


def _canonical(name: str, value: str) -> str:
    """A rule's value as leads carry it: lead sources in their canonical vocabulary."""
    return (normalize_lead_source(value) or value) if name == "lead_source" else value


def parse_field(text: str) -> FieldCondition:
    match = _FIELD.match(text.strip())
    if not match:
        raise RuleSyntaxError(f"cannot read {text!r}")
    name, rest = match.group("field").lower(), match.group("rest").strip()
    if name not in LEAD_FIELDS and name != "email_domain" and not name.startswith("custom."):
        raise RuleSyntaxError(f"unknown field {name!r}")
    lowered = rest.lower()
    if lowered in ("is empty", "is set"):
        return FieldCondition(name, lowered[3:])
    if lowered.startswith("is "):
        kind = name if name in ("title", "industry") else ""
        table = TITLE_CLASSES if kind == "title" else INDUSTRY_CLASSES if kind == "industry" else {}
        cls = lowered[3:].strip()
        if cls not in table:
            raise RuleSyntaxError(f"unknown class {cls!r} for {name} (expected one of {', '.join(table) or 'none'})")
        return FieldCondition(name, "class", (cls,), class_matcher(kind, cls))
    for keyword in ("has", "in"):
        if lowered.startswith(keyword + " ") or lowered == keyword:
            # An empty list parses (it never fires); `score lint` reports it.
            items = _split_list(rest[len(keyword):])
            if keyword == "has":
                return FieldCondition(name, "has", items, KeywordMatcher(items, titles=name == "title"))
            values = tuple(normalize_text(_canonical(name, v)) for v in items)
            return FieldCondition(name, "domain" if name == "email_domain" else "in", values)
    if match := _RANGE.match(rest):
        low, high = float(match.group(1)), float(match.group(2))
        if low > high:
            raise RuleSyntaxError(f"range {rest!r} goes downwards")
        return FieldCondition(name, "range", (low, high))
    for operator in NUMERIC_OPS:
        if rest.startswith(operator):
            target = rest[len(operator):].strip().strip("\"'")
            if not target:
                raise RuleSyntaxError(f"missing value after {operator!r}")
            try:
                return FieldCondition(name, "cmp", (operator, float(target)))
            except ValueError:
                if operator not in ("=", "!="):
                    raise RuleSyntaxError(f"{operator} needs a number, got {target!r}") from None
                return FieldCondition(name, "cmp", (operator, normalize_text(_canonical(name, target))))
    raise RuleSyntaxError(f"expected has, in, is, =, !=, >=, >, <=, < or a range after {name!r}, got {rest!r}")


def parse_rule(
    text: str,
    *,
    behaviour: bool,
    pricing_patterns: tuple[str, ...],
    plugins: dict[str, Callable[[str], Any]] | None = None,
) -> Condition:
    """Parse one `ルール` cell into a condition."""
    text = nfkc(text) or ""
    head, sep, argument = text.partition(":")
    if sep and plugins and head.strip().lower() in plugins:
        kind = head.strip().lower()
        try:
            condition = plugins[kind](argument.strip())
        except Exception as exc:
            raise RuleSyntaxError(f"plugin condition {kind!r} rejected {argument.strip()!r}: {exc}") from None
        if not callable(condition):
            raise RuleSyntaxError(f"plugin condition {kind!r} did not return a callable")
        return PluginCondition(kind, argument.strip(), condition)
    if sep and head.strip().isidentifier() and head.strip().lower() not in LEAD_FIELDS:
        raise RuleSyntaxError(f"unknown condition kind {head.strip()!r} (no plugin registers it)")
    return parse_activity(text, pricing_patterns) if behaviour else parse_field(text)


def never_fires_reason(condition: Condition) -> str | None:
    """Why a condition can never hold, for `score lint`; None when it can."""
    if isinstance(condition, ActivityCondition):
        if condition.url_patterns and not condition.types & URL_TYPES:
            return f"url pattern on {', '.join(sorted(condition.types))}, which never carries a URL"
        if condition.window_days is not None and condition.min_count > 1 and condition.window_days < 1 / 86400:
            return "window too short"
    if isinstance(condition, FieldCondition) and condition.op in ("has", "in", "domain") and not condition.values:
        return "empty keyword list"
    if isinstance(condition, FieldCondition) and condition.op == "range" and condition.values[0] > condition.values[1]:
        return "empty range"
    return None
