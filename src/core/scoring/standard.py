"""The standard template's 項目 (seed 004's sheet) and the conditions they stand for."""

from __future__ import annotations

import re

from leadsync.core.normalize import nfkc
from leadsync.core.scoring.keywords import (
    INDUSTRY_CLASSES,
    KeywordMatcher,
    class_matcher,
)
from leadsync.core.scoring.rules import (
    ActivityCondition,
    Condition,
    FieldCondition,
    RevisitCondition,
    RuleSyntaxError,
)

__all__ = ["attribute_group", "parse_band", "standard_condition"]


def _key(name: str) -> str:
    return re.sub(r"\s+", "", (nfkc(name) or "").lower())


_BEHAVIOUR: dict[str, frozenset[str] | str] = {
    "メール開封": frozenset({"email_open"}),
    "emailopen": frozenset({"email_open"}),
    "メールクリック": frozenset({"email_click"}),
    "emailclick": frozenset({"email_click"}),
    "資料ダウンロード": frozenset({"content_download"}),
    "contentdownload": frozenset({"content_download"}),
    "価格ページ閲覧": "pricing",
    "pricingpage": "pricing",
    "問い合わせフォーム入力開始": frozenset({"form_started", "form_submitted"}),
    "formstarted": frozenset({"form_started", "form_submitted"}),
    "ウェビナー参加": frozenset({"webinar_attended"}),
    "webinarattended": frozenset({"webinar_attended"}),
    "サイト再訪問(週2回以上)": "revisit",
    "サイト再訪問": "revisit",
    "siterevisit": "revisit",
}

_GROUPS = {"役職": "役職", "title": "役職", "企業規模": "企業規模", "companysize": "企業規模",
           "業種": "業種", "industry": "業種"}

_TITLE_WORDS = (
    ("exec", ("経営", "役員", "exec", "ceo", "取締役")),
    ("manager", ("部長", "マネージャ", "管理職", "manager", "課長")),
    ("staff", ("担当", "スタッフ", "一般", "staff")),
)


def attribute_group(name: str) -> tuple[str | None, str]:
    """(standard group, the rest) of an attribute 項目 such as '役職:経営者・役員'."""
    text = nfkc(name) or ""
    head, sep, rest = text.partition(":")
    if not sep:
        return None, text
    return _GROUPS.get(_key(head)), rest.strip()


def parse_band(text: str) -> tuple[float | None, float | None] | None:
    """Inclusive (low, high) from '80点以上', '50-79点', '49点以下', '従業員500名以上', '50名未満'."""
    value = (nfkc(text) or "").replace(",", "").replace("−", "-").replace("〜", "-").replace("~", "-")
    if match := re.search(r"(-?\d+(?:\.\d+)?)\s*(?:点|名|人|pt|points?)?\s*-\s*(-?\d+(?:\.\d+)?)", value):
        return float(match.group(1)), float(match.group(2))
    if match := re.search(r"(-?\d+(?:\.\d+)?)\s*(?:点|名|人|pt|points?)?\s*(以上|or more|\+)", value, re.IGNORECASE):
        return float(match.group(1)), None
    if match := re.search(r">=\s*(-?\d+(?:\.\d+)?)", value):
        return float(match.group(1)), None
    if match := re.search(r"(-?\d+(?:\.\d+)?)\s*(?:点|名|人|pt|points?)?\s*(以下|or less)", value, re.IGNORECASE):
        return None, float(match.group(1))
    if match := re.search(r"<=\s*(-?\d+(?:\.\d+)?)", value):
        return None, float(match.group(1))
    if match := re.search(r"(-?\d+(?:\.\d+)?)\s*(?:点|名|人|pt|points?)?\s*(未満|less than)", value, re.IGNORECASE):
        return None, float(match.group(1)) - 1
    return None


def standard_condition(behaviour: bool, name: str, pricing: tuple[str, ...]) -> Condition:
    """The condition of a standard 項目; RuleSyntaxError when the name is not one."""
    if behaviour:
        found = _BEHAVIOUR.get(_key(name))
        if found is None:
            raise RuleSyntaxError(f"{name!r} is not a standard item (add a rule in the ルール column)")
        if found == "pricing":
            return ActivityCondition(frozenset({"web_visit"}), pricing)
        if found == "revisit":
            return RevisitCondition(2, 7)
        assert isinstance(found, frozenset)
        return ActivityCondition(found)
    group, rest = attribute_group(name)
    if group == "役職":
        lowered = rest.lower()
        for cls, words in _TITLE_WORDS:
            if any(word in lowered for word in words):
                return FieldCondition("title", "class", (cls,), class_matcher("title", cls))
    elif group == "企業規模":
        band = parse_band(rest)
        if band is not None:
            low, high = band
            return FieldCondition("employees", "range", (low if low is not None else float("-inf"),
                                                          high if high is not None else float("inf")))
    elif group == "業種" and rest:
        for cls, words in INDUSTRY_CLASSES.items():
            if KeywordMatcher(words).find(rest):
                return FieldCondition("industry", "class", (cls,), class_matcher("industry", cls))
        items = tuple(part for part in re.split(r"[・/、,]", rest) if part.strip())
        return FieldCondition("industry", "has", items, KeywordMatcher(items))
    raise RuleSyntaxError(f"{name!r} is not a standard item (add a rule in the ルール column)")
