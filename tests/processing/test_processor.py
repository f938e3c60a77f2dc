"""BatchProcessor on simulated records: scores, dead letters, interventions, state, metrics.

Real decoder/encoder over the default schema catalogue, the real small model, a dict-backed
state store and a fixed clock; no Kafka.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from typing import Any

import numpy as np
import pytest

from stream_app.events import RecordType, RiskScore
from stream_app.features import (
    ARREARS_NOW,
    FEATURE_NAMES,
    FEATURES,
    MAX_DEDUP_IDS,
    Applied,
    CustomerState,
    apply_event,
    feature_vector,
)
from stream_app.kafka import encode_record
from stream_app.observability import WorkerMetrics
from stream_app.offline import to_event
from stream_app.partitioning import Partitioner, partition_for
from stream_app.policy import ContactState, InterventionPolicy, load_policy
from stream_app.processing import (
    MAX_DEAD_LETTER_BYTES,
    TIMER_TOPIC,
    BatchProcessor,
    BatchResult,
    InputRecord,
    OutputTopics,
    Placement,
    intervention_id,
    score_event_id,
)
from stream_app.scoring import DEFAULT_BANDS
from stream_app.scoring import hardship as income_lost
from stream_app.serializers import (
    AvroCodec,
    InputDecoder,
    OutputDecoder,
    OutputEncoder,
    SchemaCatalog,
    encode_json,
)
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.models import TrainedFixture

TX_TOPIC, PAY_TOPIC, FLAGS_TOPIC = "bank.transactions.v1", "bank.payments.v1", "customer.flags.v1"
TOPIC_TYPES = {TX_TOPIC: RecordType.TRANSACTION, PAY_TOPIC: RecordType.PAYMENT,
               FLAGS_TOPIC: RecordType.CUSTOMER_FLAGS}
TOPIC_OF_LOG_TYPE = {"transaction": TX_TOPIC, "payment": PAY_TOPIC,
                     "customer_flags": FLAGS_TOPIC}
OUT = OutputTopics("risk.scores.v1", "risk.interventions.v1", "risk.deadletter.v1")
NOW_S = 1_800_000_000.0  # 2027-01-15: after every simulated event (none is "in the future")
PARTITIONS = 4


class DictStore:
    """StateStore backed by a dict; records every put."""

    def __init__(self) -> None:
        self.data: dict[tuple[int, bytes], bytes] = {}
        self.puts: list[tuple[int, bytes]] = []
        self.contacts: dict[tuple[int, bytes], bytes] = {}
        self.contact_puts: list[tuple[int, bytes]] = []

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get((partition, key))

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.puts.append((partition, key))
        self.data[(partition, key)] = value

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        return self.contacts.get((partition, key))

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self.contact_puts.append((partition, key))
        self.contacts[(partition, key)] = value

    def items(self, partition: int) -> list[tuple[bytes, bytes]]:
        return [(k, v) for (p, k), v in self.data.items() if p == partition]


@pytest.fixture(scope="module")
def simulated() -> list[dict[str, Any]]:
    config = SimulationConfig(customers=12, days=150, seed=11)
    return list(BankSimulator(config).events())


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog.default()


def _partition(customer_id: str) -> int:
    return int(customer_id[-3:]) % PARTITIONS


def encode(records: list[dict[str, Any]], catalog: SchemaCatalog, *, json_every: int = 5,
           start_offset: int = 0) -> list[InputRecord]:
    """Records keyed by customer_id; every ``json_every``-th value is JSON, the rest Avro."""
    codec = AvroCodec(catalog)
    out = []
    for i, record in enumerate(records):
        topic = TOPIC_OF_LOG_TYPE[record["type"]]
        value = encode_record(codec, record,
                              "json" if json_every and i % json_every == 0 else "avro")
        out.append(InputRecord(topic, _partition(record["customer_id"]), start_offset + i,
                               record["customer_id"].encode(), value))
    return out


POLICY = load_policy()
ARREARS_NOW_CODES = {FEATURES[i].reason_code for i in ARREARS_NOW}


def policy_of(*, enabled: bool, threshold: int) -> InterventionPolicy:
    return InterventionPolicy(POLICY, enabled=enabled, threshold=threshold)


def make_processor(trained: TrainedFixture, catalog: SchemaCatalog, *,
                   policy: InterventionPolicy | None = None,
                   metrics: WorkerMetrics | None = None) -> BatchProcessor:
    model = trained.model
    return BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES),
        encoder=OutputEncoder(catalog, "avro"),
        model=lambda: model,
        policy=policy or policy_of(enabled=False, threshold=80),
        topics=OUT,
        metrics=metrics or WorkerMetrics(),
        clock=lambda: NOW_S,
    )


def metric(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _scores_by_trigger(result: BatchResult) -> dict[str, RiskScore]:
    return {score.trigger_event_id: score for score in result.scores}


def _event_scores(result: BatchResult) -> list[RiskScore]:
    """Scores triggered by input events (not absence-deadline rescorings)."""
    return [s for s in result.scores if s.trigger_topic != TIMER_TOPIC]


# --- scores ------------------------------------------------------------------------------------

def test_one_score_per_valid_event(trained: TrainedFixture, catalog: SchemaCatalog,
                                   simulated: list[dict[str, Any]]) -> None:
    records = simulated[:1500]
    inputs = encode(records, catalog)
    result = make_processor(trained, catalog).process(inputs, DictStore())

    assert not result.dead_letters
    assert result.duplicates == 0
    assert len(_event_scores(result)) == len(records)
    by_trigger = {s.trigger_event_id: s for s in _event_scores(result)}
    assert set(by_trigger) == {r["event_id"] for r in records}
    decoder = OutputDecoder(catalog)
    risk_outputs = [o for o in result.outputs if o.topic == OUT.risk_scores]
    assert len(risk_outputs) == len(result.scores)
    assert [decoder.decode(RecordType.RISK_SCORE, o.value)["event_id"] for o in risk_outputs] \
        == [s.event_id for s in result.scores]
    topic_of = {r["event_id"]: TOPIC_OF_LOG_TYPE[r["type"]] for r in records}
    for record in records:
        score = by_trigger[record["event_id"]]
        assert score.customer_id == record["customer_id"]
        assert score.model_version == trained.model.version
        assert score.trigger_topic == topic_of[record["event_id"]]
        assert score.scored_at == int(NOW_S * 1000)
        assert score.event_id == score_event_id(score.customer_id, score.trigger_topic,
                                                score.trigger_event_id, trained.model.version)
        assert 0 <= score.score <= 100
        assert score.band == DEFAULT_BANDS.band(score.score)
        shown = [r.contribution for r in score.top_reasons]
        assert len(shown) <= 3
        if score.track == "PRE_DELINQUENCY":  # exact SHAP leading signals
            assert score.days_past_due == 0
            assert score.roll_probability is None
            assert score.cure_probability is None
            assert all(c > 0 for c in shown)
            assert shown == sorted(shown, reverse=True)
            assert not {r.code for r in score.top_reasons} & ARREARS_NOW_CODES
        else:  # the arrears assessment: roll probability on the roll scale
            assert score.track == "ARREARS"
            assert score.roll_probability is not None
            assert score.cure_probability is not None
            assert 0 <= score.roll_probability <= 1
            assert 0 <= score.cure_probability <= 1
            assert score.probability == score.roll_probability
            assert score.score == round(100 * score.roll_probability)
            assert score.top_reasons[0].code == "R_PAST_DUE"
    assert {s.track for s in _event_scores(result)} == {"PRE_DELINQUENCY", "ARREARS"}
    for output, score in zip(risk_outputs, result.scores, strict=True):
        assert output.key == score.customer_id.encode()
        decoded = decoder.decode(RecordType.RISK_SCORE, output.value)
        assert decoded["customer_id"] == score.customer_id
        assert decoded["score"] == score.score
        assert [r["code"] for r in decoded["top_reasons"]] == [
            r.code for r in score.top_reasons]


def test_scores_match_an_independent_replay_of_each_customer(
        trained: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    records = simulated[:1500]
    result = make_processor(trained, catalog).process(encode(records, catalog), DictStore())
    by_trigger = _scores_by_trigger(result)
    states: dict[str, CustomerState] = {}
    vectors, triggers = [], []
    for record in records:
        event = to_event(record)
        state = states.setdefault(event.customer_id, CustomerState())
        assert apply_event(state, event) is Applied.APPLIED
        vectors.append(feature_vector(state, state.watermark))
        triggers.append(event.event_id)
        assert by_trigger[event.event_id].as_of == state.watermark
    matrix = np.asarray(vectors)
    expected = trained.model.score(matrix)
    for i, trigger in enumerate(triggers):
        score = by_trigger[trigger]
        assert score.probability == pytest.approx(float(expected.probabilities[i]), abs=1e-12)
        assert score.score == int(expected.scores[i])
        assert score.features_sha256 == hashlib.sha256(matrix[i].tobytes()).hexdigest()
    # a realistic spread of scores (the intervention tests depend on it)
    assert len({s.score for s in result.scores}) >= 3


def test_same_input_gives_identical_outputs_and_ids(trained: TrainedFixture,
                                                    catalog: SchemaCatalog,
                                                    simulated: list[dict[str, Any]]) -> None:
    inputs = encode(simulated[:400], catalog)
    policy = policy_of(enabled=True, threshold=0)
    first = make_processor(trained, catalog, policy=policy).process(inputs, DictStore())
    second = make_processor(trained, catalog, policy=policy).process(inputs, DictStore())
    assert [s.event_id for s in first.scores] == [s.event_id for s in second.scores]
    assert len({s.event_id for s in first.scores}) == len(first.scores)
    assert [i.intervention_id for i in first.interventions] == [
        i.intervention_id for i in second.interventions]
    assert first.outputs == second.outputs


def test_redelivered_events_produce_no_second_score(trained: TrainedFixture,
                                                    catalog: SchemaCatalog,
                                                    simulated: list[dict[str, Any]]) -> None:
    inputs = encode(simulated[:600], catalog)
    store, metrics = DictStore(), WorkerMetrics()
    processor = make_processor(trained, catalog, metrics=metrics)
    first = processor.process(inputs[:400], store)
    assert len(_event_scores(first)) == 400
    # re-delivery of the last 100 of the first batch, followed by 200 new records
    second = processor.process(inputs[300:600], store)
    assert second.duplicates == 100
    assert {s.trigger_event_id for s in _event_scores(second)} == {
        r["event_id"] for r in simulated[400:600]}
    assert not second.dead_letters
    # the same records again (their offsets): read again, not a producer's retry
    assert metric(metrics, "predelinq_duplicate_events_total", kind="reread") == 100
    assert metric(metrics, "predelinq_duplicate_events_total", kind="event_id") == 0
    # the same record twice inside one batch: one score
    third = make_processor(trained, catalog).process([inputs[0], inputs[0]], DictStore())
    assert len(third.scores) == 1
    assert third.duplicates == 1


def test_a_late_event_is_dead_lettered(trained: TrainedFixture, catalog: SchemaCatalog,
                                       simulated: list[dict[str, Any]]) -> None:
    customer = simulated[0]["customer_id"]
    own = [r for r in simulated if r["customer_id"] == customer and r["type"] == "transaction"]
    early, newest = own[0], own[-1]
    assert newest["occurred_at"] - early["occurred_at"] > 35 * 86_400_000
    late = {**early, "event_id": "late-1"}
    metrics = WorkerMetrics()
    result = make_processor(trained, catalog, metrics=metrics).process(
        encode([newest, late], catalog, json_every=0), DictStore())
    assert [s.trigger_event_id for s in result.scores] == [newest["event_id"]]
    (letter,) = result.dead_letters
    assert letter.reason == "too_late"
    assert letter.source_offset == 1
    assert metric(metrics, "predelinq_late_events_total") == 1


# --- dead letters ------------------------------------------------------------------------------

def test_invalid_records_become_dead_letters_and_valid_ones_are_still_scored(
        trained: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    valid = encode(simulated[:50], catalog)
    tx_record = next(r for r in simulated[:50] if r["type"] == "transaction")
    pay_record = next(r for r in simulated if r["type"] == "payment")
    codec = AvroCodec(catalog)
    body = {k: v for k, v in tx_record.items() if k != "type"}
    avro = codec.encode(RecordType.TRANSACTION, body)
    other_customer = next(r["customer_id"] for r in simulated
                          if r["customer_id"] != tx_record["customer_id"])
    pay_body = {k: v for k, v in pay_record.items() if k != "type"}
    bad = [  # (record, expected reason)
        (InputRecord(TX_TOPIC, 0, 9001, b"CUST-0000001", b"\xff\xfe garbage"),
         "malformed_frame"),
        (InputRecord(TX_TOPIC, 0, 9002, other_customer.encode(), avro), "key_mismatch"),
        (InputRecord(TX_TOPIC, 0, 9003, None, avro), "key_mismatch"),
        (InputRecord(TX_TOPIC, 1, 9004, tx_record["customer_id"].encode(),
                     b"\x00\x00\x00\x03\xe7" + avro[5:]), "unknown_schema_id"),
        (InputRecord(TX_TOPIC, 1, 9005, tx_record["customer_id"].encode(),
                     codec.encode(RecordType.PAYMENT, pay_body)), "schema_mismatch"),
        (InputRecord(TX_TOPIC, 2, 9006, tx_record["customer_id"].encode(), avro[:-3]),
         "avro_body"),
        (InputRecord(TX_TOPIC, 2, 9007, tx_record["customer_id"].encode(), b"{not json"),
         "json_body"),
        (InputRecord(TX_TOPIC, 2, 9008, tx_record["customer_id"].encode(), None),
         "malformed_frame"),
        (InputRecord(TX_TOPIC, 3, 9009, tx_record["customer_id"].encode(),
                     encode_json({**body, "amount_minor": -5})), "invalid_value"),
        (InputRecord(TX_TOPIC, 3, 9010, tx_record["customer_id"].encode(),
                     encode_json({k: v for k, v in body.items() if k != "currency"})),
         "missing_field"),
    ]
    batch = list(valid)
    for i, (record, _) in enumerate(bad):  # interleave bad records with valid ones
        batch.insert(i * 5, record)
    metrics = WorkerMetrics()
    result = make_processor(trained, catalog, metrics=metrics).process(batch, DictStore())

    assert len(result.scores) == len(valid)
    letters = {letter.source_offset: letter for letter in result.dead_letters}
    assert len(letters) == len(bad)
    decoder = OutputDecoder(catalog)
    dead_outputs = [o for o in result.outputs if o.topic == OUT.deadletter]
    assert len(dead_outputs) == len(bad)
    decoded = {d["source_offset"]: d for d in
               (decoder.decode(RecordType.DEADLETTER, o.value) for o in dead_outputs)}
    for record, reason in bad:
        letter = letters[record.offset]
        assert letter.reason == reason, record.offset
        assert letter.raw == record.value
        assert letter.key == record.key
        assert letter.source_topic == TX_TOPIC
        assert letter.source_partition == record.partition
        assert letter.failed_at == int(NOW_S * 1000)
        assert letter.error_class.endswith("Error")
        assert decoded[record.offset]["raw"] == record.value
        assert decoded[record.offset]["key"] == record.key
        assert decoded[record.offset]["reason"] == reason
    expected = Counter(reason for _, reason in bad)
    for reason, count in expected.items():
        assert metric(metrics, "predelinq_dead_letters_total", topic=TX_TOPIC,
                      reason=reason) == count


def test_a_record_on_another_partition_than_its_key_hashes_to_is_dead_lettered(
        trained: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    # transactions placed with murmur2 (the Java client), payments with crc32 (librdkafka's
    # default): only the payments whose two hashes agree are on their customer's partition
    records = simulated[:1200]

    def placed(record: dict[str, Any], offset: int) -> InputRecord:
        key = record["customer_id"].encode()
        hashed = Partitioner.MURMUR2 if record["type"] == "transaction" else Partitioner.CRC32
        return InputRecord(TOPIC_OF_LOG_TYPE[record["type"]],
                           partition_for(key, PARTITIONS, hashed), offset, key,
                           encode_record(AvroCodec(catalog), record, "avro"))

    inputs = [placed(r, i) for i, r in enumerate(records)]
    misplaced = {r.offset for r in inputs
                 if r.partition != partition_for(r.key or b"", PARTITIONS, Partitioner.MURMUR2)}
    assert misplaced
    assert all(inputs[o].topic == PAY_TOPIC for o in misplaced)
    assert len(misplaced) < sum(r.topic == PAY_TOPIC for r in inputs)  # some agree by chance
    metrics = WorkerMetrics()
    processor = BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES), encoder=OutputEncoder(catalog, "avro"),
        model=lambda: trained.model, policy=policy_of(enabled=False, threshold=80), topics=OUT,
        metrics=metrics, clock=lambda: NOW_S,
        placement=Placement(PARTITIONS, Partitioner.MURMUR2))
    result = processor.process(inputs, DictStore())

    # every misplaced record is a dead letter, with the partition its key hashes to
    assert {letter.source_offset for letter in result.dead_letters} == misplaced
    for letter in result.dead_letters:
        record = inputs[letter.source_offset]
        assert letter.reason == "wrong_partition"
        assert letter.error_class == "WrongPartitionError"
        assert (letter.key, letter.raw) == (record.key, record.value)  # nothing lost
        expected = partition_for(record.key or b"", PARTITIONS, Partitioner.MURMUR2)
        assert f"hashes to partition {expected} of {PARTITIONS} with murmur2" in \
            letter.error_message
        assert record.key is not None
        assert record.key.decode() not in letter.error_message
    assert metric(metrics, "predelinq_dead_letters_total", topic=PAY_TOPIC,
                  reason="wrong_partition") == len(misplaced)
    # and never applied: the scores are those of the well-placed records alone
    kept = [r for r in inputs if r.offset not in misplaced]
    alone = make_processor(trained, catalog).process(kept, DictStore())
    assert [(s.trigger_event_id, s.probability) for s in _event_scores(result)] == \
        [(s.trigger_event_id, s.probability) for s in _event_scores(alone)]
    # with crc32 configured the transactions are the misplaced ones
    crc = BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES), encoder=OutputEncoder(catalog, "avro"),
        model=lambda: trained.model, policy=policy_of(enabled=False, threshold=80), topics=OUT,
        metrics=WorkerMetrics(), clock=lambda: NOW_S,
        placement=Placement(PARTITIONS, Partitioner.CRC32)).process(inputs, DictStore())
    assert {inputs[letter.source_offset].topic for letter in crc.dead_letters} == {TX_TOPIC}


def test_customer_flags_give_neither_score_nor_dead_letter(
        trained: TrainedFixture, catalog: SchemaCatalog) -> None:
    flags = {"event_id": "fl-1", "customer_id": "CUST-0000001", "occurred_at": 1_767_225_600_000,
             "account_id": None, "opt_out_contact": True, "vulnerable": False,
             "hardship_plan": False, "deceased": False, "bankruptcy": False}
    store = DictStore()
    record = InputRecord(FLAGS_TOPIC, 1, 0, b"CUST-0000001",
                         AvroCodec(catalog).encode(RecordType.CUSTOMER_FLAGS, flags))
    result = make_processor(trained, catalog).process([record], store)
    assert not result.scores
    assert not result.dead_letters
    assert not result.outputs
    assert store.puts == []


@pytest.mark.parametrize("wire", ["avro", "json"])
def test_dead_letters_too_large_to_send_leave_out_the_raw_value_then_the_key(
        trained: TrainedFixture, catalog: SchemaCatalog, simulated: list[dict[str, Any]],
        wire: str) -> None:
    """A dead letter repeats the input's key and value: one near the broker's size limit would
    be refused by the producer (crashing the agent, losing the batch). It keeps its reason and
    source offset, and leaves out what does not fit."""
    limit = MAX_DEAD_LETTER_BYTES
    valid = encode(simulated[:30], catalog)
    avro = valid[1].value
    assert avro is not None
    assert avro[0] == 0  # Avro (every 5th encoded record is JSON)
    kept = b"\xff" + b"k" * (limit // 2)  # JSON output: base64 makes it ~2/3 of the limit
    near_limit = b"\xff" + b"v" * 1_040_000  # what a broker with default limits accepts
    big_key = b"K" * 300_000
    huge_key = b"K" * 600_000
    bad = [  # record, (key field kept, raw kept)
        (InputRecord(TX_TOPIC, 0, 9001, b"CUST-0000001", kept), (True, True)),
        (InputRecord(TX_TOPIC, 0, 9002, b"CUST-0000001", near_limit), (True, False)),
        (InputRecord(TX_TOPIC, 1, 9003, big_key, b"\xff" + b"v" * 350_000), (True, False)),
        (InputRecord(TX_TOPIC, 2, 9004, huge_key, avro), (False, False)),
    ]
    batch = [valid[0], *(record for record, _ in bad), *valid[1:]]
    metrics = WorkerMetrics()
    processor = BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES), encoder=OutputEncoder(catalog, wire),
        model=lambda: trained.model, policy=policy_of(enabled=False, threshold=80), topics=OUT,
        metrics=metrics, clock=lambda: NOW_S)
    result = processor.process(batch, DictStore())

    assert len(_event_scores(result)) == len(valid)  # the batch's good events are unharmed
    dead_outputs = [o for o in result.outputs if o.topic == OUT.deadletter]
    assert len(dead_outputs) == len(result.dead_letters) == len(bad)
    for output in dead_outputs:
        assert len(output.key or b"") + len(output.value) <= limit
    def as_bytes(field: bytes | str | None) -> bytes | None:  # JSON carries bytes as base64
        return base64.b64decode(field) if isinstance(field, str) else field

    decoder = OutputDecoder(catalog)
    decoded = {d["source_offset"]: (d, o) for d, o in
               ((decoder.decode(RecordType.DEADLETTER, o.value), o) for o in dead_outputs)}
    for record, (key_kept, raw_kept) in bad:
        letter, output = decoded[record.offset]
        assert letter["reason"] == ("key_mismatch" if record.value is avro
                                    else "malformed_frame")
        assert (letter["source_topic"], letter["source_partition"]) == (TX_TOPIC,
                                                                        record.partition)
        assert as_bytes(letter["raw"]) == (record.value if raw_kept else None)
        assert as_bytes(letter["key"]) == (record.key if key_kept else None)
        assert output.key == (record.key if key_kept else None)
        left_out = "left out" in letter["error_message"]
        assert left_out is not raw_kept
        if left_out:
            assert f"raw value ({len(record.value or b'')} bytes)" in letter["error_message"]
    assert metric(metrics, "predelinq_dead_letters_total", topic=TX_TOPIC,
                  reason="malformed_frame") == 3


# --- interventions -----------------------------------------------------------------------------

def test_interventions_exactly_for_scores_at_or_above_threshold(
        trained: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    inputs = encode(simulated[:1500], catalog)
    disabled = make_processor(trained, catalog).process(inputs, DictStore())
    assert not disabled.interventions
    assert not [o for o in disabled.outputs if o.topic == OUT.interventions]

    pre = sorted(s.score for s in disabled.scores if s.track == "PRE_DELINQUENCY")
    threshold = pre[len(pre) * 3 // 4]
    # every arrears score gets a decision; a pre-delinquency one at or above the threshold
    qualifying = {s.trigger_event_id for s in disabled.scores
                  if s.track == "ARREARS" or s.score >= threshold}
    below = {s.trigger_event_id for s in disabled.scores
             if s.track == "PRE_DELINQUENCY" and s.score < threshold}
    assert below, "need some scores below the threshold"
    assert qualifying - below, "need some scores to qualify"
    assert any(s.track == "ARREARS" for s in disabled.scores)

    policy = policy_of(enabled=True, threshold=threshold)
    metrics = WorkerMetrics()
    enabled = make_processor(trained, catalog, policy=policy, metrics=metrics).process(
        inputs, DictStore())
    assert [s.event_id for s in enabled.scores] == [s.event_id for s in disabled.scores]
    assert {i.trigger_event_id for i in enabled.interventions} == qualifying
    assert len(enabled.interventions) == len(qualifying)
    by_trigger = _scores_by_trigger(enabled)
    decoder = OutputDecoder(catalog)
    outputs = [o for o in enabled.outputs if o.topic == OUT.interventions]
    assert len(outputs) == len(qualifying)
    contacts: dict[str, ContactState] = {}  # the policy's own view, in emission order
    for intervention, output in zip(enabled.interventions, outputs, strict=True):
        score = by_trigger[intervention.trigger_event_id]
        contact = contacts.setdefault(score.customer_id, ContactState())
        if score.track == "ARREARS":
            assert score.days_past_due is not None
            assert score.roll_probability is not None
            # the segment of the scored vector (the decision bundle carries it)
            hardship = bool(income_lost(np.asarray([intervention.features]))[0])
            decision = policy.decide_arrears(
                customer_id=score.customer_id, days_past_due=score.days_past_due,
                roll_probability=score.roll_probability, hardship=hardship,
                now_ms=int(NOW_S * 1000), contact=contact)
        else:
            decision = policy.decide(
                customer_id=score.customer_id, score=score.score, band=score.band,
                reasons=score.top_reasons, now_ms=int(NOW_S * 1000), contact=contact)
        assert decision is not None
        assert (intervention.track, intervention.days_past_due) == (score.track,
                                                                    score.days_past_due)
        assert (intervention.experiment_arm, intervention.actionable, intervention.rule) == (
            decision.experiment_arm, decision.actionable, decision.rule)
        # the decision bundle is the vector that was scored
        assert len(intervention.features) == len(FEATURE_NAMES)
        assert hashlib.sha256(np.asarray(intervention.features, dtype=np.float64)
                              .tobytes()).hexdigest() == score.features_sha256
        assert intervention.feature_names_sha256 == hashlib.sha256(
            ",".join(FEATURE_NAMES).encode()).hexdigest()
        assert intervention.customer_id == score.customer_id
        assert (intervention.score, intervention.band) == (score.score, score.band)
        assert intervention.reasons == score.top_reasons
        assert intervention.action == decision.action
        assert intervention.channel == decision.channel
        assert intervention.priority == decision.priority
        assert intervention.expires_at == decision.expires_at
        assert intervention.model_version == trained.model.version
        assert intervention.policy_version == policy.version
        assert intervention.intervention_id == intervention_id(
            score.customer_id, score.trigger_topic or "", score.trigger_event_id,
            model_version=trained.model.version, policy_version=policy.version,
            action=decision.action)
        assert output.key == score.customer_id.encode()
        assert decoder.decode(RecordType.INTERVENTION, output.value)["intervention_id"] == (
            intervention.intervention_id)
    # the default policy's cooldowns and caps suppress repeated contacts of a customer
    assert any(not i.actionable and i.rule for i in enabled.interventions)
    # the arrears track has its own action family
    arrears_actions = {i.action for i in enabled.interventions if i.track == "ARREARS"}
    assert arrears_actions
    assert arrears_actions <= {"ARREARS_REMINDER", "HARDSHIP_ASSESSMENT", "COLLECTIONS_HANDOFF",
                               POLICY.vulnerable.action}
    actions = Counter((i.action, i.experiment_arm) for i in enabled.interventions)
    for (action, arm), count in actions.items():
        assert metric(metrics, "predelinq_interventions_total", action=action,
                      arm=arm) == count


# --- state and metrics -------------------------------------------------------------------------

def test_state_is_written_once_per_customer_per_batch(trained: TrainedFixture,
                                                      catalog: SchemaCatalog,
                                                      simulated: list[dict[str, Any]]) -> None:
    # within the deduplication memory: re-delivering any of them is a duplicate
    seen: Counter[str] = Counter()
    records = []
    for r in simulated[:450]:
        seen[r["customer_id"]] += 1
        if seen[r["customer_id"]] <= MAX_DEDUP_IDS:
            records.append(r)
    customers = {r["customer_id"] for r in records}
    assert len(customers) > 3
    per_customer = Counter(r["customer_id"] for r in records)
    assert max(per_customer.values()) <= MAX_DEDUP_IDS
    store = DictStore()
    processor = make_processor(trained, catalog)
    inputs = encode(records, catalog)
    processor.process(inputs, store)
    assert len(store.puts) == len(customers)
    assert Counter(store.puts) == Counter(
        (_partition(c), c.encode()) for c in customers)
    # the stored state is the state of all the customer's events, from their input records
    for customer in customers:
        state = CustomerState()
        for record, sent in zip(records, inputs, strict=True):
            if record["customer_id"] == customer:
                apply_event(state, to_event(record), (sent.partition, sent.offset))
        assert CustomerState.from_bytes(store.data[(_partition(customer),
                                                    customer.encode())]) == state
    # a batch of duplicates only changes nothing and writes nothing
    store.puts.clear()
    again = processor.process(encode(records[:100], catalog), store)
    assert not again.scores
    assert store.puts == []


def test_state_is_continued_across_batches(trained: TrainedFixture, catalog: SchemaCatalog,
                                           simulated: list[dict[str, Any]]) -> None:
    inputs = encode(simulated[:900], catalog)
    processor = make_processor(trained, catalog)
    whole = processor.process(inputs, DictStore())
    store = DictStore()
    fresh = make_processor(trained, catalog)  # processors hold deadlines: start a new one
    split = [fresh.process(inputs[i : i + 150], store) for i in range(0, 900, 150)]
    # within a batch scores come grouped by customer, so compare them by trigger
    assert _scores_by_trigger(whole) == {
        s.trigger_event_id: s for part in split for s in part.scores}
    assert sum(len(part.scores) for part in split) == len(whole.scores)


def test_unreadable_stored_state_starts_afresh(trained: TrainedFixture, catalog: SchemaCatalog,
                                               simulated: list[dict[str, Any]]) -> None:
    record = simulated[0]
    customer = record["customer_id"]
    store = DictStore()
    store.data[(_partition(customer), customer.encode())] = b"\x00garbage"
    metrics = WorkerMetrics()
    result = make_processor(trained, catalog, metrics=metrics).process(
        encode([record], catalog), store)
    assert len(result.scores) == 1
    assert metric(metrics, "predelinq_state_errors_total") == 1
    restored = CustomerState.from_bytes(store.data[(_partition(customer), customer.encode())])
    assert restored.watermark == record["occurred_at"]


def test_metrics_count_what_happened(trained: TrainedFixture, catalog: SchemaCatalog,
                                     simulated: list[dict[str, Any]]) -> None:
    records = simulated[:300]
    inputs = encode(records, catalog)
    garbage = InputRecord(PAY_TOPIC, 0, 5000, b"CUST-0000001", b"\x07")
    batch = [*inputs, inputs[3], garbage]
    metrics = WorkerMetrics()
    result = make_processor(trained, catalog, metrics=metrics).process(batch, DictStore())
    per_topic = Counter(r.topic for r in batch)
    for topic, count in per_topic.items():
        assert metric(metrics, "predelinq_input_records_total", topic=topic) == count
    bands = Counter((s.track, s.band) for s in result.scores)
    assert len(_event_scores(result)) == len(records)
    for track in ("PRE_DELINQUENCY", "ARREARS"):
        for band in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            assert metric(metrics, "predelinq_scores_total", track=track,
                          band=band) == bands.get((track, band), 0)
    assert metric(metrics, "predelinq_duplicate_events_total", kind="reread") == 1
    assert metric(metrics, "predelinq_dead_letters_total", topic=PAY_TOPIC,
                  reason="malformed_frame") == 1
    assert metric(metrics, "predelinq_batch_records_count") == 1
    assert metric(metrics, "predelinq_batch_records_sum") == len(batch)
    assert metric(metrics, "predelinq_scoring_duration_seconds_count") == 1


def test_a_challenger_is_scored_in_shadow_and_never_acts(
        trained: TrainedFixture, second_model: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    inputs = encode(simulated[:600], catalog)
    policy = policy_of(enabled=True, threshold=1)
    plain_metrics, shadow_metrics = WorkerMetrics(), WorkerMetrics()
    plain = make_processor(trained, catalog, policy=policy, metrics=plain_metrics).process(
        inputs, DictStore())
    shadowed_processor = BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES), encoder=OutputEncoder(catalog, "avro"),
        model=lambda: trained.model, policy=policy, topics=OUT, metrics=shadow_metrics,
        clock=lambda: NOW_S, challenger=lambda: second_model.model)
    shadowed = shadowed_processor.process(inputs, DictStore())
    assert len(shadowed.scores) == len(plain.scores)
    for with_shadow, without in zip(shadowed.scores, plain.scores, strict=True):
        assert with_shadow.score == without.score  # the champion decides
        assert with_shadow.challenger_model_version == second_model.model.version
        assert with_shadow.challenger_score is not None
        assert without.challenger_model_version is None
    assert any(s.challenger_score != s.score for s in shadowed.scores)
    # interventions follow the champion only
    assert [i.intervention_id for i in shadowed.interventions] == [
        i.intervention_id for i in plain.interventions]
    shadow_total = sum(metric(shadow_metrics, "predelinq_challenger_scores_total", band=b)
                       for b in ("LOW", "MEDIUM", "HIGH", "CRITICAL"))
    assert shadow_total == len(shadowed.scores)
    assert metric(plain_metrics, "predelinq_challenger_scores_total", band="LOW") == 0
    decoded = OutputDecoder(catalog).decode(RecordType.RISK_SCORE, next(
        o.value for o in shadowed.outputs if o.topic == OUT.risk_scores))
    assert decoded["challenger_model_version"] == second_model.model.version


def test_customer_flags_suppress_decisions_and_are_kept_in_the_contact_store(
        trained: TrainedFixture, catalog: SchemaCatalog,
        simulated: list[dict[str, Any]]) -> None:
    codec = AvroCodec(catalog)
    records = simulated[:600]
    customer = records[0]["customer_id"]
    flags = {"event_id": "flags-1", "customer_id": customer, "account_id": None,
             "occurred_at": records[0]["occurred_at"] - 1, "opt_out_contact": True,
             "vulnerable": False, "hardship_plan": False, "deceased": False,
             "bankruptcy": False}
    flag_record = InputRecord(FLAGS_TOPIC, _partition(customer), 0, customer.encode(),
                              codec.encode(RecordType.CUSTOMER_FLAGS, flags))
    store = DictStore()
    result = make_processor(trained, catalog, policy=policy_of(enabled=True, threshold=0)) \
        .process([flag_record, *encode(records, catalog)], store)
    mine = [i for i in result.interventions if i.customer_id == customer]
    others = [i for i in result.interventions if i.customer_id != customer]
    assert mine
    assert all((i.actionable, i.rule) == (False, "opt_out") for i in mine)
    assert any(i.actionable for i in others)
    # one contact write per customer per batch; the flags survive into the next batch
    assert Counter(store.contact_puts) == Counter(set(store.contact_puts))
    stored = ContactState.from_bytes(store.contacts[(_partition(customer), customer.encode())])
    assert stored.flags_at == flags["occurred_at"]
    later = make_processor(trained, catalog, policy=policy_of(enabled=True, threshold=0)) \
        .process(encode(simulated[600:900], catalog), store)
    assert all(not i.actionable for i in later.interventions if i.customer_id == customer)
