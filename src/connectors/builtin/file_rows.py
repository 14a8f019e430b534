"""Turning one CSV row of leads.csv or activities.csv into a canonical Lead, Activity or Rejected."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime

from leadsync.connectors.base import Rejected
from leadsync.connectors.builtin.csvfiles import header_key
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.normalize import lead_key, nfkc, normalize_email, normalize_outcome, parse_datetime, parse_employees

__all__ = ["ACTIVITY_TYPE_ALIASES", "RowContext", "activity_from_row", "lead_from_row", "parse_activity_type"]

# Activity kinds as spreadsheets write them, English and Japanese, by canonical type.
ACTIVITY_TYPE_ALIASES: dict[ActivityType, tuple[str, ...]] = {
    ActivityType.EMAIL_OPEN: ("open", "opened", "email opened", "mail open", "メール開封", "開封"),
    ActivityType.EMAIL_CLICK: ("click", "clicked", "link click", "email clicked", "メールクリック", "クリック", "リンククリック", "メール内リンククリック"),
    ActivityType.CONTENT_DOWNLOAD: (
        "download", "whitepaper download", "content download", "資料ダウンロード", "資料DL", "ダウンロード",
        "ホワイトペーパーダウンロード", "事例資料ダウンロード", "ホワイトペーパーDL",
    ),
    ActivityType.WEB_VISIT: (
        "visit", "page view", "pageview", "web", "web page visit", "Webアクセス", "ウェブアクセス", "ページ閲覧",
        "サイト訪問", "Web訪問", "閲覧", "ページビュー",
    ),
    ActivityType.FORM_STARTED: ("form start", "form fill started", "フォーム入力開始", "問い合わせフォーム入力開始", "フォーム開始"),
    ActivityType.FORM_SUBMITTED: ("form submit", "form fill", "form submission", "フォーム送信", "問い合わせ", "お問い合わせ", "問い合わせ送信"),
    ActivityType.WEBINAR_REGISTERED: ("webinar registration", "webinar register", "ウェビナー申込", "ウェビナー申し込み", "セミナー申込", "セミナー申し込み"),
    ActivityType.WEBINAR_ATTENDED: ("webinar", "webinar attendance", "webinar attend", "ウェビナー参加", "ウェビナー視聴", "セミナー参加"),
    ActivityType.CALL: ("phone", "phone call", "架電", "電話", "通話", "コール"),
    ActivityType.MEETING_SET: ("meeting set", "meeting booked", "appointment set", "商談獲得", "商談設定", "アポ獲得",
                               "アポ設定", "アポイント獲得"),
    ActivityType.MEETING: ("商談", "面談", "打ち合わせ", "打合せ", "アポイント", "商談実施"),
    ActivityType.UNSUBSCRIBE: ("unsubscribed", "opt out", "配信停止", "メール配信停止"),
    ActivityType.OTHER: ("その他",),
}
_TYPE_INDEX: dict[str, ActivityType] = {}
for _type, _names in ACTIVITY_TYPE_ALIASES.items():
    for _name in (_type.value, *_names):
        _TYPE_INDEX.setdefault(header_key(_name), _type)


def parse_activity_type(value: str | None) -> ActivityType | None:
    """The canonical type of 'email_open', 'メール開封', 'ＷＥＢアクセス' ...; None when unknown."""
    if not value:
        return None
    return _TYPE_INDEX.get(header_key(value))


_MINUTES_SECONDS = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_JAPANESE_DURATION = re.compile(r"^(?:(\d+)時間)?(?:(\d+)分)?(?:(\d+)秒)?$")


def parse_duration(value: str) -> int | None:
    """Seconds from '125', '125秒', '2:05', '1:02:05', '2分5秒'; None when it is none of those."""
    text = (nfkc(value) or "").replace(",", "").lower().removesuffix("s").removesuffix("sec").strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return int(float(text))
    if match := _MINUTES_SECONDS.match(text):
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    if text and (match := _JAPANESE_DURATION.match(text)):
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    return None


class RowContext:
    """What row conversion needs to know: connection, time zone, file name, headers as written."""

    def __init__(self, connection: str, timezone: str, file_name: str, headers: Mapping[str, str]) -> None:
        self.connection = connection
        self.timezone = timezone
        self.file_name = file_name
        self.headers = headers

    def column(self, canonical: str) -> str:
        written = self.headers.get(canonical)
        return canonical if not written or header_key(written) == header_key(canonical) else f"{canonical} ({written})"

    def reject(self, number: int, reason: str, payload: Mapping[str, str]) -> Rejected:
        return Rejected(key=f"{self.file_name}:{number}", reason=reason, payload=dict(payload))

    def lead_of(self, number: int, values: Mapping[str, str], payload: Mapping[str, str],
                emails_by_id: Mapping[str, str], what: str) -> tuple[str | None, str | None] | Rejected:
        """(e-mail, lead id) a row names its lead by, or the reason it names none.

        `emails_by_id` maps leads.csv ids to e-mails, so a row that names its lead by `lead_id`
        joins the same lead as a row that names it by e-mail.
        """
        raw_email = values.get("email")
        email = normalize_email(raw_email)
        if raw_email and not email:
            return self.reject(number, f"column {self.column('email')}: {raw_email!r} is not an e-mail address", payload)
        lead_ref = nfkc(values.get("lead_id"))
        if not email and lead_ref:
            email = normalize_email(lead_ref) or emails_by_id.get(lead_ref)
        if not email and not lead_ref:
            return self.reject(number, f"no email and no lead_id: {what} must name its lead", payload)
        return email, lead_ref

    def when(self, values: Mapping[str, str], canonical: str) -> datetime | None:
        """A timestamp column; ValueError with the column's name when it is not a date."""
        raw = values.get(canonical)
        if not raw:
            return None
        try:
            return parse_datetime(raw, self.timezone)
        except (ValueError, OverflowError):
            raise ValueError(f"column {self.column(canonical)}: {raw!r} is not a date") from None


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _split_full_name(full: str | None) -> tuple[str | None, str | None]:
    """(first, last) from '山田 太郎' (family name first) or 'Taro Yamada' (given name first)."""
    text = nfkc(full)
    if not text:
        return None, None
    parts = text.split(" ", 1)
    if len(parts) == 1:
        return None, text
    if _JAPANESE.search(text):
        return parts[1], parts[0]
    return parts[0], parts[1]


_LEAD_FIELDS = {
    "id", "email", "first_name", "last_name", "full_name", "company", "title", "department", "phone", "employees",
    "industry", "lead_source", "owner", "status", "status_reason", "created_at", "updated_at",
}


def lead_from_row(ctx: RowContext, number: int, values: Mapping[str, str], extra: Mapping[str, str]) -> Lead | Rejected:
    """A Lead from one leads.csv row, or the reason it cannot be one."""
    payload = {**values, **extra}
    raw_email = values.get("email")
    email = normalize_email(raw_email)
    if raw_email and not email:
        return ctx.reject(number, f"column {ctx.column('email')}: {raw_email!r} is not an e-mail address", payload)
    record_id = nfkc(values.get("id"))
    if not email and not record_id:
        return ctx.reject(number, "no email and no id: a lead needs at least one of them", payload)
    try:
        created_at = ctx.when(values, "created_at")
        updated_at = ctx.when(values, "updated_at")
    except ValueError as exc:
        return ctx.reject(number, str(exc), payload)
    first_name, last_name = nfkc(values.get("first_name")), nfkc(values.get("last_name"))
    if not first_name and not last_name:
        first_name, last_name = _split_full_name(values.get("full_name"))
    employees_text = nfkc(values.get("employees"))
    custom = {name: value for name, value in values.items() if name not in _LEAD_FIELDS}
    custom.update(extra)
    return Lead(
        key=lead_key(email, ctx.connection, record_id),
        email=email,
        refs={ctx.connection: record_id or email or ""},
        first_name=first_name,
        last_name=last_name,
        company=nfkc(values.get("company")),
        title=nfkc(values.get("title")),
        department=nfkc(values.get("department")),
        phone=nfkc(values.get("phone")),
        employees=parse_employees(employees_text),
        employees_text=employees_text,
        industry=nfkc(values.get("industry")),
        lead_source=nfkc(values.get("lead_source")),
        owner=nfkc(values.get("owner")),
        status=nfkc(values.get("status")),
        status_reason=nfkc(values.get("status_reason")),
        created_at=created_at,
        updated_at=updated_at,
        custom=custom,
    )


_ACTIVITY_FIELDS = {"id", "email", "lead_id", "type", "occurred_at", "url", "duration_seconds", "outcome", "owner"}


def activity_from_row(
    ctx: RowContext,
    number: int,
    values: Mapping[str, str],
    extra: Mapping[str, str],
    emails_by_id: Mapping[str, str],
) -> Activity | Rejected:
    """An Activity from one activities.csv row, or the reason it cannot be one."""
    payload = {**values, **extra}
    lead = ctx.lead_of(number, values, payload, emails_by_id, "an activity")
    if isinstance(lead, Rejected):
        return lead
    email, lead_ref = lead
    raw_type = values.get("type")
    kind = parse_activity_type(raw_type)
    if kind is None:
        what = f"{raw_type!r} is not a known activity type" if raw_type else "empty (the activity type is required)"
        return ctx.reject(number, f"column {ctx.column('type')}: {what}", payload)
    try:
        occurred_at = ctx.when(values, "occurred_at")
    except ValueError as exc:
        return ctx.reject(number, str(exc), payload)
    if occurred_at is None:
        return ctx.reject(number, f"column {ctx.column('occurred_at')}: empty (the time is required)", payload)
    duration = None
    if raw_duration := values.get("duration_seconds"):
        duration = parse_duration(raw_duration)
        if duration is None:
            return ctx.reject(
                number, f"column {ctx.column('duration_seconds')}: {raw_duration!r} is not a number of seconds", payload
            )
    url = nfkc(values.get("url"))
    outcome = normalize_outcome(values.get("outcome"))
    source_id = nfkc(values.get("id"))
    if not source_id:
        # No id column: a hash of what the row says, so re-reading the file gives the same id.
        basis = "|".join(
            str(part) for part in (email or lead_ref, kind.value, occurred_at.timestamp(), url, duration,
                                   nfkc(values.get("outcome")))
        )
        source_id = "row-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]
    details = {name: value for name, value in values.items() if name not in _ACTIVITY_FIELDS}
    details.update(extra)
    return Activity(
        source_id=source_id,
        connection=ctx.connection,
        lead_key=lead_key(email, ctx.connection, lead_ref),
        email=email,
        lead_record_id=lead_ref,
        type=kind,
        occurred_at=occurred_at,
        url=url,
        duration_seconds=duration,
        outcome=outcome,
        owner=nfkc(values.get("owner")),
        details=details,
    )
