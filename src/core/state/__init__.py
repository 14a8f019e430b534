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
* Dialect: today the only backend is SQLite. What is SQLite-specific (connection setup, PRAGMAs,
  `INSERT OR IGNORE`, JSON functions, `rowid`, temporary tables, the read-only/immutable URIs)
  stays inside this package; `store.py` is the seam that opens the connection and runs
  transactions. A PostgreSQL backend provides the same operations for its own connection.
* Times are stored as UTC epoch seconds (REAL); operations take and return them as floats unless
  their names say otherwise.

Nothing outside this package writes SQL: tests/test_no_sql_outside_state.py fails if it does.
"""
