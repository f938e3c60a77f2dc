"""TLS and SASL settings reach the Kafka clients: aiokafka's options (admin, producers,
consumers of the CLI and the sink) and faust's credentials (the worker).

SASL against a real SASL-only broker is tested in tests/integration/test_broker_trouble.py.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import faust
import pytest

from stream_app.kafka import aiokafka_options, faust_credentials
from stream_app.settings import Settings


@pytest.fixture(scope="module")
def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (PEM), made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "client.pem", folder / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=predelinq-test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _settings(**values: object) -> Settings:
    return Settings(kafka_bootstrap_servers="broker-1:9093,broker-2:9093",
                    **values)  # type: ignore[arg-type]


def test_plaintext_has_no_tls_and_no_credentials() -> None:
    settings = _settings()
    options = aiokafka_options(settings)
    assert options == {"bootstrap_servers": "broker-1:9093,broker-2:9093",
                       "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_ssl_with_a_client_certificate(client_certificate: tuple[Path, Path]) -> None:
    cert, key = client_certificate
    settings = _settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(cert),
                         kafka_ssl_certfile=str(cert), kafka_ssl_keyfile=str(key))
    options = aiokafka_options(settings)
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    # the CA file was loaded: our self-signed certificate is the one trusted root
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName",
                                                                 "predelinq-test"),),)]
    assert "sasl_mechanism" not in options
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.get_ca_certs() == context.get_ca_certs()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_carries_mechanism_user_password_and_tls(
        client_certificate: tuple[Path, Path], mechanism: str) -> None:
    cert, _ = client_certificate
    settings = _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=mechanism,
                         kafka_sasl_username="svc-predelinq", kafka_sasl_password="s3cret-pw",
                         kafka_ssl_cafile=str(cert))
    options = aiokafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "svc-predelinq"
    assert options["sasl_plain_password"] == "s3cret-pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == mechanism
    assert credentials.username == "svc-predelinq"
    assert credentials.password == "s3cret-pw"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert "s3cret-pw" not in repr(settings)  # the password is a SecretStr


def test_sasl_without_tls_has_no_ssl_context() -> None:
    settings = _settings(kafka_security_protocol="SASL_PLAINTEXT",
                         kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="u",
                         kafka_sasl_password="p")
    assert "ssl_context" not in aiokafka_options(settings)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.ssl_context is None
