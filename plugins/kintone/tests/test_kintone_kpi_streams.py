"""The activities app with reps and outcomes, and a configurable opportunities app, against the fake."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from leadsync.connectors import ReadContext, Rejected
from leadsync.core.models import ActivityType, Opportunity, OpportunityStatus

ACTIVITY_APP = {"メールアドレス": "SINGLE_LINE_TEXT", "種別": "DROP_DOWN", "日時": "DATETIME", "URL": "LINK",
                "通話秒数": "NUMBER", "結果": "DROP_DOWN", "架電者": "USER_SELECT"}
DEAL_APP = {"メール": "SINGLE_LINE_TEXT", "案件名": "SINGLE_LINE_TEXT", "登録日": "DATE", "フェーズ": "DROP_DOWN",
            "金額": "NUMBER", "受注日": "DATE", "ステータス": "DROP_DOWN", "失注理由": "SINGLE_LINE_TEXT",
            "担当者": "USER_SELECT"}
SIGNPOST = datetime(2025, 5, 1, tzinfo=timezone.utc)
WHEN = datetime(2025, 4, 20, tzinfo=timezone.utc)


def _v(value):
    return value  # the fake stores plain values and renders {"type", "value"} itself


def _read(connector) -> dict[str, list]:
    return {s.name: [r for p in s.read(ReadContext(None, SIGNPOST)) for r in p.records] for s in connector.streams()}


def test_activities_and_opportunities(kintone_fake, kintone_connector):
    kintone_fake.add_app(20, ACTIVITY_APP, token="act-token")
    kintone_fake.add_app(40, DEAL_APP, token="deal-token")
    user = [{"code": "sato", "name": "佐藤"}]
    kintone_fake.add_record(20, {"メールアドレス": _v("a@x.jp"), "種別": _v("架電"), "日時": _v("2025-04-07T00:10:00Z"),
                                 "通話秒数": _v("130"), "結果": _v("通電"), "架電者": _v(user)}, updated=WHEN)
    kintone_fake.add_record(20, {"メールアドレス": _v("a@x.jp"), "種別": _v("商談獲得"), "日時": _v("2025-04-07T01:00:00Z"),
                                 "架電者": _v(user)}, updated=WHEN)
    kintone_fake.add_record(40, {"メール": _v("a@x.jp"), "案件名": _v("導入"), "登録日": _v("2025-04-10"),
                                 "金額": _v("1200000"), "受注日": _v("2025-04-25"), "ステータス": _v("受注"),
                                 "担当者": _v(user)}, updated=WHEN)
    kintone_fake.add_record(40, {"メール": _v("b@x.jp"), "案件名": _v("別件"), "登録日": _v("2025-04-11"),
                                 "受注日": _v("2025-04-26"), "ステータス": _v("失注"), "失注理由": _v("価格")}, updated=WHEN)
    kintone_fake.add_record(40, {"メール": _v("c@x.jp"), "登録日": _v("2025-04-12"), "ステータス": _v("受注")}, updated=WHEN)
    connector = kintone_connector(
        roles=["leads", "activities"], activities_app=20, opportunities_app=40,
        api_token="lead-token-123,act-token,deal-token", activity_fields={"owner": "架電者"},
        opportunity_fields={"email": "メール", "created_at": "登録日"})
    found = _read(connector)
    call, booked = found["activities"]
    assert call.type is ActivityType.CALL and call.outcome == "connected" and call.owner == "sato"
    assert call.duration_seconds == 130
    assert booked.type is ActivityType.MEETING_SET and booked.owner == "sato"
    won, lost, no_date = found["opportunities"]
    assert isinstance(won, Opportunity) and won.status is OpportunityStatus.WON and won.amount == 1_200_000
    assert won.created_at == datetime(2025, 4, 10, tzinfo=ZoneInfo("Asia/Tokyo")) and won.owner == "sato"
    assert lost.status is OpportunityStatus.LOST and lost.lost_reason == "価格" and lost.email == "b@x.jp"
    assert isinstance(no_date, Rejected) and "受注日" in no_date.reason


def test_no_opportunities_app_no_stream(kintone_connector):
    connector = kintone_connector(roles=["leads", "activities"])
    assert "opportunities" not in {s.name for s in connector.streams()}
