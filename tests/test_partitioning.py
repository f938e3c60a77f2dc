"""The producers' placement of keys: Java's murmur2 and librdkafka's CRC-32."""

from __future__ import annotations

import pytest

from stream_app.partitioning import Partitioner, partition_for, producer_partitioner

# Apache Kafka's UtilsTest.testMurmur2: the Java client's hash of these keys (signed 32-bit)
JAVA_MURMUR2 = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("key", "hashed"), JAVA_MURMUR2.items())
def test_murmur2_places_keys_as_the_java_client(key: str, hashed: int) -> None:
    # DefaultPartitioner / BuiltInPartitioner: toPositive(murmur2(key)) % numPartitions
    for partitions in (1, 3, 8, 12, 100):
        expected = (hashed & 0x7FFFFFFF) % partitions
        assert partition_for(key.encode(), partitions, Partitioner.MURMUR2) == expected


def test_crc32_places_keys_as_librdkafka_consistent() -> None:
    # the CRC-32 (IEEE) check value of "123456789" is 0xCBF43926
    for partitions in (1, 7, 8, 64):
        assert partition_for(b"123456789", partitions, Partitioner.CRC32) == \
            0xCBF43926 % partitions
    assert partition_for(b"", 8, Partitioner.CRC32) == 0  # crc32 of nothing is 0


def test_the_two_hashes_disagree_for_most_customers() -> None:
    keys = [f"CUST-{n:07d}".encode() for n in range(400)]
    same = sum(partition_for(k, 8, Partitioner.MURMUR2) == partition_for(k, 8, Partitioner.CRC32)
               for k in keys)
    assert 20 < same < 80  # about one in eight by chance: a silent split for the rest


def test_partition_for_refuses_no_partitions() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        partition_for(b"k", 0, Partitioner.MURMUR2)


@pytest.mark.parametrize(("name", "expected"), [
    ("murmur2", Partitioner.MURMUR2), ("murmur2_random", Partitioner.MURMUR2),
    ("crc32", Partitioner.CRC32), ("consistent_random", Partitioner.CRC32),
    (" CONSISTENT ", Partitioner.CRC32),
])
def test_librdkafka_names_are_understood(name: str, expected: Partitioner) -> None:
    assert Partitioner.parse(name) is expected


def test_an_unknown_partitioner_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"murmur2.*crc32"):
        Partitioner.parse("random")


def test_the_producer_partitioner_follows_partition_for() -> None:
    all_partitions = list(range(8))
    for partitioner in Partitioner:
        place = producer_partitioner(partitioner)
        for n in range(50):
            key = f"CUST-{n}".encode()
            assert place(key, all_partitions, all_partitions) == \
                partition_for(key, 8, partitioner)
        # a key's partition does not depend on which partitions have a leader now
        assert place(b"CUST-1", all_partitions, [0]) == partition_for(b"CUST-1", 8, partitioner)
        assert place(None, all_partitions, [3, 5]) == 3
