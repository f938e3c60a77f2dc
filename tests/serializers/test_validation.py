"""Contract validation: required fields, types, value ranges and enum symbols, for Avro and JSON
input alike; error messages name the field and never quote its value."""

from __future__ import annotations

from typing import Any

import pytest

from stream_app.events import (
    CATEGORIES,
    CHANNELS,
    PAYMENT_KINDS,
    PRODUCTS,
    CustomerFlags,
    Payment,
    RecordType,
    Transaction,
)
from stream_app.serializers import (
    MAX_AMOUNT_MINOR,
    AvroCodec,
    InputDecoder,
    InputError,
    InvalidValueError,
    MissingFieldError,
    SchemaCatalog,
    ValidationError,
    WrongTypeError,
    encode_json,
    validate,
    validate_customer_flags,
    validate_payment,
    validate_transaction,
)

from . import records
from .records import TOPIC_OF, TOPICS

MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MIN_DAY = 10_957  # 2000-01-01 as an epoch day
MAX_DAY = 47_482  # 2100-01-01 as an epoch day

CATALOG = SchemaCatalog.default()


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(CATALOG)


@pytest.fixture(scope="module")
def decoder() -> InputDecoder:
    return InputDecoder(CATALOG, TOPICS)


def _base(record_type: RecordType, kind: str | None = None) -> dict[str, Any]:
    if record_type is RecordType.PAYMENT:
        return records.payment(kind or "STATEMENT_ISSUED")
    return records.sample(record_type)


def _fails(record_type: RecordType, record: dict[str, Any], error: type[ValidationError],
           field: str) -> ValidationError:
    """Validation fails the same way whether the record came as JSON or was validated as is."""
    with pytest.raises(error) as caught:
        validate(record_type, record)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    assert caught.value.reason == {
        MissingFieldError: "missing_field",
        WrongTypeError: "wrong_type",
        InvalidValueError: "invalid_value",
    }[error]
    with pytest.raises(error) as via_json:
        InputDecoder(CATALOG, TOPICS).decode(TOPIC_OF[record_type], encode_json(record))
    assert via_json.value.field == field
    return caught.value


# --- valid records -------------------------------------------------------------------------


def test_valid_transaction_becomes_a_transaction() -> None:
    record = records.transaction()
    event = validate_transaction(record)
    assert event == Transaction(**record)


@pytest.mark.parametrize("kind", sorted(PAYMENT_KINDS))
def test_valid_payment_of_every_kind_becomes_a_payment(kind: str) -> None:
    record = records.payment(kind)
    assert validate_payment(record) == Payment(**record)


def test_fields_of_other_kinds_are_not_carried_into_the_event() -> None:
    record = records.payment("PAYMENT_RECEIVED", days_past_due=12, minimum_due_minor=500)
    event = validate_payment(record)
    assert event.amount_minor == 4_626
    assert event.days_past_due is None
    assert event.minimum_due_minor is None


def test_valid_flags_become_customer_flags_and_missing_booleans_are_false() -> None:
    assert validate_customer_flags(records.customer_flags()) == CustomerFlags(
        **records.customer_flags()
    )
    bare = {"event_id": "fl-9", "customer_id": "C9", "occurred_at": MIN_MS,
            "vulnerable": None}
    event = validate_customer_flags(bare)
    assert event.account_id is None
    assert not any((event.opt_out_contact, event.vulnerable, event.hardship_plan,
                    event.deceased, event.bankruptcy))


def test_credit_limit_is_optional_on_statements() -> None:
    event = validate_payment(records.payment("STATEMENT_ISSUED", credit_limit_minor=None))
    assert event.credit_limit_minor is None


def test_boundaries_that_are_still_valid() -> None:
    event = validate_transaction(records.transaction(amount_minor=MAX_AMOUNT_MINOR,
                                                     occurred_at=MIN_MS))
    assert event.amount_minor == MAX_AMOUNT_MINOR
    assert validate_transaction(records.transaction(occurred_at=MAX_MS - 1)).occurred_at == (
        MAX_MS - 1
    )
    assert validate_transaction(records.transaction(amount_minor=1)).amount_minor == 1
    statement = validate_payment(records.payment(
        "STATEMENT_ISSUED", statement_balance_minor=0, minimum_due_minor=0, due_date=MIN_DAY))
    assert statement.statement_balance_minor == 0
    assert statement.due_date == MIN_DAY
    assert validate_payment(records.payment("INSTALMENT_DUE", due_date=MAX_DAY - 1)).due_date == (
        MAX_DAY - 1
    )
    for dpd in (0, 3650):
        assert validate_payment(records.payment("DELINQUENCY_STATUS",
                                                days_past_due=dpd)).days_past_due == dpd
    assert validate_transaction(records.transaction(customer_id="C" * 128)).customer_id == (
        "C" * 128
    )


@pytest.mark.parametrize("symbol", sorted(CHANNELS))
def test_every_channel_symbol_is_accepted(symbol: str) -> None:
    assert validate_transaction(records.transaction(channel=symbol)).channel == symbol


@pytest.mark.parametrize("symbol", sorted(CATEGORIES))
def test_every_category_symbol_is_accepted(symbol: str) -> None:
    assert validate_transaction(records.transaction(category=symbol)).category == symbol


@pytest.mark.parametrize("symbol", sorted(PRODUCTS))
def test_every_product_symbol_is_accepted(symbol: str) -> None:
    assert validate_payment(records.payment("PAYMENT_RECEIVED", product=symbol)).product == symbol


def test_output_record_types_cannot_be_validated_as_input() -> None:
    with pytest.raises(ValueError, match="RISK_SCORE"):
        validate(RecordType.RISK_SCORE, records.risk_score())


# --- credit balances, overpayments, refunds: what real card and loan systems emit ---------


def _statement(balance: int, minimum: int, **changes: Any) -> dict[str, Any]:
    return records.payment("STATEMENT_ISSUED", statement_balance_minor=balance,
                           minimum_due_minor=minimum, **changes)


@pytest.mark.parametrize("balance", [-1, -25_000, -MAX_AMOUNT_MINOR],
                         ids=["one-cent", "refund", "limit"])
def test_a_statement_of_a_card_in_credit_is_valid(balance: int) -> None:
    """A negative balance is a card in credit (an overpayment or a refund): it owes nothing."""
    event = validate_payment(_statement(balance, 0))
    assert (event.statement_balance_minor, event.minimum_due_minor) == (balance, 0)
    assert InputDecoder(CATALOG, TOPICS).decode(
        "bank.payments.v1", AvroCodec(CATALOG).encode(RecordType.PAYMENT, _statement(balance, 0))
    ) == event


def test_the_balance_bound_is_symmetric() -> None:
    assert validate_payment(_statement(MAX_AMOUNT_MINOR, 0)).statement_balance_minor == (
        MAX_AMOUNT_MINOR)
    failure = _fails(RecordType.PAYMENT, _statement(-MAX_AMOUNT_MINOR - 1, 0),
                     InvalidValueError, "statement_balance_minor")
    assert f"-{MAX_AMOUNT_MINOR} and {MAX_AMOUNT_MINOR}" in failure.message


@pytest.mark.parametrize(("balance", "minimum"), [(1, 1), (154_210, 154_210), (154_210, 0)],
                         ids=["one-cent-all-due", "all-due", "nothing-due"])
def test_a_minimum_up_to_a_positive_balance_is_valid(balance: int, minimum: int) -> None:
    assert validate_payment(_statement(balance, minimum)).minimum_due_minor == minimum


SECRET_BALANCE, SECRET_MINIMUM = 7_654_321, 7_654_322  # must not appear in messages


@pytest.mark.parametrize(
    ("balance", "minimum", "rule"),
    [(SECRET_BALANCE, SECRET_MINIMUM, "must not exceed a positive statement_balance_minor"),
     (0, 1, "must be 0 when statement_balance_minor is 0 or negative"),
     (-SECRET_BALANCE, SECRET_MINIMUM, "must be 0 when statement_balance_minor is 0 or negative"),
     (-1, 1, "must be 0 when statement_balance_minor is 0 or negative")],
    ids=["above-the-balance", "settled", "in-credit", "in-credit-one-cent"],
)
def test_a_minimum_the_balance_does_not_allow_is_refused(balance: int, minimum: int,
                                                         rule: str) -> None:
    failure = _fails(RecordType.PAYMENT, _statement(balance, minimum), InvalidValueError,
                     "minimum_due_minor")
    assert rule in failure.message  # names the field and the rule ...
    for text in (str(failure), repr(failure)):  # ... never the values
        assert not any(c.isdigit() for c in text.replace(rule, ""))


def test_a_credit_limit_of_zero_means_no_limit_known() -> None:
    assert validate_payment(_statement(154_210, 4_626, credit_limit_minor=0)).credit_limit_minor \
        == 0
    _fails(RecordType.PAYMENT, _statement(154_210, 4_626, credit_limit_minor=-1),
           InvalidValueError, "credit_limit_minor")


def test_an_instalment_of_zero_is_a_payment_holiday() -> None:
    event = validate_payment(records.payment("INSTALMENT_DUE", amount_due_minor=0))
    assert event.amount_due_minor == 0


def test_an_overpayment_is_accepted_as_is() -> None:
    """A payment larger than anything owed is valid: the card goes into credit."""
    event = validate_payment(records.payment("PAYMENT_RECEIVED", amount_minor=MAX_AMOUNT_MINOR))
    assert event.amount_minor == MAX_AMOUNT_MINOR
    # a reversal is a PAYMENT_FAILED, never a negative payment
    _fails(RecordType.PAYMENT, records.payment("PAYMENT_RECEIVED", amount_minor=-4_626),
           InvalidValueError, "amount_minor")


@pytest.mark.parametrize("category", ["DISCRETIONARY", "GROCERIES", "UTILITIES", "GAMBLING"])
def test_a_refund_is_a_credit_in_the_purchase_category(category: str) -> None:
    refund = records.transaction(direction="CREDIT", category=category, amount_minor=4_599,
                                 balance_after_minor=-7_451)
    event = validate_transaction(refund)
    assert (event.direction, event.category, event.amount_minor) == ("CREDIT", category, 4_599)
    _fails(RecordType.TRANSACTION, {**refund, "amount_minor": -4_599}, InvalidValueError,
           "amount_minor")


def test_an_overdrawn_balance_after_a_transaction_is_valid() -> None:
    for balance in (-1, -MAX_AMOUNT_MINOR):
        assert validate_transaction(
            records.transaction(balance_after_minor=balance)).balance_after_minor == balance


# --- missing fields --------------------------------------------------------------------------

TRANSACTION_REQUIRED = ["event_id", "customer_id", "account_id", "occurred_at", "amount_minor",
                        "currency", "direction", "channel", "category", "status"]
PAYMENT_REQUIRED = ["event_id", "customer_id", "account_id", "occurred_at", "product",
                    "currency", "kind"]
FLAGS_REQUIRED = ["event_id", "customer_id", "occurred_at"]
PER_KIND_REQUIRED = [
    ("STATEMENT_ISSUED", "statement_balance_minor"),
    ("STATEMENT_ISSUED", "minimum_due_minor"),
    ("STATEMENT_ISSUED", "due_date"),
    ("INSTALMENT_DUE", "amount_due_minor"),
    ("INSTALMENT_DUE", "due_date"),
    ("PAYMENT_RECEIVED", "amount_minor"),
    ("PAYMENT_FAILED", "amount_minor"),
    ("PAYMENT_FAILED", "failure_reason"),
    ("DELINQUENCY_STATUS", "days_past_due"),
]


@pytest.mark.parametrize(
    ("record_type", "field"),
    [(RecordType.TRANSACTION, f) for f in TRANSACTION_REQUIRED]
    + [(RecordType.PAYMENT, f) for f in PAYMENT_REQUIRED]
    + [(RecordType.CUSTOMER_FLAGS, f) for f in FLAGS_REQUIRED],
)
@pytest.mark.parametrize("how", ["absent", "null"])
def test_missing_required_field(record_type: RecordType, field: str, how: str) -> None:
    record = _base(record_type)
    if how == "absent":
        del record[field]
    else:
        record[field] = None
    _fails(record_type, record, MissingFieldError, field)


@pytest.mark.parametrize(("kind", "field"), PER_KIND_REQUIRED)
def test_missing_per_kind_field_of_a_payment(
    kind: str, field: str, codec: AvroCodec, decoder: InputDecoder
) -> None:
    record = records.payment(kind, **{field: None})
    _fails(RecordType.PAYMENT, record, MissingFieldError, field)
    # Avro allows null in these fields: the contract check catches it after decoding
    frame = codec.encode(RecordType.PAYMENT, record)
    with pytest.raises(MissingFieldError) as caught:
        decoder.decode("bank.payments.v1", frame)
    assert caught.value.field == field


# --- wrong types -----------------------------------------------------------------------------

WRONG_TYPES = [
    (RecordType.TRANSACTION, "event_id", 123),
    (RecordType.TRANSACTION, "customer_id", ["CUST-1"]),
    (RecordType.TRANSACTION, "occurred_at", "2026-01-01T09:00:00Z"),
    (RecordType.TRANSACTION, "occurred_at", 1_767_225_600_000.0),
    (RecordType.TRANSACTION, "occurred_at", True),
    (RecordType.TRANSACTION, "amount_minor", "4599"),
    (RecordType.TRANSACTION, "amount_minor", 45.99),
    (RecordType.TRANSACTION, "amount_minor", True),
    (RecordType.TRANSACTION, "currency", 978),
    (RecordType.TRANSACTION, "direction", 0),
    (RecordType.TRANSACTION, "status", {"POSTED": 1}),
    (RecordType.TRANSACTION, "merchant_category_code", 5411),
    (RecordType.TRANSACTION, "balance_after_minor", False),
    (RecordType.TRANSACTION, "balance_after_minor", "-12050"),
    (RecordType.TRANSACTION, "counterparty", 42),
    (RecordType.PAYMENT, "kind", 1),
    (RecordType.PAYMENT, "statement_balance_minor", True),
    (RecordType.PAYMENT, "minimum_due_minor", 46.26),
    (RecordType.PAYMENT, "due_date", 20_475.0),
    (RecordType.PAYMENT, "due_date", True),
    (RecordType.PAYMENT, "credit_limit_minor", "300000"),
    (RecordType.CUSTOMER_FLAGS, "opt_out_contact", 1),
    (RecordType.CUSTOMER_FLAGS, "vulnerable", "true"),
    (RecordType.CUSTOMER_FLAGS, "account_id", 7),
    (RecordType.CUSTOMER_FLAGS, "occurred_at", False),
]


@pytest.mark.parametrize(("record_type", "field", "value"), WRONG_TYPES)
def test_wrong_type(record_type: RecordType, field: str, value: Any) -> None:
    _fails(record_type, {**_base(record_type), field: value}, WrongTypeError, field)


@pytest.mark.parametrize(
    ("kind", "field"),
    [("PAYMENT_RECEIVED", "amount_minor"), ("PAYMENT_FAILED", "failure_reason"),
     ("INSTALMENT_DUE", "amount_due_minor"), ("DELINQUENCY_STATUS", "days_past_due")],
)
def test_bool_is_not_an_integer_in_per_kind_fields(kind: str, field: str) -> None:
    record = records.payment(kind, **{field: True})
    _fails(RecordType.PAYMENT, record, WrongTypeError, field)


# --- invalid values --------------------------------------------------------------------------

INVALID_VALUES = [
    (RecordType.TRANSACTION, "amount_minor", 0),
    (RecordType.TRANSACTION, "amount_minor", -4_599),
    (RecordType.TRANSACTION, "amount_minor", MAX_AMOUNT_MINOR + 1),
    (RecordType.TRANSACTION, "balance_after_minor", -MAX_AMOUNT_MINOR - 1),
    (RecordType.TRANSACTION, "currency", "eur"),
    (RecordType.TRANSACTION, "currency", "EURO"),
    (RecordType.TRANSACTION, "currency", "EU"),
    (RecordType.TRANSACTION, "currency", ""),
    (RecordType.TRANSACTION, "currency", "€UR"),
    (RecordType.TRANSACTION, "occurred_at", MIN_MS - 1),
    (RecordType.TRANSACTION, "occurred_at", MAX_MS),
    (RecordType.TRANSACTION, "occurred_at", 1_767_225_600),  # seconds, not milliseconds
    (RecordType.TRANSACTION, "direction", "UNKNOWN"),
    (RecordType.TRANSACTION, "direction", "debit"),
    (RecordType.TRANSACTION, "status", "UNKNOWN"),
    (RecordType.TRANSACTION, "channel", "SWIFT"),
    (RecordType.TRANSACTION, "category", "CRYPTO"),
    (RecordType.TRANSACTION, "event_id", ""),
    (RecordType.TRANSACTION, "account_id", "A" * 129),
    (RecordType.TRANSACTION, "merchant_category_code", "54a1"),
    (RecordType.TRANSACTION, "merchant_category_code", "541"),
    (RecordType.TRANSACTION, "merchant_category_code", "54111"),
    (RecordType.TRANSACTION, "decline_reason", "X" * 65),
    (RecordType.TRANSACTION, "counterparty", "Y" * 257),
    (RecordType.PAYMENT, "kind", "UNKNOWN"),
    (RecordType.PAYMENT, "kind", "REFUND"),
    (RecordType.PAYMENT, "product", "LEASE"),
    (RecordType.PAYMENT, "currency", "usd"),
    (RecordType.PAYMENT, "statement_balance_minor", -MAX_AMOUNT_MINOR - 1),
    (RecordType.PAYMENT, "statement_balance_minor", MAX_AMOUNT_MINOR + 1),
    (RecordType.PAYMENT, "minimum_due_minor", -1),
    (RecordType.PAYMENT, "minimum_due_minor", MAX_AMOUNT_MINOR + 1),
    (RecordType.PAYMENT, "credit_limit_minor", -300_000),
    (RecordType.PAYMENT, "due_date", "1999-12-31"),
    (RecordType.PAYMENT, "due_date", "2100-01-01"),
    (RecordType.PAYMENT, "due_date", "2026-02-30"),
    (RecordType.PAYMENT, "due_date", "22/01/2026"),
    (RecordType.PAYMENT, "due_date", ""),
    (RecordType.PAYMENT, "due_date", MIN_DAY - 1),
    (RecordType.PAYMENT, "due_date", MAX_DAY),
    (RecordType.PAYMENT, "due_date", 1_768_953_600_000),  # epoch ms where a day is expected
    (RecordType.PAYMENT, "occurred_at", 0),
    (RecordType.CUSTOMER_FLAGS, "customer_id", ""),
    (RecordType.CUSTOMER_FLAGS, "account_id", ""),
    (RecordType.CUSTOMER_FLAGS, "occurred_at", -1),
]


@pytest.mark.parametrize(("record_type", "field", "value"), INVALID_VALUES)
def test_invalid_value(record_type: RecordType, field: str, value: Any) -> None:
    _fails(record_type, {**_base(record_type), field: value}, InvalidValueError, field)


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [("PAYMENT_RECEIVED", "amount_minor", 0), ("PAYMENT_FAILED", "amount_minor", -5),
     ("PAYMENT_RECEIVED", "amount_minor", MAX_AMOUNT_MINOR + 1),
     ("INSTALMENT_DUE", "amount_due_minor", -1),
     ("DELINQUENCY_STATUS", "days_past_due", -1), ("DELINQUENCY_STATUS", "days_past_due", 3651),
     ("PAYMENT_FAILED", "failure_reason", "R" * 65),
     ("DELINQUENCY_STATUS", "due_date", "not a date")],
)
def test_invalid_per_kind_value(kind: str, field: str, value: Any) -> None:
    _fails(RecordType.PAYMENT, records.payment(kind, **{field: value}), InvalidValueError, field)


@pytest.mark.parametrize(
    ("record_type", "field"),
    [(RecordType.TRANSACTION, "direction"), (RecordType.TRANSACTION, "status"),
     (RecordType.PAYMENT, "kind")],
)
def test_avro_default_symbol_unknown_is_refused(
    record_type: RecordType, field: str, codec: AvroCodec, decoder: InputDecoder
) -> None:
    """A producer on a newer schema whose symbol we map to the default UNKNOWN is not scored."""
    frame = codec.encode(record_type, {**_base(record_type), field: "UNKNOWN"})
    with pytest.raises(InvalidValueError) as caught:
        decoder.decode(TOPIC_OF[record_type], frame)
    assert caught.value.field == field
    assert caught.value.reason == "invalid_value"


# --- personal data never appears in error messages ---------------------------------------

PERSONAL = "Jane-Doe-DE89370400440532013000"


@pytest.mark.parametrize(
    ("record_type", "field", "value", "error"),
    [
        (RecordType.TRANSACTION, "customer_id", PERSONAL * 5, InvalidValueError),
        (RecordType.TRANSACTION, "account_id", PERSONAL * 5, InvalidValueError),
        (RecordType.TRANSACTION, "counterparty", PERSONAL * 9, InvalidValueError),
        (RecordType.TRANSACTION, "counterparty", [PERSONAL], WrongTypeError),
        (RecordType.TRANSACTION, "customer_id", {"name": PERSONAL}, WrongTypeError),
        (RecordType.TRANSACTION, "currency", PERSONAL, InvalidValueError),
        (RecordType.TRANSACTION, "direction", PERSONAL, InvalidValueError),
        (RecordType.TRANSACTION, "merchant_category_code", PERSONAL, InvalidValueError),
        (RecordType.TRANSACTION, "decline_reason", PERSONAL * 3, InvalidValueError),
        (RecordType.PAYMENT, "kind", PERSONAL, InvalidValueError),
        (RecordType.PAYMENT, "due_date", PERSONAL, InvalidValueError),
        (RecordType.CUSTOMER_FLAGS, "vulnerable", PERSONAL, WrongTypeError),
    ],
)
def test_error_messages_do_not_contain_the_value(
    record_type: RecordType, field: str, value: Any, error: type[ValidationError]
) -> None:
    failure = _fails(record_type, {**_base(record_type), field: value}, error, field)
    for text in (str(failure), failure.message, repr(failure), *map(str, failure.args)):
        assert "Jane-Doe" not in text
        assert "DE8937" not in text


def test_error_messages_do_not_contain_numeric_values() -> None:
    secret_amount = 987_654_321_012_345
    failure = _fails(RecordType.TRANSACTION, records.transaction(amount_minor=secret_amount),
                     InvalidValueError, "amount_minor")
    assert str(secret_amount) not in str(failure)
    failure = _fails(RecordType.TRANSACTION, records.transaction(customer_id=31_415_926_535),
                     WrongTypeError, "customer_id")
    assert "31415926535" not in str(failure)


def test_validation_errors_are_input_errors() -> None:
    for cls in (MissingFieldError, WrongTypeError, InvalidValueError):
        assert issubclass(cls, ValidationError)
        assert issubclass(cls, InputError)
    assert len({MissingFieldError.reason, WrongTypeError.reason, InvalidValueError.reason,
                ValidationError.reason}) == 4
