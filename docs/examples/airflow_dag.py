"""leadsync on Airflow: one DAG, one task per project (docs/many-projects.md, "Airflow").

Each task runs `leadsync --config PROJECT sync run --json --quiet --max-duration N` and maps its
exit status: 0, 1 (dead letters) and 6 (writes wait in the outbox) succeed and push the JSON
summary to XCom; 3 (the project's previous run still holds the lock) skips the task; 2, 4 and 5
fail it at once (AirflowFailException: no retry); 7 (interrupted between batches) fails it for a
retry (`retries`), and the retry resumes the run. Copy this file into your DAGs folder and edit
PROJECTS. Secrets: each project's `.env` beside its leadsync.toml, or the worker's environment
(which every project on that worker shares).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import datetime, timedelta
from typing import Any

from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.python import PythonOperator

# name -> leadsync.toml; one task per entry (task id "sync_<name>")
PROJECTS: dict[str, str] = {
    "acme": "/srv/leadsync/acme/leadsync.toml",
    "globex": "/srv/leadsync/globex/leadsync.toml",
}
LEADSYNC = os.environ.get("LEADSYNC_BIN", "leadsync")  # the CLI on the worker's PATH, or a venv's
MAX_DURATION_MINUTES = 12  # stop cleanly before the next 15-minute run (exit 7, resumed)

# leadsync's exit statuses and what Airflow does with each
EXIT_SUCCEEDS = (0, 1, 6)
EXIT_SKIPS = (3,)
EXIT_FAILS = (2, 4, 5)
EXIT_RETRIES = (7,)


def run_leadsync(project: str, config: str) -> dict[str, Any]:
    """Run one project's sync; return its JSON summary (XCom) or raise what its exit status means."""
    command = [LEADSYNC, "--config", config, "sync", "run", "--json", "--quiet",
               "--max-duration", str(MAX_DURATION_MINUTES)]
    # Its own session: a stop of this task reaches leadsync once, from here, and it ends the
    # batch in flight, records the run as interrupted and releases the lock.
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = child.communicate()
    except BaseException:
        child.send_signal(signal.SIGTERM)
        child.wait()
        raise
    try:  # --json prints one JSON object on stdout, also when the run fails
        summary: dict[str, Any] = json.loads(out)
    except ValueError:
        summary = {}
    status = child.returncode
    what = f"leadsync {project}: exit {status}: {summary.get('error') or summary.get('failures') or ''}"
    if status in EXIT_SUCCEEDS:
        return summary
    if status in EXIT_SKIPS:
        raise AirflowSkipException(what + " (the previous run of this project is still going)")
    if status in EXIT_RETRIES:
        raise AirflowException(what + " (interrupted; the retry resumes it)")
    raise AirflowFailException(what)


with DAG(
    dag_id="leadsync",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # a tick while the previous one runs waits; leadsync's lock is the backstop
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1)},
    tags=["leadsync"],
) as dag:
    for name, path in PROJECTS.items():
        PythonOperator(
            task_id=f"sync_{name}",
            python_callable=run_leadsync,
            op_kwargs={"project": name, "config": path},
            execution_timeout=timedelta(minutes=MAX_DURATION_MINUTES + 2),
        )
