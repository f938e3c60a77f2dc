"""Event logs on disk: JSON Lines and Avro container files, strict and lenient reading."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fastavro
import pytest

from stream_app.events import CustomerFlags, Payment, RecordType, Transaction
from stream_app.offline import (
    LOG_TYPES,
    EventLogError,
    read_avro_log,
    read_jsonl_log,
    to_event,
    write_avro_log,
    write_jsonl_log,
)
from stream_app.serializers import InvalidValueError, MissingFieldError, SchemaCatalog
from stream_app.simulate import BankSimulator, SimulationConfig

T0 = 1_767_225_600_000 + 9 * 3_600_000  # 2026-01-01T09:00:00Z


def transaction(n: int = 1, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "transaction",
        "event_id": f"tx-{n:04d}",
        "customer_id": "CUST-0000042",
        "account_id": "CA-0000042",
        "occurred_at": T0 + n * 60_000,
        "amount_minor": 1_000 + n,
        "currency": "EUR",
        "direction": "DEBIT",
        "channel": "CARD",
        "category": "GROCERIES",
        "merchant_category_code": "5411",
        "status": "POSTED",
        "decline_reason": None,
        "balance_after_minor": -500,
        "counterparty": "Grocer — Café Ünïcode",
    }
    record.update(changes)
    return record


def payment(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "payment",
        "event_id": "pm-0001",
        "customer_id": "CUST-0000042",
        "account_id": "CC-0000042",
        "occurred_at": T0,
        "product": "CREDIT_CARD",
        "currency": "EUR",
        "kind": "STATEMENT_ISSUED",
        "statement_balance_minor": 154_210,
        "minimum_due_minor": 4_626,
        "credit_limit_minor": 300_000,
        "due_date": 20_475,
        "amount_due_minor": None,
        "amount_minor": None,
        "failure_reason": None,
        "days_past_due": None,
    }
    record.update(changes)
    return record


def flags(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "customer_flags",
        "event_id": "fl-0001",
        "customer_id": "CUST-0000042",
        "account_id": None,
        "occurred_at": T0,
        "opt_out_contact": True,
        "vulnerable": False,
        "hardship_plan": False,
        "deceased": False,
        "bankruptcy": False,
    }
    record.update(changes)
    return record


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# --- to_event --------------------------------------------------------------------------------


def test_to_event_builds_the_event_of_the_record_type() -> None:
    assert isinstance(to_event(transaction()), Transaction)
    assert isinstance(to_event(payment()), Payment)
    event = to_event(flags())
    assert isinstance(event, CustomerFlags)
    assert event.opt_out_contact is True
    assert set(LOG_TYPES) == {"transaction", "payment", "customer_flags"}


def test_to_event_validates() -> None:
    with pytest.raises(InvalidValueError):
        to_event(transaction(amount_minor=0))
    with pytest.raises(MissingFieldError):
        to_event(payment(due_date=None))
    with pytest.raises(KeyError):
        to_event({**transaction(), "type": "risk_score"})


# --- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path) -> None:
    records = [transaction(1), payment(), flags(), transaction(2, counterparty=None)]
    path = tmp_path / "events.jsonl"
    assert write_jsonl_log(path, records) == 4
    assert path.read_bytes().count(b"\n") == 4
    assert list(read_jsonl_log(path)) == records


def test_jsonl_round_trip_of_a_simulation(tmp_path: Path) -> None:
    records = list(BankSimulator(SimulationConfig(customers=5, days=60, seed=2)).events())
    path = tmp_path / "sim.jsonl"
    assert write_jsonl_log(path, iter(records)) == len(records)
    back = list(read_jsonl_log(path))
    assert back == records
    assert [to_event(r) for r in back] == [to_event(r) for r in records]


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n" + b'{"type": "payment", "event_id": "a"}\n' + b"   \n\n"
                     + b'{"type": "transaction", "event_id": "b"}\n')
    assert [r["event_id"] for r in read_jsonl_log(path)] == ["a", "b"]


def test_empty_jsonl_log_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert write_jsonl_log(path, []) == 0
    assert list(read_jsonl_log(path)) == []


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (b'{"type": "transaction", "event_id": ', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2, 3]", "'type'"),
        (b'"transaction"', "'type'"),
        (b'{"event_id": "tx-9"}', "'type'"),
        (b'{"type": "risk_score", "event_id": "rs-1"}', "'type'"),
        (b'{"type": null}', "'type'"),
    ],
)
def test_strict_reading_names_the_bad_line(tmp_path: Path, bad_line: bytes, message: str) -> None:
    good = b'{"type": "transaction", "event_id": "ok"}'
    path = _write_lines(tmp_path / "events.jsonl", [good, b"", good, bad_line, good])
    seen: list[str] = []
    with pytest.raises(EventLogError) as caught:
        seen.extend(r["event_id"] for r in read_jsonl_log(path))
    assert caught.value.line == 4  # 1-based, blank lines counted
    assert str(caught.value).startswith(f"{path}:4: ")
    assert message in str(caught.value)
    assert seen == ["ok", "ok"]  # the lines before the bad one were already yielded


def test_lenient_reading_skips_bad_lines(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "events.jsonl", [
        b'{"type": "transaction", "event_id": "a"}',
        b"not json at all",
        b'{"type": "unknown", "event_id": "x"}',
        b"[]",
        b'{"type": "customer_flags", "event_id": "b"}',
    ])
    assert [r["event_id"] for r in read_jsonl_log(path, strict=False)] == ["a", "b"]


def test_the_log_error_message_does_not_quote_the_line(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "events.jsonl",
                        [b'{"type": "loan", "customer_id": "Jane-Doe-Secret"}'])
    with pytest.raises(EventLogError) as caught:
        list(read_jsonl_log(path))
    assert "Jane-Doe" not in str(caught.value)


# --- Avro container files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_type", "records"),
    [
        (RecordType.TRANSACTION, [transaction(n) for n in range(1, 6)]),
        (RecordType.PAYMENT, [
            payment(),
            payment(event_id="pm-2", kind="INSTALMENT_DUE", product="PERSONAL_LOAN",
                    statement_balance_minor=None, minimum_due_minor=None,
                    credit_limit_minor=None, amount_due_minor=25_845),
            payment(event_id="pm-3", kind="DELINQUENCY_STATUS", statement_balance_minor=None,
                    minimum_due_minor=None, credit_limit_minor=None, due_date=None,
                    days_past_due=31),
        ]),
        (RecordType.CUSTOMER_FLAGS, [flags(), flags(event_id="fl-2", account_id="CA-1",
                                                    vulnerable=True)]),
    ],
    ids=["transaction", "payment", "customer_flags"],
)
def test_avro_round_trip(tmp_path: Path, record_type: RecordType,
                         records: list[dict[str, Any]]) -> None:
    path = tmp_path / "events.avro"
    with path.open("wb") as handle:
        write_avro_log(handle, record_type, records)
    back = list(read_avro_log(path))
    assert back == records  # times stay epoch ms, dates epoch days, "type" restored
    for record in back:
        assert type(record["occurred_at"]) is int
    assert [to_event(r) for r in back] == [to_event(r) for r in records]


def test_avro_log_embeds_the_contract_schema_with_logical_types(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_avro_log(buffer, RecordType.PAYMENT, [payment()])
    buffer.seek(0)
    reader = fastavro.reader(buffer)
    schema = reader.writer_schema
    assert schema is not None
    assert schema["name"] == "com.predelinq.bank.v1.Payment"
    occurred = next(f for f in schema["fields"] if f["name"] == "occurred_at")
    assert occurred["type"]["logicalType"] == "timestamp-millis"
    # other Avro readers see real timestamps and dates
    record = next(iter(reader))
    assert isinstance(record, dict)
    assert record["occurred_at"].year == 2026
    assert record["due_date"].isoformat() == "2026-01-22"


def test_avro_round_trip_of_a_simulation(tmp_path: Path) -> None:
    records = list(BankSimulator(SimulationConfig(customers=8, days=90, seed=4)).events())
    for log_type, record_type in LOG_TYPES.items():
        subset = [r for r in records if r["type"] == log_type]
        path = tmp_path / f"{log_type}.avro"
        with path.open("wb") as handle:
            write_avro_log(handle, record_type, subset)
        assert list(read_avro_log(path)) == subset


def test_avro_log_of_an_output_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scores.avro"
    definition = SchemaCatalog.default().latest(RecordType.RISK_SCORE).definition
    with path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(definition), [])
    with pytest.raises(EventLogError) as caught:
        list(read_avro_log(path))
    assert "RiskScore" in str(caught.value)
    assert caught.value.line == 0
