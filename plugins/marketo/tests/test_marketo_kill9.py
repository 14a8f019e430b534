"""kill -9 `leadsync sync run` against the Marketo fake at random moments, then rerun until settled.

Afterwards every handoff's campaign ran exactly once and every score in Marketo equals the state
store's. Trials: ``LEADSYNC_KILL_TRIALS`` (default 10). A kill between a lead's fence mark and its
trigger leaves that one lead ambiguous (dead letter "may or may not have run"); the harness then
does what the dead letter tells a person to do: look in Marketo, and re-queue it if it did not run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from leadsync_marketo.testing import MarketoFake, serve
from leadsync.connectors.testing import demo_project
from leadsync.core.state.store import StateStore

SECRET = "mkto-kill9-secret-77aa"
FIELDS = ["leadsyncScore", "leadsyncBehaviorScore", "leadsyncAttributeScore", "leadsyncSegment",
          "leadsyncSheetVersion", "leadsyncScoredAt", "leadsyncHandoffKey"]
TRIALS = int(os.environ.get("LEADSYNC_KILL_TRIALS", "10"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    def __init__(self, folder: Path, fake: MarketoFake, url: str) -> None:
        self.folder, self.fake = folder, fake
        crm = {"plugin": "marketo", "base_url": url, "client_id": "cid", "handoff_campaign_id": 1001,
               "roles": ["leads", "activities", "scores", "tasks"], "timeout_s": 10,
               "calls_per_20s": 100}
        demo_project(folder, crm, leads=5, activities=10)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leadsync", "--config", str(self.folder / "leadsync.toml"), *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "LEADSYNC_CONNECTIONS__CRM__CLIENT_SECRET": SECRET, "LEADSYNC_LOAD_PLUGINS": "marketo"}

    def run(self) -> dict:
        done = subprocess.run(self.command("sync", "run", "--json"), capture_output=True, text=True, timeout=180,
                              env=self.env())
        assert SECRET not in done.stdout + done.stderr
        assert done.stdout, done.stderr[-2000:]
        return json.loads(done.stdout)

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command("sync", "run", "--json"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env())

    def store(self) -> StateStore:
        return StateStore(self.folder / "state" / "state.db")


def _warm_leads(fake: MarketoFake, count: int) -> list[int]:
    """Leads created 200 days ago with 75 attribute points: one pricing visit makes them hot."""
    created = _stamp(datetime.now(timezone.utc) - timedelta(days=200))
    return [fake.add_lead(created, email=f"exec{i}@corp{i}.example.jp", title="代表取締役", numberOfEmployees=900,
                          industry="ソフトウェア", company=f"会社{i}") for i in range(count)]


def _activity_burst(fake: MarketoFake, leads: list[int], rng: random.Random) -> None:
    """This week's activity: a few leads visit pricing (hot), more open an e-mail (scores change)."""
    when = _stamp(datetime.now(timezone.utc) - timedelta(seconds=5))
    for lead_id in rng.sample(leads, 3):
        fake.add_activity(lead_id, "Visit Webpage", when, "pricing", Webpage_URL="https://example.jp/pricing")
    for lead_id in rng.sample(leads, min(25, len(leads))):
        fake.add_activity(lead_id, "Open Email", when, "newsletter")


def _resolve_ambiguous(world: World) -> int:
    """A person's check of each "may or may not have run" dead letter; re-queue those that did not run."""
    store = world.store()
    try:
        rows = store.db.execute("SELECT d.id, d.record_key FROM dead_letters d WHERE d.kind = 'task' "
                                "AND d.requeued_at IS NULL AND d.reason LIKE '%may or may not have run%'").fetchall()
    finally:
        store.close()
    ran = {run["tokens"].get("{{my.leadsync_key}}") for run in world.fake.campaign_runs}
    requeue = [str(row_id) for row_id, key in rows if key not in ran]
    if requeue:
        done = subprocess.run(world.command("sync", "requeue", *requeue), capture_output=True, text=True,
                              env=world.env(), timeout=60)
        assert done.returncode == 0, done.stderr
    return len(rows)


def _assert_settled(world: World) -> None:
    store = world.store()
    try:
        keys = {row[0] for row in store.db.execute("SELECT task_key FROM handoffs WHERE connection = 'crm'")}
        pending = store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        dead = store.db.execute("SELECT kind, reason FROM dead_letters WHERE requeued_at IS NULL").fetchall()
        scores = dict(store.db.execute(
            "SELECT r.record_id, s.total FROM scores s JOIN lead_refs r ON r.lead_key = s.lead_key "
            "AND r.connection = 'crm'").fetchall())
    finally:
        store.close()
    runs: dict[str, int] = {}
    for run in world.fake.campaign_runs:
        key = run["tokens"]["{{my.leadsync_key}}"]
        runs[key] = runs.get(key, 0) + 1
    assert {k: n for k, n in runs.items() if n > 1} == {}, "a campaign ran twice for one handoff"
    assert set(runs) == keys, "every handoff's campaign ran, and no other"
    assert pending == 0
    # the only dead letters allowed are ambiguous handoffs a person checked and found had run
    assert all(kind == "task" and "may or may not have run" in reason for kind, reason in dead), dead
    vendor = {str(i): lead.get("leadsyncScore") for i, lead in world.fake.leads.items()
              if lead.get("leadsyncScore") is not None}
    assert {k: vendor.get(k) for k in scores} == scores, "every score in Marketo is the state store's"


def test_kill_minus_9_at_random_moments_runs_every_campaign_once_and_keeps_scores_equal(tmp_path):
    fake = MarketoFake(client_secret=SECRET, rate_calls=100_000, concurrency=50, flows="queued")
    fake.fields.update(FIELDS)
    fake.add_campaign(1001, qualification="any")  # recommended flow: last step sets key|done
    server = serve(fake)
    try:
        world = World(tmp_path, fake, server.url)
        rng = random.Random(int(os.environ.get("LEADSYNC_KILL_SEED", "20261122")))
        leads = _warm_leads(fake, 120)
        baseline = world.run()
        assert baseline["exit_status"] == 0, baseline
        fake.run_flows()
        _activity_burst(fake, leads, rng)
        started = time.monotonic()
        assert world.run()["tasks_created"] > 0
        fake.run_flows()
        window = time.monotonic() - started

        killed = trials = 0
        while killed < TRIALS and trials < 4 * TRIALS:  # a run may finish before its kill moment comes
            trials += 1
            _activity_burst(fake, leads, rng)
            process = world.start()
            begun = time.monotonic()
            try:
                process.wait(timeout=rng.uniform(0.05, window))
                # it finished before its kill moment: aim earlier from now on (the run that set the
                # window may have waited on Marketo's rate limit)
                window = min(window, time.monotonic() - begun)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                killed += 1
            _, stderr = process.communicate(timeout=120)
            assert SECRET not in stderr
            fake.run_flows()  # Marketo's campaign queue works on while nobody runs
        assert killed == TRIALS, f"only {killed} of {trials} runs were killed mid-flight"

        ambiguous = 0
        for _ in range(4):
            summary = world.run()
            fake.run_flows()
            ambiguous += _resolve_ambiguous(world)
            if summary["exit_status"] in (0, 1) and (summary["tasks_created"], summary["scores_pushed"]) == (0, 0):
                summary = world.run()
                if (summary["tasks_created"], summary["scores_pushed"], summary["tasks_planned"]) == (0, 0, 0):
                    break
        else:
            raise AssertionError(f"runs did not settle: {summary}")
        fake.run_flows()
        _assert_settled(world)
        print(f"\nmarketo kill -9: {trials} trials, {killed} killed, {ambiguous} ambiguous handoff(s) resolved by a "
              f"person's check, {len(fake.campaign_runs)} campaign runs, {len(fake.campaign_requests)} requests")
    finally:
        server.shutdown()


def test_harness_counts_a_duplicate_run_as_a_failure(tmp_path):
    """The settle check is not vacuous: a campaign run twice for one handoff fails it."""
    fake = MarketoFake(client_secret=SECRET, rate_calls=100_000)
    fake.fields.update(FIELDS)
    fake.add_campaign(1001, qualification="any")
    server = serve(fake)
    try:
        world = World(tmp_path, fake, server.url)
        leads = _warm_leads(fake, 10)
        _activity_burst(fake, leads, random.Random(1))
        assert world.run()["tasks_created"] > 0
        _assert_settled(world)
        fake.campaign_runs.append(dict(fake.campaign_runs[0]))
        with pytest.raises(AssertionError, match="ran twice"):
            _assert_settled(world)
    finally:
        server.shutdown()
