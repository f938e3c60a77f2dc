"""One micro-batch: consumed records -> state updates -> scores, reasons, interventions.

No Kafka here. The Faust agent hands in the records of a batch and a state store bound to the
batch's partitions, and sends the outputs this returns. Order of work, chosen for throughput:

1. decode and validate every record (bad ones become dead letters with their reason);
2. read every customer's state once into one array of fixed-layout records, then one compiled
   call (``features._kernel_batch.run_batch``) applies each customer's events in order, fires
   the absence deadlines they pass and writes a feature row after each applied event; each
   changed state is written once;
3. score all rows of the batch in one model call (tree evaluation + exact leaf-SHAP);
4. build risk events, reasons and interventions, and encode them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from stream_app.events import (
    CustomerFlags,
    DeadLetter,
    InputEvent,
    Intervention,
    Reason,
    RecordType,
    RiskScore,
)
from stream_app.features import (
    FEATURE_NAMES,
    Deadline,
    DeadlineIndex,
    DueDeadline,
)
from stream_app.features.kernels import (
    DUPLICATE,
    EVENT,
    IGNORED,
    REREAD,
    ROW_EVENT,
    SKIP,
    TOO_LATE,
    cap_record,
    empty_records,
    encode_events,
    features_into,
    load_records,
    next_deadline_record,
    record_bytes,
    rows_needed,
    run_batch,
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


_WIDTH = len(FEATURE_NAMES)
_KIND_CODE = {Deadline.DUE_SOON: 0, Deadline.SALARY: 1}  # the kernels' deadline kinds
_KIND_NAME = (Deadline.DUE_SOON, Deadline.SALARY)


@dataclass(slots=True)
class _Scoring:
    """Feature rows of one batch waiting to be scored together (row i: ``pending[i]``)."""

    pending: list[_Pending] = field(default_factory=list)
    chunks: list[np.ndarray] = field(default_factory=list)
    timers: int = 0  # of them, rescorings at an absence deadline

    def add(self, pending: _Pending, row: np.ndarray) -> None:
        self.pending.append(pending)
        self.chunks.append(row)

    def matrix(self) -> np.ndarray:
        return self.chunks[0] if len(self.chunks) == 1 else np.concatenate(self.chunks)


@dataclass(frozen=True, slots=True)
class _Scored:
    """A batch's feature matrix scored by the champion (and the challenger, in shadow)."""

    model: ScoringModel
    scored: ScoredBatch
    reasons: list[tuple[Reason, ...]]
    matrix: np.ndarray
    challenger: ScoringModel | None
    shadow: np.ndarray | None


@dataclass(slots=True)
class _BatchStates:
    """The batch's customers (in first-arrival order), their states and events."""

    customers: list[str]
    partitions: list[int]
    keys: list[bytes]
    records: np.ndarray
    changed: list[bool]  # clamped on read: written even if nothing applies
    items: list[tuple[InputRecord, InputEvent]]  # customer i's: items[starts[i]:starts[i + 1]]
    starts: np.ndarray
    deadline_at: np.ndarray = field(init=False)  # pending deadline per customer (-1: none)
    deadline_kind: np.ndarray = field(init=False)
    fired: np.ndarray = field(init=False)  # last deadline fired ahead of its watermark

    def __post_init__(self) -> None:
        n = len(self.customers)
        self.deadline_at = np.full(n, -1, np.int64)
        self.deadline_kind = np.full(n, -1, np.int64)
        self.fired = np.full(n, -1, np.int64)


@dataclass(slots=True)
class _Rows:
    """The kernel's output buffers: feature rows and what each row is."""

    features: np.ndarray
    customer: np.ndarray
    event: np.ndarray
    as_of: np.ndarray
    kind: np.ndarray

    @classmethod
    def allocate(cls, capacity: int) -> _Rows:
        return cls(np.empty((capacity, _WIDTH), np.float64),
                   *(np.empty(capacity, np.int64) for _ in range(4)))


@dataclass(slots=True)
class _Touched:
    """The fixed-layout states of a batch's customers (record ``index[customer]``)."""

    records: np.ndarray
    index: dict[str, int]


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
        records = empty_records(1)
        if load_records([raw], records):
            return  # unreadable: its next event starts it afresh
        self._clamp(partition, records, 0)
        self._index_record(partition, customer_id, records, 0)

    def _clamp(self, partition: int, records: np.ndarray, index: int) -> bool:
        """Cap a stored state's event time at the wall clock plus the allowed skew (a state
        that applied a future-dated event before such events were refused): else it would
        move its partition's event-time clock again after every restart."""
        ahead_ms = int(records["watermarks"][index].max()) - self._latest
        if not cap_record(records, index, self._latest):
            return False
        self._metrics.event_time_clamped.inc()
        if partition not in self._clamp_logged:
            self._clamp_logged.add(partition)
            log.warning("input partition %d: a stored customer state's event time was %.0f s "
                        "beyond the wall clock plus MAX_EVENT_SKEW_SECONDS; clamped there "
                        "(predelinq_event_time_clamped_total counts them all)", partition,
                        ahead_ms / 1000, extra={"partition": partition})
        return True

    def _index_record(self, partition: int, customer_id: str, records: np.ndarray,
                      index: int) -> None:
        watermark = int(records["watermarks"][index].max())
        self.deadlines.schedule(partition, customer_id,
                                next_deadline_record(records, index, watermark))
        self.deadlines.observe(partition, watermark)

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
            self._score(batch.pending, batch.matrix(), result, store, contacts)
        contacts.write_changed(store)
        return result

    def _decode(self, records: Sequence[InputRecord],
                result: BatchResult) -> dict[str, list[tuple[InputRecord, InputEvent]]]:
        """Decode and validate, grouped by customer in arrival order; bad records dead-letter."""
        by_customer: dict[str, list[tuple[InputRecord, InputEvent]]] = {}
        for topic, count in Counter(record.topic for record in records).items():
            self._metrics.input_records.labels(topic).inc(count)
        for record in records:
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
               contacts: _Contacts) -> _Touched:
        """One state read and one write per customer; a feature row per applied event."""
        if not by_customer:
            return _Touched(empty_records(0), {})
        states = self._read_states(by_customer, store)
        self._deadlines_in(states)
        outcomes, applied = self._run_kernel(states, batch)
        self._outcomes(states, outcomes, store, result, contacts)
        self._deadlines_out(states, applied, store)
        return _Touched(states.records, {c: i for i, c in enumerate(states.customers)})

    def _read_states(self, by_customer: dict[str, list[tuple[InputRecord, InputEvent]]],
                     store: StateStore) -> _BatchStates:
        customers = list(by_customer)
        partitions = [by_customer[c][0][0].partition for c in customers]
        keys = [c.encode() for c in customers]
        records = empty_records(len(customers))
        stored = [store.get(p, k) for p, k in zip(partitions, keys, strict=True)]
        for _, reason in load_records(stored, records):
            self._metrics.state_errors.inc()
            log.error("customer state unreadable, starting afresh: %s", reason)
        changed = [False] * len(customers)
        for i in np.flatnonzero(records["watermarks"].max(axis=1) > self._latest).tolist():
            changed[i] = self._clamp(partitions[i], records, i)  # clamped: write it
        items: list[tuple[InputRecord, InputEvent]] = []
        starts = [0]
        for customer in customers:
            items += by_customer[customer]
            starts.append(len(items))
        return _BatchStates(customers, partitions, keys, records, changed, items,
                            np.asarray(starts, np.int64))

    def _deadlines_in(self, states: _BatchStates) -> None:
        """Each customer's pending deadline and last fired one, for the kernel."""
        deadlines = self.deadlines
        for i, customer in enumerate(states.customers):
            partition = states.partitions[i]
            indexing = self._indexing.get(partition)
            if indexing is not None and customer not in indexing.seen:
                indexing.seen.add(customer)  # its deadline, before its events pass it
                self._index_record(partition, customer, states.records, i)
            pending = deadlines.pending_of(partition, customer)
            if pending is not None:
                states.deadline_at[i] = pending[0]
                states.deadline_kind[i] = _KIND_CODE[pending[1]]
            last_fired = deadlines.fired_of(partition, customer)
            if last_fired is not None:
                states.fired[i] = last_fired

    def _run_kernel(self, states: _BatchStates,
                    batch: _Scoring) -> tuple[np.ndarray, np.ndarray]:
        """Apply every event and write the feature rows; returns each event's outcome and
        each customer's newest applied event time (-1: none applied)."""
        items = states.items
        events = np.empty(len(items), EVENT)
        encode_events([event for _, event in items], events)
        # where each came from: a record read again (a resume from an older committed offset)
        # is a duplicate however many of the customer's events came after it
        events["partition"] = [record.partition for record, _ in items]
        events["offset"] = [record.offset for record, _ in items]
        latest = self._latest
        for j, (_, event) in enumerate(items):
            if event.occurred_at > latest:  # customer flags (the others dead-lettered)
                events[j]["source"] = SKIP
        outcomes = np.empty(len(items), np.int64)
        applied = np.full(len(states.customers), -1, np.int64)
        longest = int(np.diff(states.starts).max())
        capacity = max(2 * len(items), rows_needed(longest))
        first = 0
        while first < len(states.customers):
            rows = _Rows.allocate(capacity)
            first, count = run_batch(states.records, states.starts, events, states.deadline_at,
                                     states.deadline_kind, states.fired, rows.features,
                                     rows.customer, rows.event, rows.as_of, rows.kind,
                                     outcomes, applied, first)
            self._add_rows(batch, states, rows, count)
        return outcomes, applied

    def _add_rows(self, batch: _Scoring, states: _BatchStates, rows: _Rows,
                  count: int) -> None:
        if not count:
            return
        pending = batch.pending
        customers, partitions, items = states.customers, states.partitions, states.items
        for c, j, as_of, kind in zip(rows.customer[:count].tolist(),
                                     rows.event[:count].tolist(),
                                     rows.as_of[:count].tolist(), rows.kind[:count].tolist(),
                                     strict=True):
            if kind == ROW_EVENT:
                record, event = items[j]
                pending.append(_Pending(customers[c], partitions[c], record.topic,
                                        event.event_id, as_of))
            else:
                name = _KIND_NAME[kind - 1]
                pending.append(_Pending(customers[c], partitions[c], TIMER_TOPIC,
                                        f"{name}@{as_of}", as_of))
                batch.timers += 1
                self._metrics.absence_rescores.labels(name).inc()
        batch.chunks.append(rows.features[:count])

    def _outcomes(self, states: _BatchStates, outcomes: np.ndarray, store: StateStore,
                  result: BatchResult, contacts: _Contacts) -> None:
        """Count duplicates, dead-letter late events, hand customer flags to the contact
        states, in arrival order."""
        metrics = self._metrics
        latest = self._latest
        for j, outcome in enumerate(outcomes.tolist()):
            record, event = states.items[j]
            if outcome == -1:  # future-dated customer flags, passed over by the kernel
                # what they set protects at once; they clear nothing, pass no deadline
                assert isinstance(event, CustomerFlags)
                contacts.apply_flags(store, record.partition, event, latest)
                metrics.event_time_rejected.labels(record.topic).inc()
                self._dead_letter(result, record, EventTimeInFutureError(
                    skew_seconds=self._skew_seconds, applied_flags=True))
            elif outcome == REREAD:
                result.duplicates += 1
                metrics.duplicates.labels("reread").inc()
            elif outcome == DUPLICATE:
                result.duplicates += 1
                metrics.duplicates.labels("event_id").inc()
            elif outcome == TOO_LATE:
                metrics.late_events.inc()
                self._dead_letter(result, record, LateEventError())
            elif outcome == IGNORED and isinstance(event, CustomerFlags):
                contacts.apply_flags(store, record.partition, event, latest)

    def _deadlines_out(self, states: _BatchStates, applied: np.ndarray,
                       store: StateStore) -> None:
        """The kernel's deadlines into the index; every changed state written once."""
        deadlines = self.deadlines
        at_ms = states.deadline_at.tolist()
        kinds = states.deadline_kind.tolist()
        fired = states.fired.tolist()
        for i, (customer, newest) in enumerate(zip(states.customers, applied.tolist(),
                                                   strict=True)):
            partition = states.partitions[i]
            deadlines.schedule(partition, customer,
                               (at_ms[i], _KIND_NAME[kinds[i]]) if at_ms[i] >= 0 else None)
            deadlines.set_fired(partition, customer, fired[i] if fired[i] >= 0 else None)
            if newest >= 0:
                deadlines.observe(partition, newest)
            if newest >= 0 or states.changed[i]:
                store.put(partition, states.keys[i], record_bytes(states.records, i))

    def _fire_deadlines(self, partition: int, store: StateStore, touched: _Touched,
                        batch: _Scoring) -> None:
        """Rescore customers whose absence deadline the partition's event time has passed,
        up to ``max_deadlines_per_batch`` rescorings in the batch (the ones its events passed
        included); the rest stay due and fire in the partition's next batches."""
        fired = self.deadlines.due(partition, self._max_deadlines - batch.timers)
        while fired:
            for due in fired:
                index = touched.index.get(due.customer_id)
                if index is None:
                    self._fire(due, self._load_record(store, partition,
                                                      due.customer_id.encode()), 0, batch)
                else:
                    self._fire(due, touched.records, index, batch)
            # a fired deadline may schedule a due one
            fired = self.deadlines.due(partition, self._max_deadlines - batch.timers)

    def _fire(self, due: DueDeadline, records: np.ndarray, index: int,
              batch: _Scoring) -> None:
        batch.timers += 1
        row = np.empty((1, _WIDTH), np.float64)
        features_into(records, index, due.at_ms, row, 0)
        batch.add(_Pending(due.customer_id, due.partition, TIMER_TOPIC,
                           f"{due.kind}@{due.at_ms}", due.at_ms), row)
        self.deadlines.schedule(due.partition, due.customer_id,
                                next_deadline_record(records, index, due.at_ms))
        self._metrics.absence_rescores.labels(due.kind).inc()

    def _load_record(self, store: StateStore, partition: int, key: bytes) -> np.ndarray:
        """The stored state as a one-record array, its event time clamped (``_clamp``)."""
        records = empty_records(1)
        raw = store.get(partition, key)
        for _, reason in load_records([raw], records):
            self._metrics.state_errors.inc()
            log.error("customer state unreadable, starting afresh: %s", reason)
        self._clamp(partition, records, 0)
        return records

    def _score(self, pending: list[_Pending], matrix: np.ndarray,
               result: BatchResult, store: StateStore, contacts: _Contacts) -> None:
        model = self._model()  # one reference per batch: a swap lands between batches
        challenger = self._challenger()
        started = time.perf_counter()
        scored = model.score(matrix)
        reasons = model.reasons(scored, matrix)
        shadow = challenger.score(matrix).scores if challenger is not None else None
        self._metrics.scoring_duration.observe(time.perf_counter() - started)
        if self._observer is not None:
            self._observer(model, scored, matrix)
        scored_by = self._publish(pending, _Scored(model, scored, reasons, matrix, challenger,
                                                   shadow), result, store, contacts)
        for (track, band), count in scored_by.items():
            self._metrics.scores.labels(track, band).inc(count)

    def _publish(self, pending: list[_Pending], batch: _Scored, result: BatchResult,
                 store: StateStore, contacts: _Contacts) -> Counter[tuple[str, str]]:
        """Risk events for every row, and the policy's interventions; returns the scores
        per (track, band)."""
        now = self._now_ms()
        scored_by: Counter[tuple[str, str]] = Counter()
        model, scored, reasons, matrix = batch.model, batch.scored, batch.reasons, batch.matrix
        challenger, shadow = batch.challenger, batch.shadow
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
            scored_by[track, band] += 1
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
        return scored_by
