"""One micro-batch: consumed records -> state updates -> scores, reasons, interventions.

No Kafka here. The Faust agent hands in the records of a batch and a state store bound to the
batch's partitions, and sends the outputs this returns. Order of work, chosen for throughput:

1. decode and validate every record (bad ones become dead letters with their reason);
2. per customer: read the state once, apply that customer's events in order, computing a
   feature vector after each applied event, and write the state once;
3. score all vectors of the batch in one model call (tree evaluation + exact leaf-SHAP);
4. build risk events, reasons and interventions, and encode them.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from stream_app.events import (
    DeadLetter,
    InputEvent,
    Intervention,
    RecordType,
    RiskScore,
)
from stream_app.features import (
    Applied,
    CustomerState,
    StateFormatError,
    apply_event,
    feature_vector,
)
from stream_app.observability import WorkerMetrics
from stream_app.policy import ThresholdPolicy
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs, ScoringModel, top_reasons
from stream_app.serializers import (
    InputDecoder,
    InputError,
    KeyMismatchError,
    LateEventError,
    OutputEncoder,
)

__all__ = [
    "BatchProcessor",
    "BatchResult",
    "InputRecord",
    "OutputRecord",
    "OutputTopics",
    "StateStore",
    "intervention_id",
    "score_event_id",
]

log = logging.getLogger(__name__)
_ID_NAMESPACE = uuid.UUID("0b7f3c52-6f0e-4c4e-9d6e-3a5f1c2b9e11")


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class OutputRecord:
    topic: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class OutputTopics:
    risk_scores: str
    interventions: str
    deadletter: str


class StateStore(Protocol):
    """Per-customer state bytes, addressed by the input partition that owns the customer."""

    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def put(self, partition: int, key: bytes, value: bytes) -> None: ...


@dataclass
class BatchResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    scores: list[RiskScore] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


def score_event_id(customer_id: str, topic: str, event_id: str, model_version: str) -> str:
    """Same trigger and model, same id: a re-delivered input gives an identical risk event."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"score|{customer_id}|{topic}|{event_id}|{model_version}"))


def intervention_id(customer_id: str, topic: str, event_id: str, *, model_version: str,
                    policy_version: str, action: str) -> str:
    """Same trigger, model, policy and action, same id: the CRM can deduplicate on it."""
    name = "|".join(("intervention", customer_id, topic, event_id, model_version,
                     policy_version, action))
    return str(uuid.uuid5(_ID_NAMESPACE, name))


@dataclass(slots=True)
class _Pending:
    """An applied event waiting for its score."""

    topic: str
    event: InputEvent
    as_of: int


class BatchProcessor:
    def __init__(
        self,
        *,
        decoder: InputDecoder,
        encoder: OutputEncoder,
        model: Callable[[], ScoringModel],
        policy: ThresholdPolicy,
        topics: OutputTopics,
        metrics: WorkerMetrics,
        bands: BandCutoffs = DEFAULT_BANDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._model = model
        self._policy = policy
        self._topics = topics
        self._metrics = metrics
        self._bands = bands
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _dead_letter(self, result: BatchResult, record: InputRecord, error: InputError) -> None:
        letter = DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key=record.key,
            raw=record.value,
            error_class=type(error).__name__,
            reason=error.reason,
            error_message=error.message,
            failed_at=self._now_ms(),
        )
        result.dead_letters.append(letter)
        result.outputs.append(OutputRecord(
            self._topics.deadletter, record.key,
            self._encoder.encode(RecordType.DEADLETTER, letter.to_record())))
        self._metrics.dead_letters.labels(record.topic, error.reason).inc()

    def process(self, records: Sequence[InputRecord], store: StateStore) -> BatchResult:
        result = BatchResult()
        metrics = self._metrics
        metrics.batch_size.observe(len(records))
        # 1. decode + validate, grouped by customer in arrival order
        by_customer: dict[str, list[tuple[InputRecord, InputEvent]]] = {}
        for record in records:
            metrics.input_records.labels(record.topic).inc()
            try:
                event = self._decoder.decode(record.topic, record.value)
                if record.key is None or record.key != event.customer_id.encode():
                    raise KeyMismatchError()
            except InputError as error:
                self._dead_letter(result, record, error)
                continue
            by_customer.setdefault(event.customer_id, []).append((record, event))

        # 2. state: one read and one write per customer
        pending: list[_Pending] = []
        vectors: list[list[float]] = []
        for customer_id, items in by_customer.items():
            partition = items[0][0].partition
            key = customer_id.encode()
            state = self._load_state(store, partition, key)
            changed = False
            for record, event in items:
                outcome = apply_event(state, event)
                if outcome is Applied.APPLIED:
                    changed = True
                    pending.append(_Pending(record.topic, event, state.watermark))
                    vectors.append(feature_vector(state, state.watermark))
                elif outcome is Applied.DUPLICATE:
                    result.duplicates += 1
                    metrics.duplicates.inc()
                elif outcome is Applied.TOO_LATE:
                    metrics.late_events.inc()
                    self._dead_letter(result, record, LateEventError())
                # Applied.IGNORED: customer flags change no feature (the contact policy reads them)
            if changed:
                store.put(partition, key, state.to_bytes())

        # 3. + 4. score, explain, decide
        if pending:
            self._score(pending, vectors, result)
        return result

    def _load_state(self, store: StateStore, partition: int, key: bytes) -> CustomerState:
        raw = store.get(partition, key)
        if raw is None:
            return CustomerState()
        try:
            return CustomerState.from_bytes(raw)
        except StateFormatError as exc:
            self._metrics.state_errors.inc()
            log.error("customer state unreadable, starting afresh: %s", exc)
            return CustomerState()

    def _score(self, pending: list[_Pending], vectors: list[list[float]],
               result: BatchResult) -> None:
        model = self._model()
        started = time.perf_counter()
        matrix = np.asarray(vectors, dtype=np.float64)
        scored = model.score(matrix)
        reasons = top_reasons(scored.contributions, matrix)
        self._metrics.scoring_duration.observe(time.perf_counter() - started)
        now = self._now_ms()
        policy = self._policy
        encode = self._encoder.encode
        topics = self._topics
        for i, item in enumerate(pending):
            event = item.event
            customer = event.customer_id
            key = customer.encode()
            score = int(scored.scores[i])
            band = self._bands.band(score)
            risk = RiskScore(
                event_id=score_event_id(customer, item.topic, event.event_id, model.version),
                customer_id=customer,
                scored_at=now,
                as_of=item.as_of,
                trigger_event_id=event.event_id,
                probability=float(scored.probabilities[i]),
                score=score,
                band=band,
                model_version=model.version,
                top_reasons=reasons[i],
                trigger_topic=item.topic,
                features_sha256=hashlib.sha256(matrix[i].tobytes()).hexdigest(),
            )
            result.scores.append(risk)
            result.outputs.append(OutputRecord(
                topics.risk_scores, key, encode(RecordType.RISK_SCORE, risk.to_record())))
            self._metrics.scores.labels(band).inc()
            decision = policy.decide(score, band, reasons[i], now)
            if decision is None:
                continue
            intervention = Intervention(
                intervention_id=intervention_id(customer, item.topic, event.event_id,
                                                model_version=model.version,
                                                policy_version=policy.version,
                                                action=decision.action),
                customer_id=customer,
                created_at=now,
                action=decision.action,
                channel=decision.channel,
                priority=decision.priority,
                score=score,
                band=band,
                reasons=reasons[i],
                model_version=model.version,
                policy_version=policy.version,
                expires_at=decision.expires_at,
                trigger_event_id=event.event_id,
                experiment_arm="TREATMENT",
            )
            result.interventions.append(intervention)
            result.outputs.append(OutputRecord(
                topics.interventions, key,
                encode(RecordType.INTERVENTION, intervention.to_record())))
            self._metrics.interventions.labels(decision.action, "TREATMENT").inc()
