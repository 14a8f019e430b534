"""The follow-up task's subject and body, in Japanese (default) or English."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from leadsync.core.models import Activity, Lead, RuleHit, Score, looks_japanese
from leadsync.core.normalize import lead_source_label

__all__ = ["ACTIVITY_LABELS", "format_points", "task_body", "task_subject", "top_reasons"]

ACTIVITY_LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "email_open": "メール開封", "email_click": "メールクリック", "content_download": "資料ダウンロード",
        "web_visit": "Web訪問", "form_started": "フォーム入力開始", "form_submitted": "フォーム送信",
        "webinar_registered": "ウェビナー申込", "webinar_attended": "ウェビナー参加", "call": "架電",
        "meeting": "商談", "unsubscribe": "配信停止", "other": "その他",
    },
    "en": {
        "email_open": "Email open", "email_click": "Email click", "content_download": "Content download",
        "web_visit": "Web visit", "form_started": "Form started", "form_submitted": "Form submitted",
        "webinar_registered": "Webinar registration", "webinar_attended": "Webinar attended", "call": "Call",
        "meeting": "Meeting", "unsubscribe": "Unsubscribe", "other": "Other",
    },
}


def format_points(points: float) -> str:
    return f"{points:+g}"


def top_reasons(breakdown: Sequence[RuleHit], limit: int | None = None) -> list[RuleHit]:
    """The rules that contributed most, largest first (ties keep the sheet's order)."""
    ranked = sorted((hit for hit in breakdown if hit.points), key=lambda hit: -hit.points)
    return ranked if limit is None else ranked[:limit]


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _who(lead: Lead) -> str:
    return lead.name or lead.email or lead.key


def task_subject(lead: Lead, score: Score, due_at: datetime, tz: ZoneInfo, language: str) -> str:
    company = lead.company or ""
    if language == "en":
        where = f" ({company})" if company else ""
        return f"Hot lead: {_who(lead)}{where}, score {score.total}, follow up by {_when(due_at, tz)}"
    head = f"{company} " if company else ""
    return f"【要対応】ホットリード: {head}{_honorific(lead)} (スコア{score.total}) {_when(due_at, tz)}まで"


def _honorific(lead: Lead) -> str:
    """「佐藤 花子様」 for a Japanese name; 「Laura Taylor 様」 (a space before 様) for a name in Latin letters."""
    who = _who(lead)
    return f"{who}様" if looks_japanese(who) else f"{who} 様"


def task_body(
    lead: Lead,
    score: Score,
    due_at: datetime,
    activities: Sequence[Activity],
    tz: ZoneInfo,
    language: str,
    reasons_limit: int,
    task_key: str,
) -> str:
    """Who, which company, score and segment, top reasons, latest activities, and the due time."""
    en = language == "en"
    labels = ACTIVITY_LABELS["en" if en else "ja"]
    due = f"{_when(due_at, tz)} ({tz.key})"
    lines = [
        f"This lead turned hot (MQL). Please make the first contact by {due}." if en
        else f"ホットリード(MQL)です。{due} までに初回アプローチをお願いします。",
        "",
    ]
    fields = [
        ("Name" if en else "氏名", lead.name or None),
        ("Company" if en else "会社", lead.company),
        ("Title" if en else "役職", lead.title),
        ("Department" if en else "部署", lead.department),
        ("Email" if en else "メール", lead.email),
        ("Phone" if en else "電話", lead.phone),
        ("Lead source" if en else "流入経路", lead_source_label(lead.lead_source, language)),
    ]
    lines += [f"{label}: {value}" for label, value in fields if value]
    segment = score.segment.value
    lines.append(
        f"Score: {score.total} ({segment}; behaviour {score.behavior}, attributes {score.attribute})" if en
        else f"スコア: {score.total} ({segment} / 行動 {score.behavior}・属性 {score.attribute})"
    )
    reasons = top_reasons(score.breakdown, reasons_limit)
    if reasons:
        lines += ["", "Top reasons:" if en else "主な理由:"]
        lines += [f"- {hit.rule} {format_points(hit.points)}" for hit in reasons]
    if activities:
        lines += ["", "Latest activities:" if en else "最近の行動:"]
        for activity in activities:
            label = labels.get(activity.type.value, activity.type.value)
            extra = f" {activity.url}" if activity.url else ""
            lines.append(f"- {_when(activity.occurred_at, tz)} {label}{extra}")
    lines += ["", f"{'Due' if en else '対応期限'}: {due}", f"leadsync: {task_key}"]
    return "\n".join(lines)
