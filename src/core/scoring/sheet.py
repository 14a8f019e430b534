"""The scoring sheet: loading the CSV design sheet (or its TOML form) into rules and segment bands."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync.core.config import ScoringSettings
from leadsync.core.errors import ConfigError
from leadsync.core.models import Segment
from leadsync.core.normalize import nfkc
from leadsync.core.scoring.rules import (
    Condition,
    PluginCondition,
    RevisitCondition,
    RuleSyntaxError,
    parse_rule,
)
from leadsync.core.scoring.standard import (
    attribute_group,
    parse_band,
    standard_condition,
)

__all__ = ["Rule", "ScoringSheet", "load_sheet"]

BEHAVIOUR, ATTRIBUTE = "behavior", "attribute"
_KINDS = {
    "行動スコア": BEHAVIOUR, "行動": BEHAVIOUR, "behavior": BEHAVIOUR, "behaviour": BEHAVIOUR,
    "属性スコア": ATTRIBUTE, "属性": ATTRIBUTE, "attribute": ATTRIBUTE,
    "セグメント定義": "segment", "セグメント": "segment", "segment": "segment",
}
_SEGMENTS = {
    "ホットリード": Segment.HOT, "ホット": Segment.HOT, "hot": Segment.HOT, "hotlead": Segment.HOT,
    "ウォームリード": Segment.WARM, "ウォーム": Segment.WARM, "warm": Segment.WARM, "warmlead": Segment.WARM,
    "コールドリード": Segment.COLD, "コールド": Segment.COLD, "cold": Segment.COLD, "coldlead": Segment.COLD,
}
# Column aliases: the sheet's Japanese headers and English ones.
_COLUMNS = {
    "kind": ("スコア種別", "種別", "kind", "type"),
    "name": ("項目", "item", "name"),
    "condition": ("条件", "condition", "description"),
    "points": ("配点", "points", "score"),
    "note": ("備考", "note", "notes"),
    "rule": ("ルール", "rule"),
    "cap": ("上限", "cap"),
    "half_life": ("半減期", "half_life_days", "half_life"),
    "group": ("グループ", "group"),
}
_HEADER = {"kind": "スコア種別", "name": "項目", "condition": "条件", "points": "配点", "rule": "ルール",
           "cap": "上限", "half_life": "半減期", "group": "グループ"}
DEFAULT_BANDS = {Segment.HOT: (80.0, None), Segment.WARM: (50.0, 79.0), Segment.COLD: (None, 49.0)}


@dataclass(frozen=True)
class Rule:
    """One scoring row, resolved against the settings (window, half-life, pricing patterns)."""

    name: str
    kind: str  # "behavior" | "attribute"
    group: str
    points: float
    condition: Condition
    window_days: float
    cap: int | None = None
    half_life_days: float | None = None
    row: int = 0

    @property
    def is_behaviour(self) -> bool:
        return self.kind == BEHAVIOUR

    def canonical(self) -> list[Any]:
        return [self.kind, self.name, self.group, self.points, self.condition.describe(),
                self.window_days, self.cap, self.half_life_days]


@dataclass
class ScoringSheet:
    """Rules in sheet order and the segment bands (inclusive, None = open)."""

    path: Path
    rules: list[Rule]
    bands: dict[Segment, tuple[float | None, float | None]]
    timezone: str = "Asia/Tokyo"
    version: str = ""
    band_rows: dict[Segment, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.version:
            content = {"rules": [r.canonical() for r in self.rules], "timezone": self.timezone,
                       "bands": {s.value: list(b) for s, b in sorted(self.bands.items())}}
            digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode())
            self.version = digest.hexdigest()[:12]

    @property
    def hot_min(self) -> float:
        low = self.bands[Segment.HOT][0]
        assert low is not None
        return low

    @property
    def warm_min(self) -> float:
        low = self.bands[Segment.WARM][0]
        assert low is not None
        return low

    @property
    def has_plugin_conditions(self) -> bool:
        return any(isinstance(r.condition, PluginCondition) for r in self.rules)

    @property
    def max_total(self) -> float:
        """The highest total a lead can reach: every positive behaviour row (times its cap) plus
        the best positive row of each attribute group (a group scores one row)."""
        behaviour = sum(r.points * (r.cap or 1) for r in self.rules if r.is_behaviour and r.points > 0)
        best: dict[str, float] = {}
        for rule in self.rules:
            if not rule.is_behaviour and rule.points > 0:
                best[rule.group] = max(best.get(rule.group, 0.0), rule.points)
        return behaviour + sum(best.values())

    def segment_for(self, total: float) -> Segment:
        if total >= self.hot_min:
            return Segment.HOT
        if total >= self.warm_min:
            return Segment.WARM
        return Segment.COLD


class _RowError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _number(text: Any, column: str, *, integer: bool = False, positive: bool = False) -> float | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, bool):
        raise _RowError(column, f"expected a number, got {text!r}")
    raw = (nfkc(str(text)) or "").replace("−", "-").replace("点", "").replace("日", "").replace("回", "").strip()
    try:
        value = float(raw.lstrip("+"))
    except ValueError:
        raise _RowError(column, f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or (integer and value != int(value)) or (positive and value <= 0) or (integer and value < 0):
        kind = "a positive number" if positive else "a whole number of 0 or more" if integer else "a finite number"
        raise _RowError(column, f"expected {kind}, got {text!r}")
    return value


def _build_rule(values: dict[str, Any], row: int, settings: ScoringSettings,
                plugins: dict[str, Callable[[str], Any]] | None, kind: str) -> Rule:
    name = nfkc(values.get("name")) or ""
    if not name:
        raise _RowError("name", "empty 項目")
    points = _number(values.get("points"), "points")
    if points is None:
        raise _RowError("points", "missing 配点")
    behaviour = kind == BEHAVIOUR
    pricing = tuple(settings.pricing_url_patterns)
    rule_text = nfkc(str(values["rule"])) if values.get("rule") not in (None, "") else None
    try:
        condition = (parse_rule(rule_text, behaviour=behaviour, pricing_patterns=pricing, plugins=plugins)
                     if rule_text else standard_condition(behaviour, name, pricing))
    except RuleSyntaxError as exc:
        raise _RowError("rule" if rule_text else "name", str(exc)) from None
    cap_value = _number(values.get("cap"), "cap", integer=True)
    cap = None if cap_value is None else int(cap_value)
    half_life = _number(values.get("half_life"), "half_life", positive=True)
    if cap is not None and isinstance(condition, RevisitCondition):
        raise _RowError("cap", "a revisit rule scores once; it takes no cap")
    if not behaviour and (cap is not None or half_life is not None):
        raise _RowError("cap" if cap is not None else "half_life", "caps and half-lives apply to behaviour rows only")
    group = nfkc(values.get("group")) or (attribute_group(name)[0] or name.partition(":")[0] if not behaviour else "行動")
    window = getattr(condition, "window_days", None) or float(settings.window_days)
    return Rule(name=name, kind=kind, group=group, points=points, condition=condition, window_days=window,
                cap=cap, half_life_days=(half_life or settings.half_life_days) if behaviour else None, row=row)


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the scoring sheet ({exc.strerror})") from None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ConfigError(f"{path}: the scoring sheet is neither UTF-8 nor Shift_JIS text")


def _finish(path: Path, rules: list[Rule], bands: dict[Segment, tuple[float | None, float | None]],
            band_rows: dict[Segment, int], settings: ScoringSettings) -> ScoringSheet:
    merged = dict(DEFAULT_BANDS) if not bands else dict(bands)
    for segment in (Segment.HOT, Segment.WARM):
        if segment not in merged or merged[segment][0] is None:
            where = f"row {band_rows[segment]}" if segment in band_rows else "セグメント定義"
            raise ConfigError(f"{path}: {where}, column 条件: the {segment.value} segment needs a lower threshold")
    merged.setdefault(Segment.COLD, (None, (merged[Segment.WARM][0] or 0) - 1))
    return ScoringSheet(path, rules, merged, settings.timezone, band_rows=band_rows)


def _load_csv(path: Path, settings: ScoringSettings, plugins: dict[str, Callable[[str], Any]] | None) -> ScoringSheet:
    reader = csv.reader(io.StringIO(_decode(path)))
    header = next(reader, None)
    if not header:
        raise ConfigError(f"{path}: the scoring sheet is empty")
    index: dict[str, int] = {}
    for position, title in enumerate(header):
        label = (nfkc(title) or "").lower()
        for key, aliases in _COLUMNS.items():
            if label in {a.lower() for a in aliases}:
                index[key] = position
    for key in ("kind", "name", "points"):
        if key not in index:
            raise ConfigError(f"{path}: row 1: missing column {_HEADER[key]} (header: {','.join(header)})")
    rules: list[Rule] = []
    bands: dict[Segment, tuple[float | None, float | None]] = {}
    band_rows: dict[Segment, int] = {}
    seen: dict[str, int] = {}
    for row_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {key: cells[pos] if pos < len(cells) else "" for key, pos in index.items()}
        raw_kind = (nfkc(values["kind"]) or "").lower()
        kind = _KINDS.get(raw_kind.replace(" ", ""))
        try:
            if kind is None:
                raise _RowError("kind", f"unknown スコア種別 {values['kind']!r} (expected 行動スコア, 属性スコア or セグメント定義)")
            if kind == "segment":
                segment, band = _segment_row(values)
                if segment in bands:
                    raise _RowError("name", f"segment {segment.value} defined twice (row {band_rows[segment]})")
                bands[segment], band_rows[segment] = band, row_number
                continue
            rule = _build_rule(values, row_number, settings, plugins, kind)
            if rule.name in seen:
                raise _RowError("name", f"項目 {rule.name!r} already defined in row {seen[rule.name]}")
            seen[rule.name] = row_number
            rules.append(rule)
        except _RowError as exc:
            raise ConfigError(f"{path}: row {row_number}, column {_HEADER.get(exc.column, exc.column)}: {exc}") from None
    return _finish(path, rules, bands, band_rows, settings)


def _segment_row(values: dict[str, Any]) -> tuple[Segment, tuple[float | None, float | None]]:
    name = (nfkc(values.get("name")) or "").lower().replace(" ", "")
    segment = _SEGMENTS.get(name)
    if segment is None:
        raise _RowError("name", f"unknown segment {values.get('name')!r} (expected ホットリード, ウォームリード or コールドリード)")
    text = values.get("condition") or values.get("rule") or ""
    band = parse_band(str(text)) if not isinstance(text, (int, float)) else (float(text), None)
    if band is None:
        raise _RowError("condition", f"cannot read a threshold from {text!r} (e.g. 合計80点以上, 50-79点, 49点以下)")
    return segment, band


def _load_toml(path: Path, settings: ScoringSettings, plugins: dict[str, Callable[[str], Any]] | None) -> ScoringSheet:
    try:
        data = tomllib.loads(_decode(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - {"rules", "rule", "segments"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected [[rules]] and [segments])")
    entries = data.get("rules", []) + data.get("rule", [])
    rules: list[Rule] = []
    seen: set[str] = set()
    keys = {alias: key for key, aliases in _COLUMNS.items() for alias in aliases}
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[rules]] #{number}"
        values: dict[str, Any] = {}
        for raw_key, value in entry.items():
            if raw_key not in keys:
                raise ConfigError(f"{where}, key {raw_key}: unknown key (expected kind, name, points, rule, cap, half_life_days, group, note)")
            values[keys[raw_key]] = value
        kind = _KINDS.get((nfkc(str(values.get("kind", ""))) or "").lower())
        if kind not in (BEHAVIOUR, ATTRIBUTE):
            raise ConfigError(f"{where}, key kind: expected behavior or attribute, got {values.get('kind')!r}")
        try:
            rule = _build_rule(values, number, settings, plugins, kind)
        except _RowError as exc:
            raise ConfigError(f"{where}, key {exc.column}: {exc}") from None
        if rule.name in seen:
            raise ConfigError(f"{where}, key name: {rule.name!r} defined twice")
        seen.add(rule.name)
        rules.append(rule)
    bands: dict[Segment, tuple[float | None, float | None]] = {}
    for name, text in data.get("segments", {}).items():
        try:
            segment, band = _segment_row({"name": name, "condition": text})
        except _RowError as exc:
            raise ConfigError(f"{path}: [segments], key {name}: {exc}") from None
        bands[segment] = band
    return _finish(path, rules, bands, {}, settings)


def load_sheet(path: Path, settings: ScoringSettings,
               conditions: dict[str, Callable[[str], Any]] | None = None) -> ScoringSheet:
    """Load a scoring sheet (CSV, or TOML when the name ends in .toml); ConfigError names row and column."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: scoring sheet not found")
    if path.suffix.lower() == ".toml":
        return _load_toml(path, settings, conditions)
    return _load_csv(path, settings, conditions)
