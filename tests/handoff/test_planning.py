"""Planning and applying handoffs: one task per episode, routing, fair round robin, atomic writes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadsync.connectors.base import task_key_date
from leadsync.connectors.hookspecs import hookimpl
from leadsync.core.errors import ConfigError
from leadsync.core.handoff import apply_handoffs, plan_handoffs, task_key, update_episodes

JST = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2025, 4, 7, 10, 0, tzinfo=JST)


def run(world, as_of, task_updates=()):
    """What the sync engine does after scoring."""
    update_episodes(world.store, world.settings, as_of, world.host, task_updates)
    plans = plan_handoffs(world.store, world.settings, as_of, world.host, task_connection="crm")
    apply_handoffs(world.store, plans, as_of, run_id=1)
    return plans


def test_hot_lead_gets_one_task_with_due_date_owner_and_reasons(world) -> None:
    world.lead("taro@example.co.jp", last_name="山田", first_name="太郎", company="サンプル株式会社",
               title="代表取締役", owner="005-owner", lead_source="展示会", phone="03-1234-5678")
    world.score("taro@example.co.jp", 80, MONDAY, world.HOT)
    world.activity("taro@example.co.jp", "a1", "web_visit", MONDAY - timedelta(hours=20), "https://x.jp/pricing")
    world.activity("taro@example.co.jp", "a2", "webinar_attended", datetime(2025, 4, 3, 0, 30, tzinfo=ZoneInfo("UTC")))
    world.lead("cold@example.com", company="Cold")
    world.score("cold@example.com", 30, MONDAY)

    plans = run(world, MONDAY)

    assert [p.email for p in plans] == ["taro@example.co.jp"]
    plan = plans[0]
    assert plan.action == "create_task" and plan.owner == "005-owner" and plan.route == "crm_owner"
    assert plan.due_at == datetime(2025, 4, 8, 10, 0, tzinfo=JST)
    assert plan.reasons[0] == {"rule": "役職: 経営層", "points": 30}
    task = plan.task
    assert task.key == task_key("taro@example.co.jp", MONDAY) and task.key.startswith("ls-")
    assert task.record_id == "00Q-taro" and task.priority == "high"
    assert "サンプル株式会社" in task.subject and "山田 太郎" in task.subject and "80" in task.subject
    body = task.body
    assert "役職: 経営層 +30" in body and "価格ページ閲覧 +25" in body and "メール開封" not in body  # top 3 only
    assert "2025-04-06 14:00 Web訪問 https://x.jp/pricing" in body  # activity time shown in JST
    assert "2025-04-03 09:30 ウェビナー参加" in body
    assert "2025-04-08 10:00" in body and "展示会" in body

    [handoff] = world.handoffs()
    assert handoff["status"] == "open" and handoff["task_key"] == task.key and handoff["owner"] == "005-owner"
    assert '"役職: 経営層"' in handoff["reasons"]
    [outbox] = world.outbox()
    assert outbox["key"] == task.key and outbox["kind"] == "task" and outbox["connection"] == "crm"
    assert outbox["payload"]["due_at"] == "2025-04-08T10:00:00+09:00" and outbox["run_id"] == 1


def test_english_task_text(make_world) -> None:
    world = make_world(language="en")
    world.lead("jane@example.com", first_name="Jane", last_name="Doe", company="Acme")
    world.score("jane@example.com", 90, MONDAY, world.HOT)
    [plan] = run(world, MONDAY)
    assert plan.task.subject.startswith("Hot lead: Jane Doe (Acme), score 90")
    assert "Top reasons:" in plan.task.body and "Due: 2025-04-08 10:00 (Asia/Tokyo)" in plan.task.body


def test_no_second_task_while_open_even_across_runs(world) -> None:
    world.lead("a@example.com")
    world.score("a@example.com", 85, MONDAY, world.HOT)
    first = run(world, MONDAY)
    world.reopen()
    again = run(world, MONDAY + timedelta(hours=3))
    assert first[0].action == "create_task"
    assert again[0].action == "open_handoff" and again[0].task is None
    assert again[0].due_at == first[0].due_at
    assert len(world.handoffs()) == 1 and len(world.outbox()) == 1


def test_applying_the_same_plans_twice_writes_once(world) -> None:
    world.lead("a@example.com")
    world.score("a@example.com", 85, MONDAY, world.HOT)
    plans = plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm")
    assert len(apply_handoffs(world.store, plans, MONDAY, None)) == 1
    assert apply_handoffs(world.store, plans, MONDAY, None) == []
    assert len(world.handoffs()) == 1 and len(world.outbox()) == 1


def test_handoff_and_outbox_rows_are_atomic(world, monkeypatch) -> None:
    world.lead("a@example.com")
    world.score("a@example.com", 85, MONDAY, world.HOT)
    plans = plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm")
    import leadsync.core.handoff.planning as planning

    def crash(*args, **kwargs):
        raise RuntimeError("killed between the two writes")

    monkeypatch.setattr(planning.outbox, "enqueue", crash)
    with pytest.raises(RuntimeError):
        apply_handoffs(world.store, plans, MONDAY, None)
    assert world.handoffs() == [] and world.outbox() == []
    assert world.store.kv_get("handoff.round_robin") is None


def test_round_robin_is_fair_across_restarts_and_previews(world) -> None:
    served = []
    for day in range(7):
        as_of = MONDAY + timedelta(days=day)
        email = f"lead{day}@example.com"
        world.lead(email)
        world.score(email, 90, as_of, world.HOT)
        # a preview (plan without apply) must not move the pointer
        plan_handoffs(world.store, world.settings, as_of, world.host, task_connection="crm")
        plans = run(world, as_of)
        served += [p.owner for p in plans if p.action == "create_task"]
        world.reopen()
    assert served == ["rep-a", "rep-b", "rep-c", "rep-a", "rep-b", "rep-c", "rep-a"]


def test_round_robin_continues_when_an_owner_leaves(make_world) -> None:
    world = make_world()
    for n, email in enumerate(["x@example.com", "y@example.com"]):
        world.lead(email)
        world.score(email, 90 - n, MONDAY, world.HOT)
    assert [p.owner for p in run(world, MONDAY)] == ["rep-a", "rep-b"]
    world.settings.handoff.owners = ["rep-a", "rep-c", "rep-d"]  # rep-b left; rep-c, rep-d follow
    world.lead("z@example.com")
    world.score("z@example.com", 95, MONDAY + timedelta(days=1), world.HOT)
    [plan] = [p for p in run(world, MONDAY + timedelta(days=1)) if p.action == "create_task"]
    assert plan.owner == "rep-c"


def test_hook_route_owner(make_world) -> None:
    """Routing order: CRM owner, then the route_owner hook, then rules, then the round robin."""
    _routing_order(make_world)


def _routing_order(make_world) -> None:
    world = make_world(routing=[
        {"field": "industry", "equals": "製造業", "owner": "rep-factory"},
        {"field": "prefecture", "in": "大阪府,京都府", "owner": "rep-kansai"},
        {"field": "employees", "gte": "1000", "owner": "rep-enterprise"},
    ])

    class Router:
        @hookimpl
        def route_owner(self, lead, score, owners):
            return "rep-vip" if lead.company == "VIP" and score.total >= 90 else None

    world.pm.register(Router())

    class Broken:
        @hookimpl
        def route_owner(self, lead, score, owners):
            if lead.email == "plain@example.com":
                raise RuntimeError("routing service down")  # falls back to rules and round robin
            return None

    world.pm.register(Broken())
    world.lead("crm@example.com", owner="rep-crm", company="VIP")
    world.lead("vip@example.com", company="VIP")
    world.lead("factory@example.com", industry="製造業")
    world.lead("osaka@example.com", custom={"prefecture": "大阪府"})
    world.lead("big@example.com", employees=5000)
    world.lead("plain@example.com", employees=20)
    for n, email in enumerate(["crm", "vip", "factory", "osaka", "big", "plain"]):
        world.score(f"{email}@example.com", 99 - n, MONDAY, world.HOT)
    owners = {p.email: (p.owner, p.route) for p in run(world, MONDAY)}
    assert owners == {
        "crm@example.com": ("rep-crm", "crm_owner"),
        "vip@example.com": ("rep-vip", "hook"),
        "factory@example.com": ("rep-factory", "rule"),
        "osaka@example.com": ("rep-kansai", "rule"),
        "big@example.com": ("rep-enterprise", "rule"),
        "plain@example.com": ("rep-a", "round_robin"),
    }


def test_routing_by_lead_source_matches_every_spelling(make_world) -> None:
    world = make_world(routing=[
        {"field": "lead_source", "equals": "展示会", "owner": "rep-events"},
        {"field": "lead_source", "in": "Webinar,紹介", "owner": "rep-online"},
    ])
    for n, (email, source) in enumerate([("a", "Trade show"), ("b", "ウェビナー"), ("c", "Referral"), ("d", "広告")]):
        world.lead(f"{email}@example.com", lead_source=source)
        world.score(f"{email}@example.com", 99 - n, MONDAY, world.HOT)
    owners = {p.email: p.owner for p in run(world, MONDAY)}
    assert owners == {"a@example.com": "rep-events", "b@example.com": "rep-online", "c@example.com": "rep-online",
                      "d@example.com": "rep-a"}


def test_english_task_text_names_the_lead_source_in_english(make_world) -> None:
    world = make_world(language="en")
    world.lead("jane@example.com", first_name="Jane", last_name="Doe", company="Acme", lead_source="展示会")
    world.score("jane@example.com", 90, MONDAY, world.HOT)
    [plan] = run(world, MONDAY)
    assert "Lead source: Trade show" in plan.task.body


def test_bad_routing_rule_names_its_position(make_world) -> None:
    world = make_world(routing=[{"field": "industry", "equals": "IT", "owner": "x"}, {"field": "industry", "eq": "IT", "owner": "y"}])
    world.lead("a@example.com")
    world.score("a@example.com", 85, MONDAY)
    with pytest.raises(ConfigError, match=r"handoff.routing\[1\]: unknown key 'eq'"):
        plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm")


def test_without_task_connection_nothing_is_planned(world) -> None:
    world.lead("a@example.com")
    world.score("a@example.com", 85, MONDAY)
    [plan] = plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection=None)
    assert plan.action == "no_task_connection" and plan.task is None and plan.owner is None
    assert apply_handoffs(world.store, [plan], MONDAY, None) == [] and world.handoffs() == []


def test_clock_starts_at_next_opening_when_detected_at_night(world) -> None:
    world.lead("a@example.com")
    friday_night = datetime(2025, 5, 2, 22, 0, tzinfo=JST)
    world.score("a@example.com", 85, friday_night)
    [plan] = run(world, friday_night)
    assert plan.due_at.isoformat() == "2025-05-07T18:00:00+09:00"


def test_task_key_is_deterministic_per_episode() -> None:
    assert task_key("a@example.com", MONDAY) == task_key("a@example.com", MONDAY.astimezone(ZoneInfo("UTC")))
    assert task_key("a@example.com", MONDAY) != task_key("a@example.com", MONDAY + timedelta(seconds=1))
    assert task_key("a@example.com", MONDAY) != task_key("b@example.com", MONDAY)
    assert len(task_key("a@example.com", MONDAY)) == 28
    assert task_key_date(task_key("a@example.com", MONDAY)) == MONDAY.astimezone(ZoneInfo("UTC")).date()


def test_plans_that_get_no_task_carry_no_due_date_and_say_why(world) -> None:
    world.lead("a@example.com", owner="rep-z")
    world.score("a@example.com", 85, MONDAY, world.HOT)
    run(world, MONDAY)
    world.update_lead("a@example.com", status="Rejected", status_reason="連絡不通")
    plans = run(world, MONDAY + timedelta(days=1))
    data = plans[0].to_json()
    assert data["action"] == "cooldown" and data["due_at"] is None and data["task_key"] is None
    assert data["owner"] == "rep-z" and data["detail"].startswith("cooldown until 2025-05-08T")


def test_a_lead_sales_rejected_in_the_crm_before_any_handoff_gets_no_task(world) -> None:
    """The CRM status is sales' last word: no task until sales changes it."""
    world.lead("rejected@example.jp", status="不適格", status_reason="予算なし")
    world.score("rejected@example.jp", 90, MONDAY, world.HOT)
    [plan] = run(world, MONDAY)
    assert plan.action == "rejected_in_crm" and plan.task is None and world.outbox() == []
    world.update_lead("rejected@example.jp", status="対応中")
    [plan] = run(world, MONDAY + timedelta(hours=1))
    assert plan.action == "create_task" and len(world.outbox()) == 1
