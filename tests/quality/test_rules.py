"""The quality rules one by one, their actions, and bad configuration."""

from __future__ import annotations

import pytest

from leadsync.core.config import QualitySettings
from leadsync.core.models import Lead
from leadsync.core.quality import conflicts, findings


def _rules(lead: Lead, **settings) -> dict[str, str]:
    return {f.rule: f.action for f in findings(lead, QualitySettings(**settings))}


def test_free_mail_role_address_and_extensions():
    assert _rules(Lead(email="taro@yahoo.co.jp"), free_mail="quarantine") == {"free_mail": "quarantine"}
    assert _rules(Lead(email="taro@i.softbank.jp")) == {"free_mail": "warn"}
    assert _rules(Lead(email="taro@acme.co.jp"), free_mail_domains=["acme.co.jp"]) == {"free_mail": "warn"}
    assert _rules(Lead(email="info@acme.co.jp")) == {"role_address": "warn"}
    assert _rules(Lead(email="eigyo@acme.co.jp"), role_address="off") == {}
    assert _rules(Lead(email="taro@acme.co.jp")) == {}


def test_required_fields_test_data_and_competitors():
    lead = Lead(email="taro@acme.co.jp", company=None, title="部長")
    assert _rules(lead, required=["company", "title"]) == {"required_fields": "warn"}
    assert _rules(Lead(email="a@acme.co.jp", company="テスト株式会社")) == {"test_data": "warn"}
    assert _rules(Lead(email="test1@acme.co.jp")) == {"test_data": "warn"}
    assert _rules(Lead(email="a@example.com")) == {"test_data": "warn"}
    assert _rules(Lead(email="a@acme.example.jp", company="Contest Inc")) == {}  # words, not substrings
    assert _rules(Lead(email="a@rival.co.jp"), competitors=["rival.co.jp"]) == {"competitor": "quarantine"}
    assert _rules(Lead(email="a@jp.rival.co.jp"), competitors=["@rival.co.jp"]) == {"competitor": "quarantine"}


def test_conflicts_compare_normalized_values():
    a = Lead(company="株式会社サンプル", title="部長")
    b = Lead(company="ｻﾝﾌﾟﾙ(株)", title="部長")
    c = Lead(company="別会社", title="課長")
    assert conflicts([("ma", "1", a), ("ma", "2", b)]) == {}
    found = conflicts([("ma", "1", a), ("crm", "9", c)])
    assert set(found) == {"company", "title"} and found["company"][1]["value"] == "別会社"
    assert conflicts([("ma", "1", a)]) == {}


def test_unknown_required_field_or_action_is_rejected():
    with pytest.raises(ValueError, match="unknown lead field"):
        QualitySettings(required=["compnay"])
    with pytest.raises(ValueError):
        QualitySettings(free_mail="block")
