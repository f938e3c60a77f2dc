"""JSON log lines and redaction of personal data (stream_app.observability._logging)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from stream_app.observability import (
    JsonFormatter,
    LogHandler,
    RedactingFilter,
    configure_logging,
    logging_config,
    redact,
    redact_text,
)
from stream_app.settings import LogFormat, load_settings


def _record(msg: str, *args: object, level: int = logging.INFO,
            exc_info: object = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("stream_app.test", level, __file__, 1, msg, args or None,
                               exc_info)  # type: ignore[arg-type]
    for name, value in extra.items():
        setattr(record, name, value)
    return record


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger's handlers and level, restored after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


# --- JSON lines -----------------------------------------------------------------------------


def test_a_json_line_has_level_timestamp_logger_message_and_event_position() -> None:
    record = _record("applied %d events", 3, topic="bank.payments.v1", partition=5, offset=1234)
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert "\n" not in line
    assert entry["level"] == "INFO"
    assert entry["logger"] == "stream_app.test"
    assert entry["message"] == "applied 3 events"
    assert (entry["topic"], entry["partition"], entry["offset"]) == ("bank.payments.v1", 5, 1234)
    stamp = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    assert entry["timestamp"].endswith("Z")
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp.timestamp() - record.created) < 0.001
    assert set(entry) == {"timestamp", "level", "logger", "message", "topic", "partition",
                          "offset"}


def test_a_json_line_carries_the_request_id_and_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("request failed", level=logging.ERROR, exc_info=sys.exc_info(),
                         request_id="req-7")
    entry = orjson.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-7"
    assert entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_values_json_cannot_encode_are_written_as_text() -> None:
    entry = orjson.loads(JsonFormatter().format(_record("x", path=Path("/var/lib/x"))))
    assert entry["path"] == "/var/lib/x"


# --- redaction ------------------------------------------------------------------------------


def test_redact_is_stable_for_a_value_and_differs_between_values() -> None:
    assert redact("CUST-0000042") == redact("CUST-0000042")
    assert redact("CUST-0000042") != redact("CUST-0000043")
    assert "0000042" not in redact("CUST-0000042")
    assert redact("CUST-0000042").startswith("<redacted:")


@pytest.mark.parametrize(("text", "secret"), [
    ("scoring customer_id=CUST-0000042 now", "CUST-0000042"),
    ("account_id: GB-ACC-991, retrying", "GB-ACC-991"),
    ("counterparty='Jane Q Smith' declined", "Jane Q Smith"),
    ('{"customer_id": "bank customer 12", "score": 81}', "bank customer 12"),
    ("payment from CA-0001234 failed", "CA-0001234"),
    ("transfer to GB82 WEST 1234 5698 7654 32 refused", "GB82 WEST 1234 5698 7654 32"),
    ("transfer to DE89370400440532013000 refused", "DE89370400440532013000"),
])
def test_redact_text_masks_personal_data(text: str, secret: str) -> None:
    masked = redact_text(text)
    assert secret not in masked
    assert redact(secret) in masked


def test_redact_text_leaves_operational_text_alone() -> None:
    text = ("batch of 100 records from bank.transactions.v1[3]@1234 in 0.012s; "
            "model 20261125T101500-ab12cd; reason=too_late")
    assert redact_text(text) == text


def test_redaction_is_not_applied_twice() -> None:
    once = redact_text("customer_id=CUST-0000042")
    assert redact_text(once) == once


def test_the_filter_masks_messages_arguments_extra_and_exceptions_at_info() -> None:
    try:
        raise KeyError("customer_id=CUST-0000099")
    except KeyError:
        record = _record("no state for customer_id=%s", "CUST-0000042", level=logging.WARNING,
                         exc_info=sys.exc_info(), customer_id="CUST-0000042", offset=7)
    assert RedactingFilter().filter(record) is True  # masks, never drops
    line = JsonFormatter().format(record)
    assert "CUST-0000042" not in line
    assert "CUST-0000099" not in line
    entry = orjson.loads(line)
    assert entry["customer_id"] == redact("CUST-0000042")
    assert entry["message"] == f"no state for customer_id={redact('CUST-0000042')}"
    assert entry["offset"] == 7
    assert "KeyError" in entry["exception"]


def test_the_filter_leaves_debug_records_as_they_are() -> None:
    record = _record("state of customer_id=%s", "CUST-0000042", level=logging.DEBUG,
                     customer_id="CUST-0000042")
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "state of customer_id=CUST-0000042"
    assert record.customer_id == "CUST-0000042"


# --- configuration ----------------------------------------------------------------------------


def test_logging_config_follows_log_format_and_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    config = logging_config(load_settings())
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["predelinq"]["()"].endswith("JsonFormatter")
    assert config["handlers"]["predelinq"]["filters"] == ["redact"]
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert "format" in logging_config(load_settings())["formatters"]["predelinq"]


@pytest.mark.parametrize(("environment", "debug_masked"), [
    ("development", False), ("test", True), ("staging", True)])
def test_debug_records_are_masked_outside_development(
        monkeypatch: pytest.MonkeyPatch, environment: str, debug_masked: bool) -> None:
    import logging.config

    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config(load_settings()))
        handler = next(h for h in root.handlers if isinstance(h, LogHandler))
        handler_filter = handler.filters[0]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    record = _record("state of customer_id=%s", "CUST-0000042", level=logging.DEBUG,
                     customer_id="CUST-0000042")
    assert handler_filter.filter(record) is True  # type: ignore[union-attr]
    assert ("CUST-0000042" not in record.getMessage()) is debug_masked
    assert (record.customer_id != "CUST-0000042") is debug_masked


def test_log_format_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from stream_app.settings import ConfigurationError

    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        load_settings()


def test_the_faust_worker_accepts_the_config(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             root_logging: logging.Logger) -> None:
    """What faust.Worker(logging_config=...) does with it (mode's setup_logging)."""
    from mode.utils.logging import setup_logging

    monkeypatch.setenv("LOG_FORMAT", "json")
    setup_logging(loglevel="info", logging_config=logging_config(load_settings()))
    logging.getLogger("stream_app.worker").info("assigned customer_id=%s", "CUST-0000042",
                                                extra={"topic": "t", "partition": 1})
    logging.getLogger("stream_app.worker").debug("hidden")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = orjson.loads(lines[0])
    assert entry["logger"] == "stream_app.worker"
    assert entry["message"] == f"assigned customer_id={redact('CUST-0000042')}"
    assert (entry["topic"], entry["partition"]) == ("t", 1)


def test_configure_logging_replaces_only_its_own_handler(
        capsys: pytest.CaptureFixture[str], root_logging: logging.Logger) -> None:
    for handler in list(root_logging.handlers):
        root_logging.removeHandler(handler)
    assert configure_logging(LogFormat.TEXT, "WARNING") is True
    assert configure_logging(LogFormat.JSON, "INFO") is True  # replaces its own handler
    assert [type(h) for h in root_logging.handlers] == [LogHandler]
    logging.getLogger("x").info("hello")
    # stderr may also hold what a client left running by an earlier test printed; this
    # handler's record is the JSON line among them
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [orjson.loads(line)["message"] for line in lines] == ["hello"]
    foreign = logging.NullHandler()
    root_logging.addHandler(foreign)
    assert configure_logging(LogFormat.TEXT, "ERROR") is False
    assert foreign in root_logging.handlers
    assert root_logging.level == logging.ERROR


def test_the_sink_command_logs_json_lines(tmp_path: Path) -> None:
    """`predelinq sink` with LOG_FORMAT=json while PostgreSQL is unreachable: its log lines
    (INFO from the sidecar, WARNING from the database wait) are JSON objects."""
    env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "SIDECAR_PORT": "0",
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "ENVIRONMENT": "test"}
    log_path = tmp_path / "sink.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "stream_app", "sink"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "PostgreSQL" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(30)
    entries = [orjson.loads(line) for line in log_path.read_text().splitlines()]
    assert {"INFO", "WARNING"} <= {e["level"] for e in entries}
    waiting = next(e for e in entries if "PostgreSQL" in e["message"])
    assert waiting["level"] == "WARNING"
    assert waiting["logger"].startswith("stream_app.sink")
