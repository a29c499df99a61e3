"""Notifications: small notifiers behind one Protocol. Their durable, retrying delivery is yiwang.notify.Dispatcher."""

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notifier, payload
from alerts.notify.config import NotifyConfig, build_notifiers
from alerts.notify.smtp import SmtpNotifier
from alerts.notify.webhook import WebhookNotifier

__all__ = [
    "AlertmanagerNotifier", "Notifier", "NotifyConfig", "SmtpNotifier", "WebhookNotifier", "build_notifiers", "payload",
]
