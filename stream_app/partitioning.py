"""Which partition a record key belongs to, as the upstream producers compute it.

The worker keeps each customer's state in the partition its events arrive on, so every input
topic must place a customer's key on the same partition number (co-partitioning). That holds
only when every producer of every input topic uses the same hash of the key. Two hashes are in
common use, and a record produced with the other one lands on a partition whose state does not
hold its customer:

* ``murmur2``: the Java client's default partitioner (``toPositive(murmur2(key)) % n``), also
  aiokafka's, Kafka Streams', and librdkafka's ``murmur2`` / ``murmur2_random``;
* ``crc32``: librdkafka's default ``consistent_random`` (and ``consistent``): ``crc32(key) % n``,
  the default of confluent-kafka (Python), confluent-kafka-go, the .NET client and the C client.

Pure functions; the hashes are aiokafka's ``murmur2`` (Java's) and zlib's CRC-32 (librdkafka's
``rd_crc32``, the IEEE polynomial).
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

__all__ = ["Partitioner", "partition_for", "producer_partitioner"]


class Partitioner(enum.StrEnum):
    """The producers' hash of the record key (``KAFKA_PARTITIONER``)."""

    MURMUR2 = "murmur2"
    CRC32 = "crc32"

    @classmethod
    def parse(cls, value: str) -> Partitioner:
        """The partitioner a name denotes, librdkafka's names included."""
        name = value.strip().lower()
        aliases = {"murmur2_random": cls.MURMUR2, "consistent_random": cls.CRC32,
                   "consistent": cls.CRC32}
        if name in aliases:
            return aliases[name]
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"unknown partitioner {value!r}: one of murmur2 (the Java "
                             "client's default; librdkafka's murmur2_random), crc32 "
                             "(librdkafka's default consistent_random)") from None


def partition_for(key: bytes, partitions: int, partitioner: Partitioner) -> int:
    """The partition (0..partitions-1) the producers put ``key`` on."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if partitioner is Partitioner.MURMUR2:
        return int(murmur2(key) & 0x7FFFFFFF) % partitions
    return zlib.crc32(key) % partitions


class _ProducerPartitioner:
    """A partitioner for the worker's own producer (faust's ``producer_partitioner``):
    keyed records go where ``partition_for`` says, so every topic of the pipeline uses one
    scheme; records without a key go to partition 0 of the available ones."""

    def __init__(self, partitioner: Partitioner) -> None:
        self.partitioner = partitioner

    def __call__(self, key: bytes | None, all_partitions: Sequence[int],
                 available: Sequence[int]) -> int:
        if key is None:
            return (available or all_partitions)[0]
        return all_partitions[partition_for(key, len(all_partitions), self.partitioner)]


def producer_partitioner(partitioner: Partitioner) -> _ProducerPartitioner:
    return _ProducerPartitioner(partitioner)
