"""The file connector's sales data: the rep on activities, meetings set and held, opportunities.csv."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from leadsync.connectors.base import Rejected
from leadsync.connectors.builtin.file_opportunities import parse_amount
from leadsync.core.models import ActivityType, Opportunity, OpportunityStatus
from leadsync.core.normalize import normalize_outcome

CALLS_JA = (
    "活動ID,メールアドレス,種別,日時,通話時間,通話結果,担当者\n"
    "C1,a@example.jp,架電,2025/04/07 09:10,0,不在,佐藤\n"
    "C2,a@example.jp,架電,2025/04/07 09:40,2分5秒,通電,佐藤\n"
    "C3,a@example.jp,電話,2025/04/07 10:00,0,留守電,鈴木\n"
    "C4,a@example.jp,商談獲得,2025/04/07 10:05,,アポ獲得,鈴木\n"
    "C5,a@example.jp,商談,2025/04/14 14:00,,実施済み,鈴木\n"
    "C6,a@example.jp,meeting,2025/04/15 14:00,,ノーショー,鈴木\n"
    "C7,a@example.jp,meeting_set,2025/04/16 14:00,,,\n"
)
OPPORTUNITIES_JA = (
    "案件ID,メールアドレス,案件名,作成日,フェーズ,金額,受注日,ステータス,失注理由,担当者\n"
    "O1,a@example.jp,サンプル社 導入,2025/04/17,受注,\"1,200,000\",2025/04/30,受注,,佐藤\n"
    "O2,b@example.jp,別件,2025/04/18,提案,120万円,,商談中,,鈴木\n"
    "O3,c@example.jp,失注案件,2025/04/01,失注,¥300000,2025/04/20,Closed Lost,価格,鈴木\n"
    "O4,d@example.jp,閉じたのに日付なし,2025/04/01,受注,100,,受注,,\n"
    "O5,e@example.jp,謎の状態,2025/04/01,,100,,保留,,\n"
)


def _records(pages):
    return [record for page in pages for record in page.records]


def test_calls_carry_the_rep_and_canonical_outcomes(connector, read, write):
    write("activities.csv", CALLS_JA, "cp932")
    rows = _records(read(connector, "activities"))
    assert [r.type for r in rows] == [ActivityType.CALL] * 3 + [ActivityType.MEETING_SET, ActivityType.MEETING,
                                                                 ActivityType.MEETING, ActivityType.MEETING_SET]
    assert [r.outcome for r in rows] == ["no_answer", "connected", "voicemail", "meeting_booked", "held", "no_show", None]
    assert [r.owner for r in rows] == ["佐藤", "佐藤", "鈴木", "鈴木", "鈴木", "鈴木", None]
    assert rows[1].duration_seconds == 125


def test_opportunities_csv_with_japanese_headers_and_aliases(connector, read, write):
    write("opportunities.csv", OPPORTUNITIES_JA, "utf-8-sig")
    rows = _records(read(connector, "opportunities"))
    won, open_, lost, no_date, unknown = rows
    assert isinstance(won, Opportunity) and won.status is OpportunityStatus.WON and won.amount == 1_200_000
    assert won.closed_at == datetime(2025, 4, 30, tzinfo=ZoneInfo("Asia/Tokyo")) and won.owner == "佐藤"
    assert open_.status is OpportunityStatus.OPEN and open_.amount == 1_200_000 and open_.closed_at is None
    assert lost.status is OpportunityStatus.LOST and lost.lost_reason == "価格" and lost.amount == 300_000
    assert isinstance(no_date, Rejected) and "won" in no_date.reason and "opportunities.csv:5" == no_date.key
    assert isinstance(unknown, Rejected) and "'保留' is not open, won or lost" in unknown.reason


def test_no_opportunities_file_reads_nothing(connector, read, write):
    write("leads.csv", "email\na@example.jp\n", "utf-8")
    assert _records(read(connector, "opportunities")) == []
    assert not any(what.endswith("opportunities.csv") for what, _, _ in connector.check().items)


def test_outcome_and_amount_parsing():
    assert normalize_outcome("通電") == "connected" and normalize_outcome("ＮＯ　ＡＮＳＷＥＲ") == "no_answer"
    assert normalize_outcome("留守番電話") == "voicemail" and normalize_outcome("キャンセル") == "canceled"
    assert normalize_outcome("折り返し待ち") == "折り返し待ち" and normalize_outcome(" ") is None
    assert parse_amount("1.2億") == 120_000_000 and parse_amount("abc") is None
