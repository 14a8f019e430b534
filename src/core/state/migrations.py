"""Versioned schema of the state store. Append a migration; never edit a released one."""

from __future__ import annotations

__all__ = ["DIRTY_LEADS", "MIGRATIONS", "WAIT_GUESSED_OPPORTUNITIES", "WAIT_MOVED_RECORDS"]

# Migration 11 for both backends, given how each reads a JSON text field ({ref}, {email}) and the time ({now}).
WAIT_GUESSED_OPPORTUNITIES = """
    INSERT INTO waiting_opportunities(connection, source_id, lead_record_id, stream, data, seen_at, run_id)
    SELECT o.connection, o.source_id, {ref}, 'opportunities', o.data, {now}, (SELECT COALESCE(MAX(id), 0) FROM runs)
    FROM opportunities o WHERE {ref} IS NOT NULL AND COALESCE({email}, '') = ''
    AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.key = o.lead_key) ON CONFLICT (connection, source_id) DO NOTHING;
    DELETE FROM opportunities WHERE EXISTS (SELECT 1 FROM waiting_opportunities w
    WHERE w.connection = opportunities.connection AND w.source_id = opportunities.source_id)
    AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.key = opportunities.lead_key)
"""

# Migration 12 for both backends, per table: {table} (activities | opportunities), {waiting} (its
# waiting table), {stream}, and how each backend reads a JSON text field of alias t ({ref}, {email}).
WAIT_MOVED_RECORDS = """
    INSERT INTO {waiting}(connection, source_id, lead_record_id, stream, data, seen_at, run_id)
    SELECT t.connection, t.source_id, r.record_id, '{stream}', t.data, {now}, (SELECT COALESCE(MAX(id), 0) FROM runs)
    FROM {table} t JOIN lead_refs r ON r.connection = t.connection AND r.record_id = {ref}
    WHERE COALESCE({email}, '') = '' AND r.lead_key <> t.lead_key ON CONFLICT (connection, source_id) DO NOTHING;
    UPDATE leads SET dirty = 1 WHERE key IN (SELECT t.lead_key FROM {table} t JOIN {waiting} w
    ON w.connection = t.connection AND w.source_id = t.source_id);
    DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {waiting} w
    WHERE w.connection = {table}.connection AND w.source_id = {table}.source_id)
"""

# Migration 13's move of the dirty flag out of the lead row, for both backends ({table_options}).
# The column `leads.dirty` stays, unused (SQLite before 3.35 cannot drop a column, and both backends
# keep the same columns so a project copies from one into the other).
DIRTY_LEADS = """
    CREATE TABLE dirty_leads (key TEXT PRIMARY KEY){table_options};
    INSERT INTO dirty_leads(key) SELECT key FROM leads WHERE dirty = 1;
    DROP INDEX leads_dirty
"""

# Times are stored as UTC epoch seconds (REAL) unless the column name says otherwise.
MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE leads (
        key         TEXT PRIMARY KEY,          -- normalized e-mail, else "<connection>:<record id>"
        email       TEXT,
        data        TEXT NOT NULL,             -- the merged Lead as JSON
        updated_at  REAL NOT NULL,
        dirty       INTEGER NOT NULL DEFAULT 1 -- 1: needs rescoring
    );
    CREATE INDEX leads_dirty ON leads(dirty) WHERE dirty = 1;

    CREATE TABLE lead_refs (
        connection  TEXT NOT NULL,
        record_id   TEXT NOT NULL,
        lead_key    TEXT NOT NULL,
        data        TEXT NOT NULL,             -- the Lead as this connection last reported it
        PRIMARY KEY (connection, record_id)
    );
    CREATE INDEX lead_refs_lead ON lead_refs(lead_key);

    CREATE TABLE activities (
        connection  TEXT NOT NULL,
        source_id   TEXT NOT NULL,
        lead_key    TEXT NOT NULL,
        type        TEXT NOT NULL,
        occurred_at REAL NOT NULL,
        url         TEXT,
        data        TEXT NOT NULL,             -- the Activity as JSON
        PRIMARY KEY (connection, source_id)
    );
    CREATE INDEX activities_lead ON activities(lead_key, occurred_at);

    CREATE TABLE cursors (
        connection  TEXT NOT NULL,
        stream      TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  REAL NOT NULL,
        PRIMARY KEY (connection, stream)
    );

    CREATE TABLE scores (
        lead_key        TEXT PRIMARY KEY,
        total           INTEGER NOT NULL,
        behavior        INTEGER NOT NULL,
        attribute       INTEGER NOT NULL,
        segment         TEXT NOT NULL,
        sheet_version   TEXT NOT NULL,
        scored_at       REAL NOT NULL,
        next_change_at  REAL,                  -- when decay or the window changes it unprompted
        breakdown       TEXT NOT NULL
    );
    CREATE INDEX scores_next_change ON scores(next_change_at);

    CREATE TABLE score_history (
        id              INTEGER PRIMARY KEY,
        lead_key        TEXT NOT NULL,
        at              REAL NOT NULL,
        total           INTEGER NOT NULL,
        segment         TEXT NOT NULL,
        previous_total  INTEGER,
        previous_segment TEXT,
        reason          TEXT NOT NULL,
        sheet_version   TEXT NOT NULL
    );
    CREATE INDEX score_history_lead ON score_history(lead_key, at);

    -- What each connection last acknowledged, so only changed scores are pushed.
    CREATE TABLE pushed_scores (
        connection      TEXT NOT NULL,
        lead_key        TEXT NOT NULL,
        fingerprint     TEXT NOT NULL,
        pushed_at       REAL NOT NULL,
        PRIMARY KEY (connection, lead_key)
    );

    -- Planned writes, recorded before they are sent (docs/architecture.md).
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,      -- idempotency key, also sent to the vendor
        connection  TEXT NOT NULL,
        kind        TEXT NOT NULL,             -- "score" | "task"
        lead_key    TEXT NOT NULL,
        payload     TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'pending',   -- pending | done | dead
        attempts    INTEGER NOT NULL DEFAULT 0,
        external_id TEXT,
        error       TEXT,
        run_id      INTEGER,
        sent_at     REAL,                      -- last time it was handed to the vendor
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    );
    CREATE INDEX outbox_pending ON outbox(connection, kind, id) WHERE status = 'pending';
    CREATE INDEX outbox_pending_lead ON outbox(connection, kind, lead_key) WHERE status = 'pending';

    CREATE TABLE handoffs (
        id              INTEGER PRIMARY KEY,
        lead_key        TEXT NOT NULL,
        connection      TEXT NOT NULL,
        status          TEXT NOT NULL,         -- open | completed | rejected | expired
        owner           TEXT,
        score           INTEGER NOT NULL,
        segment         TEXT NOT NULL,
        opened_at       REAL NOT NULL,
        due_at          REAL NOT NULL,
        task_key        TEXT NOT NULL UNIQUE,
        closed_at       REAL,
        close_reason    TEXT,
        first_touch_at  REAL,
        overdue_notified INTEGER NOT NULL DEFAULT 0,
        reasons         TEXT NOT NULL DEFAULT '[]',  -- the breakdown's rules at handoff time
        opened_status   TEXT                   -- the CRM lead status when the episode opened
    );
    CREATE INDEX handoffs_lead ON handoffs(lead_key, opened_at);
    CREATE UNIQUE INDEX handoffs_one_open ON handoffs(lead_key) WHERE status = 'open';

    CREATE TABLE kv (
        key     TEXT PRIMARY KEY,              -- small engine state, e.g. the round-robin pointer
        value   TEXT NOT NULL
    );

    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_at  REAL NOT NULL,
        finished_at REAL,
        status      TEXT NOT NULL,             -- running | ok | dead_letters | failed
        exit_status INTEGER,
        summary     TEXT
    );

    CREATE TABLE dead_letters (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER,
        connection  TEXT NOT NULL,
        kind        TEXT NOT NULL,             -- stream name, or "score" / "task"
        record_key  TEXT,
        reason      TEXT NOT NULL,
        payload     TEXT,
        created_at  REAL NOT NULL,
        requeued_at REAL
    );
    """,
    # 2: exactly-once bookkeeping: how often a write was sent, the key a task create adopted
    """
    -- sends: how many times the row was handed to the vendor
    ALTER TABLE outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0;
    -- adopted_key: the CRM already had this handoff's task under that key
    ALTER TABLE outbox ADD COLUMN adopted_key TEXT;
    CREATE INDEX outbox_resent ON outbox(kind, updated_at) WHERE sends > 1 AND status = 'done';
    """,
    # 3: the data-quality gate: conflicting duplicates seen at ingest, and people's releases
    """
    -- One row per lead and field whose records disagree (company, title); removed when they agree again.
    CREATE TABLE quality_conflicts (
        lead_key    TEXT NOT NULL,
        field       TEXT NOT NULL,             -- "company" | "title"
        vals        TEXT NOT NULL,             -- JSON: [{"connection", "record_id", "value"}]
        seen_at     REAL NOT NULL,
        PRIMARY KEY (lead_key, field)
    );

    -- A person let a quarantined lead through (`leadsync quality release`).
    CREATE TABLE quality_releases (
        lead_key    TEXT PRIMARY KEY,
        released_by TEXT NOT NULL,
        released_at REAL NOT NULL,
        rules       TEXT NOT NULL,             -- JSON: the rules that held it at release time
        note        TEXT
    );
    """,
    # 4: inside-sales KPIs. Calls' and meetings' rep, length and outcome, and their lead's source,
    # are copied out of the stored JSON into columns by triggers (so every writer keeps them
    # current) and indexed, so the funnel and call-timing aggregates read one index alone; opportunities.
    """
    ALTER TABLE leads ADD COLUMN lead_source TEXT;
    UPDATE leads SET lead_source = json_extract(data, '$.lead_source');
    CREATE INDEX leads_source ON leads(key, lead_source);
    ALTER TABLE activities ADD COLUMN owner TEXT;
    ALTER TABLE activities ADD COLUMN duration_s INTEGER;
    ALTER TABLE activities ADD COLUMN outcome TEXT;
    ALTER TABLE activities ADD COLUMN lead_source TEXT;
    UPDATE activities SET owner = json_extract(data, '$.owner'), duration_s = json_extract(data, '$.duration_seconds'), outcome = json_extract(data, '$.outcome'), lead_source = (SELECT l.lead_source FROM leads l WHERE l.key = activities.lead_key) WHERE type IN ('call', 'meeting_set', 'meeting');
    CREATE TRIGGER activities_kpi_insert AFTER INSERT ON activities WHEN NEW.type IN ('call', 'meeting_set', 'meeting') BEGIN UPDATE activities SET owner = json_extract(NEW.data, '$.owner'), duration_s = json_extract(NEW.data, '$.duration_seconds'), outcome = json_extract(NEW.data, '$.outcome'), lead_source = (SELECT l.lead_source FROM leads l WHERE l.key = NEW.lead_key) WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER activities_kpi_update AFTER UPDATE OF type, data, lead_key ON activities BEGIN UPDATE activities SET owner = CASE WHEN NEW.type IN ('call', 'meeting_set', 'meeting') THEN json_extract(NEW.data, '$.owner') END, duration_s = CASE WHEN NEW.type IN ('call', 'meeting_set', 'meeting') THEN json_extract(NEW.data, '$.duration_seconds') END, outcome = CASE WHEN NEW.type IN ('call', 'meeting_set', 'meeting') THEN json_extract(NEW.data, '$.outcome') END, lead_source = CASE WHEN NEW.type IN ('call', 'meeting_set', 'meeting') THEN (SELECT l.lead_source FROM leads l WHERE l.key = NEW.lead_key) END WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER leads_source_insert AFTER INSERT ON leads BEGIN UPDATE leads SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE rowid = NEW.rowid; UPDATE activities SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE lead_key = NEW.key AND type IN ('call', 'meeting_set', 'meeting'); END;
    CREATE TRIGGER leads_source_update AFTER UPDATE OF data ON leads WHEN json_extract(NEW.data, '$.lead_source') IS NOT OLD.lead_source BEGIN UPDATE leads SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE rowid = NEW.rowid; UPDATE activities SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE lead_key = NEW.key AND type IN ('call', 'meeting_set', 'meeting'); END;
    CREATE TRIGGER leads_source_delete AFTER DELETE ON leads BEGIN UPDATE activities SET lead_source = NULL WHERE lead_key = OLD.key AND type IN ('call', 'meeting_set', 'meeting'); END;
    CREATE INDEX activities_kpi ON activities(type, occurred_at, duration_s, outcome, owner, lead_source, lead_key);

    CREATE TABLE opportunities (
        connection  TEXT NOT NULL,
        source_id   TEXT NOT NULL,
        lead_key    TEXT NOT NULL,
        status      TEXT NOT NULL,             -- open | won | lost
        created_at  REAL NOT NULL,
        closed_at   REAL,
        amount      REAL,
        owner       TEXT,
        data        TEXT NOT NULL,             -- the Opportunity as JSON
        PRIMARY KEY (connection, source_id)
    );
    CREATE INDEX opportunities_created ON opportunities(created_at, lead_key, owner);
    CREATE INDEX opportunities_closed ON opportunities(status, closed_at, amount, lead_key, owner);
    CREATE INDEX opportunities_lead ON opportunities(lead_key, created_at);
    """,
    # 5: completions of leadsync tasks no episode has, whose lead was not yet known when they were
    # pulled (a lost state store); the handoff step rebuilds their closed episodes once it is.
    """
    CREATE TABLE orphan_completions (
        task_key     TEXT PRIMARY KEY,
        connection   TEXT NOT NULL,
        lead_key     TEXT,
        email        TEXT,
        record_id    TEXT,
        completed_at REAL NOT NULL
    );
    """,
    # 6: each activity's lead as the lead's rowid (`lead_id`, NULL while no such lead is stored), so
    # a full rescore reads integers instead of keys. The writes in activities.py set it in their own
    # statement; the triggers keep it right when a lead is inserted, deleted or re-keyed, when an
    # activity moves to another lead, and for any writer that leaves it out.
    """
    ALTER TABLE activities ADD COLUMN lead_id INTEGER;
    UPDATE activities SET lead_id = (SELECT l.rowid FROM leads l WHERE l.key = activities.lead_key);
    CREATE TRIGGER activities_lead_id_insert AFTER INSERT ON activities WHEN NEW.lead_id IS NULL AND EXISTS (SELECT 1 FROM leads l WHERE l.key = NEW.lead_key) BEGIN UPDATE activities SET lead_id = (SELECT l.rowid FROM leads l WHERE l.key = NEW.lead_key) WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER activities_lead_id_update AFTER UPDATE OF lead_key, lead_id ON activities WHEN NEW.lead_id IS NOT (SELECT l.rowid FROM leads l WHERE l.key = NEW.lead_key) BEGIN UPDATE activities SET lead_id = (SELECT l.rowid FROM leads l WHERE l.key = NEW.lead_key) WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER leads_lead_id_insert AFTER INSERT ON leads BEGIN UPDATE activities SET lead_id = NEW.rowid WHERE lead_key = NEW.key AND lead_id IS NOT NEW.rowid; END;
    CREATE TRIGGER leads_lead_id_rekey AFTER UPDATE OF key ON leads WHEN NEW.key IS NOT OLD.key BEGIN UPDATE activities SET lead_id = NULL WHERE lead_key = OLD.key; UPDATE activities SET lead_id = NEW.rowid WHERE lead_key = NEW.key; END;
    CREATE TRIGGER leads_lead_id_delete AFTER DELETE ON leads BEGIN UPDATE activities SET lead_id = NULL WHERE lead_key = OLD.key; END;
    """,
    # 7: the owner of a kept completion (the rep who had the task, as the CRM names them), so an
    # episode rebuilt once its lead arrives keeps it as one rebuilt at once does.
    """
    ALTER TABLE orphan_completions ADD COLUMN owner TEXT;
    """,
    # 8: activities known by their lead's record id only, answered before that lead (a lead edited
    # while a first sync reads comes in the next run): kept until the lead is stored, then placed;
    # a dead letter once the reads that would have brought the lead are done (identity.py).
    """
    CREATE TABLE waiting_activities (
        connection     TEXT NOT NULL,
        source_id      TEXT NOT NULL,
        lead_record_id TEXT NOT NULL,
        stream         TEXT NOT NULL,
        data           TEXT NOT NULL,          -- the Activity as JSON, as the connector gave it
        seen_at        REAL NOT NULL,          -- when it was first kept
        run_id         INTEGER,                -- the run that first kept it
        PRIMARY KEY (connection, source_id)
    );
    CREATE INDEX waiting_activities_lead ON waiting_activities(connection, lead_record_id);
    """,
    # 9: a lead insert costs no trigger work when it need not: the INSERT fills `lead_source` (the
    # trigger reads the JSON only when a writer leaves the column empty), and the lead's activities
    # are touched (their `lead_id`, a call's or meeting's `lead_source`) only when it has any.
    """
    DROP TRIGGER leads_source_insert;
    DROP TRIGGER leads_lead_id_insert;
    CREATE TRIGGER leads_source_insert AFTER INSERT ON leads WHEN NEW.lead_source IS NULL BEGIN UPDATE leads SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE rowid = NEW.rowid AND json_extract(NEW.data, '$.lead_source') IS NOT NULL; END;
    CREATE TRIGGER leads_insert_activities AFTER INSERT ON leads WHEN EXISTS (SELECT 1 FROM activities WHERE lead_key = NEW.key) BEGIN UPDATE activities SET lead_id = NEW.rowid WHERE lead_key = NEW.key AND lead_id IS NOT NEW.rowid; UPDATE activities SET lead_source = json_extract(NEW.data, '$.lead_source') WHERE lead_key = NEW.key AND type IN ('call', 'meeting_set', 'meeting'); END;
    """,
    # 10: opportunities (deals) answered before their lead wait for it as activities do (before, a
    # deal known only by its lead's record id became a dead letter, or was filed under a guessed key).
    """
    CREATE TABLE waiting_opportunities (
        connection     TEXT NOT NULL,
        source_id      TEXT NOT NULL,
        lead_record_id TEXT NOT NULL,
        stream         TEXT NOT NULL,
        data           TEXT NOT NULL,          -- the Opportunity as JSON, as the connector gave it
        seen_at        REAL NOT NULL,          -- when it was first kept
        run_id         INTEGER,                -- the run that first kept it
        PRIMARY KEY (connection, source_id)
    );
    CREATE INDEX waiting_opportunities_lead ON waiting_opportunities(connection, lead_record_id);
    """,
    # 11: opportunities an older leadsync filed under a guessed key (no stored lead has it; named by
    # the lead's record id only) wait for their lead as a read of them now would: the next run places
    # those whose lead is stored, and dead-letters the others once its reads are done.
    WAIT_GUESSED_OPPORTUNITIES.format(
        ref="json_extract(o.data, '$.lead_record_id')", email="json_extract(o.data, '$.email')",
        now="(julianday('now') - 2440587.5) * 86400.0"),
    # 12: activities and opportunities named by a lead record id only, stored under a lead that
    # record no longer belongs to (it got an e-mail or a new one before leadsync moved such records
    # with it): they wait for the record's lead, so the next run places them there and rescores both.
    ";".join(WAIT_MOVED_RECORDS.format(
        table=table, waiting=f"waiting_{table}", stream=table, ref="json_extract(t.data, '$.lead_record_id')",
        email="json_extract(t.data, '$.email')", now="(julianday('now') - 2440587.5) * 86400.0")
        for table in ("activities", "opportunities")),
    # 13: what a rescore reads and clears, cheaper to reach. Leads to rescore are rows of their own
    # table (DIRTY_LEADS): clearing 1,000,000 of them empties that table instead of rewriting every
    # lead's row, and clearing a few thousand touches a few of its pages instead of one page of
    # `leads` each. The index on an activity's lead holds the columns a rescore of some leads reads
    # (type, lead id, source id, URL), so that read never visits the table.
    DIRTY_LEADS.format(table_options=" WITHOUT ROWID") + """;
    DROP INDEX activities_lead;
    CREATE INDEX activities_lead ON activities(lead_key, occurred_at, type, lead_id, source_id, url);
    """,
]
