"""Logging: one JSON object per line, and no personal data at INFO and above.

* :class:`JsonFormatter` writes ``timestamp`` (ISO 8601, UTC, milliseconds), ``level``,
  ``logger`` and ``message``, then the context passed with ``extra=`` (``request_id``, and
  ``topic`` / ``partition`` / ``offset`` of the event being processed, or any other field) and
  ``exception`` when there is one.
* :class:`RedactingFilter`, on the handler, rewrites records at INFO and above: identifiers of
  customers, accounts and counterparties in the message, in ``extra`` fields with those names
  and in exception texts become ``<redacted:xxxxxxxx>``, a short hash that is stable within a
  process (the same customer reads the same in the logs of one process, for correlation) but
  keyed by a random per-process key, so that the hash cannot be reversed by hashing
  candidate ids. DEBUG records are masked too, except with ``ENVIRONMENT=development``
  (:func:`redaction_level`), where debugging needs the real identifiers.
* :func:`redact` is the same masking for code that builds a message itself.
* :func:`logging_config` is the ``logging.config.dictConfig`` dictionary for ``LOG_FORMAT`` and
  ``LOG_LEVEL`` (the Faust worker takes it as ``faust.Worker(logging_config=...)``);
  :func:`configure_logging` applies it in the other commands.
"""

from __future__ import annotations

import hashlib
import logging
import logging.config
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from stream_app.settings import Environment, LogFormat, Settings

__all__ = [
    "SENSITIVE_FIELDS",
    "JsonFormatter",
    "LogHandler",
    "RedactingFilter",
    "configure_logging",
    "logging_config",
    "redact",
    "redact_text",
    "redaction_level",
]

#: ``extra=`` field names (and ``name=value`` / ``"name": "value"`` spellings in messages)
#: whose values are personal data
SENSITIVE_FIELDS = frozenset({
    "customer_id", "customer", "account_id", "account", "counterparty", "iban",
    "card_account", "trigger_customer",
})

_KEY = secrets.token_bytes(16)  # per process: hashes correlate within a process only
_REDACTED = re.compile(r"<redacted:[0-9a-f]{8}>")

_NAMES = "|".join(sorted((re.escape(name) for name in SENSITIVE_FIELDS), key=len, reverse=True))
# customer_id=CUST-1, account_id: CA-2, counterparty='Mrs Smith', "customer_id": "C 1"
_ASSIGNED = re.compile(
    rf"""(?P<name>\b(?:{_NAMES})\b)(?P<sep>["']?\s*[=:]\s*)"""
    r"""(?:(?P<quote>["'])(?P<quoted>(?:(?!(?P=quote)).)*)(?P=quote)|(?P<bare>[^\s,;)}\]]+))""",
    re.IGNORECASE)
# identifiers of the bank's id schemes that may appear on their own (the simulator's
# CUST-0000001 / CA-... / CC-..., and IBANs)
_BARE_IDS = re.compile(
    r"\b(?:CUST|CA|CC)-\d{4,}\b"
    r"|\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")

# LogRecord's own attributes: everything else on a record came from ``extra=``
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def redact(value: object) -> str:
    """``<redacted:xxxxxxxx>``: a keyed hash of the value, stable within this process."""
    digest = hashlib.blake2b(str(value).encode(), key=_KEY, digest_size=4).hexdigest()
    return f"<redacted:{digest}>"


def redact_text(text: str) -> str:
    """The text with every sensitive ``name=value`` and every bank id pattern masked."""

    def assigned(match: re.Match[str]) -> str:
        value = match.group("quoted") if match.group("quote") else match.group("bare")
        if _REDACTED.fullmatch(value):
            return match.group(0)
        quote = match.group("quote") or ""
        return f"{match.group('name')}{match.group('sep')}{quote}{redact(value)}{quote}"

    text = _ASSIGNED.sub(assigned, text)
    return _BARE_IDS.sub(lambda m: redact(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Masks personal data in records at ``min_level`` (INFO) and above; never drops one.

    Put it on a *handler*: a logger's filters do not see records propagated from child loggers.
    """

    def __init__(self, name: str = "", min_level: int = logging.INFO) -> None:
        super().__init__(name)
        self.min_level = min_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level or getattr(record, "_predelinq_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template only
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for name, value in list(vars(record).items()):
            if name.lower() in SENSITIVE_FIELDS and name not in _RECORD_ATTRIBUTES \
                    and value is not None:
                setattr(record, name, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._predelinq_redacted = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_") and name not in entry:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


class LogHandler(logging.StreamHandler[TextIO]):
    """The stream handler predelinq installs (so that it knows which handlers are its own)."""


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redaction_level(settings: Settings) -> int:
    """The lowest level whose records are masked: DEBUG, or INFO in development."""
    return logging.INFO if settings.environment is Environment.DEVELOPMENT else logging.DEBUG


def _config(log_format: LogFormat, level: str | int,
            redact_from: int = logging.INFO) -> dict[str, Any]:
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format is LogFormat.JSON
        else {"format": _TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"predelinq": formatter},
        "filters": {"redact": {"()": f"{__name__}.RedactingFilter", "min_level": redact_from}},
        "handlers": {"predelinq": {
            "class": f"{__name__}.LogHandler",
            "stream": "ext://sys.stderr",
            "formatter": "predelinq",
            "filters": ["redact"],
        }},
        "root": {"level": level, "handlers": ["predelinq"]},
    }


def logging_config(settings: Settings) -> dict[str, Any]:
    """The ``dictConfig`` dictionary for ``LOG_FORMAT`` and ``LOG_LEVEL`` (one handler on
    stderr, redacting from :func:`redaction_level` up, on the root logger)."""
    return _config(settings.log_format, settings.log_level, redaction_level(settings))


def _foreign(handlers: Iterable[logging.Handler]) -> bool:
    return any(not isinstance(handler, LogHandler) for handler in handlers)


def configure_logging(log_format: LogFormat, level: str | int, *,
                      redact_from: int = logging.INFO) -> bool:
    """Install predelinq's handler on the root logger, replacing one installed before.

    When the root logger has handlers that someone else installed (a test runner, an
    embedding application), only the level is set and False is returned.
    """
    root = logging.getLogger()
    if _foreign(root.handlers):
        root.setLevel(level)
        return False
    logging.config.dictConfig(_config(log_format, level, redact_from))
    return True
