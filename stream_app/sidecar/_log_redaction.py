"""Redaction of the sidecar's and the predict path's log records at *every* level.

The handler's :class:`~stream_app.observability.RedactingFilter` masks personal data at INFO
and above; DEBUG records of these loggers (request tracebacks, auth, forwarding) are masked
too, and so are the configured secrets (``API_KEY``, ``FORWARD_SECRET``) wherever they would
appear. A logger's filters see the records created on that logger, so each one is listed.
"""

from __future__ import annotations

import logging
import threading

from stream_app.observability import RedactingFilter

__all__ = ["LOGGERS", "install_redaction"]

LOGGERS = ("stream_app.sidecar.api", "stream_app.sidecar._audit", "stream_app.sidecar._server",
           "stream_app.worker._predict", "aiohttp.server", "aiohttp.web")
_SECRET_MASK = "<secret>"  # noqa: S105 - the mask, not a secret


class _SecretsAndPersonalData(RedactingFilter):
    def __init__(self) -> None:
        super().__init__(min_level=logging.DEBUG)
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add_secrets(self, values: set[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | {v for v in values if v}

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if secrets:
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in secrets:
                message = message.replace(secret, _SECRET_MASK)
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, _SECRET_MASK)
            record.msg, record.args = message, None
        return super().filter(record)


_FILTER = _SecretsAndPersonalData()


def install_redaction(*secrets: str | None) -> None:
    """Put the filter on the listed loggers (once) and remember ``secrets`` to mask."""
    _FILTER.add_secrets({s for s in secrets if s})
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
