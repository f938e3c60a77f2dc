"""Kafka connection settings for every client we create: Faust, aiokafka producers/consumers,
the admin client. One place maps PLAINTEXT / SSL / SASL (PLAIN, SCRAM) to each API."""

from __future__ import annotations

import ssl
from typing import Any

from stream_app.settings import KafkaSecurityProtocol, Settings

__all__ = ["aiokafka_options", "faust_broker_urls", "faust_credentials", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.kafka_security_protocol not in (KafkaSecurityProtocol.SSL,
                                                KafkaSecurityProtocol.SASL_SSL):
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile and settings.kafka_ssl_keyfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol.value,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol in (KafkaSecurityProtocol.SASL_PLAINTEXT,
                                            KafkaSecurityProtocol.SASL_SSL):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def faust_broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{host.strip()}" for host in settings.kafka_bootstrap_servers.split(",")
            if host.strip()]


def faust_credentials(settings: Settings) -> Any:
    """A faust Credentials object for the configured protocol, or None for PLAINTEXT."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol is KafkaSecurityProtocol.PLAINTEXT:
        return None
    context = ssl_context(settings)
    if protocol is KafkaSecurityProtocol.SSL:
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism.value,
    )
