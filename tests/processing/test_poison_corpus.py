"""The poison corpus of ``tests/support/poison.py`` through the BatchProcessor (no Kafka).

Checks the generator (seeded, every kind, each record bad for the reason it claims) and the
processor's verdict on each record; ``tests/integration/test_poison_input.py`` runs the same
corpus through a worker on a real broker.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest

from stream_app.events import RecordType
from stream_app.observability import WorkerMetrics
from stream_app.policy import InterventionPolicy, load_policy
from stream_app.processing import (
    MAX_DEAD_LETTER_BYTES,
    BatchProcessor,
    InputRecord,
    OutputTopics,
)
from stream_app.serializers import InputDecoder, OutputDecoder, OutputEncoder, SchemaCatalog
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.models import TrainedFixture
from tests.support.poison import BASE_COUNTS, LARGE_COUNTS, Poison, generate_poison

TOPICS = {"TOPIC_TRANSACTIONS": "tx", "TOPIC_PAYMENTS": "pay"}
OUT = OutputTopics("scores", "interventions", "deadletter")


class EmptyStore:
    """No customer has state; nothing may be written (no poison record is ever applied)."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        return None

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        raise AssertionError("a poison record changed a customer's state")

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        return None

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        raise AssertionError("a poison record changed a customer's contact state")

    def items(self, partition: int) -> list[tuple[bytes, bytes]]:
        return []


@pytest.fixture(scope="module")
def templates() -> list[dict[str, Any]]:
    return list(BankSimulator(SimulationConfig(customers=40, days=60, seed=4)).events())


@pytest.fixture(scope="module")
def corpus(templates: list[dict[str, Any]]) -> list[Poison]:
    return generate_poison(TOPICS, templates, seed=11)


def test_the_generator_is_seeded(templates: list[dict[str, Any]], corpus: list[Poison]) -> None:
    again = generate_poison(TOPICS, templates, seed=11)
    assert again == corpus
    other = generate_poison(TOPICS, templates, seed=12, scale=0.05, large=False)
    assert other != again[:len(other)]


def test_the_corpus_covers_every_kind_on_both_topics(corpus: list[Poison]) -> None:
    assert collections.Counter(p.kind for p in corpus) == {**BASE_COUNTS, **LARGE_COUNTS}
    assert len(corpus) >= 10_000
    for kind in BASE_COUNTS:
        assert {p.topic for p in corpus if p.kind == kind} == {"tx", "pay"}, kind
    reasons = {p.reason for p in corpus}
    assert reasons == {"malformed_frame", "unknown_schema_id", "schema_mismatch", "avro_body",
                       "json_body", "missing_field", "wrong_type", "invalid_value",
                       "key_mismatch"}
    assert any(p.value is None for p in corpus)  # tombstones
    assert any(p.key is None for p in corpus)
    assert max(len(p.value or b"") for p in corpus) > 1_000_000
    assert sum(len(p.value or b"") + len(p.key or b"") for p in corpus) < 20_000_000


def test_every_poison_record_is_dead_lettered_for_its_reason(
        trained: TrainedFixture, corpus: list[Poison]) -> None:
    catalog = SchemaCatalog.default()
    metrics = WorkerMetrics()
    processor = BatchProcessor(
        decoder=InputDecoder(catalog, {"tx": RecordType.TRANSACTION,
                                       "pay": RecordType.PAYMENT}),
        encoder=OutputEncoder(catalog, "avro"),
        model=lambda: trained.model,
        policy=InterventionPolicy(load_policy(), enabled=True, threshold=0),
        topics=OUT,
        metrics=metrics,
    )
    records = [InputRecord(p.topic, offset % 4, offset, p.key, p.value)
               for offset, p in enumerate(corpus)]
    result = processor.process(records, EmptyStore())

    assert not result.scores
    assert not result.interventions
    assert len(result.outputs) == len(result.dead_letters) == len(corpus)
    letters = {letter.source_offset: letter for letter in result.dead_letters}
    wrong = [(p.kind, p.reason, letters[i].reason) for i, p in enumerate(corpus)
             if letters[i].reason != p.reason]
    assert not wrong, wrong[:20]
    decoder = OutputDecoder(catalog)
    for output in result.outputs:
        assert output.topic == OUT.deadletter
        assert len(output.key or b"") + len(output.value) <= MAX_DEAD_LETTER_BYTES
        letter = decoder.decode(RecordType.DEADLETTER, output.value)
        item = corpus[letter["source_offset"]]
        if item.kind in ("oversize", "huge_key"):
            assert letter["raw"] is None
            assert "left out" in letter["error_message"]
        else:
            assert letter["raw"] == item.value
            assert letter["key"] == item.key
            assert output.key == item.key
    for (topic, reason), count in collections.Counter(
            (p.topic, p.reason) for p in corpus).items():
        assert metrics.registry.get_sample_value(
            "predelinq_dead_letters_total", {"topic": topic, "reason": reason}) == count
