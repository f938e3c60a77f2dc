"""Contract checks applied after decoding, identical for Avro and JSON input.

Avro already guarantees types for framed records; JSON does not, so types are checked here for
both (cheap) and the result is always one of the typed events of :mod:`stream_app.events`.
Error messages name the field and the rule, never the offending value (it may be personal data).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from stream_app.events import (
    CATEGORIES,
    CHANNELS,
    DIRECTIONS,
    PAYMENT_KINDS,
    PRODUCTS,
    TRANSACTION_STATUSES,
    CustomerFlags,
    InputEvent,
    Payment,
    RecordType,
    Transaction,
)

from ._errors import InvalidValueError, MissingFieldError, WrongTypeError

__all__ = [
    "MAX_AMOUNT_MINOR",
    "MAX_DAYS_PAST_DUE",
    "MAX_EPOCH_MS",
    "MIN_EPOCH_MS",
    "validate",
    "validate_customer_flags",
    "validate_payment",
    "validate_transaction",
]

MIN_EPOCH_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MIN_EPOCH_DAY = MIN_EPOCH_MS // 86_400_000
MAX_EPOCH_DAY = MAX_EPOCH_MS // 86_400_000
MAX_AMOUNT_MINOR = 10**12  # ten billion in major units: larger is a producer bug, not a retail fact
MAX_DAYS_PAST_DUE = 3650
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 256
_CURRENCY = re.compile(r"[A-Z]{3}")
_MCC = re.compile(r"[0-9]{4}")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _require(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None:
        raise MissingFieldError(name, "is required")
    return value


def _id(record: Mapping[str, Any], name: str) -> str:
    value = _require(record, name)
    if type(value) is not str:
        raise WrongTypeError(name, "must be a string")
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidValueError(name, f"must have 1 to {MAX_ID_LENGTH} characters")
    return value


def _opt_text(record: Mapping[str, Any], name: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise WrongTypeError(name, "must be a string or null")
    if len(value) > limit:
        raise InvalidValueError(name, f"must have at most {limit} characters")
    return value


def _int(value: Any, name: str) -> int:
    if type(value) is not int:  # bool is an int subclass: refuse it too
        raise WrongTypeError(name, "must be an integer")
    return value


def _timestamp(record: Mapping[str, Any], name: str) -> int:
    value = _int(_require(record, name), name)
    if not MIN_EPOCH_MS <= value < MAX_EPOCH_MS:
        raise InvalidValueError(name, "must be epoch milliseconds between 2000 and 2100")
    return value


def _amount(record: Mapping[str, Any], name: str, *, positive: bool = False) -> int:
    value = _int(_require(record, name), name)
    low = 1 if positive else 0
    if not low <= value <= MAX_AMOUNT_MINOR:
        rule = "> 0" if positive else ">= 0"
        raise InvalidValueError(name, f"must be {rule} and at most {MAX_AMOUNT_MINOR} minor units")
    return value


def _signed_amount(record: Mapping[str, Any], name: str) -> int:
    """A balance: negative means in credit (the bank owes the customer)."""
    value = _int(_require(record, name), name)
    if abs(value) > MAX_AMOUNT_MINOR:
        raise InvalidValueError(
            name, f"must be between -{MAX_AMOUNT_MINOR} and {MAX_AMOUNT_MINOR} minor units")
    return value


def _minimum_due(record: Mapping[str, Any], balance: int) -> int:
    """The minimum payment of a statement: at most a positive balance, and 0 when the card is
    settled or in credit (nothing is owed). Issuers cap the minimum at the balance, and past-due
    amounts and fees are part of the balance, so a larger minimum is a producer bug."""
    minimum = _amount(record, "minimum_due_minor")
    if balance > 0 and minimum > balance:
        raise InvalidValueError("minimum_due_minor",
                                "must not exceed a positive statement_balance_minor")
    if balance <= 0 and minimum != 0:
        raise InvalidValueError("minimum_due_minor", "must be 0 when statement_balance_minor "
                                "is 0 or negative (nothing is owed)")
    return minimum


def _opt_amount(record: Mapping[str, Any], name: str) -> int | None:
    if record.get(name) is None:
        return None
    return _amount(record, name)


def _currency(record: Mapping[str, Any]) -> str:
    value = _require(record, "currency")
    if type(value) is not str:
        raise WrongTypeError("currency", "must be a string")
    if not _CURRENCY.fullmatch(value):
        raise InvalidValueError("currency", "must be an ISO-4217 code of 3 capital letters")
    return value


def _symbol(record: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = _require(record, name)
    if type(value) is not str:
        raise WrongTypeError(name, "must be a string")
    if value not in allowed:
        raise InvalidValueError(name, f"must be one of {', '.join(sorted(allowed))}")
    return value


def _date(record: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = record.get(name)
    if value is None:
        if required:
            raise MissingFieldError(name, "is required for this kind")
        return None
    if type(value) is str:
        try:
            day = dt.date.fromisoformat(value).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            raise InvalidValueError(name, "must be a date YYYY-MM-DD") from None
    elif type(value) is int:
        day = value
    else:
        raise WrongTypeError(name, "must be a date (YYYY-MM-DD or days since 1970-01-01)")
    if not MIN_EPOCH_DAY <= day < MAX_EPOCH_DAY:
        raise InvalidValueError(name, "must be between 2000-01-01 and 2100-01-01")
    return day


def _bool(record: Mapping[str, Any], name: str) -> bool:
    value = record.get(name, False)
    if value is None:
        return False
    if type(value) is not bool:
        raise WrongTypeError(name, "must be a boolean")
    return value


def validate_transaction(record: Mapping[str, Any]) -> Transaction:
    balance = record.get("balance_after_minor")
    if balance is not None:
        balance = _int(balance, "balance_after_minor")
        if abs(balance) > MAX_AMOUNT_MINOR:
            raise InvalidValueError("balance_after_minor", "is out of range")
    mcc = _opt_text(record, "merchant_category_code", 4)
    if mcc is not None and not _MCC.fullmatch(mcc):
        raise InvalidValueError("merchant_category_code", "must be 4 digits")
    return Transaction(
        event_id=_id(record, "event_id"),
        customer_id=_id(record, "customer_id"),
        account_id=_id(record, "account_id"),
        occurred_at=_timestamp(record, "occurred_at"),
        # the sign is in direction: a refund is a CREDIT in the purchase's category
        amount_minor=_amount(record, "amount_minor", positive=True),
        currency=_currency(record),
        direction=_symbol(record, "direction", DIRECTIONS),
        channel=_symbol(record, "channel", CHANNELS),
        category=_symbol(record, "category", CATEGORIES),
        status=_symbol(record, "status", TRANSACTION_STATUSES),
        merchant_category_code=mcc,
        decline_reason=_opt_text(record, "decline_reason", 64),
        balance_after_minor=balance,
        counterparty=_opt_text(record, "counterparty"),
    )


def validate_payment(record: Mapping[str, Any]) -> Payment:
    kind = _symbol(record, "kind", PAYMENT_KINDS)
    statement_balance = minimum_due = credit_limit = amount_due = amount = dpd = None
    failure_reason = None
    due_date = _date(record, "due_date", required=kind in ("STATEMENT_ISSUED", "INSTALMENT_DUE"))
    if kind == "STATEMENT_ISSUED":
        statement_balance = _signed_amount(record, "statement_balance_minor")  # < 0: in credit
        minimum_due = _minimum_due(record, statement_balance)
        credit_limit = _opt_amount(record, "credit_limit_minor")  # 0: no limit known
    elif kind == "INSTALMENT_DUE":
        amount_due = _amount(record, "amount_due_minor")  # 0: a payment holiday
    elif kind == "PAYMENT_RECEIVED":
        # may exceed what is owed (an overpayment puts the card in credit); a reversed
        # payment comes as PAYMENT_FAILED, never as a negative amount
        amount = _amount(record, "amount_minor", positive=True)
    elif kind == "PAYMENT_FAILED":
        amount = _amount(record, "amount_minor", positive=True)
        failure_reason = _opt_text(record, "failure_reason", 64)
        if failure_reason is None:
            raise MissingFieldError("failure_reason", "is required for PAYMENT_FAILED")
    else:  # DELINQUENCY_STATUS
        dpd = _int(_require(record, "days_past_due"), "days_past_due")
        if not 0 <= dpd <= MAX_DAYS_PAST_DUE:
            raise InvalidValueError("days_past_due", f"must be between 0 and {MAX_DAYS_PAST_DUE}")
    return Payment(
        event_id=_id(record, "event_id"),
        customer_id=_id(record, "customer_id"),
        account_id=_id(record, "account_id"),
        occurred_at=_timestamp(record, "occurred_at"),
        product=_symbol(record, "product", PRODUCTS),
        currency=_currency(record),
        kind=kind,
        statement_balance_minor=statement_balance,
        minimum_due_minor=minimum_due,
        credit_limit_minor=credit_limit,
        due_date=due_date,
        amount_due_minor=amount_due,
        amount_minor=amount,
        failure_reason=failure_reason,
        days_past_due=dpd,
    )


def validate_customer_flags(record: Mapping[str, Any]) -> CustomerFlags:
    account_id = record.get("account_id")
    return CustomerFlags(
        event_id=_id(record, "event_id"),
        customer_id=_id(record, "customer_id"),
        occurred_at=_timestamp(record, "occurred_at"),
        account_id=None if account_id is None else _id(record, "account_id"),
        opt_out_contact=_bool(record, "opt_out_contact"),
        vulnerable=_bool(record, "vulnerable"),
        hardship_plan=_bool(record, "hardship_plan"),
        deceased=_bool(record, "deceased"),
        bankruptcy=_bool(record, "bankruptcy"),
    )


_VALIDATORS: dict[RecordType, Callable[[Mapping[str, Any]], InputEvent]] = {
    RecordType.TRANSACTION: validate_transaction,
    RecordType.PAYMENT: validate_payment,
    RecordType.CUSTOMER_FLAGS: validate_customer_flags,
}


def validate(record_type: RecordType, record: Mapping[str, Any]) -> InputEvent:
    """Check ``record`` against the contract of ``record_type`` and build its typed event."""
    try:
        validator = _VALIDATORS[record_type]
    except KeyError:
        raise ValueError(f"{record_type.name} is not an input record type") from None
    return validator(record)
