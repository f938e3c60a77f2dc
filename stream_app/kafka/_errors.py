"""Tell a refused login from an unreachable broker.

aiokafka reports every failed bootstrap as ``KafkaConnectionError("Unable to bootstrap from
...")`` and only logs the reason. After such a failure with SASL, one more connection to each
bootstrap server says whether the broker rejected the credentials or the mechanism.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from stream_app.settings import KafkaSecurityProtocol, Settings

from ._clients import aiokafka_options

__all__ = ["KafkaAuthenticationError", "authentication_failure"]

_AUTH_ERRORS = (SaslAuthenticationFailed, UnsupportedSaslMechanismError,
                AuthenticationFailedError, IllegalSaslStateError)


class KafkaAuthenticationError(RuntimeError):
    """The broker refused our SASL login (wrong credentials or mechanism). The message names
    the server, user and mechanism, never the password."""


async def authentication_failure(settings: Settings,
                                 timeout: float = 5.0) -> KafkaAuthenticationError | None:
    """After a failed bootstrap: the authentication failure of the first bootstrap server that
    refuses our SASL login, or None (not SASL, nothing listening, timeouts, or a login that
    now works)."""
    if settings.kafka_security_protocol not in (KafkaSecurityProtocol.SASL_PLAINTEXT,
                                                KafkaSecurityProtocol.SASL_SSL):
        return None
    options = aiokafka_options(settings)
    del options["bootstrap_servers"]
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options),
                timeout)
        except _AUTH_ERRORS as exc:
            return KafkaAuthenticationError(
                f"authentication failed at {server.strip()} as user "
                f"{settings.kafka_sasl_username!r} with {settings.kafka_sasl_mechanism.value}: "
                f"{exc} (check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and "
                "KAFKA_SASL_MECHANISM)")
        except Exception:  # unreachable or otherwise broken: not an authentication failure
            conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
    return None
