"""The state layer: every SQL statement leadsync runs lives in this package (docs/architecture.md).

Convention (follow it when you add storage for a new feature):

* One module per group of tables, named after what it holds: `leads` (leads and identities),
  `activities`, `scores` (scores, score history, pushed scores), `handoffs`, `outbox`,
  `dead_letters`, `runs` (runs and stream cursors), `kv`. A new feature adds a NEW module here
  (e.g. `kpis.py`), never SQL in its own package.
* A module exposes named operations: plain functions whose first argument is the connection
  (`store.db`, or the `db` a `store.transaction()` block yields), e.g. `leads.load(db, key)`,
  `outbox.enqueue(db, ...)`. They return models, dataclasses, plain values or mappings, never a
  cursor the caller must know the SQL of. Operations do not open transactions: the caller does,
  so a page of records and its cursor, or a handoff and its outbox row, commit together.
* Schema changes are appended to `migrations.py` (never edit a released migration).
* Dialect: write SQLite SQL. `store.py` opens SQLite; with `[state] url` set, `target.py` opens
  `pgstore.PgStateStore`, whose `db` (`pg.PgConnection`) runs the same statements translated by
  `pgsql.translate` (placeholders, `INSERT OR IGNORE`, `IS ?`; `rowid`, `json_extract` and
  `total()` exist in each project's schema). A statement using another SQLite-only construct gets
  its PostgreSQL form in `pgsql._FRAGMENTS`; a migration gets its PostgreSQL form in
  `pg_migrations.py` (derived, or written by hand when it uses triggers or JSON functions). The
  tests run the state layer on both backends (tests/conftest.py).
* Times are stored as UTC epoch seconds (REAL); operations take and return them as floats unless
  their names say otherwise.

Nothing outside this package writes SQL: tests/test_no_sql_outside_state.py fails if it does.
"""
