"""Output ids are a keyed hash (HMAC-SHA256 under OUTPUT_ID_KEY) formatted as a UUID:
deterministic for the same inputs and key, unpredictable without the key (security review,
issue 20: L3)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import pytest

from stream_app.processing import DEVELOPMENT_OUTPUT_ID_KEY, intervention_id, score_event_id
from stream_app.serializers import SchemaCatalog
from tests.processing.test_event_time import NOW_MS, _transaction, _treatment_customer, processor
from tests.processing.test_processor import DictStore, encode, policy_of
from tests.support.models import TrainedFixture

KEY = b"k" * 32
# the ids of before: UUIDv5 of the inputs, which anyone who knows them can compute
_OLD_NAMESPACE = uuid.UUID("0b7f3c52-6f0e-4c4e-9d6e-3a5f1c2b9e11")


def _by_hand(key: bytes, *parts: str) -> str:
    """The documented construction, written out: HMAC-SHA256 over the length-prefixed
    parts, its first 16 bytes with the UUIDv8 version and the RFC 9562 variant bits."""
    message = b""
    for part in parts:
        message += len(part.encode()).to_bytes(4, "big") + part.encode()
    raw = bytearray(hmac.new(key, message, hashlib.sha256).digest()[:16])
    raw[6] = 0x80 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(raw)))


def test_a_score_id_is_the_keyed_hash_of_its_trigger_and_model() -> None:
    got = score_event_id("CUST-1", "bank.transactions.v1", "tx-1", "m-1", key=KEY)
    assert got == _by_hand(KEY, "score", "CUST-1", "bank.transactions.v1", "tx-1", "m-1")
    parsed = uuid.UUID(got)
    assert (parsed.version, parsed.variant) == (8, uuid.RFC_4122)
    assert got == score_event_id("CUST-1", "bank.transactions.v1", "tx-1", "m-1", key=KEY)
    assert got != str(uuid.uuid5(_OLD_NAMESPACE,
                                 "score|CUST-1|bank.transactions.v1|tx-1|m-1"))


def test_an_intervention_id_is_the_keyed_hash_of_trigger_model_policy_and_action() -> None:
    got = intervention_id("CUST-1", "timer", "salary-missed@1", model_version="m-1",
                          policy_version="p-1", action="PAYMENT_REMINDER", key=KEY)
    assert got == _by_hand(KEY, "intervention", "CUST-1", "timer", "salary-missed@1", "m-1",
                           "p-1", "PAYMENT_REMINDER")


@pytest.mark.parametrize(("one", "other"), [
    pytest.param(("a|b", "c"), ("a", "b|c"), id="no-separator-ambiguity"),
    pytest.param(("a", "bc"), ("ab", "c"), id="no-concatenation-ambiguity"),
])
def test_different_inputs_never_share_an_id(one: tuple[str, str],
                                            other: tuple[str, str]) -> None:
    assert (score_event_id(one[0], one[1], "e", "m", key=KEY)
            != score_event_id(other[0], other[1], "e", "m", key=KEY))


def test_another_key_gives_other_ids_and_the_default_is_the_development_key() -> None:
    args = ("CUST-1", "bank.payments.v1", "pm-1", "m-1")
    assert score_event_id(*args, key=KEY) != score_event_id(*args, key=b"other key")
    assert score_event_id(*args) == score_event_id(*args, key=DEVELOPMENT_OUTPUT_ID_KEY)


def test_the_processor_keys_its_output_ids_with_the_configured_key(
        trained: TrainedFixture, history: list[dict[str, Any]]) -> None:
    catalog = SchemaCatalog.default()
    customer = _treatment_customer(history)
    inputs = encode([_transaction(history, customer, "tx-1", NOW_MS - 60_000)], catalog)

    def run(key: bytes) -> tuple[str, str]:
        proc = processor(trained, catalog, policy=policy_of(enabled=True, threshold=0),
                         output_id_key=key)
        result = proc.process(inputs, DictStore())
        [score] = result.scores
        [intervention] = result.interventions
        assert score.event_id == score_event_id(customer, "bank.transactions.v1", "tx-1",
                                                trained.model.version, key=key)
        assert intervention.intervention_id == intervention_id(
            customer, "bank.transactions.v1", "tx-1", model_version=trained.model.version,
            policy_version=intervention.policy_version, action=intervention.action, key=key)
        return score.event_id, intervention.intervention_id

    assert run(KEY) == run(KEY)  # deterministic: a re-processed batch repeats its ids
    assert run(KEY) != run(DEVELOPMENT_OUTPUT_ID_KEY)
