"""The documentation keeps up with the code: every configuration key and command is documented."""

from __future__ import annotations

from pathlib import Path

from leadsync.core.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_configuration_key_is_in_the_reference():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for section, field in Settings.model_fields.items():
        if section in ("connections", "config_path"):
            continue
        for key in field.annotation.model_fields:
            if f"`{key}`" not in text:
                missing.append(f"{section}.{key}")
    assert missing == []


def test_every_command_is_in_the_docs():
    from leadsync.core.cli.main import cli

    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    missing = []
    for name, command in cli.commands.items():
        for sub in getattr(command, "commands", {None: None}):
            words = f"leadsync {name}" + (f" {sub}" if sub else "")
            if words not in text:
                missing.append(words)
    assert missing == []


def test_every_lead_source_of_the_vocabulary_is_documented():
    from leadsync.core.normalize import LEAD_SOURCES

    text = (DOCS / "file-connector.md").read_text(encoding="utf-8")
    assert [code for code, ((ja, en), _aliases) in LEAD_SOURCES.items() if f"| `{code}` | {ja} | {en} |" not in text] == []
