"""Login against a directory (OpenLDAP, Active Directory) with ldap3; the groups a person is in give their roles.

A login, blocking (the API runs it in a worker thread), each step on a fresh connection:
1. An empty password is refused before anything is sent: a simple bind with a DN and no password is an
   "unauthenticated bind" (RFC 4513 5.1.2) that many servers, Active Directory among them, answer with success.
2. The service account (`bind_dn`), or an anonymous bind when there is none, searches `user_base` with
   `user_filter`; `{username}` is escaped (RFC 4515) before it is put in. No entry, or more than one: no login.
3. A bind as that entry's DN with the password is the password check.
4. The groups: `group_filter` under `group_base`, `{dn}` and `{username}` escaped, read by the service account
   (as the user when there is no service account).
5. The roles: group DNs are compared with the keys of `group_roles` after normalisation (attribute types and
   values case-folded, spaces around `,` `=` `+` dropped, escapes such as `\\2C` decoded, multi-valued RDNs sorted).

Separation of duties: a `group_roles` entry that names admin and auditor together is refused when the settings are
read (`LdapConfigError`, yiwang does not start). A person whose groups give admin and auditor together (through two
groups) gets a `DirectoryUser` with no role at all and a warning is logged: the login is refused as "no-role". The
roles are not merged, nor trimmed to one side: which side is right is for the directory's administrators to fix.

TLS: `ldaps://` or `start_tls: true`. The server's certificate is always verified, against `ca_file` or the
system's CAs when there is none, and its name against the host in `url`. Plain `ldap://` sends passwords in clear
text; a warning is logged unless the server is on loopback. Every network step waits at most `timeout_s`.

The defaults target OpenLDAP (`uid`, groupOfNames/groupOfUniqueNames/posixGroup). For Active Directory:

    auth:
      ldap:
        url: ldaps://dc1.city.gov.cn:636            # or ldap://…:389 with start_tls: true
        ca_file: /etc/yiwang/ad-root-ca.pem
        bind_dn: "CN=yiwang,OU=Service Accounts,DC=city,DC=gov,DC=cn"
        bind_password: {file: /etc/yiwang/ad-bind-password}
        user_base: "OU=Staff,DC=city,DC=gov,DC=cn"
        user_filter: "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
        # add (!(userAccountControl:1.2.840.113556.1.4.803:=2)) to the & above to skip disabled accounts
        group_base: "OU=Groups,DC=city,DC=gov,DC=cn"
        group_filter: "(member:1.2.840.113556.1.4.1941:={dn})"   # nested groups; direct membership: (member={dn})
        group_roles:
          "CN=NOC Operators,OU=Groups,DC=city,DC=gov,DC=cn": [operator]
          "CN=Network Engineers,OU=Groups,DC=city,DC=gov,DC=cn": [engineer]

The matching rule 1.2.840.113556.1.4.1941 (LDAP_MATCHING_RULE_IN_CHAIN) makes AD follow groups inside groups.
"""

from __future__ import annotations

import ast
import contextlib
import ipaddress
import logging
import math
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ldap3 import ANONYMOUS, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from inventory.secrets import Secret, SecretError, resolve
from yiwang.auth.directory import DirectoryUnavailable, DirectoryUser
from yiwang.auth.roles import Role, RoleError, parse_roles
from yiwang.config import LdapSettings

log = logging.getLogger(__name__)

# An RDN is a set of (type, value) pairs; a DN a sequence of RDNs. Hashable, so it keys the role table.
DnKey = tuple[tuple[tuple[str, str], ...], ...]

# result codes that say the server cannot answer now (or not without TLS), not that the password is wrong
UNAVAILABLE = {13: "confidentialityRequired (the server wants TLS)", 51: "busy", 52: "unavailable", 80: "other"}
NO_ATTRIBUTES = "1.1"  # RFC 4511 4.5.1.8: return no attributes, only the DN
MAX_USERNAME = 256
_PLACEHOLDER = re.compile(r"\{(username|dn)\}")
_ESCAPE = re.compile(r"\\([0-9A-Fa-f]{2}|.)", re.DOTALL)


class LdapConfigError(ValueError):
    """The `auth.ldap` settings cannot work; found when they are read, never at a login."""


# ---- pure core ---------------------------------------------------------------------------------------------------


def fill_filter(template: str, **values: str) -> str:
    """The template with {username} and {dn} replaced, in one pass, by their RFC 4515-escaped values."""
    return _PLACEHOLDER.sub(lambda match: escape_filter_chars(values[match.group(1)]), template)


def _unescape_dn_value(value: str) -> str:
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(value):
        raw += value[position:match.start()].encode()
        escaped = match.group(1)
        raw += bytes.fromhex(escaped) if len(escaped) == 2 else escaped.encode()
        position = match.end()
    raw += value[position:].encode()
    return raw.decode("utf-8", errors="replace")


def normalise_dn(dn: str) -> DnKey:
    """A DN as a comparable key: `CN=NOC Ops, OU=Groups,dc=City` and `cn=noc ops,ou=groups,dc=city` are equal."""
    try:
        parts = parse_dn(dn, strip=True)
    except LDAPException as exc:
        raise ValueError(f"not a DN: {dn!r} ({exc})") from None
    rdns: list[tuple[tuple[str, str], ...]] = []
    current: list[tuple[str, str]] = []
    for attribute, value, separator in parts:
        current.append((attribute.strip().casefold(), _unescape_dn_value(value).casefold()))
        if separator != "+":
            rdns.append(tuple(sorted(current)))
            current = []
    if current:
        rdns.append(tuple(sorted(current)))
    return tuple(rdns)


def role_table(group_roles: Mapping[str, Sequence[str]]) -> dict[DnKey, frozenset[Role]]:
    """group_roles checked: DNs that parse, each once, known roles, never admin with auditor."""
    table: dict[DnKey, frozenset[Role]] = {}
    for dn, names in group_roles.items():
        try:
            key = normalise_dn(dn)
        except ValueError as exc:
            raise LdapConfigError(f"auth.ldap.group_roles: {exc}") from None
        if key in table:
            raise LdapConfigError(f"auth.ldap.group_roles names {dn!r} twice (group DNs are compared "
                                  "case-insensitively)")
        try:
            table[key] = parse_roles(names)
        except RoleError as exc:
            raise LdapConfigError(f"auth.ldap.group_roles {dn!r}: {exc}") from None
    return table


def roles_of(groups: Iterable[str], table: Mapping[DnKey, frozenset[Role]]) -> frozenset[Role]:
    """The roles the groups give; empty when none is mapped. Raises RoleError for a forbidden combination."""
    granted: set[Role] = set()
    for group in groups:
        try:
            granted |= table.get(normalise_dn(group), frozenset())
        except ValueError:
            log.warning("directory group %r is not a DN; ignored", group)
    return parse_roles(role.value for role in granted) if granted else frozenset()


def name_attribute(user_filter: str) -> str | None:
    """The attribute compared with {username} (uid, sAMAccountName…): its stored value names the person."""
    match = re.search(r"\(\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*\{username\}\s*\)", user_filter)
    return match.group(1) if match else None


def _check_filter(setting: str, template: str, needs: tuple[str, ...]) -> None:
    if not any("{" + name + "}" in template for name in needs):
        raise LdapConfigError(f"auth.ldap.{setting} must contain {' or '.join('{' + n + '}' for n in needs)}: "
                              "without it, it would match everyone")
    try:
        parse_filter(fill_filter(template, username="x", dn="cn=x"), None, True, True, None, False)
    except LDAPException as exc:
        raise LdapConfigError(f"auth.ldap.{setting} {template!r} is not an LDAP filter: {exc}") from None


class _VerifiedTls(Tls):
    """ldap3's Tls with Python's own verification: ldap3 turns the context's name check off and does its own with
    ssl.match_hostname, deprecated, gone in Python 3.12, whose fallback refuses IP addresses."""

    def __init__(self, ca_file: Path | None, hostname: str) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self._context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
        self._hostname = hostname

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(connection.socket, server_side=False,
                                                      do_handshake_on_connect=do_handshake,
                                                      server_hostname=self._hostname)


def _unwrap(message: str) -> str:
    """ldap3 re-raises socket errors as the str() of a tuple of the str() of a tuple: keep the message inside."""
    for _ in range(4):
        try:
            value = ast.literal_eval(message)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return message
        if not (isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], str)):
            return message
        message = value[0]
    return message


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---- the I/O shell -----------------------------------------------------------------------------------------------


class LdapDirectory:
    """A `Directory` over LDAP. Immutable after construction and safe to call from several threads at once."""

    def __init__(self, settings: LdapSettings, bind_password: str | None) -> None:
        url = urlsplit(settings.url)
        if url.scheme not in ("ldap", "ldaps") or not url.hostname:
            raise LdapConfigError(f"auth.ldap.url {settings.url!r}: give ldap://host[:port] or ldaps://host[:port]")
        if url.scheme == "ldaps" and settings.start_tls:
            raise LdapConfigError("auth.ldap: start_tls is for ldap:// URLs; ldaps:// is TLS already")
        if (settings.bind_dn is None) != (bind_password is None):
            raise LdapConfigError("auth.ldap: bind_dn and bind_password go together (neither: anonymous search)")
        if bind_password == "":
            raise LdapConfigError("auth.ldap.bind_password is empty: that would be an unauthenticated bind")
        if settings.ca_file is not None and not settings.ca_file.is_file():
            raise LdapConfigError(f"auth.ldap.ca_file {settings.ca_file} is not a readable file")
        _check_filter("user_filter", settings.user_filter, ("username",))
        _check_filter("group_filter", settings.group_filter, ("dn", "username"))
        self._settings = settings
        self._bind_password = None if bind_password is None else Secret(bind_password)
        self._host = url.hostname
        self._use_ssl = url.scheme == "ldaps"
        self._port = url.port or (636 if self._use_ssl else 389)
        self._where = f"{url.scheme}://{url.netloc}"
        self._timeout = settings.timeout_s
        self._roles = role_table(settings.group_roles)
        self._name_attribute = name_attribute(settings.user_filter)
        try:
            self._tls = _VerifiedTls(settings.ca_file, url.hostname)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a file that holds no certificate
            raise LdapConfigError(f"auth.ldap.ca_file {settings.ca_file}: {exc}") from None
        if not (self._use_ssl or settings.start_tls or _is_loopback(self._host)):
            log.warning("auth.ldap: %s without TLS: passwords cross the network in clear text; "
                        "use ldaps:// or start_tls: true", self._where)
        if not self._roles:
            log.warning("auth.ldap.group_roles is empty: people from the directory will have no role")

    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        if not password:
            log.info("directory login for %r refused: empty password (never sent as an unauthenticated bind)",
                     username)
            return None
        if not username or len(username) > MAX_USERNAME or "\x00" in username:
            log.info("directory login refused: a user name that is empty, too long or holds NUL")
            return None
        try:
            return self._authenticate(username, Secret(password))
        except (LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"directory {self._where} cannot be used: "
                                       f"{self._describe(exc, password)}") from None

    def _authenticate(self, username: str, password: Secret) -> DirectoryUser | None:
        searcher = self._bound(self._settings.bind_dn, self._bind_password, "the service account")
        try:
            found = self._find_user(searcher, username)
            if found is None:
                return None
            dn, name = found
            person = self._open(dn, password)
            try:
                if not person.bind():
                    code, description = self._result(person)
                    if code in UNAVAILABLE:
                        raise DirectoryUnavailable(f"directory {self._where} did not check the password of "
                                                   f"{name!r}: {UNAVAILABLE[code]}")
                    log.info("directory refused the password of %r (%s)", name, description)
                    return None
                groups = self._groups(searcher if self._settings.bind_dn else person, dn, name)
            finally:
                person.unbind()
        finally:
            searcher.unbind()
        try:
            roles = roles_of(groups, self._roles)
        except RoleError as exc:
            log.warning("directory user %r refused every role: groups %s give %s", name, list(groups), exc)
            roles = frozenset()
        log.debug("directory login %r (%s): groups %s, roles %s", name, dn, list(groups), sorted(roles))
        return DirectoryUser(name=name, dn=dn, groups=groups, roles=roles)

    def _open(self, user: str | None, password: Secret | None) -> Connection:
        server = Server(self._host, port=self._port, use_ssl=self._use_ssl, tls=self._tls, get_info=NONE,
                        connect_timeout=self._timeout)
        connection = Connection(server, user=user, password=password,
                                authentication=SIMPLE if user else ANONYMOUS, auto_bind=False,
                                raise_exceptions=False, read_only=True, auto_referrals=False,
                                receive_timeout=math.ceil(self._timeout))  # ldap3 packs it as whole seconds
        connection.open()
        if self._settings.start_tls:
            try:
                connection.start_tls()
            except BaseException:
                with contextlib.suppress(LDAPException, OSError):
                    connection.unbind()
                raise
        return connection

    def _bound(self, user: str | None, password: Secret | None, who: str) -> Connection:
        connection = self._open(user, password)
        if not connection.bind():
            _, description = self._result(connection)
            connection.unbind()
            raise DirectoryUnavailable(f"directory {self._where} refused {who} {user or '(anonymous)'}: "
                                       f"{description}")
        return connection

    def _search(self, connection: Connection, base: str, search_filter: str, attributes: list[str],
                size_limit: int) -> list[dict[str, Any]]:
        connection.search(base, search_filter, SUBTREE, attributes=attributes, size_limit=size_limit,
                          time_limit=math.ceil(self._timeout))
        code, description = self._result(connection)
        if code not in (0, 4):  # 4: sizeLimitExceeded, which the caller reads from the number of entries
            hint = " (missing, or hidden from this account)" if code == 32 else ""
            raise DirectoryUnavailable(f"directory {self._where}: search under {base!r} failed: {description}{hint}")
        return [entry for entry in connection.response or [] if entry.get("type") == "searchResEntry"]

    def _find_user(self, searcher: Connection, username: str) -> tuple[str, str] | None:
        attribute = self._name_attribute
        entries = self._search(searcher, self._settings.user_base,
                               fill_filter(self._settings.user_filter, username=username),
                               [attribute] if attribute else [NO_ATTRIBUTES], size_limit=2)
        if len(entries) != 1:
            log.info("directory login for %r refused: %s", username,
                     "no such user" if not entries else "the name matches several entries")
            return None
        entry = entries[0]
        return str(entry["dn"]), self._stored_name(entry, username)

    def _stored_name(self, entry: Mapping[str, Any], username: str) -> str:
        """The name as the directory spells it, so that `Alice` and `alice` are one person in the audit trail."""
        if self._name_attribute is None:
            return username
        values = entry.get("attributes", {}).get(self._name_attribute, [])
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and value.casefold() == username.casefold():
                return value
        return username

    def _groups(self, connection: Connection, dn: str, username: str) -> tuple[str, ...]:
        entries = self._search(connection, self._settings.group_base,
                               fill_filter(self._settings.group_filter, dn=dn, username=username),
                               [NO_ATTRIBUTES], size_limit=0)
        return tuple(str(entry["dn"]) for entry in entries)

    @staticmethod
    def _result(connection: Connection) -> tuple[int, str]:
        result = connection.result or {}
        code = int(result.get("result", -1))
        message = str(result.get("message") or "").strip()
        description = str(result.get("description") or code)
        return code, f"{description}: {message}" if message else description

    def _describe(self, exc: BaseException, password: str) -> str:
        text = f"{type(exc).__name__}: {_unwrap(str(exc)[:2000])}"
        for secret in (password, self._bind_password):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]


def directory_from_settings(settings: LdapSettings, base: Path | None = None) -> LdapDirectory:
    """The directory with its service account's password resolved (env or file; a relative file under base)."""
    password: Secret | None = None
    if settings.bind_password is not None:
        try:
            password = resolve(settings.bind_password.ref(), base=base)
        except SecretError as exc:
            raise LdapConfigError(f"auth.ldap.bind_password: {exc}") from None
    return LdapDirectory(settings, password)
