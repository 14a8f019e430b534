"""Lead.from_normalized, the connectors' construction without validation, equals Lead(**values)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from leadsync.core.models import Lead
from leadsync.core.normalize import nfkc, normalize_email, parse_employees

_TEXT = ("first_name", "last_name", "company", "title", "department", "phone", "industry", "lead_source", "owner",
         "status", "status_reason")
_WORDS = ("佐藤", "ｻﾄｳ", "花子", "株式会社サンプル", "(株)ミライ", "営業部 部長", "展示会", "Trade Show", "webinar",
          "ORGANIC_SEARCH", "Laura", "O'Brien", "  spaced   out ", "ＴＲＡＤＥ＿ＳＨＯＷ", "tab\there", 'quote"d', "back\\slash",
          "ctrl\x01char", "emoji 🎉", "", "x")
_ZONES = (timezone.utc, ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=-5, minutes=-30)))


def _values(rng: random.Random) -> dict[str, object]:
    """Field values as the toolkit's normalizers make them; a random subset of the fields."""
    email = normalize_email(rng.choice(("Taro@Example.JP", "ｔａｒｏ＠例え。テスト", "not an address", None, "x@y.co")))
    values: dict[str, object] = {
        "key": email or f"crm:{rng.randrange(10**6)}",
        "email": email,
        "refs": {"crm": str(rng.randrange(10**9))},
    }
    for name in _TEXT:
        if rng.random() < 0.8:
            values[name] = nfkc(rng.choice(_WORDS)) if rng.random() < 0.9 else None
    if rng.random() < 0.7:
        text = nfkc(rng.choice(("1,000人以上", "50-99", "約300名", "", "many")))
        values["employees_text"], values["employees"] = text, parse_employees(text)
    for name in ("created_at", "updated_at"):
        if rng.random() < 0.8:
            moment = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(10**8),
                                                                          microseconds=rng.randrange(10**6))
            values[name] = moment.astimezone(rng.choice(_ZONES))
    if rng.random() < 0.5:
        values["custom"] = {"hs_score": rng.choice(("10", None, "")), "note": rng.choice(_WORDS), "n": rng.randrange(9)}
    return values


@pytest.mark.parametrize("seed", range(300))
def test_equals_the_validated_lead_field_for_field_and_in_json(seed):
    values = _values(random.Random(seed))
    trusted, validated = Lead.from_normalized(dict(values)), Lead(**values)
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert trusted.__dict__ == validated.__dict__
    assert list(trusted.__dict__) == list(validated.__dict__)  # field order: iteration (merge_views) sees it
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted == validated
    assert trusted.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)


def test_the_lead_source_is_canonicalized_as_validation_does():
    for raw in ("展示会", "Trade Show", "ＴＲＡＤＥ＿ＳＨＯＷ", "Some new channel", "ORGANIC_SEARCH"):
        assert Lead.from_normalized({"key": "k", "lead_source": raw}).lead_source == Lead(key="k", lead_source=raw).lead_source
    assert Lead.from_normalized({"key": "k", "lead_source": "展示会"}).lead_source == "trade_show"


def test_defaults_are_fresh_per_lead():
    first, second = Lead.from_normalized({"key": "a"}), Lead.from_normalized({"key": "b"})
    first.custom["x"] = 1
    first.refs["crm"] = "1"
    assert second.custom == {} and second.refs == {}
    assert Lead.from_normalized({"key": "c"}).model_dump_json() == Lead(key="c").model_dump_json()


def test_a_time_without_a_zone_and_an_unknown_field_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        Lead.from_normalized({"key": "k", "created_at": datetime(2025, 4, 1, 10, 0)})
    with pytest.raises(ValueError, match="time zone"):
        Lead.from_normalized({"key": "k", "updated_at": datetime(2025, 4, 1, 10, 0)})
    with pytest.raises(ValueError, match="no field 'nickname'"):
        Lead.from_normalized({"key": "k", "nickname": "Taro"})
