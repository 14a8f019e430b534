"""Keeps the benchmark harness from rotting: every part runs on a tiny size; counts only, never times."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `bench` is a folder of the repo, not an installed package
    sys.path.insert(0, str(REPO))

from bench.accounting import Budget, classify, minimum_requests, phases, summarize_requests  # noqa: E402
from bench.hubspotfake import TOKEN, BenchHubSpotFake, is_hot, seed  # noqa: E402
from bench.machine import describe_machine, machine_markdown  # noqa: E402
from bench.pull_bench import run_pull_comparison  # noqa: E402
from bench.report import render  # noqa: E402
from bench.scoring_figures import parse_scoring_output  # noqa: E402
from bench.sync_bench import run_sync_scenario  # noqa: E402

from leadsync_hubspot.testing import search_page  # noqa: E402


def test_sync_scenario_counts_requests_and_the_rerun_writes_nothing():
    contacts, activities = 200, 600
    result = run_sync_scenario(contacts, activities, latency=0.0, budget=Budget(200, 5), timeout=60)
    first, rerun = result["first_sync"], result["no_change"]
    pulled = first["summary"]["pulled"]["hubspot"]
    assert pulled["leads"] == contacts
    # each meeting is read as two records: the meeting and its booking (meeting_set)
    assert pulled["activities_calls"] + pulled["activities_meetings"] // 2 == activities
    assert pulled["activities_meetings"] % 2 == 0 and pulled["opportunities"] == 0
    hot = sum(is_hot(i) for i in range(contacts))
    assert first["summary"]["scores_pushed"] == contacts
    assert first["summary"]["tasks_created"] == hot
    kinds = first["requests"]["kinds"]
    assert kinds["contacts list"] == 3  # 100 a page, and the (empty) recycling bin
    assert kinds["score update"] == 2  # 100 a batch
    assert kinds["task create"] == 1
    assert first["minimum"]["pull contacts"] == {"default": 3}
    assert first["minimum_total"] <= first["requests"]["total"]
    assert rerun["requests"]["writes"] == 0
    assert rerun["summary"]["tasks_created"] == 0 and rerun["summary"]["scores_pushed"] == 0
    assert {"calls search", "meetings search", "tasks search"} <= set(rerun["requests"]["kinds"])
    report = render({"mode": "smoke", "command": "pytest", "started": "now", "seconds": 0.0,
                     "machine": describe_machine(), "sync": result})  # fmt: skip
    assert "(a) First sync" in report and "(b) Second run" in report


def test_pull_comparison_reads_every_contact_once_per_contender():
    contenders = ("bare_httpx", "leadsync")
    if importlib.util.find_spec("dlt") is not None:
        contenders += ("dlt_fetch",)
    result = run_pull_comparison(250, latency=0.0, contenders=contenders, timeout=60)
    assert set(result["results"]) == set(contenders)
    for name, figures in result["results"].items():
        assert figures["records"] == 250, name
        # 100 a page; leadsync also reads the (empty) recycling bin for deleted contacts
        assert figures["requests"] == 3 + (name == "leadsync"), name
        assert figures["peak_rss_mib"] > 0


def test_indexed_search_answers_exactly_what_the_reference_fake_answers():
    app = BenchHubSpotFake(tokens=(TOKEN,))
    now = int(time.time() * 1000)
    seed(app, 300, 1500, now_ms=now)
    rng, day = random.Random(3), 86_400_000
    for obj, prop in (("calls", "hs_lastmodifieddate"), ("contacts", "lastmodifieddate"), ("meetings", "hs_lastmodifieddate")):
        for trial in range(20):
            lo = now - rng.randint(0, 130) * day
            filters = [{"propertyName": prop, "operator": "GT", "value": str(lo)},
                       {"propertyName": prop, "operator": "LTE", "value": str(lo + rng.randint(1, 60) * day)}]  # fmt: skip
            if trial % 2:
                filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": str(rng.randint(1000, 3000))})
            sort = "hs_object_id" if trial % 3 else prop
            body = {"filterGroups": [{"filters": filters}], "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                    "properties": ["hs_timestamp"], "limit": rng.choice([1, 5, 200])}  # fmt: skip
            fast = app._fast_search(obj, body)
            assert fast is not None
            status, reference = search_page(obj, app.records(obj), body, view=lambda r, w, o=obj: app._view(o, r, w))
            assert (fast.status, fast.json) == (status, reference)
    # Shapes the index does not know go to the reference code.
    assert app._fast_search("tasks", {"filterGroups": [{"filters": []}], "after": "200"}) is None
    assert app._fast_search("calls", {"sorts": [{"propertyName": "hs_timestamp", "direction": "DESCENDING"}]}) is None


def test_accounting_classifies_groups_and_counts_minimums():
    log = [
        [0.1, "GET", "/crm/v3/objects/contacts", 200, None],
        [0.2, "POST", "/crm/v3/objects/calls/search", 200, None],
        [0.3, "POST", "/crm/v4/associations/calls/contacts/batch/read", 200, None],
        [0.4, "POST", "/crm/v3/objects/calls/search", 429, None],
        [0.5, "POST", "/crm/v3/objects/tasks/search", 200, None],
        [0.9, "POST", "/crm/v3/objects/contacts/batch/update", 200, None],
        [1.0, "POST", "/crm/v3/objects/tasks/search", 200, None],
        [1.1, "POST", "/crm/v3/objects/tasks/batch/create", 201, None],
    ]
    assert classify("POST", "/crm/v3/objects/calls/search") == ("calls search", "search", False)
    assert classify("POST", "/crm/v3/objects/tasks/batch/create") == ("task create", "default", True)
    assert [p.name for p in phases(log)] == ["pull contacts", "pull calls", "pull tasks", "push"]
    calls = phases(log)[1]
    assert calls.counts == {"search": 2, "default": 1} and calls.accepted == {"search": 1, "default": 1}
    push = phases(log)[3]
    assert push.kinds == {"score update": 1, "tasks search": 1, "task create": 1}
    totals = summarize_requests(log)
    assert (totals["total"], totals["writes"], totals["refused"]) == (8, 2, 1)
    minimum = minimum_requests({"leads": 250, "activities_calls": 1001, "task_updates": 0}, scores=250, tasks=3, first_sync=True)
    assert minimum == {"pull contacts": {"default": 4}, "pull calls": {"search": 6, "default": 2},
                       "pull tasks": {"search": 1}, "push": {"default": 4}}  # fmt: skip
    assert Budget(190, 5).rate("default") == 19.0 and Budget(190, 5).window("search") == 5


def test_scoring_output_and_machine_description_parse():
    figures = parse_scoring_output([
        "generated 100,000 leads / 1,000,000 activities in 20 s (0.3 GB)",
        "full rescore:          10.39 s  peak RSS    375 MB  scored 100,000",
        "incremental (1,000):    0.40 s  peak RSS    112 MB  scored 1,000 changed 630",
        "duckdb baseline:        1.20 s  peak RSS    300 MB  leads 100,000 differing from leadsync 0",
        "nothing changed: scored 0, leads read 0, activities read 0",
    ])  # fmt: skip
    assert figures["duckdb_baseline"].endswith("differing from leadsync 0")
    assert figures["nothing_changed"] == "scored 0, leads read 0, activities read 0"
    assert figures["full"]["seconds"] == 10.39 and figures["full"]["peak_rss_mb"] == 375
    assert figures["incremental"]["detail"] == "scored 1,000 changed 630"
    assert parse_scoring_output(["something else"]) == {}
    machine = describe_machine()
    assert machine["cores"] >= 1 and "httpx" in machine["packages"]
    assert "Python" in machine_markdown(machine)


@pytest.mark.parametrize("bad", ["-1", "abc"])
def test_fake_list_refuses_bad_paging_like_hubspot(bad):
    from leadsync.connectors.testing.fakeserver import Request

    app = BenchHubSpotFake(tokens=(TOKEN,))
    seed(app, 5, 0)
    request = Request(method="GET", path="/crm/v3/objects/contacts", query={"limit": bad}, query_lists={},
                      headers={}, body=b"", params={"obj": "contacts"})  # fmt: skip
    assert app.list_objects(request).status == 400


def test_a_first_sync_with_no_rate_set_adopts_the_announced_budget_without_a_429():
    from bench.learn_bench import learned_figures

    contacts, activities = 300, 300
    result = run_sync_scenario(contacts, activities, latency=0.0, budget=Budget(190, 5), timeout=120, learn=True)
    figures = learned_figures(result)
    assert result["learned"] is True
    assert figures["refused_429"] == 0 and figures["refused_kinds"] == {}
    assert figures["pulled"]["leads"] == contacts
    assert figures["scores_pushed"] == contacts
    assert result["first_sync"]["requests"]["kinds"]["contacts list"] == 4  # 100 a page, and the recycling bin


def test_pg_bench_rescores_the_same_leads_on_both_backends():
    from bench.pg_bench import compare

    url = os.environ.get("LEADSYNC_TEST_PG_URL")
    if not url:
        pytest.skip("LEADSYNC_TEST_PG_URL is not set: no PostgreSQL server for the tests (.ci/run starts one)")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - psycopg missing or the server does not answer
        pytest.skip(f"no PostgreSQL for the bench smoke test: {exc}")
    result = compare(url, 300, 900)
    sqlite, pg = result["sqlite"], result["postgresql"]
    assert sqlite["scored"] == pg["scored"] == 300
    assert sqlite["changed"] == pg["changed"] == 300
    assert sqlite["hot"] == pg["hot"] > 0
