"""The tamper-evident audit trail: who did what, from where, with what outcome; and its copy to syslog."""

from yiwang.audit.chain import GENESIS, AuditEvent, AuditRecord, Verification
from yiwang.audit.redact import REDACTED, redact
from yiwang.audit.syslog import SyslogForwarder, format_rfc5424
from yiwang.audit.trail import AuditTrail, Trail

__all__ = ["GENESIS", "REDACTED", "AuditEvent", "AuditRecord", "AuditTrail", "SyslogForwarder", "Trail", "Verification",
           "format_rfc5424", "redact"]
