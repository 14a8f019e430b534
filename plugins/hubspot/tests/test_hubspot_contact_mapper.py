"""The contacts mapper's hot path (memoized normalization, Lead.from_normalized) against a validated
reference: the same leads and the same stored JSON, and bad data still rejected where it enters."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from leadsync.connectors import Rejected, nfkc, normalize_email, parse_datetime, parse_employees
from leadsync.core.models import Lead
from leadsync_hubspot.mapping import ContactMapper, _Memo
from leadsync_hubspot.settings import HubSpotSettings

_TEXT = {"first_name": "firstname", "last_name": "lastname", "company": "company", "title": "jobtitle",
         "phone": "phone", "industry": "industry", "lead_source": "hs_analytics_source",
         "owner": "hubspot_owner_id", "status": "hs_lead_status"}
_VALUES = ("佐藤", "ｻﾄｳ ﾀﾛｳ", "株式会社サンプル", "(株)ミライ商事", "営業部　部長", "ORGANIC_SEARCH", "展示会",
           "Laura", "  Taylor  ", "", None, "03-1234-5678", "０３－１２３４", "tab\tin", "emoji 🎉", 'q"uote')
_EMAILS = ("lead1@example.co.jp", "Lead2@Example.CO.JP", " <x@y.jp> ", "ｔａｒｏ＠例え。テスト", "not-an-address", "",
           None)
_TIMES = ("1780000000000", "1780000000123", "2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05+09:00", "", None)


def _settings(**extra: Any) -> HubSpotSettings:
    return HubSpotSettings(plugin="hubspot", token="pat-test", **extra)


def _reference(record: dict[str, Any], settings: HubSpotSettings, connection: str) -> Lead | Rejected:
    """The mapping as it was before the hot path: every value normalized, then Lead(**values) validated."""
    record_id = str(record.get("id") or "")
    props = record.get("properties")
    if not record_id or not isinstance(props, dict):
        return Rejected(key=f"contact:{record_id or '?'}", reason="contact has no id or no properties", payload=record)

    def moment(value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        text = str(value)
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        return parse_datetime(text, "UTC")

    raw_email = props.get(settings.field("email"))
    email = normalize_email(raw_email)
    try:
        employees_text = nfkc(props.get(settings.field("employees")))
        lead = Lead(key=email or f"{connection}:{record_id}", email=email, refs={connection: record_id},
                    employees=parse_employees(employees_text), employees_text=employees_text,
                    created_at=moment(props.get(settings.field("created_at")) or record.get("createdAt")),
                    updated_at=moment(props.get(settings.field("updated_at")) or record.get("updatedAt")),
                    custom={n: props.get(n) for n in settings.extra_properties if n in props},
                    **{name: nfkc(props.get(settings.field(name))) for name in _TEXT})
    except (ValueError, ValidationError) as exc:
        return Rejected(key=f"contact:{record_id}", reason=f"contact {record_id}: {str(exc).splitlines()[0]}",
                        payload=record)
    if raw_email and not email:
        lead.custom["invalid_email"] = raw_email
    return lead


def _contact(rng: random.Random, index: int) -> dict[str, Any]:
    props: dict[str, Any] = {prop: rng.choice(_VALUES) for prop in _TEXT.values()}
    props.update(email=rng.choice(_EMAILS), numemployees=rng.choice(("1,000", "100～499名", "約300名", "", None, "many")),
                 createdate=rng.choice(_TIMES), lastmodifieddate=rng.choice(_TIMES), hs_score=rng.choice(("10", None)))
    return {"id": str(index), "properties": props, "createdAt": "2025-04-01T00:00:00Z",
            "updatedAt": rng.choice(("2025-04-02T00:00:00Z", "not a time"))}


def _same(got: Lead | Rejected, want: Lead | Rejected) -> None:
    assert type(got) is type(want)
    if isinstance(want, Lead):
        assert got.model_dump_json() == want.model_dump_json()
        assert got.__dict__ == want.__dict__ and got.model_fields_set == want.model_fields_set
    else:
        assert (got.key, got.reason) == (want.key, want.reason)


def test_random_and_japanese_contacts_map_as_the_validated_reference():
    rng = random.Random(18)
    for settings in (_settings(), _settings(extra_properties=["hs_score"])):
        mapper = ContactMapper(settings, "hubspot")
        for index in range(1, 1500):
            record = _contact(rng, index)
            _same(mapper(record), _reference(record, settings, "hubspot"))


def test_bad_data_is_rejected_where_it_enters():
    mapper, settings = ContactMapper(_settings(), "hubspot"), _settings()
    bad_time = {"id": "7", "properties": {"email": "a@b.jp", "createdate": "yesterday"}}
    got = mapper(bad_time)
    assert isinstance(got, Rejected) and got.key == "contact:7" and "contact 7:" in got.reason
    _same(got, _reference(bad_time, settings, "hubspot"))
    for broken in ({"properties": {"email": "a@b.jp"}}, {"id": "8", "properties": None}, {"id": "9"}):
        assert isinstance(mapper(broken), Rejected)
    invalid = mapper({"id": "10", "properties": {"email": "not an address"}})
    assert isinstance(invalid, Lead) and invalid.key == "hubspot:10" and invalid.custom == {"invalid_email": "not an address"}


def test_values_that_are_not_text_take_the_one_by_one_path():
    mapper, settings = ContactMapper(_settings(), "hubspot"), _settings()
    for odd in (1, 1.0, True, 42, 3.5, ["a", "b"], {"x": 1}, 1):  # 1, 1.0 and True are one dict key
        record = {"id": "11", "properties": {"email": "a@b.jp", "firstname": odd, "company": "株式会社サンプル"}}
        _same(mapper(record), _reference(record, settings, "hubspot"))


def test_the_memo_is_bounded():
    calls: list[str] = []
    memo = _Memo(lambda value: calls.append(value) or value.upper(), limit=3)
    assert [memo[v] for v in ("a", "b", "a", "c", "d", "a")] == ["A", "B", "A", "C", "D", "A"]
    assert calls == ["a", "b", "c", "d", "a"]  # emptied when full: "a" computed again
    assert len(memo) <= 3
    texts = _Memo(str)
    assert [texts[v] for v in (1, 1.0, True, "1", None)] == ["1", "1.0", "True", "1", "None"]
    assert set(texts) == {"1", None}  # only text (and None) is kept
