"""Run a real, single-node Apache Kafka broker (KRaft) for tests, benchmarks and development.

No package registry serves a Kafka distribution, but Maven Central serves its jars. This
launcher:

1. resolves ``org.apache.kafka:kafka_2.13:<version>`` and its runtime dependencies with Maven
   into a cache folder (``$PREDELINQ_CACHE_DIR/kafka-<version>/libs``, default
   ``~/.cache/predelinq``), once;
2. writes a ``server.properties`` suited to one node (combined broker+controller, replication
   factor 1 for the offsets and transaction state logs, no initial rebalance delay) into a
   temporary directory and formats the KRaft storage there;
3. starts the broker on free loopback ports, with its logs in ``<workdir>/logs``;
4. waits until it answers a metadata request, and stops it by pid (SIGTERM, then SIGKILL).

Command line: ``python -m stream_app.brokers [--version V] [--port P]`` prints the
bootstrap address and runs until interrupted; ``--resolve-only`` just fills the cache.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ._metadata import wait_for_metadata
from ._ports import free_port
from ._process import ManagedProcess

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "BrokerStartError",
    "KafkaBroker",
    "cache_dir",
    "resolve_kafka_jars",
]

DEFAULT_KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
_HERE = Path(__file__).resolve().parent


class BrokerStartError(RuntimeError):
    """The broker could not be resolved, formatted or started; the message says which."""


def cache_dir() -> Path:
    root = os.environ.get("PREDELINQ_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "predelinq"


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise BrokerStartError("java not found: install a JDK 17+ or set JAVA_HOME")
    return found


def resolve_kafka_jars(version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Directory holding the broker's jars, resolving them with Maven when not cached yet."""
    target = cache_dir() / f"kafka-{version}"
    libs = target / "libs"
    marker = target / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerStartError("mvn not found: Maven is needed once to fetch the Kafka jars")
    target.mkdir(parents=True, exist_ok=True)
    pom = (_HERE / "kafka-broker-pom.xml").read_text()
    pom = pom.replace("@KAFKA_VERSION@", version).replace("@LOG4J_VERSION@", LOG4J_VERSION)
    (target / "pom.xml").write_text(pom)
    staging = target / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(target / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={staging}", "-DincludeScope=runtime"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        raise BrokerStartError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{version}:\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(version + "\n")
    return libs


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


class KafkaBroker(ManagedProcess):
    """One KRaft node acting as broker and controller, on loopback."""

    def __init__(
        self,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        port: int | None = None,
        workdir: Path | None = None,
        extra_properties: dict[str, str] | None = None,
        heap: str = "768m",
    ) -> None:
        self.version = version
        super().__init__(workdir or Path(tempfile.mkdtemp(prefix="predelinq-kafka-")),
                         own_workdir=workdir is None)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.extra_properties = extra_properties or {}
        self.heap = heap

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def properties(self) -> dict[str, str]:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.flush.interval.messages": "9223372036854775807",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        props.update(self.extra_properties)
        return props

    def _java_command(self, libs: Path, main_class: str, *args: str) -> list[str]:
        return [
            java_executable(),
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_HERE / 'kafka-log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_dir}",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        libs = resolve_kafka_jars(self.version)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        formatted = subprocess.run(
            self._java_command(libs, "kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                               "-c", str(config)),
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise BrokerStartError("formatting KRaft storage failed:\n" + formatted.stderr[-2000:])
        with (self.log_dir / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                self._java_command(libs, "kafka.Kafka", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_for_metadata(self.bootstrap_servers, timeout):
            tail = self.log_tail()
            self.stop()
            raise BrokerStartError(f"Kafka did not answer within {timeout:.0f}s:\n{tail}")
        return self

    def log_tail(self, lines: int = 40) -> str:
        log = self.log_dir / "server.log"
        if not log.exists():
            log = self.log_dir / "stdout.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a single-node Apache Kafka (KRaft) broker.")
    parser.add_argument("--version", default=DEFAULT_KAFKA_VERSION)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--resolve-only", action="store_true", help="only fetch the jars")
    args = parser.parse_args(argv)
    if args.resolve_only:
        print(resolve_kafka_jars(args.version))
        return 0
    with KafkaBroker(version=args.version, port=args.port) as broker:
        print(f"Apache Kafka {args.version} on {broker.bootstrap_servers} (logs: {broker.log_dir})")
        sys.stdout.flush()
        try:
            while broker.is_running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
