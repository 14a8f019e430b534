"""What a notice says: one event rendered as a title, lines and fields, in Japanese or English."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["EVENTS", "Notice", "render"]

EVENTS = ("handoff_created", "handoff_overdue", "run_failed", "dead_letters", "digest", "test")

_TITLES = {
    "ja": {
        "handoff_created": "新しいMQL: {name}（{company}）",
        "handoff_overdue": "SLA超過: {name}（{company}）が{overdue}未対応です",
        "run_failed": "leadsync の同期が失敗しました（終了ステータス {exit_status}）",
        "dead_letters": "leadsync: 処理できなかったレコードが {count} 件あります",
        "digest": "leadsync 日次サマリー {date}",
        "test": "leadsync テスト通知（{channel}）",
    },
    "en": {
        "handoff_created": "New MQL: {name} ({company})",
        "handoff_overdue": "SLA breached: {name} ({company}) untouched for {overdue} past due",
        "run_failed": "leadsync sync failed (exit status {exit_status})",
        "dead_letters": "leadsync: {count} records could not be processed",
        "digest": "leadsync daily digest {date}",
        "test": "leadsync test notice ({channel})",
    },
}
_LABELS = {
    "ja": {"score": "スコア", "reasons": "主な理由", "owner": "担当", "due": "対応期限", "email": "メール",
           "reason": "理由", "failures": "失敗した接続", "new_mqls": "新規MQL（24時間）", "overdue": "SLA超過中",
           "sla": "SLA遵守率（30日）", "open": "対応待ち", "record": "CRMレコード", "unassigned": "未割当",
           "hint": "対処", "none": "なし"},
    "en": {"score": "Score", "reasons": "Top reasons", "owner": "Owner", "due": "Due", "email": "E-mail",
           "reason": "Reason", "failures": "Failed connections", "new_mqls": "New MQLs (24 h)", "overdue": "Overdue",
           "sla": "SLA compliance (30 days)", "open": "Open", "record": "CRM record", "unassigned": "unassigned",
           "hint": "What to do", "none": "none"},
}


@dataclass
class Notice:
    """One message for one channel; `key` is its outbox idempotency key."""

    event: str
    key: str
    title: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # the documented webhook body's "data"

    def plain(self) -> str:
        """The message as plain text (e-mail body, chat fallback)."""
        lines = [self.title, ""]
        lines += [f"{label}: {value}" for label, value in self.fields]
        if self.text:
            lines += ["", self.text]
        if self.url:
            lines += ["", self.url]
        return "\n".join(lines).rstrip() + "\n"


def _duration(seconds: float, language: str) -> str:
    hours = int(seconds // 3600)
    minutes = int(seconds % 3600 // 60)
    if language == "ja":
        return f"{hours}時間{minutes}分" if hours else f"{minutes}分"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _when(epoch: float | None, tz: str) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def render(event: str, key: str, data: dict[str, Any], *, language: str, tz: str) -> Notice:
    """The notice for one event's data (as stored in the outbox)."""
    words = _LABELS[language]
    values = {k: ("" if v is None else v) for k, v in data.items()}
    if event in ("handoff_created", "handoff_overdue"):
        values["company"] = data.get("company") or "-"
        values["name"] = data.get("name") or data.get("email") or data.get("lead_key")
        values["overdue"] = _duration(float(data.get("overdue_s") or 0), language)
    title = _TITLES[language][event].format(**{**values, "overdue": values.get("overdue", "")})
    notice = Notice(event, key, title, data=data, url=data.get("record_url"))
    if event in ("handoff_created", "handoff_overdue"):
        reasons = ", ".join(f"{r['rule']} ({r['points']:+g})" for r in data.get("reasons", [])) or words["none"]
        notice.fields = [
            (words["email"], data.get("email") or ""),
            (words["score"], str(data.get("score"))),
            (words["reasons"], reasons),
            (words["owner"], data.get("owner") or words["unassigned"]),
            (words["due"], _when(data.get("due_at"), tz)),
        ]
    elif event == "run_failed":
        failures = data.get("failures") or {}
        notice.fields = [(words["reason"], data.get("reason") or "")]
        notice.fields += [(f"{words['failures']}: {name}", error) for name, error in failures.items()]
        notice.text = ("次回の実行で未送信の書き込みは再送されます。`leadsync sync status` と `leadsync doctor` で確認してください。"
                       if language == "ja" else
                       "Writes not yet sent wait for the next run. Check `leadsync sync status` and `leadsync doctor`.")
    elif event == "dead_letters":
        notice.fields = [(words["reason"], reason) for reason in data.get("reasons", [])[:5]]
        notice.text = ("`leadsync sync status` で内容を確認し、直したら `leadsync sync requeue` してください。"
                       if language == "ja" else
                       "See `leadsync sync status`; after fixing them, `leadsync sync requeue`.")
    elif event == "digest":
        sla = data.get("sla_compliance")
        notice.fields = [
            (words["new_mqls"], str(data.get("new_mqls", 0))),
            (words["open"], str(data.get("open", 0))),
            (words["overdue"], str(data.get("overdue", 0))),
            (words["sla"], "-" if sla is None else f"{sla:.0%}"),
        ]
    elif event == "test":
        notice.text = ("この通知が届いていれば設定は正しく動作しています。" if language == "ja"
                       else "If you can read this, the channel works.")
    return notice
