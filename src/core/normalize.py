"""Normalization of real-world lead data, Japanese included (docs/architecture.md, docs/file-connector.md).

Pure functions; connectors call them while building canonical models.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import idna

__all__ = [
    "LEAD_SOURCES",
    "lead_key",
    "lead_source_label",
    "nfkc",
    "normalize_company",
    "normalize_email",
    "normalize_lead_source",
    "normalize_outcome",
    "parse_amount",
    "parse_datetime",
    "parse_employees",
    "parse_opportunity_status",
]

def nfkc(value: str | None) -> str | None:
    """NFKC (full-width to half-width, ㈱ to (株)), trimmed, inner spaces folded; '' becomes None."""
    if value is None:
        return None
    return _nfkc_text(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=8192)
def _nfkc_text(text: str) -> str | None:
    """`nfkc` of a str (cached: names, companies, titles and codes repeat across records)."""
    if not text.isascii():  # NFKC leaves ASCII as it is; most values are ASCII
        text = unicodedata.normalize("NFKC", text)
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text or None  # no whitespace but single inner spaces (every other kind is unprintable)
    return " ".join(text.split()) or None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Format characters (Unicode category Cf) never belong in an address but survive copy and paste
# invisibly: zero-width space and joiners, BOM, soft hyphen, bidi marks.
_INVISIBLE = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in range(0x80, sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf") + "]"
)


def normalize_email(value: str | None) -> str | None:
    """One mailbox, one string: None when `value` is not an address at all.

    Trimmed and lower-cased, without a trailing dot on the domain. Non-ASCII input is also freed
    of invisible characters, NFKC'd (full-width to half-width) and its domain put through IDNA
    (UTS #46) to its ASCII form, so ``taro@例え.テスト``, ``taro@xn--r8jz45g.xn--zckzah`` and
    ``ｔａｒｏ＠例え。テスト`` are the same key. Plain ASCII takes a fast path.
    """
    if value is None:
        return None
    return _email_text(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=4096)
def _email_text(text: str) -> str | None:
    """`normalize_email` of a str (cached: a connector normalizes an address, and the engine the
    result again a few pages later)."""
    if not text.isascii():
        return _normalize_unicode_email(text)
    text = text.strip().strip("<>").lower()
    if text.endswith("."):
        text = text.rstrip(".")
    return text if _EMAIL.match(text) else None


def _normalize_unicode_email(text: str) -> str | None:
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).strip().strip("<>").lower()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return None
    domain = domain.rstrip(".\u3002\uff0e\uff61")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    text = f"{local}@{domain}"
    return text if _EMAIL.match(text) else None


def lead_key(email: str | None, connection: str, record_id: str | None) -> str:
    """The stable identity of a lead: its normalized e-mail, else connection and record id."""
    normalized = normalize_email(email)
    if normalized:
        return normalized
    if not record_id:
        raise ValueError("a lead needs an e-mail or a record id")
    return f"{connection}:{record_id}"


_COMPANY_AFFIXES = [
    r"株式会社", r"\(株\)", r"有限会社", r"\(有\)", r"合同会社", r"\(同\)", r"合資会社", r"合名会社",
    r"一般社団法人", r"一般財団法人", r"公益社団法人", r"公益財団法人", r"学校法人", r"医療法人",
    r"社会福祉法人", r"特定非営利活動法人", r"NPO法人",
]
_COMPANY_PREFIX = re.compile(r"^(?:" + "|".join(_COMPANY_AFFIXES) + r")\s*")
_COMPANY_SUFFIX = re.compile(
    r"\s*(?:" + "|".join(_COMPANY_AFFIXES) + r"|,?\s*(?:Inc|Corp|Corporation|Co\.,?\s*Ltd|Co|Ltd|LLC|K\.K|GmbH|Limited|PLC)\.?)$",
    re.IGNORECASE,
)


def normalize_company(value: str | None) -> str | None:
    """Company name without legal-form affixes: '株式会社サンプル' and 'ｻﾝﾌﾟﾙ(株)' both give 'サンプル'.

    Used for matching and display grouping; the connector keeps the original as well.
    """
    text = nfkc(value)
    if not text:
        return None
    previous = None
    while previous != text:
        previous = text
        text = _COMPANY_PREFIX.sub("", text)
        text = _COMPANY_SUFFIX.sub("", text).strip(" ,")
    return text or nfkc(value)


_NUMBER = r"(\d+(?:\.\d+)?)\s*(万|千)?"
_RANGE = re.compile(_NUMBER + r"\s*(?:人|名)?\s*(?:-|~|〜|～|ｰ|–|—|to|から)\s*" + _NUMBER)
_AT_LEAST = re.compile(_NUMBER + r"\s*(?:人|名)?\s*(?:以上|超|\+|or more|and above)")
_AT_MOST = re.compile(r"(?:~|〜|～|under|less than|up to)\s*" + _NUMBER + r"|" + _NUMBER + r"\s*(?:人|名)?\s*(?:未満|以下)")
_SINGLE = re.compile(_NUMBER)


def _number(digits: str, unit: str | None) -> float:
    value = float(digits)
    return value * (10000 if unit == "万" else 1000 if unit == "千" else 1)


def parse_employees(value: str | int | None) -> int | None:
    """Employee count as an int from text such as '1,000人以上', '100～499名', '50-99', '1万人', '約300名'.

    A range gives its lower bound (the sheet's bands are lower bounds: '500名以上', '100-499名');
    'under 50' gives the upper bound minus one. None when there is no number.
    """
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return _employees_text(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=4096)
def _employees_text(value: str) -> int | None:
    """`parse_employees` of text (cached: a CRM's employee field holds few distinct values)."""
    text = nfkc(value)
    if not text:
        return None
    text = text.replace(",", "").lower()
    if match := _RANGE.search(text):
        return int(_number(match.group(1), match.group(2)))
    if match := _AT_LEAST.search(text):
        return int(_number(match.group(1), match.group(2)))
    if match := _AT_MOST.search(text):
        digits, unit = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        return max(int(_number(digits, unit)) - 1, 0)
    if match := _SINGLE.search(text):
        return int(_number(match.group(1), match.group(2)))
    return None


def _parse_loose(text: str) -> datetime:
    """Spreadsheet and vendor spellings: '2025/4/1 10:00', '2025-04-01', epoch milliseconds."""
    text = nfkc(text) or ""
    if text.isdigit() and len(text) >= 12:
        return datetime.fromtimestamp(int(text) / 1000, tz=ZoneInfo("UTC"))
    text = text.replace("/", "-").replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}.*", text):
        y, m, rest = text.split("-", 2)
        text = f"{y}-{int(m):02d}-{rest}"
        d, _, tail = text[8:].partition(" ") if " " in text[8:] else text[8:].partition("T")
        text = f"{text[:8]}{int(d):02d}" + (f"T{tail}" if tail else "")
    return datetime.fromisoformat(text)


def parse_datetime(value: str | datetime | None, timezone: str = "UTC") -> datetime | None:
    """ISO 8601 (also '2025/04/01 10:00' and epoch milliseconds); a naive time is in `timezone`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value)
        try:  # plain ISO 8601, what vendors send: the common case, kept fast
            moment = datetime.fromisoformat(text) if text.isascii() and "/" not in text else _parse_loose(text)
        except ValueError:
            moment = _parse_loose(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


# Call and meeting outcomes as CRMs and spreadsheets write them, English and Japanese, by
# canonical value. Matching is on NFKC, case-folded text without spaces, '_' and '-'.
OUTCOME_ALIASES: dict[str, tuple[str, ...]] = {
    "connected": ("connected", "connect", "answered", "reached", "通電", "接続", "つながった", "繋がった", "本人接続", "着信"),
    "conversation": ("conversation", "talked", "effective", "有効会話", "有効架電", "会話", "本人と会話", "ヒアリング"),
    "meeting_booked": ("meeting booked", "appointment", "appointment set", "アポ獲得", "アポ", "商談獲得", "アポイント獲得"),
    "gatekeeper": ("gatekeeper", "receptionist", "受付ブロック", "受付", "受付拒否", "受付止まり"),
    "no_answer": ("no answer", "noanswer", "not reached", "不在", "応答なし", "出ない", "不通"),
    "voicemail": ("voicemail", "left voicemail", "left live message", "留守電", "留守番電話", "留守録"),
    "busy": ("busy", "話し中", "話中"),
    "wrong_number": ("wrong number", "番号違い", "番号誤り", "使われていない"),
    "held": ("held", "completed", "done", "実施", "実施済", "実施済み", "完了", "商談実施"),
    "no_show": ("no show", "noshow", "不参加", "ノーショー", "すっぽかし", "欠席"),
    "canceled": ("canceled", "cancelled", "cancel", "キャンセル", "中止", "取消", "取り消し"),
    "scheduled": ("scheduled", "booked", "予定", "日程確定", "設定済", "設定済み"),
    "rescheduled": ("rescheduled", "リスケ", "日程変更", "再調整"),
}


def _outcome_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_-.・")


_OUTCOME_INDEX: dict[str, str] = {}
for _canonical, _names in OUTCOME_ALIASES.items():
    for _name in (_canonical, *_names):
        _OUTCOME_INDEX.setdefault(_outcome_key(_name), _canonical)


def normalize_outcome(value: str | None) -> str | None:
    """The canonical outcome of a call or meeting ('通電' -> 'connected', '不在' -> 'no_answer',
    '実施済み' -> 'held'); an outcome not in the tables is kept as written (NFKC), None when empty."""
    text = nfkc(value)
    if text is None:
        return None
    return _OUTCOME_INDEX.get(_outcome_key(text), text)


# Opportunity statuses as CRMs and spreadsheets write them, by canonical value.
OPPORTUNITY_STATUS_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "in progress", "active", "商談中", "進行中", "オープン", "検討中", "提案中"),
    "won": ("won", "closed won", "closedwon", "win", "受注", "成約", "契約", "受注済"),
    "lost": ("lost", "closed lost", "closedlost", "lose", "失注", "見送り", "不成立"),
}
_STATUS_INDEX = {_outcome_key(name): status for status, names in OPPORTUNITY_STATUS_ALIASES.items()
                 for name in (status, *names)}


def parse_opportunity_status(value: str | None) -> str | None:
    """'open', 'won' or 'lost' from 'Closed Won', '受注', '失注', '商談中' ...; None when unknown or empty."""
    text = nfkc(value)
    return _STATUS_INDEX.get(_outcome_key(text)) if text else None


def parse_amount(value: str | int | float | None) -> float | None:
    """A money amount from 1200000, '1,200,000', '¥1,200,000', '120万円', '1.2億'; None when not a number."""
    if isinstance(value, (int, float)):
        return float(value)
    text = (nfkc(value) or "").replace(",", "").replace("¥", "").replace("円", "").replace("JPY", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(万|億)?", text)
    if not match:
        return None
    return float(match.group(1)) * {"万": 10_000, "億": 100_000_000}.get(match.group(2) or "", 1)
# Lead sources: one canonical code per channel, with the Japanese and English spellings that CRMs,
# MA tools and spreadsheets use (HubSpot's Original source values included). Labels: (ja, en).
LEAD_SOURCES: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    "trade_show": (("展示会", "Trade show"), ("展示会出展", "見本市", "エキスポ", "Tradeshow", "Exhibition", "Expo", "Trade fair")),
    "seminar": (("セミナー", "Seminar"), ("自社セミナー", "共催セミナー", "Seminars")),
    "webinar": (("ウェビナー", "Webinar"), ("オンラインセミナー", "Webセミナー", "Online seminar", "Web seminar", "Online event")),
    "web_inquiry": (("Web問い合わせ", "Web inquiry"), (
        "Webお問い合わせ", "お問い合わせ", "問い合わせ", "問合せ", "Webフォーム", "問い合わせフォーム", "Web", "Web form",
        "Contact form", "Inquiry", "Contact us", "Web-to-Lead")),
    "phone_inquiry": (("電話問い合わせ", "Phone inquiry"), ("電話", "電話での問い合わせ", "Phone", "Inbound call")),
    "content_download": (("資料ダウンロード", "Content download"), (
        "資料DL", "資料請求", "ホワイトペーパー", "ホワイトペーパーダウンロード", "Whitepaper", "White paper", "Download",
        "eBook")),
    "advertising": (("広告", "Advertising"), (
        "Web広告", "ネット広告", "リスティング広告", "Advertisement", "Ads", "Paid search", "Paid social", "PPC")),
    "referral": (("紹介", "Referral"), (
        "顧客紹介", "パートナー紹介", "社員紹介", "Referrals", "Partner referral", "Employee referral", "Customer referral",
        "Word of mouth", "口コミ")),
    "organic_search": (("自然検索", "Organic search"), ("SEO", "オーガニック検索")),
    "social": (("SNS", "Social media"), ("ソーシャルメディア", "Organic social", "Social")),
    "email": (("メール", "Email marketing"), ("メールマガジン", "メルマガ", "Email", "E-mail", "Newsletter", "Email campaign")),
    "direct": (("直接流入", "Direct traffic"), ("Direct",)),
    "purchased_list": (("購入リスト", "Purchased list"), ("リスト購入", "List purchase", "List")),
    "offline": (("オフライン", "Offline sources"), ("Offline", "Import", "インポート")),
    "outbound": (("テレアポ", "Outbound"), ("アウトバウンド", "Cold call", "Telemarketing", "架電")),
    "other": (("その他", "Other"), ("Other campaigns",)),
}


@functools.lru_cache(maxsize=4096)
def _source_fold(text: str) -> str:
    """The lookup form of a lead source (a source column holds few distinct values: cached)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_-.・/")


_SOURCE_INDEX: dict[str, str] = {}
for _code, ((_ja, _en), _aliases) in LEAD_SOURCES.items():
    for _name in (_code, _ja, _en, *_aliases):
        _SOURCE_INDEX.setdefault(_source_fold(_name), _code)


def normalize_lead_source(value: str | None) -> str | None:
    """The canonical code of a lead source ('展示会', 'Trade Show', 'ＴＲＡＤＥ＿ＳＨＯＷ' give 'trade_show').

    Case, width, spaces, '_', '-', '.', '・' and '/' do not matter. A value outside the
    vocabulary passes through (NFKC'd and trimmed); '' becomes None.
    """
    text = nfkc(value)
    if text is None:
        return None
    return _SOURCE_INDEX.get(_source_fold(text), text)


def lead_source_label(value: str | None, language: str = "ja") -> str | None:
    """How people read a lead source: '展示会' or 'Trade show' for 'trade_show'; others as they are."""
    if value is None or value not in LEAD_SOURCES:
        return value
    ja, en = LEAD_SOURCES[value][0]
    return en if language == "en" else ja
