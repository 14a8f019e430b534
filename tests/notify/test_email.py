"""E-mail notices at a local SMTP server (aiosmtpd): readable Japanese subject and body."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = _Inbox()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_mail_arrives_with_a_readable_japanese_subject(project, smtp):
    inbox, port = smtp
    project.configure(f'[notify.channels.mail]\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
                      'starttls = false\nfrom = "leadsync@example.co.jp"\nto = ["sales@example.co.jp"]\n'
                      'events = ["handoff_created"]\n')
    summary, result = project.sync()
    assert summary["exit_status"] == 0, result.stderr[-2000:]
    assert len(inbox.messages) == summary["tasks_created"] > 0
    message = inbox.messages[0]
    raw = message.as_bytes()
    assert b"=?utf-8?" in raw.lower(), "the subject is RFC 2047 encoded on the wire"
    assert message["Subject"].startswith("新しいMQL: "), message["Subject"]
    body = message.get_content()
    assert "スコア: " in body and "主な理由" in body
    assert len({m["Message-ID"] for m in inbox.messages}) == len(inbox.messages)
    project.sync()
    assert len(inbox.messages) == summary["tasks_created"], "a rerun mails nothing again"


def test_notify_test_by_mail_and_the_password_never_printed(project, smtp):
    inbox, port = smtp
    project.configure(f'[notify.channels.mail]\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
                      'starttls = false\nfrom = "leadsync@example.co.jp"\nto = ["a@example.co.jp"]\n')
    result = project.cli("notify", "test", "mail")
    assert result.returncode == 0, result.stderr
    assert inbox.messages[0]["Subject"] == "leadsync テスト通知（mail）"
    closed = _free_port()
    project.configure("")
    text = (project.folder / "leadsync.toml").read_text(encoding="utf-8").replace(f"smtp_port = {port}",
                                                                                 f"smtp_port = {closed}")
    text = text.replace('starttls = false', 'starttls = false\nusername = "u"\npassword = "hunter2-SMTP-secret"')
    (project.folder / "leadsync.toml").write_text(text, encoding="utf-8")
    down = project.cli("notify", "test", "mail")
    assert down.returncode == 4
    assert "hunter2-SMTP-secret" not in down.stdout + down.stderr
