"""Reps named by e-mail reach the CRM as its own ids; a rep the CRM would reject gets no task."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from leadsync.connectors.base import ConnectionSettings, Connector, Owner
from leadsync.connectors.hookspecs import hookimpl
from leadsync.core.handoff import (
    OwnerDirectory,
    OwnerLookupFailed,
    apply_handoffs,
    configured_owners,
    plan_handoffs,
    update_episodes,
)

MONDAY = datetime(2025, 4, 7, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))

# What the CRM's owner directory holds: e-mail -> (id, active)
DIRECTORY = {
    "sato@example.co.jp": ("1001", True),
    "suzuki@example.co.jp": ("1002", True),
    "left@example.co.jp": ("1003", False),
    "kato@example.co.jp": ("1004", True),
}


class DirectoryCRM(Connector):
    """A CRM whose reps are looked up by e-mail or id, counting each lookup."""

    name = "directory"

    def __init__(self, down: bool = False) -> None:
        super().__init__("crm", ConnectionSettings(plugin="directory"))
        self.asked: list[list[str]] = []
        self.down = down

    def resolve_owners(self, refs: Sequence[str]) -> dict[str, Owner]:
        if self.down:
            raise ConnectionError("owners API unreachable")
        self.asked.append(list(refs))
        by_id = {v[0]: (k, v[1]) for k, v in DIRECTORY.items()}
        found = {}
        for ref in refs:
            if ref in DIRECTORY:
                id_, active = DIRECTORY[ref]
                found[ref] = Owner(ref, id_, active, problem="" if active else "deactivated")
            elif ref in by_id:
                found[ref] = Owner(ref, ref, by_id[ref][1])
            else:
                found[ref] = Owner(ref, None, problem="no owner with this e-mail")
        return found


def plan(world, crm: Connector | None):
    update_episodes(world.store, world.settings, MONDAY, world.host, ())
    directory = OwnerDirectory(crm, configured_owners(world.settings.handoff)) if crm else None
    plans = plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm", owners=directory)
    apply_handoffs(world.store, plans, MONDAY, run_id=1)
    return [p for p in plans if p.action == "create_task"]


def hot_leads(world, n: int, **fields) -> None:
    for i in range(n):
        world.lead(f"lead{i}@example.com", **fields)
        world.score(f"lead{i}@example.com", 99 - i, MONDAY, world.HOT)


def test_round_robin_skips_reps_the_crm_rejects_and_tasks_carry_the_crm_id(make_world, caplog) -> None:
    world = make_world(owners=["sato@example.co.jp", "nobody@example.co.jp", "left@example.co.jp",
                               "suzuki@example.co.jp"])
    hot_leads(world, 4)
    crm = DirectoryCRM()
    with caplog.at_level(logging.WARNING):
        plans = plan(world, crm)
    assert [(p.owner, p.task.owner) for p in plans] == [
        ("sato@example.co.jp", "1001"), ("suzuki@example.co.jp", "1002"),
        ("sato@example.co.jp", "1001"), ("suzuki@example.co.jp", "1002"),
    ]
    assert len(crm.asked) == 1  # the configured reps are asked about once per run
    warned = [r.getMessage() for r in caplog.records if "cannot take tasks" in r.getMessage()]
    assert len(warned) == 2
    assert any("nobody@example.co.jp" in w and "handoff.owners[1]" in w and "no owner" in w for w in warned)
    assert any("left@example.co.jp" in w and "handoff.owners[2]" in w for w in warned)
    payload_owners = [row["payload"]["owner"] for row in world.outbox()]
    assert payload_owners == ["1001", "1002", "1001", "1002"]


def test_a_rule_or_hook_naming_an_unusable_rep_falls_through(make_world) -> None:
    world = make_world(owners=["kato@example.co.jp"], routing=[
        {"field": "industry", "equals": "製造業", "owner": "left@example.co.jp"},
        {"field": "industry", "equals": "製造業", "owner": "suzuki@example.co.jp"},
    ])

    class Router:
        @hookimpl
        def route_owner(self, lead, score, owners):
            return {"vip@example.com": "sato@example.co.jp", "ghost@example.com": "ghost@example.co.jp"}.get(lead.email)

    world.pm.register(Router())
    world.lead("factory@example.com", industry="製造業")
    world.lead("vip@example.com")
    world.lead("ghost@example.com")
    world.lead("crm@example.com", owner="1003")  # the CRM's own owner, deactivated
    for n, email in enumerate(["factory", "vip", "ghost", "crm"]):
        world.score(f"{email}@example.com", 99 - n, MONDAY, world.HOT)
    crm = DirectoryCRM()
    routed = {p.email: (p.owner, p.route, p.task.owner) for p in plan(world, crm)}
    assert routed == {
        "factory@example.com": ("suzuki@example.co.jp", "rule", "1002"),
        "vip@example.com": ("sato@example.co.jp", "hook", "1001"),
        "ghost@example.com": ("kato@example.co.jp", "round_robin", "1004"),
        "crm@example.com": ("kato@example.co.jp", "round_robin", "1004"),
    }
    asked = [ref for batch in crm.asked for ref in batch]
    assert len(asked) == len(set(asked))  # each rep asked about once


def test_no_usable_rep_leaves_the_owner_empty(make_world) -> None:
    world = make_world(owners=["left@example.co.jp"])
    hot_leads(world, 1)
    [p] = plan(world, DirectoryCRM())
    assert (p.owner, p.route, p.task.owner) == (None, "none", None)


def test_without_a_directory_names_are_taken_as_they_are(make_world) -> None:
    world = make_world(owners=["rep-a"])
    hot_leads(world, 1)
    [p] = plan(world, None)
    assert (p.owner, p.task.owner) == ("rep-a", "rep-a")


def test_a_crm_that_cannot_be_asked_fails_the_lookup(make_world) -> None:
    world = make_world(owners=["sato@example.co.jp"])
    with pytest.raises(OwnerLookupFailed) as caught:
        OwnerDirectory(DirectoryCRM(down=True), configured_owners(world.settings.handoff))
    assert caught.value.connection == "crm" and "unreachable" in str(caught.value)


def test_configured_owners_name_their_config_keys(make_world) -> None:
    world = make_world(owners=["a@x.jp", " ", "b@x.jp"], routing=[{"field": "industry", "equals": "x", "owner": "a@x.jp"}])
    assert configured_owners(world.settings.handoff) == [
        ("handoff.owners[0]", "a@x.jp"), ("handoff.owners[2]", "b@x.jp"), ("handoff.routing[0].owner", "a@x.jp")]
