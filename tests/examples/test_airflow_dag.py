"""docs/examples/airflow_dag.py cannot rot: compiled and read with ast always, imported with
Airflow when it is installed, and its task callable run against real demo projects."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leadsync.core import errors
from leadsync.core.cli.main import cli
from leadsync.core.config import load_settings
from leadsync.core.sync.lock import RunLock

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "docs" / "examples" / "airflow_dag.py"
SOURCE = DAG_FILE.read_text(encoding="utf-8")
TREE = ast.parse(SOURCE, filename=str(DAG_FILE))
HAS_AIRFLOW = importlib.util.find_spec("airflow") is not None


def _constant(name: str) -> Any:
    for node in TREE.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not a module-level constant of {DAG_FILE.name}")


def test_it_compiles() -> None:
    compile(SOURCE, str(DAG_FILE), "exec")


def test_every_exit_status_has_exactly_one_outcome() -> None:
    succeeds, skips, fails, retries = (set(_constant(n)) for n in ("EXIT_SUCCEEDS", "EXIT_SKIPS", "EXIT_FAILS",
                                                                   "EXIT_RETRIES"))
    assert succeeds == {errors.EXIT_OK, errors.EXIT_DEAD_LETTERS, errors.EXIT_UNCONFIRMED}
    assert skips == {errors.EXIT_LOCKED}
    assert fails == {errors.EXIT_CONFIG, errors.EXIT_CONNECTION, errors.EXIT_STATE}
    assert retries == {errors.EXIT_INTERRUPTED}
    every = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert succeeds | skips | fails | retries == every and len(succeeds) + len(skips) + len(fails) + len(retries) == 8


def test_one_task_per_project_running_the_real_command() -> None:
    assert set(_constant("PROJECTS")) == {"acme", "globex"}
    calls = [n for n in ast.walk(TREE) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "PythonOperator"]
    (call,) = calls
    loop = next(n for n in ast.walk(TREE) if isinstance(n, ast.For) and call in ast.walk(n))
    assert ast.unparse(loop.iter) == "PROJECTS.items()"
    keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
    assert keywords["task_id"] == "f'sync_{name}'" and keywords["python_callable"] == "run_leadsync"
    function = next(n for n in TREE.body if isinstance(n, ast.FunctionDef) and n.name == "run_leadsync")
    command = next(n for n in ast.walk(function) if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "command")
    words = [e.value for e in ast.walk(command.value) if isinstance(e, ast.Constant)]
    assert words[:5] == ["--config", "sync", "run", "--json", "--quiet"] and "--max-duration" in words
    raised = {ast.unparse(n.exc.func) for n in ast.walk(function) if isinstance(n, ast.Raise) and n.exc is not None}
    assert raised == {"AirflowSkipException", "AirflowException", "AirflowFailException"}


class _Skip(Exception):
    pass


class _Fail(Exception):
    pass


class _Retry(Exception):
    pass


def _stub_airflow(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Just enough of Airflow's names to import the file without Airflow: the DAG and the
    operators are recorded; the exceptions are distinct classes. leadsync itself is not stubbed."""
    tasks: list[dict[str, Any]] = []

    class DAG:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

        def __enter__(self) -> DAG:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def python_operator(**kwargs: Any) -> None:
        tasks.append(kwargs)

    modules = {
        "airflow": types.ModuleType("airflow"),
        "airflow.exceptions": types.ModuleType("airflow.exceptions"),
        "airflow.operators": types.ModuleType("airflow.operators"),
        "airflow.operators.python": types.ModuleType("airflow.operators.python"),
    }
    modules["airflow"].DAG = DAG  # type: ignore[attr-defined]
    modules["airflow.exceptions"].AirflowSkipException = _Skip  # type: ignore[attr-defined]
    modules["airflow.exceptions"].AirflowFailException = _Fail  # type: ignore[attr-defined]
    modules["airflow.exceptions"].AirflowException = _Retry  # type: ignore[attr-defined]
    modules["airflow.operators.python"].PythonOperator = python_operator  # type: ignore[attr-defined]
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return tasks


def _load_dag_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.setenv("LEADSYNC_BIN", str(Path(sys.executable).with_name("leadsync")))
    spec = importlib.util.spec_from_file_location("leadsync_airflow_dag_example", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not HAS_AIRFLOW, reason="apache-airflow is not installed (the ast checks above still run)")
def test_airflow_imports_the_dag_with_a_task_per_project(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_dag_module(monkeypatch)
    assert sorted(module.dag.task_ids) == ["sync_acme", "sync_globex"]


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    root = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["init", "--demo", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "leadsync.toml"


@pytest.mark.skipif(HAS_AIRFLOW, reason="with Airflow installed, the real exceptions are imported instead")
def test_the_task_maps_real_exit_statuses(monkeypatch: pytest.MonkeyPatch, demo: Path, tmp_path: Path) -> None:
    tasks = _stub_airflow(monkeypatch)
    module = _load_dag_module(monkeypatch)
    assert [t["task_id"] for t in tasks] == ["sync_acme", "sync_globex"]

    summary = module.run_leadsync("demo", str(demo))  # exit 0: the JSON summary goes to XCom
    assert summary["exit_status"] == 0 and summary["scores_pushed"] == 300 and summary["tasks_created"] > 0

    with RunLock(load_settings(demo).state_path), pytest.raises(_Skip, match="exit 3"):
        module.run_leadsync("demo", str(demo))

    monkeypatch.setattr(module, "MAX_DURATION_MINUTES", 1e-9)
    with pytest.raises(_Retry, match="exit 7"):
        module.run_leadsync("demo", str(demo))
    monkeypatch.setattr(module, "MAX_DURATION_MINUTES", 12)

    broken = tmp_path / "broken"
    shutil.copytree(demo.parent, broken)
    config = broken / "leadsync.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "data"', 'path = "missing"'), encoding="utf-8")
    with pytest.raises(_Fail, match="exit 2: .*missing"):
        module.run_leadsync("broken", str(config))
