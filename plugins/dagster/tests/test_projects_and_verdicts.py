"""Project names (partition keys) and the exit status -> verdict table."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("dagster", reason="dagster is not installed (pip install -e plugins/dagster)")

from leadsync.core import errors  # noqa: E402
from leadsync_dagster import VERDICTS, Verdict, projects_from, verdict_for  # noqa: E402


def _config(folder: Path, text: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "leadsync.toml").write_text(text, encoding="utf-8")
    return folder / "leadsync.toml"


def test_names_come_from_the_state_key_else_the_folder(tmp_path: Path) -> None:
    declared = _config(tmp_path / "one", '[state]\nproject = "acme"\n')
    plain = _config(tmp_path / "Tokyo Branch")
    broken = _config(tmp_path / "broken", "[state\n")
    projects = projects_from([declared, plain.parent, broken])
    assert [p.name for p in projects] == ["acme", "Tokyo-Branch", "broken"]
    assert projects[1].config == plain.resolve()  # a folder means its leadsync.toml


def test_a_mapping_names_projects_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    a, b = _config(tmp_path / "a" / "crm"), _config(tmp_path / "b" / "crm")
    assert [p.name for p in projects_from({"east": a, "west": b})] == ["east", "west"]
    with pytest.raises(ValueError, match="two projects are named 'crm'"):
        projects_from([a, b])
    with pytest.raises(ValueError, match="no leadsync project"):
        projects_from([])


def test_every_exit_status_has_the_documented_verdict() -> None:
    assert VERDICTS == {
        errors.EXIT_OK: Verdict.SUCCESS,
        errors.EXIT_DEAD_LETTERS: Verdict.WARNING,
        errors.EXIT_UNCONFIRMED: Verdict.WARNING,
        errors.EXIT_CONFIG: Verdict.FAILURE,
        errors.EXIT_LOCKED: Verdict.FAILURE,
        errors.EXIT_CONNECTION: Verdict.FAILURE,
        errors.EXIT_STATE: Verdict.FAILURE,
        errors.EXIT_INTERRUPTED: Verdict.RETRY,
    }
    exits = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert exits == set(VERDICTS)  # a new exit status must be given a verdict here
    assert verdict_for(99) is Verdict.FAILURE
