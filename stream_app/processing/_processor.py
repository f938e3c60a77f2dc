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

import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from stream_app.events import (
    CustomerFlags,
    DeadLetter,
    InputEvent,
    Intervention,
    RecordType,
    RiskScore,
)
from stream_app.features import (
    FEATURE_NAMES,
    Applied,
    CustomerState,
    DeadlineIndex,
    DueDeadline,
    StateFormatError,
    apply_event,
    feature_vector,
    next_deadline,
)
from stream_app.observability import WorkerMetrics
from stream_app.partitioning import Partitioner, partition_for
from stream_app.policy import ContactState, ContactStateError, InterventionPolicy
from stream_app.scoring import (
    ScoredBatch,
    ScoringModel,
)
from stream_app.serializers import (
    EventTimeInFutureError,
    InputDecoder,
    InputError,
    KeyMismatchError,
    LateEventError,
    OutputEncoder,
    WrongPartitionError,
)

from ._ids import DEVELOPMENT_OUTPUT_ID_KEY, intervention_id, score_event_id

__all__ = [
    "DEFAULT_MAX_DEADLINES_PER_BATCH",
    "DEFAULT_MAX_EVENT_SKEW_SECONDS",
    "MAX_DEAD_LETTER_BYTES",
    "BatchProcessor",
    "BatchResult",
    "InputRecord",
    "OutputRecord",
    "OutputTopics",
    "Placement",
    "StateStore",
    "vector_sha256",
]

log = logging.getLogger(__name__)
# identifies the column order of the feature vectors carried in decision bundles
FEATURE_NAMES_SHA256 = hashlib.sha256(",".join(FEATURE_NAMES).encode()).hexdigest()
DEFAULT_MAX_EVENT_SKEW_SECONDS = 300.0  # the settings' defaults (MAX_EVENT_SKEW_SECONDS, ...)
DEFAULT_MAX_DEADLINES_PER_BATCH = 10_000
# Largest dead-letter record (key + encoded value) the worker sends. A dead letter repeats the
# input's key and value, so the one of an input near the broker's size limit (1 MiB by default)
# would be refused by the producer (faust's max_request_size, 1,000,000 bytes by default), and
# that failed send would crash the agent and lose the whole batch's outputs. Larger dead letters
# leave out the raw value (then the key field too): the record stays at its source offset.
MAX_DEAD_LETTER_BYTES = 900_000


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def vector_sha256(vector: Sequence[float] | np.ndarray) -> str:
    """A risk event's ``features_sha256``: SHA-256 of the feature vector's float64 bytes."""
    return hashlib.sha256(np.asarray(vector, dtype=np.float64).tobytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class OutputRecord:
    topic: str
    key: bytes | None
    value: bytes
    source_partition: int  # input partition it derives from (its transaction with exactly_once)


@dataclass(frozen=True, slots=True)
class Placement:
    """How the upstream producers place keys: every input topic has ``partitions`` partitions
    and a customer's key goes to ``partition_for(key, partitions, partitioner)``."""

    partitions: int
    partitioner: Partitioner = Partitioner.MURMUR2

    def check(self, record: InputRecord, key: bytes) -> None:
        expected = partition_for(key, self.partitions, self.partitioner)
        if expected != record.partition:
            raise WrongPartitionError(expected=expected, partitions=self.partitions,
                                      partitioner=self.partitioner.value)


@dataclass(frozen=True, slots=True)
class OutputTopics:
    risk_scores: str
    interventions: str
    deadletter: str


class StateStore(Protocol):
    """Per-customer bytes, addressed by the input partition that owns the customer: the
    feature state, and (``*_contact``) the contact history and care flags."""

    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def put(self, partition: int, key: bytes, value: bytes) -> None: ...

    def get_contact(self, partition: int, key: bytes) -> bytes | None: ...

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None: ...

    def items(self, partition: int) -> Iterable[tuple[bytes, bytes]]:
        """Every (key, state) stored for the partition (to rebuild absence deadlines). It is
        consumed lazily, a slice at a time between batches, so it must tolerate writes made
        meanwhile (e.g. iterate a snapshot): customers written since it started may be
        yielded with either state, or not at all."""
        ...


@dataclass
class BatchResult:
    outputs: list[OutputRecord] = field(default_factory=list)
    scores: list[RiskScore] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


TIMER_TOPIC = "timer"  # the trigger "topic" of rescorings fired by absence deadlines


@dataclass(slots=True)
class _Pending:
    """A feature vector waiting for its score: after an applied event, or at a deadline."""

    customer_id: str
    partition: int
    topic: str  # source topic of the trigger, or TIMER_TOPIC
    trigger_event_id: str
    as_of: int


class _Contacts:
    """The contact states read in one batch: each read once, written once if changed."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics
        self._states: dict[str, tuple[int, ContactState]] = {}
        self._changed: set[str] = set()

    def load(self, store: StateStore, partition: int, customer_id: str, *,
             changing: bool = False) -> ContactState:
        cached = self._states.get(customer_id)
        if cached is None:
            raw = store.get_contact(partition, customer_id.encode())
            state = ContactState()
            if raw is not None:
                try:
                    state = ContactState.from_bytes(raw)
                except ContactStateError as exc:
                    self._metrics.state_errors.inc()
                    log.error("contact state unreadable, starting afresh: %s", exc)
            cached = self._states[customer_id] = (partition, state)
        if changing:
            self._changed.add(customer_id)
        return cached[1]

    def apply_flags(self, store: StateStore, partition: int, event: CustomerFlags,
                    latest_ms: int) -> None:
        if self.load(store, partition, event.customer_id).apply_flags(event, latest_ms):
            self._changed.add(event.customer_id)

    def write_changed(self, store: StateStore) -> None:
        for customer_id in self._changed:
            partition, state = self._states[customer_id]
            store.put_contact(partition, customer_id.encode(), state.to_bytes())


@dataclass(slots=True)
class _Scoring:
    """Feature vectors of one batch waiting to be scored together."""

    pending: list[_Pending] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    timers: int = 0  # of them, rescorings at an absence deadline

    def add(self, pending: _Pending, vector: list[float]) -> None:
        self.pending.append(pending)
        self.vectors.append(vector)


@dataclass(slots=True)
class _Indexing:
    """A partition whose stored customers are still being added to the deadline index."""

    items: Iterator[tuple[bytes, bytes]]
    seen: set[str] = field(default_factory=set)  # already in the index: skip when yielded


class BatchProcessor:
    def __init__(
        self,
        *,
        decoder: InputDecoder,
        encoder: OutputEncoder,
        model: Callable[[], ScoringModel],
        policy: InterventionPolicy,
        topics: OutputTopics,
        metrics: WorkerMetrics,
        clock: Callable[[], float] = time.time,
        challenger: Callable[[], ScoringModel | None] = lambda: None,
        observer: Callable[[ScoringModel, ScoredBatch, np.ndarray], None] | None = None,
        max_dead_letter_bytes: int = MAX_DEAD_LETTER_BYTES,
        placement: Placement | None = None,
        max_event_skew_seconds: float = DEFAULT_MAX_EVENT_SKEW_SECONDS,
        max_deadlines_per_batch: int = DEFAULT_MAX_DEADLINES_PER_BATCH,
        output_id_key: bytes = DEVELOPMENT_OUTPUT_ID_KEY,
    ) -> None:
        self._decoder = decoder
        # None: records are not checked for their partition (a single-partition replay)
        self._placement = placement
        self._encoder = encoder
        self._model = model
        self._policy = policy
        self._topics = topics
        self._metrics = metrics
        self._clock = clock
        self._challenger = challenger
        self._observer = observer  # sees every scored batch (drift monitoring)
        self._max_dead_letter_bytes = max_dead_letter_bytes
        # event time may be at most this far ahead of the wall clock (``clock``)
        self._skew_seconds = max_event_skew_seconds
        self._skew_ms = int(max_event_skew_seconds * 1000)
        self._latest = 0  # wall clock + skew (ms), read at the start of a batch or a slice
        self._clamp_logged: set[int] = set()  # partitions whose clamped states were logged
        self._max_deadlines = max_deadlines_per_batch
        self._id_key = output_id_key
        self.deadlines = DeadlineIndex()
        self._indexed: set[int] = set()  # partitions whose stored customers are in the index
        self._indexing: dict[int, _Indexing] = {}  # partitions being indexed, a slice at a time

    def forget_partition(self, partition: int) -> None:
        """The partition was revoked: its deadlines now belong to another worker."""
        self.deadlines.drop_partition(partition)
        self._indexed.discard(partition)
        self._indexing.pop(partition, None)
        self._clamp_logged.discard(partition)
        with contextlib.suppress(KeyError):  # KeyError: no batch of it yet
            self._metrics.event_time_lead.remove(str(partition))

    @property
    def indexing_partitions(self) -> int:
        """Partitions whose stored customers are not all in the deadline index yet."""
        return len(self._indexing)

    def index_step(self, max_customers: int) -> bool:
        """Add up to ``max_customers`` stored customers of newly owned partitions to the
        absence-deadline index (a quiet customer is exactly the one whose deadline matters);
        True while some remain. The caller runs this between batches: indexing a partition
        at once would hold the event loop for minutes with a million stored customers.

        Until its partition is indexed, a customer's deadline is taken from its stored state
        when one of its events arrives (``_apply``), so no deadline is passed unnoticed; a
        quiet customer's fires at the first batch of its partition after it is indexed, with
        the same trigger id and features as it would have had."""
        self._latest = self._latest_ms()
        budget = max_customers
        for partition, job in list(self._indexing.items()):
            for key, raw in job.items:
                customer_id = key.decode()
                if customer_id in job.seen:
                    continue
                job.seen.add(customer_id)
                self._index_stored(partition, customer_id, raw)
                budget -= 1
                if budget <= 0:
                    return True
            del self._indexing[partition]
            self._indexed.add(partition)
        return False

    def _index_stored(self, partition: int, customer_id: str, raw: bytes) -> None:
        try:
            state = CustomerState.from_bytes(raw)
        except StateFormatError:
            return
        self._clamp(partition, state)
        self._index_state(partition, customer_id, state)

    def _clamp(self, partition: int, state: CustomerState) -> bool:
        """Cap a stored state's event time at the wall clock plus the allowed skew (a state
        that applied a future-dated event before such events were refused): else it would
        move its partition's event-time clock again after every restart."""
        ahead_ms = state.watermark - self._latest
        if not state.cap_watermarks(self._latest):
            return False
        self._metrics.event_time_clamped.inc()
        if partition not in self._clamp_logged:
            self._clamp_logged.add(partition)
            log.warning("input partition %d: a stored customer state's event time was %.0f s "
                        "beyond the wall clock plus MAX_EVENT_SKEW_SECONDS; clamped there "
                        "(predelinq_event_time_clamped_total counts them all)", partition,
                        ahead_ms / 1000, extra={"partition": partition})
        return True

    def _index_state(self, partition: int, customer_id: str, state: CustomerState) -> None:
        self.deadlines.schedule(partition, customer_id, next_deadline(state, state.watermark))
        self.deadlines.observe(partition, state.watermark)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _latest_ms(self) -> int:
        """The latest event time accepted now: the wall clock plus the allowed skew."""
        return self._now_ms() + self._skew_ms

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
        key: bytes | None = record.key
        value = self._encoder.encode(RecordType.DEADLETTER, letter.to_record())
        limit = self._max_dead_letter_bytes
        if len(key or b"") + len(value) > limit:
            # too large to send whole: leave out the raw value, and the key too if need be
            left_out = f"raw value ({len(record.value or b'')} bytes)"
            for drop_key in (False, True):
                if drop_key:
                    key = None
                    left_out += f" and key ({len(record.key or b'')} bytes)"
                letter = dataclasses.replace(letter, key=key, raw=None, error_message=(
                    f"{error.message}; {left_out} left out: the dead letter would exceed "
                    f"{limit} bytes (the record stays at its source offset)"))
                value = self._encoder.encode(RecordType.DEADLETTER, letter.to_record())
                if len(key or b"") + len(value) <= limit:
                    break
            log.warning("dead letter of %s[%d]@%d: %s left out (over %d bytes)",
                        record.topic, record.partition, record.offset, left_out, limit,
                        extra={"topic": record.topic, "partition": record.partition,
                               "offset": record.offset})
        result.dead_letters.append(letter)
        result.outputs.append(OutputRecord(self._topics.deadletter, key, value,
                                           record.partition))
        self._metrics.dead_letters.labels(record.topic, error.reason).inc()

    def use_encoder(self, encoder: OutputEncoder) -> None:
        """Encode outputs with another encoder from the next batch on (the schema registry's
        ids, once the output schemas are registered)."""
        self._encoder = encoder

    def process(self, records: Sequence[InputRecord], store: StateStore) -> BatchResult:
        result = BatchResult()
        self._metrics.batch_size.observe(len(records))
        self._latest = self._latest_ms()
        by_customer = self._decode(records, result)
        for partition in {r.partition for r in records} - self._indexed - self._indexing.keys():
            self._indexing[partition] = _Indexing(iter(store.items(partition)))
        batch = _Scoring()
        contacts = _Contacts(self._metrics)
        touched = self._apply(by_customer, store, batch, result, contacts)
        partitions = sorted({items[0][0].partition for items in by_customer.values()})
        for partition in partitions:
            self._fire_deadlines(partition, store, touched, batch)
        if batch.timers >= self._max_deadlines and any(
                self.deadlines.has_due(p) for p in partitions):
            self._metrics.absence_deferred.inc()
        now_ms = self._latest - self._skew_ms
        for partition in partitions:
            self._metrics.event_time_lead.labels(str(partition)).set(
                (self.deadlines.stream_time(partition) - now_ms) / 1000)
        if batch.pending:
            self._score(batch.pending, batch.vectors, result, store, contacts)
        contacts.write_changed(store)
        return result

    def _decode(self, records: Sequence[InputRecord],
                result: BatchResult) -> dict[str, list[tuple[InputRecord, InputEvent]]]:
        """Decode and validate, grouped by customer in arrival order; bad records dead-letter."""
        by_customer: dict[str, list[tuple[InputRecord, InputEvent]]] = {}
        for record in records:
            self._metrics.input_records.labels(record.topic).inc()
            try:
                event = self._decoder.decode(record.topic, record.value)
                if record.key is None or record.key != event.customer_id.encode():
                    raise KeyMismatchError()
                if self._placement is not None:
                    self._placement.check(record, record.key)
                # customer flags dated in the future still protect: see _apply
                if event.occurred_at > self._latest and not isinstance(event, CustomerFlags):
                    self._metrics.event_time_rejected.labels(record.topic).inc()
                    raise EventTimeInFutureError(skew_seconds=self._skew_seconds)
            except InputError as error:
                self._dead_letter(result, record, error)
                continue
            by_customer.setdefault(event.customer_id, []).append((record, event))
        return by_customer

    def _apply(self, by_customer: dict[str, list[tuple[InputRecord, InputEvent]]],
               store: StateStore, batch: _Scoring, result: BatchResult,
               contacts: _Contacts) -> dict[str, CustomerState]:
        """One state read and one write per customer; a feature vector per applied event."""
        metrics = self._metrics
        deadlines = self.deadlines
        latest = self._latest
        touched: dict[str, CustomerState] = {}
        for customer_id, items in by_customer.items():
            partition = items[0][0].partition
            key = customer_id.encode()
            state, changed = self._read_state(store, partition, key)  # clamped: write it
            touched[customer_id] = state
            indexing = self._indexing.get(partition)
            if indexing is not None and customer_id not in indexing.seen:
                indexing.seen.add(customer_id)  # its deadline, before its events pass it
                self._index_state(partition, customer_id, state)
            for record, event in items:
                if event.occurred_at > latest:  # customer flags (the others dead-lettered)
                    # what they set protects at once; they clear nothing, pass no deadline
                    assert isinstance(event, CustomerFlags)
                    contacts.apply_flags(store, partition, event, latest)
                    metrics.event_time_rejected.labels(record.topic).inc()
                    self._dead_letter(result, record, EventTimeInFutureError(
                        skew_seconds=self._skew_seconds, applied_flags=True))
                    continue
                # a deadline this event's time passes fires first, with the state before it
                due = deadlines.pop_if_due(partition, customer_id, event.occurred_at)
                while due is not None:
                    self._fire(due, state, batch)
                    due = deadlines.pop_if_due(partition, customer_id, event.occurred_at)
                outcome = apply_event(state, event)
                if outcome is Applied.APPLIED:
                    changed = True
                    deadlines.observe(partition, event.occurred_at)
                    batch.add(_Pending(customer_id, partition, record.topic, event.event_id,
                                       state.watermark), feature_vector(state, state.watermark))
                    after = deadlines.after(partition, customer_id, state.watermark)
                    deadlines.schedule(partition, customer_id, next_deadline(state, after))
                elif outcome is Applied.DUPLICATE:
                    result.duplicates += 1
                    metrics.duplicates.inc()
                elif outcome is Applied.TOO_LATE:
                    metrics.late_events.inc()
                    self._dead_letter(result, record, LateEventError())
                elif isinstance(event, CustomerFlags):  # no feature: the contact policy's input
                    contacts.apply_flags(store, partition, event, latest)
            if changed:
                store.put(partition, key, state.to_bytes())
        return touched

    def _fire_deadlines(self, partition: int, store: StateStore,
                        touched: dict[str, CustomerState], batch: _Scoring) -> None:
        """Rescore customers whose absence deadline the partition's event time has passed,
        up to ``max_deadlines_per_batch`` rescorings in the batch (the ones its events passed
        included); the rest stay due and fire in the partition's next batches."""
        fired = self.deadlines.due(partition, self._max_deadlines - batch.timers)
        while fired:
            for due in fired:
                state = touched.get(due.customer_id) or self._load_state(
                    store, partition, due.customer_id.encode())
                self._fire(due, state, batch)
            # a fired deadline may schedule a due one
            fired = self.deadlines.due(partition, self._max_deadlines - batch.timers)

    def _fire(self, due: DueDeadline, state: CustomerState, batch: _Scoring) -> None:
        batch.timers += 1
        batch.add(_Pending(due.customer_id, due.partition, TIMER_TOPIC,
                           f"{due.kind}@{due.at_ms}", due.at_ms),
                  feature_vector(state, due.at_ms))
        self.deadlines.schedule(due.partition, due.customer_id, next_deadline(state, due.at_ms))
        self._metrics.absence_rescores.labels(due.kind).inc()

    def _load_state(self, store: StateStore, partition: int, key: bytes) -> CustomerState:
        return self._read_state(store, partition, key)[0]

    def _read_state(self, store: StateStore, partition: int,
                    key: bytes) -> tuple[CustomerState, bool]:
        """The stored state, its event time clamped (see ``_clamp``), and whether it was."""
        raw = store.get(partition, key)
        if raw is None:
            return CustomerState(), False
        try:
            state = CustomerState.from_bytes(raw)
        except StateFormatError as exc:
            self._metrics.state_errors.inc()
            log.error("customer state unreadable, starting afresh: %s", exc)
            return CustomerState(), False
        return state, self._clamp(partition, state)

    def _score(self, pending: list[_Pending], vectors: list[list[float]],
               result: BatchResult, store: StateStore, contacts: _Contacts) -> None:
        model = self._model()  # one reference per batch: a swap lands between batches
        challenger = self._challenger()
        started = time.perf_counter()
        matrix = np.asarray(vectors, dtype=np.float64)
        scored = model.score(matrix)
        reasons = model.reasons(scored, matrix)
        shadow = challenger.score(matrix).scores if challenger is not None else None
        self._metrics.scoring_duration.observe(time.perf_counter() - started)
        if self._observer is not None:
            self._observer(model, scored, matrix)
        now = self._now_ms()
        policy = self._policy
        encode = self._encoder.encode
        topics = self._topics
        tracks = scored.tracks
        for i, item in enumerate(pending):
            customer = item.customer_id
            key = customer.encode()
            score = int(scored.scores[i])
            band = policy.bands.band(score)
            track = tracks[i]
            arrears = bool(scored.arrears[i])
            days_past_due = int(scored.days_past_due[i])
            shadow_score = None
            if shadow is not None and challenger is not None:
                shadow_score = int(shadow[i])
                self._metrics.challenger_scores.labels(policy.bands.band(shadow_score)).inc()
                self._metrics.challenger_score_difference.observe(shadow_score - score)
            risk = RiskScore(
                event_id=score_event_id(customer, item.topic, item.trigger_event_id,
                                        model.version, key=self._id_key),
                customer_id=customer,
                scored_at=now,
                as_of=item.as_of,
                trigger_event_id=item.trigger_event_id,
                probability=float(scored.probabilities[i]),
                score=score,
                band=band,
                model_version=model.version,
                top_reasons=reasons[i],
                trigger_topic=item.topic,
                features_sha256=vector_sha256(matrix[i]),
                challenger_model_version=challenger.version if challenger is not None else None,
                challenger_score=shadow_score,
                track=track,
                days_past_due=days_past_due,
                roll_probability=float(scored.roll[i]) if arrears else None,
                cure_probability=float(scored.cure[i]) if arrears else None,
            )
            result.scores.append(risk)
            result.outputs.append(OutputRecord(
                topics.risk_scores, key, encode(RecordType.RISK_SCORE, risk.to_record()),
                item.partition))
            self._metrics.scores.labels(track, band).inc()
            if not policy.considers(score, arrears=arrears):
                continue
            contact = contacts.load(store, item.partition, customer, changing=True)
            if arrears:
                decision = policy.decide_arrears(
                    customer_id=customer, days_past_due=days_past_due,
                    roll_probability=float(scored.roll[i]), hardship=bool(scored.hardship[i]),
                    now_ms=now, contact=contact)
            else:
                decision = policy.decide(
                    customer_id=customer, score=score, band=band, reasons=reasons[i],
                    now_ms=now, contact=contact)
            if decision is None:
                continue
            intervention = Intervention(
                intervention_id=intervention_id(customer, item.topic, item.trigger_event_id,
                                                model_version=model.version,
                                                policy_version=policy.version,
                                                action=decision.action, key=self._id_key),
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
                trigger_event_id=item.trigger_event_id,
                experiment_arm=decision.experiment_arm,
                actionable=decision.actionable,
                rule=decision.rule,
                features=tuple(float(v) for v in matrix[i]),
                feature_names_sha256=FEATURE_NAMES_SHA256,
                track=track,
                days_past_due=days_past_due,
            )
            result.interventions.append(intervention)
            result.outputs.append(OutputRecord(
                topics.interventions, key,
                encode(RecordType.INTERVENTION, intervention.to_record()), item.partition))
            self._metrics.interventions.labels(decision.action, decision.experiment_arm).inc()
            if not decision.actionable and decision.rule not in (None, "vulnerable"):
                self._metrics.suppressed.labels(decision.rule).inc()
