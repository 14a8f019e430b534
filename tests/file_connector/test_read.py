"""Reading leads.csv and activities.csv: encodings, Japanese headers, bad rows, cursors, pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from leadsync.connectors.base import Rejected
from leadsync.connectors.builtin import file as file_module
from leadsync.connectors.plugins import get_plugin_host
from leadsync.core.errors import ConfigError
from leadsync.core.models import Activity, ActivityType, Lead

LEADS_EN = (
    "id,email,first_name,last_name,company,title,department,phone,employees,industry,lead_source,owner,status,created_at,updated_at\n"
    "L1,Taro.Yamada@Example.co.jp,太郎,山田,株式会社サンプル,営業部長,営業部,03-1234-5678,100～499名,製造業,展示会,sato,新規,2025-04-01 09:30,2025-04-02T10:00:00+09:00\n"
    "L2,,Jane,Doe,Acme Inc.,CTO,,,\"1,000人以上\",IT・ソフトウェア,Web問い合わせ,,,,\n"
)
LEADS_JA = (
    "メールアドレス,会社名,氏名,役職,部署,電話番号,従業員数,業種,流入経路,リード所有者,リードステータス,作成日時,最終更新日時,予算\n"
    "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ,ｻﾝﾌﾟﾙ(株),鈴木　花子,マネージャー,ﾏｰｹﾃｨﾝｸﾞ部,０３－１１１１－２２２２,\"１，０００人以上\",ＩＴ・ソフトウェア,セミナー,suzuki,不適格,2025/04/01 10:00,2025/04/03 11:00,500万円\n"
)
ACTIVITIES = (
    "id,email,type,occurred_at,url,duration_seconds,outcome\n"
    "A1,taro.yamada@example.co.jp,email_open,2025-04-01T10:00:00+09:00,,,\n"
    "A2,TARO.YAMADA@EXAMPLE.CO.JP,web_visit,2025-04-01 11:00,https://example.jp/pricing,,\n"
    "A3,taro.yamada@example.co.jp,call,2025-04-02T10:00:00Z,,2:05,接続\n"
)


def _records(pages):
    return [record for page in pages for record in page.records]


def test_registered_through_the_hook():
    host = get_plugin_host(load_entrypoints=False)
    assert host.connectors()["file"] is file_module.FileConnector


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_reads_english_leads_in_every_supported_encoding(connector, read, write, encoding):
    write("leads.csv", LEADS_EN, encoding)
    leads = _records(read(connector, "leads"))
    assert [type(r) for r in leads] == [Lead, Lead]
    taro, jane = leads
    assert taro.key == "taro.yamada@example.co.jp" and taro.email == "taro.yamada@example.co.jp"
    assert taro.refs == {"sheet": "L1"}
    assert (taro.last_name, taro.first_name, taro.company, taro.title) == ("山田", "太郎", "株式会社サンプル", "営業部長")
    assert taro.employees == 100 and taro.employees_text == "100~499名"
    assert taro.owner == "sato" and taro.lead_source == "trade_show"
    # No offset: the connection's time zone (scoring.timezone).
    assert taro.created_at == datetime(2025, 4, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert taro.updated_at.utcoffset() == timedelta(hours=9)
    # No e-mail: the key is connection + id.
    assert jane.key == "sheet:L2" and jane.email is None and jane.refs == {"sheet": "L2"}
    assert jane.employees == 1000


def test_japanese_headers_and_full_width_values(connector, read, write):
    write("leads.csv", LEADS_JA, "cp932")
    (lead,) = _records(read(connector, "leads"))
    assert lead.email == "hanako@example.jp" and lead.key == "hanako@example.jp"
    assert (lead.last_name, lead.first_name) == ("鈴木", "花子")  # 氏名 split, family name first
    assert lead.company == "サンプル(株)"
    assert lead.department == "マーケティング部"
    assert lead.phone == "03-1111-2222"
    assert lead.employees == 1000 and lead.industry == "IT・ソフトウェア"
    assert lead.lead_source == "seminar" and lead.owner == "suzuki" and lead.status == "不適格"
    assert lead.created_at == datetime(2025, 4, 1, 10, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert lead.custom == {"予算": "500万円"}  # unknown columns are kept as custom fields


def test_header_matching_ignores_case_width_and_separators(connector, read, write):
    write("leads.csv", "E-Mail, Company Name ,ＴＩＴＬＥ,First Name\nA@B.JP,Foo,CEO,Ann\n")
    (lead,) = _records(read(connector, "leads"))
    assert (lead.email, lead.company, lead.title, lead.first_name) == ("a@b.jp", "Foo", "CEO", "Ann")


def test_fields_mapping_names_a_custom_header(folder, make, read, write):
    write("leads.csv", "Mail Addr,Corp\nx@y.jp,Z\n")
    connector = make(folder, fields={"email": "Mail Addr", "company": "Corp"})
    (lead,) = _records(read(connector, "leads"))
    assert (lead.email, lead.company) == ("x@y.jp", "Z")


def test_activities_in_english(connector, read, write):
    write("activities.csv", ACTIVITIES)
    open_, visit, call = _records(read(connector, "activities"))
    assert isinstance(open_, Activity) and open_.source_id == "A1" and open_.connection == "sheet"
    assert open_.type is ActivityType.EMAIL_OPEN and open_.lead_key == "taro.yamada@example.co.jp"
    assert visit.email == "taro.yamada@example.co.jp"
    assert visit.occurred_at == datetime(2025, 4, 1, 11, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert visit.url == "https://example.jp/pricing"
    assert call.occurred_at == datetime(2025, 4, 2, 10, tzinfo=timezone.utc)
    assert call.duration_seconds == 125 and call.outcome == "connected"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("メール開封", ActivityType.EMAIL_OPEN),
        ("メールクリック", ActivityType.EMAIL_CLICK),
        ("資料ダウンロード", ActivityType.CONTENT_DOWNLOAD),
        ("Webアクセス", ActivityType.WEB_VISIT),
        ("ページ閲覧", ActivityType.WEB_VISIT),
        ("ＷＥＢアクセス", ActivityType.WEB_VISIT),
        ("フォーム入力開始", ActivityType.FORM_STARTED),
        ("フォーム送信", ActivityType.FORM_SUBMITTED),
        ("ウェビナー申込", ActivityType.WEBINAR_REGISTERED),
        ("ウェビナー参加", ActivityType.WEBINAR_ATTENDED),
        ("架電", ActivityType.CALL),
        ("電話", ActivityType.CALL),
        ("商談", ActivityType.MEETING),
        ("面談", ActivityType.MEETING),
        ("Email Open", ActivityType.EMAIL_OPEN),
        ("page_view", ActivityType.WEB_VISIT),
    ],
)
def test_japanese_activity_headers_and_types(connector, read, write, written, expected):
    write("activities.csv", f"活動ID,メールアドレス,活動種別,発生日時,ページURL,通話時間(秒),結果\nX1,a@b.jp,{written},2025-04-01 10:00,,90,\n", "cp932")
    (activity,) = _records(read(connector, "activities"))
    assert activity.type is expected and activity.source_id == "X1" and activity.duration_seconds == 90


def test_lead_id_stands_for_email(connector, read, write):
    write("leads.csv", "id,email\nL1,taro@example.jp\nL2,\n")
    write("activities.csv", "lead_id,type,occurred_at\nL1,email_open,2025-04-01\nL2,email_click,2025-04-01\n")
    known, unknown = _records(read(connector, "activities"))
    assert known.email == "taro@example.jp" and known.lead_key == "taro@example.jp" and known.lead_record_id == "L1"
    assert unknown.email is None and unknown.lead_key == "sheet:L2"


def test_rows_without_id_get_a_stable_source_id(connector, read, write):
    text = "email,type,occurred_at\na@b.jp,email_open,2025-04-01 10:00\na@b.jp,email_open,2025-04-02 10:00\n"
    write("activities.csv", text)
    first = [a.source_id for a in _records(read(connector, "activities"))]
    write("activities.csv", "email,type,occurred_at,note\n" + "\n".join(f"{line},x" for line in text.splitlines()[1:][::-1]))
    second = [a.source_id for a in _records(read(connector, "activities"))]
    assert len(set(first)) == 2 and sorted(first) == sorted(second)


def test_bad_rows_are_rejected_with_file_row_and_column(connector, read, write):
    write(
        "leads.csv",
        "email,id,created_at\n"
        "good@example.jp,1,2025-04-01\n"
        "not-an-address,2,\n"
        ",,\n"  # blank line: skipped, still counted for row numbers
        ",,2025-04-01\n"
        "ok@example.jp,5,yesterday\n",
    )
    records = _records(read(connector, "leads"))
    assert isinstance(records[0], Lead)
    rejected = records[1:]
    assert all(isinstance(r, Rejected) for r in rejected)
    assert [r.key for r in rejected] == ["leads.csv:3", "leads.csv:5", "leads.csv:6"]
    assert "column email" in rejected[0].reason and "not-an-address" in rejected[0].reason
    assert "no email and no id" in rejected[1].reason
    assert "column created_at" in rejected[2].reason and "'yesterday' is not a date" in rejected[2].reason
    assert rejected[2].payload["email"] == "ok@example.jp"


def test_bad_activity_rows(connector, read, write):
    write(
        "activities.csv",
        "email,type,occurred_at,duration_seconds\n"
        "a@b.jp,email_open,2025-13-40,\n"
        "a@b.jp,fax,2025-04-01,\n"
        "a@b.jp,call,2025-04-01,long\n"
        "a@b.jp,call,,\n"
        "a@b.jp,call,2025-04-01,30\n",
    )
    records = _records(read(connector, "activities"))
    reasons = {r.key: r.reason for r in records if isinstance(r, Rejected)}
    assert reasons == {
        "activities.csv:2": "column occurred_at: '2025-13-40' is not a date",
        "activities.csv:3": "column type: 'fax' is not a known activity type",
        "activities.csv:4": "column duration_seconds: 'long' is not a number of seconds",
        "activities.csv:5": "column occurred_at: empty (the time is required)",
    }
    assert isinstance(records[-1], Activity) and records[-1].duration_seconds == 30


def test_missing_required_header_is_a_config_error_before_any_page(connector, write):
    path = write("leads.csv", "company,title\nFoo,CEO\n")
    stream = connector.streams()[0]
    from leadsync.connectors.base import ReadContext

    pages = stream.read(ReadContext(None, datetime.now(timezone.utc)))
    with pytest.raises(ConfigError, match=r"leads\.csv:1: missing column 'email' or 'id'") as info:
        next(pages)
    assert str(path) in str(info.value)


def test_missing_activity_columns(connector, read, write):
    write("activities.csv", "email,type\na@b.jp,email_open\n")
    with pytest.raises(ConfigError, match="missing column 'occurred_at'"):
        read(connector, "activities")


def test_undecodable_or_binary_or_missing_file(connector, read, write, folder):
    (folder / "leads.csv").write_bytes(b"em\x81 ail\n\x81 \n")
    with pytest.raises(ConfigError, match=r"leads\.csv:1: cannot decode the header at byte 2"):
        read(connector, "leads")
    (folder / "leads.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(ConfigError, match=r"an Excel workbook \(.xlsx\), not CSV text"):
        read(connector, "leads")
    with pytest.raises(ConfigError, match=r"activities\.csv: file not found"):
        read(connector, "activities")


def test_unchanged_file_yields_no_pages_and_changed_file_is_read(connector, read, write):
    write("activities.csv", ACTIVITIES)
    pages = read(connector, "activities")
    cursor = pages[-1].cursor
    assert set(cursor) == {"sha256"}
    assert read(connector, "activities", cursor) == []
    assert len(_records(read(connector, "activities", cursor, full=True))) == 3
    write("activities.csv", ACTIVITIES + "A4,x@y.jp,email_open,2025-04-03,,,\n")
    again = read(connector, "activities", cursor)
    assert len(_records(again)) == 4 and again[-1].cursor != cursor


def test_pages_carry_the_new_cursor_only_on_the_last_page(connector, read, write):
    rows = "".join(f"u{i}@example.jp,email_open,2025-04-01 10:00\n" for i in range(2500))
    write("activities.csv", "email,type,occurred_at\n" + rows)
    old = {"sha256": "old"}
    pages = read(connector, "activities", old)
    assert [len(p.records) for p in pages] == [1000, 1000, 500]
    assert [p.cursor for p in pages[:-1]] == [old, old]
    assert pages[-1].cursor["sha256"] != "old"


def test_empty_file_with_header_still_moves_the_cursor(connector, read, write):
    write("leads.csv", "email\n")
    (page,) = read(connector, "leads")
    assert page.records == [] and "sha256" in page.cursor


def test_streams_follow_roles(folder):
    from leadsync.connectors.builtin.file import FileConnector, FileSettings

    only_leads = FileConnector("x", FileSettings(plugin="file", path=folder, roles=["leads"]))
    assert [s.name for s in only_leads.streams()] == ["leads"]
    with pytest.raises(ValueError, match="output\n.*required to write"):
        FileSettings(plugin="file", path=folder, roles=["scores"])
    with pytest.raises(ValueError, match="path\n.*required to read"):
        FileSettings(plugin="file", output=folder, roles=["leads"])


def test_one_undecodable_row_is_rejected_with_row_and_byte_and_the_rest_read(connector, read, write, folder):
    good = "email,company\n" + "".join(f"u{i}@example.jp,株式会社サンプル{i}\n" for i in range(5))
    bad = "sjis@example.jp,株式会社シフト\n".encode("cp932")
    data = good.encode("utf-8") + bad + "last@example.jp,最後\n".encode("utf-8")
    (folder / "leads.csv").write_bytes(data)
    records = _records(read(connector, "leads"))
    leads = [r for r in records if isinstance(r, Lead)]
    [rejected] = [r for r in records if isinstance(r, Rejected)]
    assert len(leads) == 6 and leads[-1].company == "最後"
    at = len(good.encode("utf-8")) + len("sjis@example.jp,")  # the first byte that is not UTF-8
    assert rejected.key == "leads.csv:7"
    assert f"byte {at}" in rejected.reason and "cannot decode as UTF-8" in rejected.reason
    assert len(rejected.payload["row_sha256"]) == 64


def test_an_oversized_cell_is_rejected_and_the_rest_read(connector, read, write):
    huge = "x" * 1_000_000
    write("leads.csv", f"email,company\na@example.jp,A\nb@example.jp,{huge}\nc@example.jp,C\n")
    records = _records(read(connector, "leads"))
    assert [r.email for r in records if isinstance(r, Lead)] == ["a@example.jp", "c@example.jp"]
    [rejected] = [r for r in records if isinstance(r, Rejected)]
    assert rejected.key == "leads.csv:3" and "more than the 32,767 a cell may hold" in rejected.reason
    assert len(str(rejected.payload)) < 1000  # the dead letter keeps an excerpt, not the megabyte
    write("leads.csv", f"email,company\na@example.jp,{'y' * 40_000}\n")
    [rejected] = _records(read(connector, "leads"))
    assert "column company: 40,000 characters, more than the 32,767" in rejected.reason


def test_an_unclosed_quote_loses_one_bounded_row_not_the_file(connector, read, write):
    from leadsync.connectors.builtin.csvfiles import MAX_ROW_BYTES

    filler = "".join(f"x{i}@example.jp,X\n" for i in range(MAX_ROW_BYTES // 14 + 10))
    write("leads.csv", f'email,company\na@example.jp,"open quote\n{filler}')
    records = _records(read(connector, "leads"))
    rejected = [r for r in records if isinstance(r, Rejected)]
    assert rejected and "longer than" in rejected[0].reason
    assert sum(isinstance(r, Lead) for r in records) > 0


def test_quoted_line_breaks_and_crlf_still_make_one_row(connector, read, write):
    write("leads.csv", 'email,company\r\na@example.jp,"Two\r\nlines, and ""quotes"""\r\nb@example.jp,B\r\n')
    leads = _records(read(connector, "leads"))
    assert [lead.company for lead in leads] == ['Two lines, and "quotes"', "B"]  # one row; blanks folded
