"""The file connector's CSV columns: canonical names, and the header aliases of Japanese and English exports."""

from __future__ import annotations

import unicodedata

__all__ = [
    "ACTIVITY_ALIASES",
    "ACTIVITY_COLUMNS",
    "LEAD_ALIASES",
    "LEAD_COLUMNS",
    "OPPORTUNITY_ALIASES",
    "OPPORTUNITY_COLUMNS",
    "OUTPUT_ALIASES",
    "SCORE_COLUMNS",
    "TASK_COLUMNS",
    "TASK_TEXT_COLUMNS",
    "header_key",
]

LEAD_COLUMNS = (
    "id", "email", "first_name", "last_name", "company", "title", "department", "phone", "employees",
    "industry", "lead_source", "owner", "status", "created_at", "updated_at",
)
ACTIVITY_COLUMNS = ("id", "email", "type", "occurred_at", "url", "duration_seconds", "outcome", "owner")
OPPORTUNITY_COLUMNS = ("id", "email", "name", "created_at", "stage", "amount", "closed_at", "status", "lost_reason", "owner")
SCORE_COLUMNS = ("email", "score", "behavior_score", "attribute_score", "segment", "sheet_version", "scored_at")
TASK_COLUMNS = ("key", "email", "owner", "subject", "body", "due_at", "priority")
# tasks.csv columns of free text made from lead data (names, companies): neutralised for Excel.
# Everything else in scores.csv and tasks.csv is written exactly: the MA's import job joins on it.
TASK_TEXT_COLUMNS = ("subject", "body")

# Header aliases seen in Japanese (and English) spreadsheet exports, by canonical column.
# Matching is on header_key(), so case, width, spaces, '_' and '-' do not matter.
LEAD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "lead_id", "record_id", "リードID", "レコードID", "レコード番号", "顧客ID"),
    "email": ("email", "e-mail", "email_address", "mail", "メールアドレス", "メール", "Eメール", "Eメールアドレス", "電子メール"),
    "first_name": ("first_name", "firstname", "given_name", "名", "下の名前"),
    "last_name": ("last_name", "lastname", "family_name", "surname", "姓", "名字", "苗字"),
    "full_name": ("name", "full_name", "氏名", "名前", "お名前", "担当者名"),
    "company": ("company", "company_name", "account", "account_name", "organization", "会社名", "企業名", "会社", "法人名", "取引先名"),
    "title": ("title", "job_title", "position", "役職", "肩書", "肩書き", "役職名"),
    "department": ("department", "division", "部署", "部門", "部署名", "所属"),
    "phone": ("phone", "phone_number", "tel", "telephone", "電話番号", "電話", "TEL"),
    "employees": ("employees", "employee_count", "number_of_employees", "company_size", "従業員数", "従業員規模", "社員数", "企業規模"),
    "industry": ("industry", "業種", "業界"),
    "lead_source": ("lead_source", "source", "流入経路", "リードソース", "獲得経路", "流入元"),
    "owner": ("owner", "owner_id", "lead_owner", "所有者", "担当者", "リード所有者", "営業担当", "担当営業"),
    "status": ("status", "lead_status", "ステータス", "リードステータス", "状況"),
    "status_reason": ("status_reason", "reason", "ステータス理由", "不適格理由", "見送り理由", "失注理由"),
    "created_at": ("created_at", "created", "created_date", "create_date", "作成日", "作成日時", "登録日", "登録日時"),
    "updated_at": ("updated_at", "updated", "modified", "last_modified", "updated_date", "更新日", "更新日時", "最終更新日", "最終更新日時"),
}
ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "activity_id", "活動ID", "アクティビティID", "履歴ID"),
    "email": ("email", "e-mail", "email_address", "mail", "メールアドレス", "メール", "Eメール", "Eメールアドレス"),
    "lead_id": ("lead_id", "lead", "リードID", "顧客ID", "レコードID"),
    "type": ("type", "activity_type", "activity", "種別", "活動種別", "アクティビティ", "アクティビティ種別", "行動", "種類"),
    "occurred_at": ("occurred_at", "timestamp", "date", "datetime", "activity_date", "日時", "発生日時", "活動日時", "日付", "実施日時"),
    "url": ("url", "page_url", "page", "URL", "ページURL", "ページ", "閲覧ページ"),
    "duration_seconds": ("duration_seconds", "duration", "call_duration", "通話時間(秒)", "通話時間", "通話秒数", "所要時間(秒)"),
    "outcome": ("outcome", "result", "結果", "通話結果", "成果", "商談結果"),
    "owner": ("owner", "rep", "user", "caller", "担当者", "担当", "架電者", "営業担当", "担当営業", "オペレーター"),
}
OPPORTUNITY_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "opportunity_id", "deal_id", "案件ID", "商談ID", "レコード番号"),
    "email": ("email", "e-mail", "email_address", "mail", "メールアドレス", "メール", "Eメール", "Eメールアドレス"),
    "lead_id": ("lead_id", "lead", "リードID", "顧客ID"),
    "name": ("name", "opportunity_name", "deal_name", "案件名", "商談名"),
    "created_at": ("created_at", "created", "created_date", "作成日", "作成日時", "登録日", "案件化日"),
    "stage": ("stage", "deal_stage", "フェーズ", "ステージ", "フェーズ名", "商談フェーズ"),
    "amount": ("amount", "value", "金額", "受注金額", "見込金額", "案件金額"),
    "closed_at": ("closed_at", "close_date", "closed", "完了予定日", "受注日", "クローズ日", "完了日"),
    "status": ("status", "result", "ステータス", "結果", "受注/失注", "状況"),
    "lost_reason": ("lost_reason", "reason", "失注理由", "理由"),
    "owner": ("owner", "rep", "担当者", "担当", "営業担当", "担当営業", "所有者"),
}
OUTPUT_ALIASES = {
    "scores": {name: (name,) for name in SCORE_COLUMNS},
    "tasks": {name: (name,) for name in TASK_COLUMNS},
}


def header_key(text: str) -> str:
    """A header folded for matching: NFKC, case-folded, without spaces, '_', '-' and '.'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_-.・")


