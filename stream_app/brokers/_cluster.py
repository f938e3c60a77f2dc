"""A three-node (or N-node) Apache Kafka cluster on loopback, for failover tests.

Every node is a combined broker+controller (KRaft) JVM from the same Maven Central jars as
:class:`~stream_app.brokers.KafkaBroker`, with its own free loopback ports, storage
(``<workdir>/node-<id>/data``) and logs (``<workdir>/node-<id>/logs/server.log``). The
controller quorum has every node as a static voter (3 voters: one may fail). Topics default to
replication factor ``min(3, nodes)`` with ``min.insync.replicas = 2``; the consumer offsets and
transaction state topics are replicated the same way (min ISR 2), so with ``acks=all`` a
record acknowledged by the cluster survives the loss of any one node.

Nodes are named by their Kafka node id (1..N), the id the metadata reports as partition
leader: ``kill(2)`` sends SIGKILL to node 2, ``stop(2)`` stops it gracefully, ``start(2)``
starts it again on the same storage and waits until the metadata lists it again.
"""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Self

from ._metadata import wait_for_brokers
from ._ports import free_port
from ._process import ManagedWorkdir
from .apache_kafka import (
    DEFAULT_KAFKA_VERSION,
    BrokerStartError,
    KafkaNode,
    _cluster_id,
    resolve_kafka_jars,
)

__all__ = ["KafkaCluster"]


class _ClusterNode(KafkaNode):
    def __init__(self, cluster: KafkaCluster, node_id: int, heap: str) -> None:
        super().__init__(version=cluster.version, workdir=cluster.workdir / f"node-{node_id}",
                         own_workdir=False, heap=heap)
        self.cluster = cluster
        self.node_id = node_id
        self.port = free_port()
        self.controller_port = free_port()

    def properties(self) -> dict[str, str]:
        size = len(self.cluster.nodes)
        replicas = str(min(3, size))
        min_isr = str(min(2, size))
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.cluster.quorum_voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "log.flush.interval.messages": "9223372036854775807",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        props.update(self.cluster.extra_properties)
        return props


class KafkaCluster(ManagedWorkdir):
    """N combined broker+controller KRaft nodes on loopback (default 3)."""

    def __init__(
        self,
        *,
        nodes: int = 3,
        version: str = DEFAULT_KAFKA_VERSION,
        workdir: Path | None = None,
        extra_properties: dict[str, str] | None = None,
        heap: str = "512m",
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        super().__init__(workdir or Path(tempfile.mkdtemp(prefix="predelinq-kafka-cluster-")),
                         own_workdir=workdir is None)
        self.version = version
        self.extra_properties = extra_properties or {}
        self.cluster_id = _cluster_id()
        self.nodes: dict[int, _ClusterNode] = {}
        for node_id in range(1, nodes + 1):
            self.nodes[node_id] = _ClusterNode(self, node_id, heap)

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.nodes)

    @property
    def quorum_voters(self) -> str:
        return ",".join(f"{node_id}@127.0.0.1:{node.controller_port}"
                        for node_id, node in sorted(self.nodes.items()))

    @property
    def bootstrap_servers(self) -> str:
        """Every node's client listener, comma-separated."""
        return ",".join(f"127.0.0.1:{node.port}" for _, node in sorted(self.nodes.items()))

    def node(self, node_id: int) -> _ClusterNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ValueError(f"no node {node_id} (nodes: {self.node_ids})") from None

    def log_file(self, node_id: int) -> Path:
        return self.node(node_id).log_dir / "server.log"

    def running(self) -> list[int]:
        return [node_id for node_id, node in sorted(self.nodes.items()) if node.is_running()]

    def start(self, node: int | None = None, timeout: float = 120.0) -> Self:
        """Start every node (``node=None``; formats the storage the first time) or one node
        again on its storage; then wait until the metadata lists every running node."""
        libs = resolve_kafka_jars(self.version)
        targets = self.node_ids if node is None else [node]
        for node_id in targets:
            member = self.node(node_id)
            if not member.formatted:
                member.format_storage(libs, self.cluster_id)
        for node_id in targets:
            self.node(node_id).launch(libs)
        if not self.wait_for_brokers(self.running(), timeout):
            tails = "\n".join(f"--- node {node_id}:\n{self.node(node_id).log_tail(15)}"
                              for node_id in targets)
            if node is None:
                self.stop()
            raise BrokerStartError(
                f"Kafka nodes {targets} did not all answer within {timeout:.0f}s:\n{tails}")
        return self

    def wait_for_brokers(self, node_ids: list[int], timeout: float) -> bool:
        """True once the metadata lists all of ``node_ids`` as alive brokers."""
        return wait_for_brokers(self.bootstrap_servers, node_ids, timeout)

    def stop(self, node: int | None = None, timeout: float | None = None) -> None:
        """Graceful stop (SIGTERM, SIGKILL after the timeout) of one node or of all."""
        if node is not None:
            self.node(node).stop(timeout)
            return
        # all at once: nodes stopped one by one would wait for a quorum that is leaving
        for member in self.nodes.values():
            if member.process is not None and member.process.poll() is None:
                member.process.send_signal(signal.SIGTERM)
        for member in self.nodes.values():
            member.stop(timeout)

    def kill(self, node: int) -> None:
        """SIGKILL one node: a crash, no controlled shutdown."""
        self.node(node).kill()
