"""A real OpenLDAP slapd on loopback for the directory tests: a city's directory with people, groups and a service
account, served over ldap:// (StartTLS offered) and ldaps:// with a certificate from a CA made for the run.

Reusable outside pytest:

    from tests.auth.slapd import start_slapd
    server = start_slapd(Path(tmp))      # returns once both ports answer; server.stop() at the end
    server.url, server.ldaps_url, server.ca_file, server.password("alice"), server.service_dn

How: the cn=config directory is built offline with `slapadd -n0` from an LDIF written here (mdb backend, the
core/cosine/nis/inetorgperson schemas from /etc/ldap/schema, TLS files, access rules), slapd runs in the foreground
(`-d 0`) as the current user, and the data goes in over the wire with `ldapadd` as the root DN. Passwords are random
per run and hashed with `slappasswd`; they reach the client tools through files, never argv.

The directory accepts an unauthenticated bind (a DN with an empty password), as Active Directory and many
misconfigured servers do (`olcAllows: bind_anon_dn`): the client must refuse an empty password itself.
Anonymous users may authenticate (`auth` on userPassword) and read nothing else; the service account reads all.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SLAPPASSWD = Path("/usr/sbin/slappasswd")
LDAPADD = "ldapadd"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
SUFFIX = "dc=city,dc=gov,dc=cn"
ROOT_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=yiwang,ou=services,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

# uid -> the groupOfNames it is a member of. twin exists twice (ou=people and ou=contractors,ou=people).
MEMBERS: dict[str, tuple[str, ...]] = {
    "alice": ("operators",),
    "bob": ("visitors",),
    "carol": ("admins", "auditors"),
    "dave": ("admins",),
    "administrator": ("visitors",),
    "twin": (),
    "eve": ("auditors",),
}
# posixGroup engineers lists members by uid (memberUid), the way NIS-style directories do.
POSIX_MEMBERS: dict[str, tuple[str, ...]] = {"engineers": ("alice",)}


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


class SlapdError(RuntimeError):
    pass


@dataclass
class Slapd:
    directory: Path
    ldap_port: int
    ldaps_port: int
    ca_file: Path
    passwords: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ldaps_url_unnamed(self) -> str:
        """The ldaps port on an address the certificate does not name."""
        return f"ldaps://127.0.0.2:{self.ldaps_port}"

    @property
    def service_dn(self) -> str:
        return SERVICE_DN

    def password(self, account: str) -> str:
        """The password of a uid, or of "service" (the service account) or "root" (the root DN)."""
        return self.passwords[account]

    def log(self) -> str:
        path = self.directory / "slapd.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# ---- certificates ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    cert_file: Path
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "yiwang tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, common_name: str = "yiwang test CA") -> CertificateAuthority:
    """A self-signed CA; its certificate is written to directory/<common name>.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / f"{common_name.replace(' ', '-')}.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(cert_file, certificate, key)


def issue_server_certificate(ca: CertificateAuthority, directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by ca: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1")).issuer_name(ca.certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


# ---- LDIF --------------------------------------------------------------------------------------------------------


def _hash(password: str, scratch: Path) -> str:
    secret_file = scratch / "hash-me"
    secret_file.write_text(password)
    try:
        done = subprocess.run([str(SLAPPASSWD), "-n", "-T", str(secret_file)], capture_output=True, check=True,
                              timeout=10)
    finally:
        secret_file.unlink()
    return done.stdout.decode().strip()


def config_ldif(directory: Path, root_hash: str, cert_file: Path, key_file: Path, ca_file: Path) -> str:
    schemas = "".join(f"include: file:///etc/ldap/schema/{name}.ldif\n\n" for name in SCHEMAS)
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {directory}/slapd.pid
olcArgsFile: {directory}/slapd.args
olcTLSCertificateFile: {cert_file}
olcTLSCertificateKeyFile: {key_file}
olcTLSCACertificateFile: {ca_file}
olcAllows: bind_anon_dn

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}\
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcDbDirectory: {directory}/data
olcRootDN: {ROOT_DN}
olcRootPW: {root_hash}
olcDbIndex: objectClass eq
olcDbIndex: uid,member,memberUid eq
olcAccess: {{0}}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{SERVICE_DN}" read by self read by * none
"""


def data_ldif(hashes_: dict[str, str]) -> str:
    blocks = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: city\no: city",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: ou=contractors,{PEOPLE}\nobjectClass: organizationalUnit\nou: contractors",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: yiwang\n"
        f"userPassword: {hashes_['service']}",
    ]
    person = "objectClass: inetOrgPerson\ncn: {uid}\nsn: {uid}\nuid: {uid}\nuserPassword: {hash}"
    for uid in MEMBERS:
        blocks.append(f"dn: {user_dn(uid)}\n" + person.format(uid=uid, hash=hashes_[uid]))
    blocks.append(f"dn: uid=twin,ou=contractors,{PEOPLE}\n" + person.format(uid="twin", hash=hashes_["twin"]))
    groups: dict[str, list[str]] = {}
    for uid, names in MEMBERS.items():
        for name in names:
            groups.setdefault(name, []).append(user_dn(uid))
    for name, members in groups.items():
        blocks.append(f"dn: {group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n"
                      + "\n".join(f"member: {dn}" for dn in members))
    for number, (name, uids) in enumerate(POSIX_MEMBERS.items(), start=5000):
        blocks.append(f"dn: {group_dn(name)}\nobjectClass: posixGroup\ncn: {name}\ngidNumber: {number}\n"
                      + "\n".join(f"memberUid: {uid}" for uid in uids))
    return "\n\n".join(blocks) + "\n"


# ---- the server --------------------------------------------------------------------------------------------------


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SlapdError(f"{what} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")


def start_slapd(directory: Path, wait: float = 20.0) -> Slapd:
    """A fresh slapd with its data, in directory (which it owns); returns once ldap:// and ldaps:// answer."""
    if not SLAPD.exists():
        raise SlapdError(f"{SLAPD} missing: apt-get install slapd ldap-utils")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir()
    config_dir = directory / "slapd.d"
    config_dir.mkdir()
    ca = make_ca(directory)
    cert_file, key_file = issue_server_certificate(ca, directory)
    accounts = ["root", "service", *MEMBERS]
    passwords = {name: f"pw-{name}-{secrets.token_urlsafe(12)}" for name in accounts}
    hashes_ = {name: _hash(password, directory) for name, password in passwords.items()}

    config = directory / "config.ldif"
    config.write_text(config_ldif(directory, hashes_["root"], cert_file, key_file, ca.cert_file))
    _run([str(SLAPADD), "-n0", "-F", str(config_dir), "-l", str(config)], "slapadd -n0 (cn=config)")

    server = Slapd(directory, free_port(), free_port(), ca.cert_file, passwords)
    # 127.0.0.2 is loopback too but not in the certificate: a client must refuse it (name check)
    listen = (f"ldap://127.0.0.1:{server.ldap_port}/ ldaps://127.0.0.1:{server.ldaps_port}/ "
              f"ldaps://127.0.0.2:{server.ldaps_port}/")
    log = open(directory / "slapd.log", "wb")  # noqa: SIM115 - the child owns it; an undrained pipe would block it
    try:
        server.process = subprocess.Popen([str(SLAPD), "-d", "0", "-h", listen, "-F", str(config_dir)],
                                          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()
    try:
        deadline = time.monotonic() + wait
        while not (_answers(server.ldap_port) and _answers(server.ldaps_port)):
            if server.process.poll() is not None:
                raise SlapdError(f"slapd exited with {server.process.returncode}: {server.log()}")
            if time.monotonic() > deadline:
                raise SlapdError(f"slapd did not answer within {wait}s: {server.log()}")
            time.sleep(0.05)
        data = directory / "data.ldif"
        data.write_text(data_ldif(hashes_))
        root_password = directory / "root.pw"
        root_password.write_text(passwords["root"])
        root_password.chmod(0o600)
        _run([LDAPADD, "-x", "-H", server.url, "-D", ROOT_DN, "-y", str(root_password), "-f", str(data)],
             "ldapadd (data)")
    except BaseException:
        server.stop()
        raise
    return server


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="yiwang-slapd-") as tmp:
        running = start_slapd(Path(tmp))
        print(f"slapd on {running.url} and {running.ldaps_url}, CA {running.ca_file}")
        for account in running.passwords:
            print(f"  {account}: {running.password(account)}")
        try:
            assert running.process is not None
            running.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()
