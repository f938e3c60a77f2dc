"""The KRaft cluster id the launcher formats storage with."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from stream_app.brokers.apache_kafka import _cluster_id


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    # 0xF8 encodes to "-" as the first url-safe base64 character: kafka-storage would read
    # "--cluster-id -..." as an option; the launcher draws again, as Kafka's Uuid does
    draws: Iterator[bytes] = iter([b"\xf8" + bytes(15), b"\x01" * 16])
    cluster_id = _cluster_id(lambda: next(draws))
    assert cluster_id == base64.urlsafe_b64encode(b"\x01" * 16).decode().rstrip("=")
    assert len(cluster_id) == 22


def test_cluster_ids_are_random() -> None:
    ids = {_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert not any(i.startswith("-") for i in ids)
