"""Notifier settings, validated once; `build_notifiers` turns them into notifiers. Secrets come in resolved."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notifier
from alerts.notify.smtp import SmtpNotifier, SmtpServer
from alerts.notify.webhook import WebhookNotifier


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]+$")


class WebhookSettings(_Base):
    type: Literal["webhook"]
    url: str
    timeout: float = 10.0


class SmtpSettings(_Base):
    type: Literal["smtp"]
    host: str
    port: int = 25
    sender: str
    recipients: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0


class AlertmanagerSettings(_Base):
    type: Literal["alertmanager"]
    url: str
    timeout: float = 10.0
    firing_ttl_s: float = 5 * 3600.0
    generator_url: str = ""


NotifierSettings = Annotated[WebhookSettings | SmtpSettings | AlertmanagerSettings, Field(discriminator="type")]


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outbox_dir: str
    notifiers: list[NotifierSettings] = Field(default_factory=list)


def build_notifier(settings: WebhookSettings | SmtpSettings | AlertmanagerSettings) -> Notifier:
    if isinstance(settings, WebhookSettings):
        return WebhookNotifier(settings.url, settings.timeout, name=settings.name)
    if isinstance(settings, SmtpSettings):
        password = settings.password.get_secret_value() if settings.password else None
        server = SmtpServer(settings.host, settings.port, settings.starttls, settings.username, password,
                            settings.timeout)
        return SmtpNotifier(server, settings.sender, settings.recipients, settings.name)
    return AlertmanagerNotifier(settings.url, timeout=settings.timeout, firing_ttl_s=settings.firing_ttl_s,
                                generator_url=settings.generator_url, name=settings.name)


def build_notifiers(config: NotifyConfig) -> list[Notifier]:
    return [build_notifier(s) for s in config.notifiers]
