"""`yiwang run` over HTTPS, the first administrator on a fresh install, and the refusals at start."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lab import lab_inventory_dir
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config
from yiwang.config import ApiSettings, AuthSettings, Settings, TlsSettings
from yiwang.server import check_exposure


def make_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yiwang test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


def test_https_first_admin_and_secure_cookie(lab_state: Path, tmp_path: Path) -> None:
    ca, cert, key = make_certificate(tmp_path)
    port = free_tcp_port()
    state = tmp_path / "state"
    # a state folder of its own (the first password is written there), the lab's inventory
    config = write_config(tmp_path / "yiwang.yaml", state, inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{tmp_path / 'y.sqlite'}",
                          api={"port": port, "tls": {"cert": str(cert), "key": str(key)}},
                          ssh={"enabled": False}, archive={"enabled": False})
    log = tmp_path / "yiwang.log"
    process = start_run(config, log, env={"XDG_STATE_HOME": str(tmp_path / "x")})
    try:
        wait_for_api(f"https://127.0.0.1:{port}", process, log, verify=ssl.create_default_context(cafile=ca))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)  # plain HTTP to the TLS port
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/openapi.json", timeout=5)  # a CA the client does not trust
        printed = re.search(r"name admin, password (\S+)", log.read_text())
        assert printed is not None, log.read_text()[-2000:]
        password = printed[1]
        written = state / "initial-admin-password"
        assert written.read_text().strip() == password and (written.stat().st_mode & 0o777) == 0o600
        answer = httpx.post(f"https://127.0.0.1:{port}/api/auth/login", json={"name": "admin", "password": password},
                            verify=ssl.create_default_context(cafile=ca))
        assert answer.status_code == 200 and answer.json()["roles"] == ["admin"]
        assert "secure" in answer.headers["set-cookie"].lower()
        assert log.read_text().count(password) == 1  # printed once, and nowhere else in the output
    finally:
        stop_run(process)
    # users exist now: no second admin
    again = start_run(config, tmp_path / "again.log", env={"XDG_STATE_HOME": str(tmp_path / "x")})
    try:
        wait_for_api(f"https://127.0.0.1:{port}", again, tmp_path / "again.log",
                     verify=ssl.create_default_context(cafile=ca))
        assert "name admin, password" not in (tmp_path / "again.log").read_text()
    finally:
        stop_run(again)


def test_no_auth_off_loopback_is_refused_before_listening(tmp_path: Path) -> None:
    config = write_config(tmp_path / "yiwang.yaml", tmp_path, api={"host": "0.0.0.0", "port": free_tcp_port()},
                          auth={"enabled": False})
    done = subprocess.run([sys.executable, "-m", "yiwang", "run", "-c", str(config)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "only listen on loopback" in done.stderr


def test_exposure_warnings() -> None:
    tls = TlsSettings(cert=Path(__file__), key=Path(__file__))
    assert check_exposure(Settings()) == []
    assert check_exposure(Settings(api=ApiSettings(host="::1"))) == []
    warned = check_exposure(Settings(api=ApiSettings(host="10.1.2.3")))
    assert len(warned) == 1 and "without TLS" in warned[0]
    assert check_exposure(Settings(api=ApiSettings(host="10.1.2.3", tls=tls))) == []
    with pytest.raises(RuntimeError, match="no file"):
        check_exposure(Settings(api=ApiSettings(tls=TlsSettings(cert=Path("/nonexistent"), key=Path(__file__)))))
    with pytest.raises(RuntimeError, match="loopback"):
        check_exposure(Settings(api=ApiSettings(host="0.0.0.0"), auth=AuthSettings(enabled=False)))
    assert "turned off" in check_exposure(Settings(auth=AuthSettings(enabled=False)))[0]
