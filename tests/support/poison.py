"""Seeded generator of bad input records ("poison") for the worker's robustness tests.

Every record is bad by construction and carries the dead-letter reason that the contract
(docs/contract.md) gives it, so that a test can check the worker's verdict record by record.
Records derived from simulated events get fresh event ids (``poison-<n>``): if the worker
wrongly accepted one, it would show up as an extra risk event rather than be deduplicated.

``generate_poison(topics, templates, scale=1.0, seed=0)`` yields about 10,000 records at scale
1 (:data:`BASE_COUNTS` plus the few large ones of :data:`LARGE_COUNTS`), in a seeded random
order over the transaction and payment topics.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream_app.events import RecordType
from stream_app.serializers import AvroCodec, SchemaCatalog, encode_json

__all__ = [
    "BASE_COUNTS",
    "LARGE_COUNTS",
    "LARGE_STRING_BYTES",
    "OVERSIZE_BYTES",
    "Poison",
    "generate_poison",
]

# records per kind at scale 1 (10,000 in all)
BASE_COUNTS: dict[str, int] = {
    "random_bytes": 1500,       # random bytes of random lengths, 0 to 4 KiB
    "tombstone": 300,           # value None
    "empty_value": 200,         # value b""
    "short_header": 200,        # magic byte 0 and fewer than 4 id bytes
    "truncated_avro": 900,      # a valid frame cut short
    "corrupt_avro": 300,        # enum or union index out of range in a valid frame
    "unknown_schema_id": 500,   # an id the catalogue does not have
    "schema_mismatch": 600,     # a known id of another record type
    "wrong_type": 700,          # JSON with one field of the wrong type
    "missing_field": 700,       # a required field absent or null (JSON and Avro)
    "absurd_amount": 700,       # negative, zero, > 10^12, NaN/Infinity literals, floats
    "absurd_date": 700,         # before 2000, from 2100 on, huge longs, bad date strings
    "huge_string": 400,         # ids, codes and texts over their length limits (<= 16 KiB)
    "invalid_utf8": 600,        # in Avro strings and in JSON (raw bytes, lone surrogates)
    "bad_json": 300,            # starts with "{" but is not JSON (incl. nesting > 1024)
    "json_not_object": 100,     # JSON that does not start with "{" (array, BOM, whitespace)
    "bad_symbol": 300,          # unknown enum symbols, currency, MCC, empty ids
    "key_mismatch": 500,        # a valid event under a null, empty or other key
    "trailing_garbage": 500,    # a valid Avro frame or JSON object followed by junk
}
# a few large records (not scaled): they dominate the volume produced
LARGE_COUNTS: dict[str, int] = {
    "large_string": 10,  # 100 KB to LARGE_STRING_BYTES in one field (kept whole in the DLQ)
    "oversize": 3,       # values near the broker's 1 MiB limit (the DLQ leaves the raw out)
    "huge_key": 2,       # a 600 KB key on a valid event (the DLQ leaves raw and key out)
}
LARGE_STRING_BYTES = 800_000
OVERSIZE_BYTES = (950_000, 1_000_000, 1_040_000)
HUGE_KEY_BYTES = 600_000

MIN_EPOCH_MS = 946_684_800_000  # 2000-01-01
MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01 (excluded)
MIN_EPOCH_DAY = MIN_EPOCH_MS // 86_400_000
MAX_EPOCH_DAY = MAX_EPOCH_MS // 86_400_000
MAX_AMOUNT = 10**12
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

_LITERAL = "@@poison-literal@@"  # replaced by raw JSON text after encoding
_MARKER = "~poison-marker~"  # replaced by invalid UTF-8 after encoding
_INVALID_UTF8 = (b"\xff", b"\xfe", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xed\xa0\x80",
                 b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\xf0\x28\x8c\x28", b"\x80")
_LONE_SURROGATES = (b"\\ud800", b"\\udbff", b"\\udc00", b"\\udfff", b"\\ud83d x")

_TX_REQUIRED = ("event_id", "customer_id", "account_id", "occurred_at", "amount_minor",
                "currency", "direction", "channel", "category", "status")
_PAY_REQUIRED = ("event_id", "customer_id", "account_id", "occurred_at", "product", "currency",
                 "kind")
_PAY_BY_KIND: dict[str, tuple[str, ...]] = {  # the per-kind fields validation requires
    "STATEMENT_ISSUED": ("statement_balance_minor", "minimum_due_minor", "due_date"),
    "INSTALMENT_DUE": ("amount_due_minor", "due_date"),
    "PAYMENT_RECEIVED": ("amount_minor",),
    "PAYMENT_FAILED": ("amount_minor", "failure_reason"),
    "DELINQUENCY_STATUS": ("days_past_due",),
}
_PAY_AMOUNTS: dict[str, tuple[str, ...]] = {  # validated amounts per kind (>= 0, <= 10^12;
    # statement_balance_minor: |value| <= 10^12, negative is a card in credit)
    "STATEMENT_ISSUED": ("statement_balance_minor", "minimum_due_minor", "credit_limit_minor"),
    "INSTALMENT_DUE": ("amount_due_minor",),
    "PAYMENT_RECEIVED": ("amount_minor",),
    "PAYMENT_FAILED": ("amount_minor",),
}
_INT_FIELDS = frozenset({"occurred_at", "amount_minor", "balance_after_minor",
                         "statement_balance_minor", "minimum_due_minor", "credit_limit_minor",
                         "amount_due_minor", "days_past_due"})
_TEXT_LIMITS = {"event_id": 128, "customer_id": 128, "account_id": 128, "counterparty": 256,
                "decline_reason": 64, "merchant_category_code": 4, "failure_reason": 64}
_SYMBOLS = {RecordType.TRANSACTION: ("direction", "channel", "category", "status"),
            RecordType.PAYMENT: ("product", "kind")}


@dataclass(frozen=True, slots=True)
class Poison:
    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    reason: str  # the dead-letter reason the contract gives this record


class _Generator:
    def __init__(self, topics: Mapping[str, str], templates: Sequence[Mapping[str, Any]],
                 seed: int) -> None:
        self.rng = random.Random(seed)
        self.catalog = SchemaCatalog.default()
        self.codec = AvroCodec(self.catalog)
        self.topic = {RecordType.TRANSACTION: topics["TOPIC_TRANSACTIONS"],
                      RecordType.PAYMENT: topics["TOPIC_PAYMENTS"]}
        self.bodies: dict[RecordType, list[dict[str, Any]]] = {
            RecordType.TRANSACTION: [], RecordType.PAYMENT: []}
        for record in templates:
            record_type = (RecordType.TRANSACTION if record["type"] == "transaction"
                           else RecordType.PAYMENT if record["type"] == "payment" else None)
            if record_type is not None:
                self.bodies[record_type].append({k: v for k, v in record.items()
                                                 if k != "type"})
        if not all(self.bodies.values()):
            raise ValueError("templates need at least one transaction and one payment")
        self.customers = sorted({b["customer_id"] for bs in self.bodies.values() for b in bs})
        self._serial = itertools.count()

    # --- building blocks -----------------------------------------------------------------------
    def record_type(self) -> RecordType:
        return self.rng.choice((RecordType.TRANSACTION, RecordType.PAYMENT))

    def fresh(self, record_type: RecordType | None = None,
              kinds: Sequence[str] | None = None) -> tuple[RecordType, dict[str, Any]]:
        """A copy of a simulated event (of one of the payment ``kinds``) with a new event id."""
        record_type = record_type or self.record_type()
        bodies = self.bodies[record_type]
        if kinds is not None and record_type is RecordType.PAYMENT:
            bodies = [b for b in bodies if b["kind"] in kinds]
        body = copy.deepcopy(self.rng.choice(bodies))
        body["event_id"] = f"poison-{next(self._serial)}"
        return record_type, body

    def avro(self, record_type: RecordType, body: Mapping[str, Any]) -> bytes:
        return self.codec.encode(record_type, body)

    def make(self, kind: str, record_type: RecordType, body: Mapping[str, Any] | None,
             value: bytes | None, reason: str, *, key: bytes | str | None = "own") -> Poison:
        if key == "own":
            key = (body["customer_id"].encode() if body is not None
                   else self.rng.choice(self.customers).encode())
        assert not isinstance(key, str)
        return Poison(kind, self.topic[record_type], key, value, reason)

    def json_literal(self, body: dict[str, Any], field: str, literal: bytes) -> bytes:
        """JSON of ``body`` with ``field`` set to raw JSON text (NaN, 2**70, ...)."""
        body = {**body, field: _LITERAL}
        return encode_json(body).replace(orjson.dumps(_LITERAL), literal)

    def either(self, record_type: RecordType, body: Mapping[str, Any]) -> bytes:
        """Avro or JSON, at random (for poison both formats carry the same way)."""
        return self.avro(record_type, body) if self.rng.random() < 0.5 else encode_json(body)

    def text(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_ éü€😀"
        if self.rng.random() < 0.7:
            alphabet = alphabet[:38]  # mostly ASCII
        return "".join(self.rng.choices(alphabet, k=length))

    # --- kinds ---------------------------------------------------------------------------------
    def random_bytes(self) -> Poison:
        rng = self.rng
        length = rng.choice((rng.randint(0, 16), rng.randint(17, 256), rng.randint(257, 4096)))
        value = rng.randbytes(length)
        if value and value[0] in (0x00, 0x7B):  # neither a frame nor JSON: flip the top bit
            value = bytes([value[0] | 0x80]) + value[1:]
        key = rng.choice((None, rng.randbytes(rng.randint(1, 40)),
                          rng.choice(self.customers).encode()))
        return self.make("random_bytes", self.record_type(), None, value, "malformed_frame",
                         key=key)

    def tombstone(self) -> Poison:
        # Kafka clients refuse a record without key and value: a tombstone always has a key
        key = self.rng.choice((self.rng.randbytes(8), self.rng.choice(self.customers).encode()))
        return self.make("tombstone", self.record_type(), None, None, "malformed_frame",
                         key=key)

    def empty_value(self) -> Poison:
        return self.make("empty_value", self.record_type(), None, b"", "malformed_frame")

    def short_header(self) -> Poison:
        value = b"\x00" + self.rng.randbytes(self.rng.randint(0, 3))
        return self.make("short_header", self.record_type(), None, value, "malformed_frame")

    def truncated_avro(self) -> Poison:
        record_type, body = self.fresh()
        frame = self.avro(record_type, body)
        cut = self.rng.randint(5, len(frame) - 1)
        return self.make("truncated_avro", record_type, body, frame[:cut], "avro_body")

    def corrupt_avro(self) -> Poison:
        """An enum index or union branch beyond the schema's, found by encoding the event
        twice with one field changed and patching the first differing byte."""
        record_type, body = self.fresh()
        if record_type is RecordType.TRANSACTION:
            field, first, second, branches = self.rng.choice((
                ("direction", "DEBIT", "CREDIT", 3), ("status", "POSTED", "DECLINED", 4),
                ("channel", "CARD", "ATM", 9), ("category", "SALARY", "RENT", 13),
                ("merchant_category_code", None, "5411", 2), ("counterparty", None, "x", 2)))
        else:
            field, first, second, branches = self.rng.choice((
                ("product", "CREDIT_CARD", "MORTGAGE", 7), ("kind", "STATEMENT_ISSUED",
                                                            "PAYMENT_RECEIVED", 6),
                ("failure_reason", None, "x", 2)))
        a = self.avro(record_type, {**body, field: first})
        b = self.avro(record_type, {**body, field: second})
        at = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        index = self.rng.randint(branches, 63)  # zig-zag varint of 0..63 is one byte
        frame = bytearray(a)
        frame[at] = index << 1
        return self.make("corrupt_avro", record_type, body, bytes(frame), "avro_body")

    def unknown_schema_id(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        while True:
            schema_id = rng.choice((0, rng.randint(9, 999), rng.randint(1000, 2**32 - 1),
                                    2**32 - 1, 2**31))
            if self.catalog.by_id(schema_id) is None:
                break
        payload = (self.avro(record_type, body)[5:] if rng.random() < 0.7
                   else rng.randbytes(rng.randint(0, 200)))
        value = b"\x00" + schema_id.to_bytes(4, "big") + payload
        return self.make("unknown_schema_id", record_type, body, value, "unknown_schema_id")

    def schema_mismatch(self) -> Poison:
        rng = self.rng
        record_type = self.record_type()
        other = (RecordType.PAYMENT if record_type is RecordType.TRANSACTION
                 else RecordType.TRANSACTION)
        _, body = self.fresh(other)
        if rng.random() < 0.6:  # a valid event of the other input topic
            value = self.avro(other, body)
        else:  # an id of customer flags or of an output record type, any body
            wrong = [s.schema_id for s in self.catalog.all()
                     if s.record_type not in (record_type, other)]
            value = (b"\x00" + rng.choice(wrong).to_bytes(4, "big")
                     + rng.randbytes(rng.randint(0, 120)))
        return self.make("schema_mismatch", record_type, body, value, "schema_mismatch")

    def _validated_fields(self, record_type: RecordType, body: Mapping[str, Any]) -> list[str]:
        if record_type is RecordType.TRANSACTION:
            return [*_TX_REQUIRED, "merchant_category_code", "decline_reason",
                    "balance_after_minor", "counterparty"]
        return [*_PAY_REQUIRED, *_PAY_BY_KIND[body["kind"]],
                *(("credit_limit_minor",) if body["kind"] == "STATEMENT_ISSUED" else ())]

    def wrong_type(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        field = rng.choice(self._validated_fields(record_type, body))
        if field in _INT_FIELDS:
            choice = rng.choice(("12", "1767225600000", 12.5, 1e300, -0.5, True, False, [1],
                                 {"value": 1}, "literal"))
        elif field == "due_date":
            choice = rng.choice((12.5, True, [2024, 1, 1], {"day": 1}, "literal"))
        else:  # strings: ids, currency, enum symbols, optional texts
            choice = rng.choice((12345, 0, 1.5, True, False, ["x"], {"a": "b"}))
        if choice == "literal":  # beyond 64 bits: orjson reads it as a float
            value = self.json_literal(body, field, str(2**70 + rng.randint(0, 999)).encode())
        else:
            value = encode_json({**body, field: choice})
        return self.make("wrong_type", record_type, body, value, "wrong_type")

    def missing_field(self) -> Poison:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            record_type = self.record_type()
            return self.make("missing_field", record_type, None,
                             rng.choice((b"{}", b'{"note": "nothing else"}')), "missing_field")
        if roll < 0.3:  # Avro: a per-kind field of a payment is null
            record_type, body = self.fresh(RecordType.PAYMENT)
            field = rng.choice(_PAY_BY_KIND[body["kind"]])
            return self.make("missing_field", record_type, body,
                             self.avro(record_type, {**body, field: None}), "missing_field")
        record_type, body = self.fresh()
        required = (_TX_REQUIRED if record_type is RecordType.TRANSACTION
                    else (*_PAY_REQUIRED, *_PAY_BY_KIND[body["kind"]]))
        field = rng.choice(required)
        if rng.random() < 0.5:
            changed = {k: v for k, v in body.items() if k != field}
        else:
            changed = {**body, field: None}
        return self.make("missing_field", record_type, body, encode_json(changed),
                         "missing_field")

    def _absurd_long(self, low: int, high: int) -> int:
        """A long outside [low, high]."""
        rng = self.rng
        return rng.choice((low - 1, rng.randint(LONG_MIN, low - 1), LONG_MIN,
                           high + 1, rng.randint(high + 1, LONG_MAX), LONG_MAX))

    def absurd_amount(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh(kinds=(*_PAY_AMOUNTS, "DELINQUENCY_STATUS"))
        if record_type is RecordType.TRANSACTION:
            field = rng.choice(("amount_minor", "amount_minor", "balance_after_minor"))
            if field == "amount_minor":
                number = rng.choice((0, self._absurd_long(1, MAX_AMOUNT)))
            else:
                number = self._absurd_long(-MAX_AMOUNT, MAX_AMOUNT)
        elif body["kind"] == "DELINQUENCY_STATUS":
            field = "days_past_due"
            number = rng.choice((-1, 3651, rng.randint(3651, INT_MAX), INT_MIN, INT_MAX))
        else:
            field = rng.choice(_PAY_AMOUNTS[body["kind"]])
            positive = body["kind"] in ("PAYMENT_RECEIVED", "PAYMENT_FAILED")
            low = -MAX_AMOUNT if field == "statement_balance_minor" else 1 if positive else 0
            number = self._absurd_long(low, MAX_AMOUNT)
            if positive and rng.random() < 0.2:
                number = 0
        roll = rng.random()
        if roll < 0.15:  # not JSON at all (orjson refuses these)
            literal = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"))
            return self.make("absurd_amount", record_type, body,
                             self.json_literal(body, field, literal), "json_body")
        if roll < 0.3:  # JSON numbers that are not integers
            literal = rng.choice((b"12.5", b"-0.0", b"1e300", b"-1e12", b"1E3",
                                  str(2**70).encode(), str(-(2**70)).encode()))
            return self.make("absurd_amount", record_type, body,
                             self.json_literal(body, field, literal), "wrong_type")
        return self.make("absurd_amount", record_type, body,
                         self.either(record_type, {**body, field: number}), "invalid_value")

    def absurd_date(self) -> Poison:
        rng = self.rng
        if rng.random() < 0.3:  # the due date of a statement or instalment
            record_type, body = self.fresh(RecordType.PAYMENT,
                                           kinds=("STATEMENT_ISSUED", "INSTALMENT_DUE"))
            roll = rng.random()
            if roll < 0.4:
                day = rng.choice((INT_MIN, -1, 0, MIN_EPOCH_DAY - 1, MAX_EPOCH_DAY,
                                  rng.randint(MAX_EPOCH_DAY, INT_MAX), INT_MAX))
                value = self.either(record_type, {**body, "due_date": day})
            elif roll < 0.5:
                value = encode_json({**body, "due_date": rng.choice((10**12, -(10**12)))})
            else:
                text = rng.choice(("1999-12-31", "2100-01-01", "9999-12-31", "0001-01-01",
                                   "2024-02-30", "2024-13-01", "2024-00-10", "tomorrow", "",
                                   "2024/01/31", "31.01.2024", "2024-01-31T00:00:00Z"))
                value = encode_json({**body, "due_date": text})
            return self.make("absurd_date", record_type, body, value, "invalid_value")
        record_type, body = self.fresh()
        roll = rng.random()
        if roll < 0.15:
            literal = rng.choice((b"1.7672256e12", b"1767225600000.5", str(2**70).encode(),
                                  b'"2026-01-01T00:00:00Z"', b"true"))
            return self.make("absurd_date", record_type, body,
                             self.json_literal(body, "occurred_at", literal), "wrong_type")
        when = rng.choice((0, -1, MIN_EPOCH_MS - 1, rng.randint(0, MIN_EPOCH_MS - 1),
                           MAX_EPOCH_MS, rng.randint(MAX_EPOCH_MS, 10**15), LONG_MIN, LONG_MAX,
                           rng.randint(LONG_MIN, -1), rng.randint(10**15, LONG_MAX)))
        return self.make("absurd_date", record_type, body,
                         self.either(record_type, {**body, "occurred_at": when}),
                         "invalid_value")

    def _long_text_field(self, record_type: RecordType,
                         body: Mapping[str, Any]) -> tuple[str, int]:
        fields = ["event_id", "customer_id", "account_id"]
        if record_type is RecordType.TRANSACTION:
            fields += ["counterparty", "decline_reason", "merchant_category_code"]
        elif body["kind"] == "PAYMENT_FAILED":
            fields.append("failure_reason")
        field = self.rng.choice(fields)
        return field, _TEXT_LIMITS[field]

    def huge_string(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        field, limit = self._long_text_field(record_type, body)
        length = rng.choice((limit + 1, rng.randint(limit + 1, 4 * limit + 8),
                             rng.randint(1024, 16_384)))
        changed = {**body, field: self.text(length)}
        return self.make("huge_string", record_type, body, self.either(record_type, changed),
                         "invalid_value")

    def large_string(self, index: int, count: int) -> Poison:
        record_type, body = self.fresh()
        field, _ = self._long_text_field(record_type, body)
        size = 100_000 + (LARGE_STRING_BYTES - 100_000 - 1000) * index // max(1, count - 1)
        changed = {**body, field: "x" * size}
        return self.make("large_string", record_type, body, self.either(record_type, changed),
                         "invalid_value")

    def invalid_utf8(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        fields = ["event_id", "customer_id", "account_id"]
        if record_type is RecordType.TRANSACTION:
            fields += ["counterparty", "decline_reason"]
        elif body["kind"] == "PAYMENT_FAILED":
            fields.append("failure_reason")
        field = rng.choice(fields)
        bad = b"".join(rng.choice(_INVALID_UTF8) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.5:  # Avro: same length as the marker, so the frame stays intact
            frame = self.avro(record_type, {**body, field: _MARKER})
            patch = (bad + b"x" * len(_MARKER))[:len(_MARKER)]
            value = frame.replace(_MARKER.encode(), patch)
            return self.make("invalid_utf8", record_type, body, value, "avro_body")
        patch = bad if rng.random() < 0.7 else rng.choice(_LONE_SURROGATES)
        value = encode_json({**body, field: _MARKER}).replace(_MARKER.encode(), patch)
        return self.make("invalid_utf8", record_type, body, value, "json_body")

    def bad_json(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        good = encode_json(body)
        roll = rng.random()
        if roll < 0.4:
            value = good[:rng.randint(1, len(good) - 1)]
        elif roll < 0.55:
            depth = rng.randint(1025, 20_000)
            value = b'{"a":' * depth + b"1" + b"}" * depth
        else:
            value = rng.choice((
                b"{'event_id': 'x'}", b'{"a":1,}', b'{"a" 1}', b"{,}", b'{"a":tru}',
                b'{"a":01}', b'{"a":.5}', b'{"a":"\\x41"}', b'{"a":"tab\tinside"}',
                b'{"a":1}{"b":2}', b'{/*c*/"a":1}', b'{"a":[1,2}', b"{", b"{{}}",
                b'{"a":"unterminated', b'{"a":1e}', b'{"a":-}', b'{"a":+1}', b'{"a":0x10}',
                good.replace(b'":', b'"=', 1), good.replace(b",", b";", 1),
                good.replace(b'"', b"'"), b"{" + b'"k":1,' * 10_000))
        return self.make("bad_json", record_type, body, value, "json_body")

    def json_not_object(self) -> Poison:
        record_type, body = self.fresh()
        good = encode_json(body)
        value = self.rng.choice((b"[" + good + b"]", b"\xef\xbb\xbf" + good, b" " + good,
                                 b"\n" + good, b"\t" + good, b'"' + good.replace(b'"', b"'")
                                 + b'"', b"null", b"true", b"123", b"[]"))
        return self.make("json_not_object", record_type, body, value, "malformed_frame")

    def bad_symbol(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        roll = rng.random()
        if roll < 0.45:
            field = rng.choice(_SYMBOLS[record_type])
            symbol = rng.choice(("SIDEWAYS", "debit", "", " DEBIT", "UNKNOWN", "DEBIT\x00",
                                 str(body[field]).lower(), str(body[field]) + " "))
            if symbol == "UNKNOWN" and field in ("direction", "status", "kind") and \
                    rng.random() < 0.5:  # the Avro default symbol, refused by validation
                value = self.avro(record_type, {**body, field: "UNKNOWN"})
            else:
                value = encode_json({**body, field: symbol})
        elif roll < 0.7:
            currency = rng.choice(("eur", "EURO", "E1R", "€€€", "", "US", " USD", "ÉUR"))
            value = self.either(record_type, {**body, "currency": currency})
        elif roll < 0.85 and record_type is RecordType.TRANSACTION:
            mcc = rng.choice(("12a4", "541", "5411 ", "-123", "١٢٣٤", "    "))
            value = self.either(record_type, {**body, "merchant_category_code": mcc})
        else:
            field = rng.choice(("event_id", "customer_id", "account_id"))
            value = self.either(record_type, {**body, field: ""})
        return self.make("bad_symbol", record_type, body, value, "invalid_value")

    def key_mismatch(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        own = body["customer_id"]
        key = rng.choice((None, b"", rng.randbytes(rng.randint(1, 64)), own.lower().encode(),
                          own.encode() + b" ", own.encode() + b"\xff",
                          rng.choice([c for c in self.customers if c != own]).encode()))
        return self.make("key_mismatch", record_type, body, self.either(record_type, body),
                         "key_mismatch", key=key)

    def trailing_garbage(self) -> Poison:
        rng = self.rng
        record_type, body = self.fresh()
        if rng.random() < 0.6:
            value = self.avro(record_type, body) + rng.randbytes(rng.randint(1, 64))
            return self.make("trailing_garbage", record_type, body, value, "avro_body")
        junk = rng.choice((b"x", b"}", b"\x00", b"{}", b",", b" garbage", b"\n{}", b"\xff"))
        return self.make("trailing_garbage", record_type, body, encode_json(body) + junk,
                         "json_body")

    def oversize(self, index: int, count: int) -> Poison:
        size = OVERSIZE_BYTES[index % len(OVERSIZE_BYTES)]
        value = b"\xff" + self.rng.randbytes(size - 1)
        return self.make("oversize", self.record_type(), None, value, "malformed_frame")

    def huge_key(self, index: int, count: int) -> Poison:
        record_type, body = self.fresh()
        return self.make("huge_key", record_type, body, self.avro(record_type, body),
                         "key_mismatch", key=b"K" * HUGE_KEY_BYTES)


def generate_poison(topics: Mapping[str, str], templates: Sequence[Mapping[str, Any]], *,
                    scale: float = 1.0, seed: int = 0, large: bool = True) -> list[Poison]:
    """Bad records for the TOPIC_TRANSACTIONS and TOPIC_PAYMENTS of ``topics``, derived from
    simulated log records ``templates`` (with their ``type``), in a seeded random order.

    ``scale`` multiplies :data:`BASE_COUNTS`; ``large`` adds :data:`LARGE_COUNTS`.
    """
    generator = _Generator(topics, templates, seed)
    out: list[Poison] = []
    for kind, base in BASE_COUNTS.items():
        make: Callable[[], Poison] = getattr(generator, kind)
        out.extend(make() for _ in range(round(base * scale)))
    if large:
        for kind, count in LARGE_COUNTS.items():
            make_large: Callable[[int, int], Poison] = getattr(generator, kind)
            out.extend(make_large(i, count) for i in range(count))
    generator.rng.shuffle(out)
    return out
