"""One configuration file, parsed and validated once at start into typed settings, then passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inventory.model import SecretRef


class ConfigError(ValueError):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSetting(Strict):
    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def one_source(self) -> SecretSetting:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def ref(self) -> SecretRef:
        return SecretRef(env=self.env, file=self.file)


class TlsSettings(Strict):
    cert: Path = Field(description="PEM certificate chain, the server's certificate first")
    key: Path = Field(description="PEM private key; readable by yiwang only")


class ApiSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    tls: TlsSettings | None = None
    metrics_public: bool = Field(False, description="/metrics without authentication (for a Prometheus with none)")


class LdapSettings(Strict):
    """A directory (OpenLDAP, Active Directory) that authenticates people; their groups give their roles."""

    url: str = Field(description="ldap://host:389 or ldaps://host:636")
    start_tls: bool = False
    ca_file: Path | None = Field(None, description="CA certificates to verify the server (ldaps or StartTLS)")
    bind_dn: str | None = Field(None, description="the service account that searches; none = anonymous search")
    bind_password: SecretSetting | None = None
    user_base: str
    user_filter: str = Field("(uid={username})", description="{username} is escaped before it is put in")
    group_base: str
    group_filter: str = Field("(|(member={dn})(uniqueMember={dn})(memberUid={username}))",
                              description="groups of a user; {dn} and {username} are escaped")
    group_roles: dict[str, list[str]] = Field(
        default_factory=dict, description="group DN -> yiwang roles (DNs compared case-insensitively)")
    timeout_s: float = Field(5.0, gt=0, le=60)


class AuthSettings(Strict):
    enabled: bool = Field(True, description="false: no authentication at all; refused unless the API is on "
                                            "loopback (for benchmarks and trials)")
    session_idle_s: float = Field(600.0, gt=0, description="a browser session ends after this long unused")
    session_max_s: float = Field(43200.0, gt=0, description="and after this long in any case")
    lockout_failures: int = Field(5, ge=1, le=100, description="failed logins in a row that lock an account")
    lockout_s: float = Field(900.0, gt=0, description="how long a locked account stays locked")
    token_recheck_s: float = Field(60.0, gt=0, le=3600,
                                   description="a token's hash is verified again after this long")
    ldap: LdapSettings | None = None
    sessions: Literal["memory", "database"] | None = Field(
        None, description="where browser sessions live; default: the database when it is PostgreSQL (a standby "
                          "core keeps everybody signed in), else memory")


class SyslogSettings(Strict):
    """RFC 5424 syslog to the security management platform (安管平台)."""

    host: str
    port: int = Field(514, ge=1, le=65535)
    protocol: Literal["udp", "tcp", "tls"] = "udp"
    ca_file: Path | None = Field(None, description="for tls: CA certificates that verify the receiver")
    facility: int = Field(13, ge=0, le=23, description="13 = log audit (RFC 5424)")
    app_name: str = Field("yiwang", min_length=1, max_length=48)


class AuditSettings(Strict):
    path: Path | None = Field(None, description="the hash-chained trail; default: audit/audit.jsonl in the state "
                                                "folder")
    syslog: SyslogSettings | None = None
    store: Literal["file", "database"] | None = Field(
        None, description="where the trail is kept; default: the database when it is PostgreSQL (shared by the "
                          "cores), else the file")


class PollSettings(Strict):
    interval_s: float = Field(60.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    retries: int = Field(1, ge=0, le=10)
    # One UDP socket dropped replies beyond ~50-100 concurrent walks in trials, so the default stays at 50 a worker.
    concurrency: int = Field(50, ge=1, le=1000)
    workers: int = Field(0, ge=0, le=64, description="poll processes; 0 = one per core")
    icmp_interval_s: float = Field(30.0, gt=0)
    icmp_count: int = Field(3, ge=1, le=20)


class SshSettings(Strict):
    enabled: bool = True
    interval_s: float = Field(300.0, gt=0, description="facts over SSH: version, interfaces, optics, neighbours")
    workers: int = Field(16, ge=1, le=256, description="netmiko sessions at once, for facts and for backups each")
    # netmiko holds the GIL for much of a session (paramiko's crypto, prompt polling): beside the API's event loop
    # it starved ICMP cycles and API requests on the simulated city, so sessions run in processes of their own.
    # With them there, 16 sessions read the city's 4,237 devices in 253 s, inside the 300 s interval, while the
    # API's p99 stayed at 87 ms (benchmarks/ssh_isolation.py --ssh-devices 0 --workers 16).
    processes: int = Field(1, ge=0, le=32, description="SSH worker processes for facts and for backups each; "
                                                       "0 = threads in the API's process")
    read_timeout_s: float = Field(10.0, gt=0)


class ArchiveSettings(Strict):
    enabled: bool = True
    interval_s: float = Field(86400.0, gt=0, description="scheduled configuration backups")


class ChangeSettings(Strict):
    mgmt_prefix6: str | None = Field(None, description="the IPv6 prefix yiwang manages the devices from: the IPv6 "
                                     "change's management ACL permits it (SNMP and SSH over IPv6); an IPv6 job "
                                     "cannot be planned without it")
    canary_villages: int = Field(3, ge=0, le=50, description="villages in a job's first wave")
    forks: int = Field(20, ge=1, le=200, description="devices Ansible changes at once within a wave")
    backup_max_age_s: float = Field(3600.0, gt=0, description="older backups are taken again before a push")
    precheck_concurrency: int = Field(50, ge=1, le=1000)


class ComplianceSettings(Strict):
    """The 等保 2.0 compliance runs: after each backup cycle and on demand (yiwang.compliance.run)."""

    enabled: bool = Field(True, description="a run after each scheduled backup cycle")
    pack: Path | None = Field(None, description="a rule pack instead of the shipped one")
    exemptions: Path | None = Field(None, description="a YAML list of exemptions")
    disabled: list[str] = Field(default_factory=list, description="rule ids not checked")
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict, description="{rule: {name: value}}")
    advisories: Path | None = Field(None, description="the firmware advisory file; none: firmware-advisory is "
                                                      "`error` (no advisory file configured)")
    metrics_url: str | None = Field(None, description="a VictoriaMetrics holding the interface rates; none: "
                                                      "uplink-capacity is `error` (no metric history configured)")
    backup_max_age_h: float = Field(24.0, gt=0, description="config-backup-fresh fails from this age on")
    keep_days: float = Field(400.0, gt=0, description="runs older than this are pruned (the trend reaches back "
                                                      "this far; a level-3 assessment looks at a year)")
    samples_interval_s: float = Field(300.0, gt=0, description="how often the latest run's results and IPv6 "
                                                               "readiness become samples (/metrics, InfluxDB, "
                                                               "the alerts)")


class CapacitySettings(Strict):
    """Capacity and the upgrade programme's reports (yiwang.capacity)."""

    history_url: str | None = Field(None, description="a Prometheus or VictoriaMetrics (its /api/v1 query API) "
                                    "holding yiwang's interface rates; none: the capacity reports say so")
    metric_prefix: str = Field("", description='"" for a VictoriaMetrics fed by the influx sink '
                               '(interface_in_bps), "yiwang_" for a Prometheus scraping yiwang\'s /metrics')
    timeout_s: float = Field(30.0, gt=0, le=600)
    samples_interval_s: float = Field(3600.0, gt=0, description="how often `yiwang run` computes the link samples "
                                      "(yiwang_link_p95_ratio, yiwang_link_days_to_saturation) from the history")
    lifecycle_file: Path | None = Field(None, description="the end-of-sale/end-of-life dates per model (see "
                                                          "yiwang/capacity/lifecycle.example.yaml); none: the "
                                                          "equipment report has no dates and no replacement list")


class InfluxSettings(Strict):
    url: str
    org: str = "yiwang"
    bucket: str = "yiwang"
    token: SecretSetting | None = None
    spool_max_mb: float = Field(1024.0, gt=0)


class AlertSettings(Strict):
    enabled: bool = True
    rules: list[Path] = Field(default_factory=list, description="rule files; empty = the shipped defaults")
    # webhook / smtp / alertmanager entries, validated by alerts.notify.config; an SMTP password is a reference
    notifiers: list[dict[str, Any]] = Field(default_factory=list)


class TrapUserSetting(Strict):
    name: str
    auth_key: SecretSetting
    priv_key: SecretSetting
    engine_id: str = Field("", description="the sender's snmpEngineID in hex")


class TrapSettings(Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(10162, ge=1, le=65535)
    communities: list[SecretSetting] = Field(default_factory=list)
    users: list[TrapUserSetting] = Field(default_factory=list)
    rate_per_s: float = Field(50.0, gt=0, description="traps a second each source address may send, sustained")
    burst: float = Field(200.0, ge=1, description="traps each source address may send at once")


class ClusterSettings(Strict):
    """Poller groups (issue 15): the coordination engine; no `cluster:` section = one process, as before."""

    url: str = Field(description="the coordination engine, redis://HOST:PORT/DB")
    lease_ttl_s: float = Field(15.0, gt=0, description="a poller whose lease is this old is gone")
    group: str = Field("default", pattern=r"^[A-Za-z0-9._-]{1,64}$", description="this poller's group")


class Settings(Strict):
    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    inventory: list[Path] = Field(default_factory=list,
                                  description="inventory folders; empty = `inventory` in the state folder")
    database_url: str | None = None
    profiles_dirs: list[Path] = Field(default_factory=list)
    api: ApiSettings = ApiSettings()
    poll: PollSettings = PollSettings()
    influx: InfluxSettings | None = None
    alerts: AlertSettings = AlertSettings()
    traps: TrapSettings = TrapSettings()
    ssh: SshSettings = SshSettings()
    archive: ArchiveSettings = ArchiveSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    change: ChangeSettings = ChangeSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    capacity: CapacitySettings = CapacitySettings()
    cluster: ClusterSettings | None = None

    @property
    def audit_path(self) -> Path:
        return self.audit.path or self.state_dir / "audit" / "audit.jsonl"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'yiwang.sqlite'}"

    @property
    def inventory_dirs(self) -> list[Path]:
        return self.inventory or [default_inventory_dir(self.state_dir)]


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "yiwang"


def default_inventory_dir(state_dir: Path) -> Path:
    """Where the inventory is read when the configuration names none (and where `yiwang lab up` writes)."""
    return state_dir / "inventory"


def load_settings(path: Path | None) -> Settings:
    """No file: the built-in default (the inventory in the state folder, SQLite there too, no external database)."""
    if path is None:
        return Settings()
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        settings = Settings.model_validate(document)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    relative_to = path.parent
    return settings.model_copy(update={
        "inventory": [p if p.is_absolute() else relative_to / p for p in settings.inventory],
        "profiles_dirs": [p if p.is_absolute() else relative_to / p for p in settings.profiles_dirs],
        "alerts": settings.alerts.model_copy(update={
            "rules": [p if p.is_absolute() else relative_to / p for p in settings.alerts.rules]}),
        "compliance": settings.compliance.model_copy(update={
            name: path if path is None or path.is_absolute() else relative_to / path
            for name in ("pack", "exemptions", "advisories")
            for path in (getattr(settings.compliance, name),)}),
        "capacity": settings.capacity.model_copy(update={
            "lifecycle_file": _relative(settings.capacity.lifecycle_file, relative_to)}),
    })


def _relative(path: Path | None, to: Path) -> Path | None:
    return path if path is None or path.is_absolute() else to / path
