"""Keyword lists for titles and industries, and the matcher that applies them after NFKC."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from leadsync.core.normalize import nfkc

__all__ = [
    "INDUSTRY_CLASSES",
    "TITLE_CLASSES",
    "KeywordMatcher",
    "normalize_text",
]

# Title classes of the standard sheet. Exclusivity picks the highest matching row, so a title that
# hits several classes ("取締役 営業部長") counts as the highest (exec).
# Decisions: 本部長 and 課長 are managers (部長クラス); 係長 and 主任 are staff (担当者クラス);
# "Director" is a manager, "Managing Director" an executive.
TITLE_CLASSES: dict[str, tuple[str, ...]] = {
    "exec": (
        "CEO", "CTO", "COO", "CFO", "CIO", "CMO", "CISO", "CDO", "CXO", "Chief", "President",
        "Vice President", "VP", "SVP", "EVP", "Founder", "Co-Founder", "Owner", "Chairman",
        "Chairperson", "Board Member", "Executive Officer", "Managing Director", "Partner",
        "代表取締役", "取締役", "執行役員", "執行役", "社長", "副社長", "会長", "専務", "常務",
        "役員", "代表", "創業者", "理事長", "監査役", "経営者", "オーナー",
    ),
    "manager": (
        "Manager", "Director", "Head of", "Head", "General Manager", "GM", "Team Lead",
        "Team Leader", "Supervisor", "Section Chief",
        "部長", "本部長", "次長", "課長", "室長", "所長", "支店長", "工場長", "センター長",
        "グループ長", "部門長", "事業部長", "マネージャー", "マネジャー", "マネージャ", "リーダー",
        "責任者", "管理職",
    ),
    "staff": (
        "Staff", "Specialist", "Associate", "Member", "Assistant", "Analyst", "Engineer",
        "Coordinator", "Representative", "Consultant", "Designer", "Developer", "Administrator",
        "Clerk", "Officer",
        "担当", "担当者", "スタッフ", "メンバー", "社員", "一般", "係長", "主任", "係員", "アシスタント",
        "エンジニア", "コンサルタント", "デザイナー", "営業", "事務",
    ),
}

# Industry classes recognized in 業種:<name> rows, in Japanese and English.
INDUSTRY_CLASSES: dict[str, tuple[str, ...]] = {
    "it": (
        "IT", "ソフトウェア", "SaaS", "情報通信", "情報サービス", "情報処理", "インターネット", "通信",
        "システム", "Web", "クラウド", "SIer", "Software", "Internet", "Information Technology",
        "Technology", "Computer", "Cloud", "Telecommunications", "Telecom",
    ),
    "manufacturing": (
        "製造", "メーカー", "ものづくり", "工業", "機械", "電機", "電子部品", "化学", "鉄鋼",
        "Manufacturing", "Manufacturer", "Industrial", "Machinery", "Electronics", "Chemicals",
    ),
    "finance": ("金融", "銀行", "保険", "証券", "Finance", "Financial", "Banking", "Bank", "Insurance"),
    "retail": ("小売", "流通", "卸売", "EC", "Retail", "Wholesale", "E-commerce"),
    "construction": ("建設", "建築", "不動産", "Construction", "Real Estate"),
    "healthcare": ("医療", "製薬", "ヘルスケア", "病院", "Healthcare", "Medical", "Pharmaceutical"),
    "services": ("サービス", "コンサルティング", "人材", "広告", "Services", "Consulting", "Advertising"),
}

# Words that contain a title keyword but are not a title: 社長室 is a department.
_NOT_TITLES = {"社長室": "室", "役員室": "室", "社長秘書": "秘書", "役員秘書": "秘書", "代表電話": "電話"}
_ASCII_WORD = re.compile(r"^[a-z0-9 .&/+\-]+$")


def normalize_text(value: object) -> str:
    """NFKC, lower case, folded spaces: the form keywords are compared in."""
    return (nfkc(str(value)) or "").lower() if value is not None else ""


class KeywordMatcher:
    """Case-insensitive keyword search after NFKC.

    ASCII keywords match whole words only (so CTO does not match "Director"); other keywords
    (Japanese) match as substrings.
    """

    def __init__(self, keywords: Iterable[str], *, titles: bool = False) -> None:
        self.keywords = tuple(k for k in (normalize_text(k) for k in keywords) if k)
        self.titles = titles
        parts = []
        for keyword in sorted(self.keywords, key=len, reverse=True):
            escaped = re.escape(keyword)
            if _ASCII_WORD.match(keyword):
                parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
            else:
                parts.append(escaped)
        self._pattern = re.compile("|".join(parts)) if parts else None
        self._cache: dict[str, str | None] = {}

    def find(self, value: object) -> str | None:
        """The first keyword found in `value`, or None."""
        if self._pattern is None or value is None:
            return None
        text = normalize_text(value)
        if text in self._cache:
            return self._cache[text]
        probe = text
        if self.titles:
            for phrase, replacement in _NOT_TITLES.items():
                probe = probe.replace(phrase, replacement)
        match = self._pattern.search(probe)
        found = match.group(0) if match else None
        if len(self._cache) < 200_000:
            self._cache[text] = found
        return found


@lru_cache(maxsize=64)
def class_matcher(kind: str, name: str) -> KeywordMatcher:
    """The matcher of a built-in class: kind is "title" or "industry"."""
    table = TITLE_CLASSES if kind == "title" else INDUSTRY_CLASSES
    return KeywordMatcher(table[name], titles=kind == "title")
