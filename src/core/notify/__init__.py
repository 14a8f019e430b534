"""Notifications (docs/notifications.md): a built-in plugin on the handoff hooks whose channels
(Slack, Teams, e-mail, webhook, or a plugin's) receive notices through the outbox."""

from __future__ import annotations

from leadsync.core.notify.channels import Channel, ChannelSettings, NotDelivered, Refused, open_channels
from leadsync.core.notify.messages import Notice, render
from leadsync.core.notify.run import attach

__all__ = ["Channel", "ChannelSettings", "NotDelivered", "Notice", "Refused", "attach", "open_channels", "render"]
