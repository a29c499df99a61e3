"""Notifications: small notifiers behind one Protocol, and the Dispatcher that owns retries and the outbox."""

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notifier, payload
from alerts.notify.config import NotifyConfig, build_notifiers
from alerts.notify.dispatch import Backoff, Dispatcher, FlushReport
from alerts.notify.smtp import SmtpNotifier
from alerts.notify.webhook import WebhookNotifier

__all__ = [
    "AlertmanagerNotifier", "Backoff", "Dispatcher", "FlushReport", "Notifier", "NotifyConfig", "SmtpNotifier",
    "WebhookNotifier", "build_notifiers", "payload",
]
