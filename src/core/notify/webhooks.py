"""Webhook channels over httpx: Slack (Block Kit), Teams workflows (Adaptive Card), generic JSON."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from leadsync.connectors.redact import redact
from leadsync.core.notify.channels import Channel, ChannelSettings, NotDelivered, Refused
from leadsync.core.notify.messages import Notice

__all__ = ["SlackChannel", "TeamsChannel", "WebhookChannel", "generic_body", "slack_body", "teams_body"]


class WebhookSettings(ChannelSettings):
    url: SecretStr  # the URL is the credential: never printed


class _Webhook(Channel):
    settings: WebhookSettings
    settings_model: ClassVar[type[ChannelSettings]] = WebhookSettings

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        super().__init__(name, settings)
        self._client: httpx.Client | None = None

    def body(self, notice: Notice) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def headers(self, notice: Notice) -> dict[str, str]:
        return {}

    def send(self, notice: Notice) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.timeout_s)
        try:
            answer = self._client.post(self.settings.url.get_secret_value(), json=self.body(notice),
                                       headers=self.headers(notice))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the receiver
            raise NotDelivered(f"cannot connect: {type(exc).__name__}") from None
        except httpx.InvalidURL as exc:
            raise Refused(f"invalid URL: {redact(exc)}") from None
        except httpx.HTTPError as exc:  # sent, answer lost: the outcome is unknown
            raise TimeoutError(f"no answer: {type(exc).__name__}") from None
        if answer.status_code < 300:
            return
        detail = redact(answer.text[:200].strip())
        if answer.status_code == 429 or answer.status_code >= 500:
            raise NotDelivered(f"HTTP {answer.status_code} {detail}")
        raise Refused(f"HTTP {answer.status_code} {detail}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def slack_body(notice: Notice) -> dict[str, Any]:
    """An incoming-webhook message: `text` as the notification fallback, Block Kit `blocks`."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150], "emoji": True}},
    ]
    if notice.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(value)}"[:2000]}
            for label, value in notice.fields[:10]]})
    if notice.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(notice.text)[:3000]}})
    if notice.url:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "CRM"}, "url": notice.url}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"leadsync · {notice.key}"}]})
    return {"text": notice.title, "blocks": blocks}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_body(notice: Notice) -> dict[str, Any]:
    """A message with one Adaptive Card attachment, as the Teams workflow webhook trigger takes."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": True},
    ]
    if notice.fields:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in notice.fields]})
    if notice.text:
        body.append({"type": "TextBlock", "text": notice.text, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": body,
    }
    if notice.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "CRM", "url": notice.url}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def generic_body(notice: Notice) -> dict[str, Any]:
    """The generic webhook's JSON body (documented in docs/notifications.md)."""
    return {
        "event": notice.event, "key": notice.key, "title": notice.title,
        "fields": [{"label": label, "value": value} for label, value in notice.fields],
        "text": notice.text or None, "url": notice.url, "data": notice.data,
    }


class SlackChannel(_Webhook):
    kind = "slack"

    def body(self, notice: Notice) -> dict[str, Any]:
        return slack_body(notice)


class TeamsChannel(_Webhook):
    kind = "teams"

    def body(self, notice: Notice) -> dict[str, Any]:
        return teams_body(notice)


class WebhookChannel(_Webhook):
    kind = "webhook"
    idempotent = True  # the receiver can drop a resend by its Idempotency-Key

    def body(self, notice: Notice) -> dict[str, Any]:
        return generic_body(notice)

    def headers(self, notice: Notice) -> dict[str, str]:
        return {"Idempotency-Key": notice.key, "User-Agent": "leadsync"}
