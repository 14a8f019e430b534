"""One mailbox, one lead: e-mail variants seen in real exports normalise to one key."""

from __future__ import annotations

import sqlite3

import pytest

from leadsync.connectors.testing.project import demo_project
from leadsync.core.normalize import normalize_email

CANONICAL = "taro.yamada@example.co.jp"
IDN = "taro@xn--r8jz45g.xn--zckzah"  # 例え.テスト

SAME_MAILBOX = [
    # (what an export holds, why it is the same mailbox)
    ("Taro.Yamada@Example.co.jp", CANONICAL),  # case
    ("  taro.yamada@example.co.jp\t", CANONICAL),  # surrounding blanks
    ("<taro.yamada@example.co.jp>", CANONICAL),  # angle brackets from a mail header
    ("taro.yamada@example.co.jp.", CANONICAL),  # trailing dot: the fully-qualified domain
    ("taro.yamada@example.co.jp..", CANONICAL),
    ("taro.yamada\u200b@example.co.jp", CANONICAL),  # zero-width space pasted from a web page
    ("\ufefftaro.yamada@example.co.jp", CANONICAL),  # BOM glued to the first cell
    ("taro.ya\u00admada@exam\u00adple.co.jp", CANONICAL),  # soft hyphens
    ("taro.yamada@example.co.jp\u200e", CANONICAL),  # left-to-right mark
    ("taro.yamada\u2060@example.co.jp", CANONICAL),  # word joiner
    ("ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ", CANONICAL),  # full-width (Japanese IME)
    ("taro.yamada@example。co。jp", CANONICAL),  # ideographic full stops as label separators
    ("TARO.YAMADA@EXAMPLE.CO.JP", CANONICAL),
    ("taro@例え.テスト", IDN),  # Unicode domain ...
    ("taro@xn--r8jz45g.xn--zckzah", IDN),  # ... and its xn-- form
    ("taro@XN--R8JZ45G.XN--ZCKZAH", IDN),
    ("taro@例え.テスト.", IDN),
    ("ｔａｒｏ＠例え．テスト", IDN),
    ("taro@ＢÜＣＨＥＲ.de", "taro@xn--bcher-kva.de"),  # IDNA maps case and width in the domain
    ("taro@bücher.de", "taro@xn--bcher-kva.de"),
]
NOT_AN_ADDRESS = ["", "   ", "taro", "taro@", "@example.jp", "taro@example", "a b@example.jp", "taro@\u200b", "taro@-bad-.例"]


@pytest.mark.parametrize(("written", "expected"), SAME_MAILBOX)
def test_variants_of_one_mailbox_give_one_key(written: str, expected: str) -> None:
    assert normalize_email(written) == expected


@pytest.mark.parametrize("written", NOT_AN_ADDRESS)
def test_what_is_not_an_address_gives_none(written: str) -> None:
    assert normalize_email(written) is None


def test_sync_run_makes_one_lead_of_every_variant(tmp_path) -> None:
    project = demo_project(tmp_path, None, leads=20, activities=50)
    header = "email,first_name,last_name,company\n"
    rows = "".join(f'"{written}",Taro,Yamada,Sample {n}\n' for n, (written, _) in enumerate(SAME_MAILBOX))
    (project.folder / "data" / "leads.csv").write_text(header + rows, encoding="utf-8")
    (project.folder / "data" / "activities.csv").write_text("email,type,occurred_at\n", encoding="utf-8")
    summary = project.run()
    assert summary["exit_status"] == 0, summary
    db = sqlite3.connect(project.folder / "state" / "state.db")
    keys = sorted(row[0] for row in db.execute("SELECT key FROM leads"))
    assert keys == sorted({expected for _, expected in SAME_MAILBOX})
