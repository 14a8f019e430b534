"""kintone as documented, against the fake: deploy status, the 9-token limit, guest spaces, the
domain's Basic authentication, fields the app lacks, and owners through the User API."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from leadsync.connectors import AuthError, ConnectorError, ScoreUpdate, SetupMissing, TaskRequest
from leadsync.core.models import Segment
from leadsync_kintone.settings import KintoneSettings

DUE = datetime(2025, 4, 1, 9, 0, tzinfo=timezone.utc)


def _fields(fake, app: int) -> dict[str, str]:
    """The field codes and types of an app of the fake (to make the same app in a guest space)."""
    return {code: prop["type"] for code, prop in fake.apps[app]["fields"].items() if prop["type"] != "UPDATED_TIME"}


def _score(record_id: str) -> ScoreUpdate:
    return ScoreUpdate(key=f"s{record_id}", lead_key="x", email=None, record_id=record_id, score=80, behavior_score=50,
                       attribute_score=30, segment=Segment.HOT, sheet_version="v1", scored_at=DUE)


def _task(key: str, record_id: str, owner: str | None = None) -> TaskRequest:
    return TaskRequest(key=key, lead_key=key, email=None, record_id=record_id, owner=owner, subject="MQL", body="b",
                       due_at=DUE)


# -- deploy ---------------------------------------------------------------------------------------
def test_setup_waits_for_the_deploy_to_succeed_before_it_reports_done(kintone_fake, kintone_connector):
    del kintone_fake.apps[10]["fields"]["leadsync_score"]
    kintone_fake.deploy_polls = 5
    slept: list[float] = []
    connector = kintone_connector(deploy_poll_s=0.5)
    connector.sleep = slept.append
    done = connector.setup()
    assert any("leadsync_score" in line and "deployed" in line for line in done)
    statuses = [entry for entry in kintone_fake.log if entry[:2] == ("GET", "/k/v1/preview/app/deploy.json")]
    assert len(statuses) == 6 and slept == [0.5] * 5  # 5 times PROCESSING, then SUCCESS
    assert "leadsync_score" in kintone_fake.apps[10]["fields"]  # live only once the deploy succeeded
    assert connector.check().ok


@pytest.mark.parametrize("outcome", ["FAIL", "CANCEL"])
def test_a_deploy_that_fails_is_an_error_not_a_done_setup(kintone_fake, kintone_connector, outcome):
    del kintone_fake.apps[30]["fields"]["件名"]
    kintone_fake.deploy_outcome = outcome
    with pytest.raises(ConnectorError, match=f"ended {outcome}"):
        kintone_connector().setup()
    assert "件名" not in kintone_fake.apps[30]["fields"]


def test_a_deploy_still_processing_after_every_look_is_not_reported_done(kintone_fake, kintone_connector):
    del kintone_fake.apps[30]["fields"]["件名"]
    kintone_fake.deploy_polls = 1_000
    with pytest.raises(ConnectorError, match="still PROCESSING after 3 looks"):
        kintone_connector(deploy_polls=3).setup()


# -- API tokens -----------------------------------------------------------------------------------
def test_at_most_nine_api_tokens_and_no_empty_one():
    base = {"plugin": "kintone", "base_url": "https://example.cybozu.com", "leads_app": 1}
    assert len(KintoneSettings(**base, api_token=",".join(f"t{i}" for i in range(9))).api_tokens) == 9
    assert KintoneSettings(**base, api_token=" a , b ").api_tokens == ["a", "b"]
    with pytest.raises(ValidationError, match="at most 9"):
        KintoneSettings(**base, api_token=",".join(f"t{i}" for i in range(10)))
    with pytest.raises(ValidationError, match="empty token"):
        KintoneSettings(**base, api_token="a,,b")


def test_the_fake_refuses_ten_tokens_like_kintone(kintone_fake):
    for i in range(8):
        kintone_fake.tokens[f"other-{i}"] = 100 + i
    tokens = ["lead-token-123", "task-token-456", *(f"other-{i}" for i in range(8))]

    def ask(values: list[str]) -> int:
        headers = httpx.Headers({"X-Cybozu-API-Token": ",".join(values)})
        return kintone_fake.answer("GET", "/k/v1/app/form/fields.json", {"app": "10"}, [], {}, headers)[0]

    assert ask(tokens[:9]) == 200
    status, body = kintone_fake.answer("GET", "/k/v1/app/form/fields.json", {"app": "10"}, [], {},
                                       httpx.Headers({"X-Cybozu-API-Token": ",".join(tokens)}))
    assert status == 400 and body["code"] == "GAIA_TL01"


# -- guest spaces ---------------------------------------------------------------------------------
def test_apps_in_a_guest_space_are_reached_at_the_guest_path(kintone_fake, kintone_connector):
    kintone_fake.add_app(50, _fields(kintone_fake, 10), unique=("メールアドレス",), token="guest-lead", space=7)
    kintone_fake.add_app(60, _fields(kintone_fake, 30), unique=("leadsync_key",), token="guest-task", space=7)
    lead = kintone_fake.add_record(50, {"メールアドレス": "a@x.jp"})
    outside = kintone_connector(api_token="guest-lead,guest-task", leads_app=50, tasks_app=60)
    with pytest.raises(ConnectorError, match="GAIA_IL23"):
        outside.push_scores([_score(str(lead))])
    inside = kintone_connector(api_token="guest-lead,guest-task", leads_app=50, tasks_app=60, guest_space_id=7)
    assert inside.check().ok
    assert [r.ok for r in inside.push_scores([_score(str(lead))])] == [True]
    assert [r.ok for r in inside.create_tasks([_task("k1", str(lead))])] == [True]
    assert kintone_fake.records(50)[lead]["leadsync_score"] == "80"
    assert {path for _, path, _ in kintone_fake.log if "guest/7" in path}  # the log keeps the path as sent
    paths = {path for _, path, _ in kintone_fake.log[-6:]}
    assert all(p.startswith("/k/guest/7/v1/") for p in paths)


# -- Basic authentication -------------------------------------------------------------------------
def test_a_domain_with_basic_authentication_gets_both_headers(kintone_fake, kintone_connector):
    kintone_fake.basic = ("basic-user", "basic-pass")
    with pytest.raises(AuthError):  # kintone's own credentials alone do not pass the domain's gate
        kintone_connector().client.form_fields(10)
    connector = kintone_connector(basic_username="basic-user", basic_password="basic-pass")
    assert connector.check().ok
    with pytest.raises(ValidationError, match="basic_username and basic_password"):
        KintoneSettings(plugin="kintone", base_url="https://x.cybozu.com", leads_app=1, api_token="t",
                        basic_username="only-the-name")


# -- fields the app lacks -------------------------------------------------------------------------
def test_a_write_to_an_app_without_a_leadsync_field_is_setup_missing_and_writes_nothing(kintone_fake, kintone_connector):
    lead = kintone_fake.add_record(10, {"メールアドレス": "a@x.jp"})
    del kintone_fake.apps[10]["fields"]["leadsync_segment"]
    connector = kintone_connector()
    with pytest.raises(SetupMissing) as caught:
        connector.push_scores([_score(str(lead))])
    assert "leadsync_segment" in caught.value.missing and "app 10" in caught.value.missing
    assert not [e for e in kintone_fake.log if e[0] == "PUT"]
    kintone_fake.apps[10]["fields"]["leadsync_segment"] = {"type": "SINGLE_LINE_TEXT", "code": "leadsync_segment"}
    fresh = kintone_connector()
    assert [r.ok for r in fresh.push_scores([_score(str(lead))])] == [True]
    fresh.push_scores([_score(str(lead))])
    looks = [e for e in kintone_fake.log if e[:2] == ("GET", "/k/v1/app/form/fields.json")]
    assert len(looks) == 2, "one look per app and run, not per batch"


# -- owners ---------------------------------------------------------------------------------------
def test_owners_by_email_or_login_name_resolve_through_the_user_api(kintone_fake, kintone_connector):
    kintone_fake.users["integration"] = "pw"
    kintone_fake.directory.add("sato", "Sato@Example.jp")
    kintone_fake.directory.add("gone", "gone@example.jp", valid=False)
    for i in range(150):  # more than one page of the User API
        kintone_fake.directory.add(f"user{i}", f"user{i}@example.jp")
    connector = kintone_connector(api_token=None, username="integration", password="pw")
    owners = connector.resolve_owners(["sato@example.jp", "sato", "gone@example.jp", "user149@example.jp",
                                       "nobody@example.jp", "nobody"])
    assert owners["sato@example.jp"].id == owners["sato"].id == "sato" and owners["sato"].usable
    assert owners["gone@example.jp"].id == "gone" and not owners["gone@example.jp"].usable
    assert owners["user149@example.jp"].id == "user149"
    assert owners["nobody@example.jp"].id is None and owners["nobody"].id is None
    assert kintone_fake.directory.calls == 2  # the directory in two pages of 100
    connector.resolve_owners(["user3", "user4@example.jp"])  # a name first seen later in the run
    assert kintone_fake.directory.calls == 2, "the directory is read once per run"


def test_with_app_tokens_only_login_names_are_taken_and_emails_are_named(kintone_connector):
    owners = kintone_connector().resolve_owners(["sato", "sato@example.jp"])
    assert owners["sato"].id == "sato"
    assert owners["sato@example.jp"].id is None and "password authentication" in owners["sato@example.jp"].problem


def test_the_fake_refuses_a_task_for_a_user_it_does_not_know(kintone_fake, kintone_connector):
    kintone_fake.directory.add("sato", "sato@example.jp")
    lead = kintone_fake.add_record(10, {"メールアドレス": "a@x.jp"})
    results = kintone_connector().create_tasks([_task("k1", str(lead), owner="sato@example.jp"),
                                                 _task("k2", str(lead), owner="sato")])
    assert not results[0].ok and "is not found" in results[0].error and results[1].ok
