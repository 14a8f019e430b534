"""docs/examples/k8s-cronjob.yaml cannot rot: its properties, its commands and its exit-status wrapper."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is not installed (it is in the [test] extra)")

from leadsync.core import errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "k8s-cronjob.yaml"
LEADSYNC = Path(sys.executable).with_name("leadsync")


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(EXAMPLE.read_text(encoding="utf-8")) if d]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _documents() if d["kind"] == kind}


def _cronjobs() -> list[dict[str, Any]]:
    jobs = list(_by_kind("CronJob").values())
    assert len(jobs) >= 2, "the example shows more than one project"
    return jobs


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def _script(cronjob: dict[str, Any]) -> str:
    container = _container(cronjob)
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    return script


def _leadsync_line(cronjob: dict[str, Any]) -> list[str]:
    (line,) = [ln for ln in _script(cronjob).splitlines() if ln.strip().startswith("leadsync ")]
    return shlex.split(line.rstrip("& \n"))


def test_one_cronjob_per_project_that_never_overlaps_itself() -> None:
    projects = set()
    for job in _cronjobs():
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert isinstance(spec["startingDeadlineSeconds"], int) and 0 < spec["startingDeadlineSeconds"] <= 900
        job_spec = spec["jobTemplate"]["spec"]
        assert isinstance(job_spec["backoffLimit"], int) and job_spec["backoffLimit"] >= 1
        assert job_spec["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy requires it
        projects.add(job["metadata"]["labels"]["leadsync/project"])
    assert len(projects) == len(_cronjobs())


def test_exit_statuses_are_mapped_as_documented() -> None:
    for job in _cronjobs():
        rules = job["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
        by_action: dict[str, set[int]] = {}
        for rule in rules:
            if "onExitCodes" in rule:
                assert rule["onExitCodes"]["containerName"] == _container(job)["name"]
                assert rule["onExitCodes"]["operator"] == "In"
                by_action.setdefault(rule["action"], set()).update(rule["onExitCodes"]["values"])
        assert by_action == {"FailJob": {errors.EXIT_CONFIG, errors.EXIT_LOCKED, errors.EXIT_CONNECTION, errors.EXIT_STATE},
                             "Count": {errors.EXIT_INTERRUPTED}}
        assert any(r["action"] == "Ignore" and r.get("onPodConditions") for r in rules)


def test_sigterm_has_time_to_end_the_batch_and_the_run_stops_itself_first() -> None:
    for job in _cronjobs():
        job_spec = job["spec"]["jobTemplate"]["spec"]
        grace = job_spec["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= 60  # one request at the default timeout_s (30 s), and a rate-limit wait
        args = _leadsync_line(job)
        max_duration_s = float(args[args.index("--max-duration") + 1]) * 60
        assert max_duration_s < job_spec["activeDeadlineSeconds"]  # it stops itself before the Job kills it


def test_secrets_and_config_come_from_secrets_and_config_maps_defined_here() -> None:
    secrets, maps = _by_kind("Secret"), _by_kind("ConfigMap")
    for job in _cronjobs():
        container = _container(job)
        project = job["metadata"]["labels"]["leadsync/project"]
        (ref,) = container["envFrom"]
        vendor = secrets[ref["secretRef"]["name"]]
        assert all(key.startswith("LEADSYNC_CONNECTIONS__") for key in vendor["stringData"])
        env = {e["name"]: e for e in container["env"]}
        url = env["LEADSYNC_STATE__URL"]["valueFrom"]["secretKeyRef"]
        assert url["key"] in secrets[url["name"]]["stringData"]
        assert secrets[url["name"]]["stringData"][url["key"]].startswith("postgresql://")
        assert ":" not in secrets[url["name"]]["stringData"][url["key"]].split("@")[0].removeprefix("postgresql://")
        volumes = {v["name"]: v for v in job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]}
        mount = next(m for m in container["volumeMounts"] if "configMap" in volumes[m["name"]])
        config_map = maps[volumes[mount["name"]]["configMap"]["name"]]
        config = tomllib.loads(config_map["data"]["leadsync.toml"])
        assert config["state"]["project"] == project
        assert "url" not in config["state"] and "token" not in config["connections"]["crm"]
        assert config["scoring"]["sheet"] in config_map["data"]
        args = _leadsync_line(job)
        assert args[args.index("--config") + 1] == f"{mount['mountPath']}/leadsync.toml"


def test_every_command_and_option_is_a_real_leadsync_one() -> None:
    for job in _cronjobs():
        args = _leadsync_line(job)[1:]
        group_options = args[:args.index("sync")]
        command = args[len(group_options):len(group_options) + 2]
        assert command == ["sync", "run"]
        top = subprocess.run([str(LEADSYNC), "--help"], capture_output=True, text=True, timeout=60)
        sub = subprocess.run([str(LEADSYNC), *command, "--help"], capture_output=True, text=True, timeout=60)
        assert top.returncode == 0 and sub.returncode == 0, sub.stderr
        for option in (a for a in group_options if a.startswith("--")):
            assert option in top.stdout, option
        for option in (a for a in args[len(group_options) + 2:] if a.startswith("--")):
            assert option in sub.stdout, option


def _fake_leadsync(tmp_path: Path) -> Path:
    """A `leadsync` that exits with $FAKE_STATUS, or on SIGTERM finishes its 'batch' and exits 7."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "leadsync"
    fake.write_text(f"""#!{sys.executable}
import os, signal, sys, time
ready = os.environ.get("FAKE_READY")
if ready is None:
    sys.exit(int(os.environ["FAKE_STATUS"]))
stopped = []
signal.signal(signal.SIGTERM, lambda *a: stopped.append(1))
open(ready, "w").close()
while not stopped:
    time.sleep(0.01)
open(ready + ".terms", "w").write(str(len(stopped)))
sys.exit(7)
""", encoding="utf-8")
    fake.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("status,expected", [(0, 0), (1, 0), (6, 0), (2, 2), (3, 3), (4, 4), (5, 5), (7, 7)])
def test_the_wrapper_maps_warnings_to_success_and_keeps_the_rest(tmp_path: Path, status: int, expected: int) -> None:
    script = _script(_cronjobs()[0])
    env = {**os.environ, "PATH": f"{_fake_leadsync(tmp_path)}:{os.environ['PATH']}", "FAKE_STATUS": str(status)}
    assert subprocess.run(["/bin/sh", "-c", script], env=env, timeout=60).returncode == expected


def test_the_wrapper_forwards_sigterm_once_and_returns_the_runs_exit_7(tmp_path: Path) -> None:
    script = _script(_cronjobs()[0])
    ready = tmp_path / "ready"
    env = {**os.environ, "PATH": f"{_fake_leadsync(tmp_path)}:{os.environ['PATH']}", "FAKE_READY": str(ready)}
    shell = subprocess.Popen(["/bin/sh", "-c", script], env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():  # waits for the fake to be up; the assertion below counts, never times
        assert time.monotonic() < deadline and shell.poll() is None
        time.sleep(0.01)
    shell.send_signal(signal.SIGTERM)  # the kubelet signals the container's first process: the shell
    assert shell.wait(timeout=60) == errors.EXIT_INTERRUPTED
    assert (tmp_path / "ready.terms").read_text() == "1"
