"""Run a real Apache Kafka broker (KRaft) for tests, benchmarks and development.

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

``KafkaBroker`` options:

* ``port``: the client listener's port (default: a free one). A broker may be started on a
  port that clients already try to reach (tests of workers started before their broker).
* ``sasl_users={"alice": "alice-secret", ...}``: the client listener (``port``,
  ``bootstrap_servers``) becomes ``SASL_PLAINTEXT`` only, with the mechanisms ``PLAIN``,
  ``SCRAM-SHA-256`` and ``SCRAM-SHA-512`` enabled for these users. PLAIN users are listed in
  the listener's JAAS config (``listener.name.sasl_plaintext.plain.sasl.jaas.config``); the
  SCRAM credentials of both hashes are written into the metadata log when the storage is
  formatted (``kafka-storage format --add-scram 'SCRAM-SHA-256=[name=alice,password=...]'``,
  the KRaft way; there is no ZooKeeper to hold them). Inter-broker traffic uses a separate
  ``PLAINTEXT`` listener (``plaintext_bootstrap_servers``, also the launcher's readiness
  probe) and the controller its own ``PLAINTEXT`` listener. No authorizer: every
  authenticated user may do anything. Test credentials only: names of letters, digits and
  ``._-``, passwords of letters, digits and ``._~@%^*+/-`` (they are written into JAAS lines
  and StorageTool arguments unquoted).
* ``extra_properties``: broker properties that override the defaults.

A three-node cluster (``KafkaCluster`` in ``_cluster.py``) runs on the same jars.

Command line: ``python -m stream_app.brokers [--version V] [--port P] [--nodes N]
[--sasl USER:PASSWORD]`` prints the bootstrap address and runs until interrupted;
``--resolve-only`` just fills the cache.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from ._metadata import wait_for_metadata
from ._ports import free_port
from ._process import ManagedProcess

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "SASL_MECHANISMS",
    "BrokerStartError",
    "KafkaBroker",
    "KafkaNode",
    "cache_dir",
    "java_tool_command",
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


def maven_executable(purpose: str) -> str:
    """``mvn``, needed once per cache to fetch ``purpose`` from Maven Central."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerStartError(f"mvn not found: Maven is needed once to fetch {purpose}")
    return mvn


def resolve_kafka_jars(version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Directory holding the broker's jars (and the Java command-line tools: the console
    producer), resolving them with Maven when not cached yet. The cache is per version and
    per content of the POM, so a changed POM resolves afresh."""
    pom = (_HERE / "kafka-broker-pom.xml").read_text()
    pom = pom.replace("@KAFKA_VERSION@", version).replace("@LOG4J_VERSION@", LOG4J_VERSION)
    digest = hashlib.sha256(pom.encode()).hexdigest()[:10]
    target = cache_dir() / f"kafka-{version}-{digest}"
    libs = target / "libs"
    marker = target / ".complete"
    if marker.exists():
        return libs
    mvn = maven_executable("the Kafka jars")
    target.mkdir(parents=True, exist_ok=True)
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


def java_tool_command(main_class: str, *args: str,
                      version: str = DEFAULT_KAFKA_VERSION) -> list[str]:
    """The command line of one of Kafka's Java tools (e.g.
    ``org.apache.kafka.tools.ConsoleProducer``) on the resolved jars: the Java client as an
    upstream system's producer runs it."""
    libs = resolve_kafka_jars(version)
    # the log configuration writes its file under kafka.logs.dir: never the caller's cwd
    logs = Path(tempfile.gettempdir()) / "predelinq-kafka-tools"
    return [java_executable(), "-Xmx256m", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_HERE / 'kafka-log4j2.properties'}",
            f"-Dkafka.logs.dir={logs}",
            "-cp", f"{libs}/*", main_class, *args]


def _cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id (22 characters of url-safe base64). Like Kafka's own
    ``Uuid.randomUuid()``, never one starting with "-": ``kafka-storage format
    --cluster-id -x...`` would read it as an option (1 start in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_SAFE_USERNAME = re.compile(r"^[A-Za-z0-9._-]+$")
_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9._~@%^*+/-]+$")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"


def _check_sasl_users(users: Mapping[str, str]) -> dict[str, str]:
    """Test credentials end up in a JAAS line and a StorageTool argument: keep them simple."""
    if not users:
        raise ValueError("sasl_users needs at least one user")
    for name, password in users.items():
        if not _SAFE_USERNAME.match(name):
            raise ValueError(f"SASL user name {name!r}: use letters, digits and ._- only")
        if not _SAFE_PASSWORD.match(password):
            raise ValueError(f"password of SASL user {name!r}: use letters, digits and "
                             "._~@%^*+/- only")
    return dict(users)


class KafkaNode(ManagedProcess):
    """One Kafka server JVM (KRaft, combined broker+controller) with its own configuration,
    storage (``<workdir>/data``) and logs (``<workdir>/logs/server.log``)."""

    def __init__(self, *, version: str, workdir: Path, own_workdir: bool, heap: str) -> None:
        super().__init__(workdir, own_workdir=own_workdir)
        self.version = version
        self.heap = heap

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def config_file(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def formatted(self) -> bool:
        return (self.workdir / "data" / "meta.properties").exists()

    def properties(self) -> dict[str, str]:
        raise NotImplementedError

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

    def format_storage(self, libs: Path, cluster_id: str, *extra: str) -> None:
        """Write ``server.properties`` and format the KRaft storage (``kafka-storage format``;
        ``extra``: more StorageTool arguments such as ``--add-scram``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        formatted = subprocess.run(
            self._java_command(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                               "-c", str(self.config_file), *extra),
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise BrokerStartError(f"formatting KRaft storage in {self.workdir} failed:\n"
                                   + (formatted.stdout + formatted.stderr)[-2000:])

    def launch(self, libs: Path) -> None:
        """Start the server process on the formatted storage (no waiting)."""
        if self.is_running():
            return
        with (self.log_dir / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                self._java_command(libs, "kafka.Kafka", str(self.config_file)),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 40) -> str:
        log = self.log_dir / "server.log"
        if not log.exists():
            log = self.log_dir / "stdout.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class KafkaBroker(KafkaNode):
    """One KRaft node acting as broker and controller, on loopback.

    ``sasl_users`` (name -> password) turns the client listener (``port``) into a
    ``SASL_PLAINTEXT`` listener with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; the inter-broker
    traffic and the launcher's probe then use a separate PLAINTEXT listener
    (``plaintext_bootstrap_servers``), the controller its own PLAINTEXT listener.
    """

    def __init__(
        self,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        port: int | None = None,
        workdir: Path | None = None,
        extra_properties: dict[str, str] | None = None,
        heap: str = "768m",
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(version=version,
                         workdir=workdir or Path(tempfile.mkdtemp(prefix="predelinq-kafka-")),
                         own_workdir=workdir is None, heap=heap)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.sasl_users = _check_sasl_users(sasl_users) if sasl_users is not None else None
        self.internal_port = free_port() if self.sasl_users else self.port
        self.extra_properties = extra_properties or {}

    @property
    def bootstrap_servers(self) -> str:
        """The client listener: SASL_PLAINTEXT when ``sasl_users`` is given, else PLAINTEXT."""
        return f"127.0.0.1:{self.port}"

    @property
    def plaintext_bootstrap_servers(self) -> str:
        """A PLAINTEXT listener (the inter-broker one with SASL; else the client listener)."""
        return f"127.0.0.1:{self.internal_port}"

    @property
    def security_protocol(self) -> str:
        return "SASL_PLAINTEXT" if self.sasl_users else "PLAINTEXT"

    def properties(self) -> dict[str, str]:
        controller = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        if self.sasl_users:
            advertised = (f"SASL_PLAINTEXT://127.0.0.1:{self.port},"
                          f"PLAINTEXT://127.0.0.1:{self.internal_port}")
        else:
            advertised = f"PLAINTEXT://127.0.0.1:{self.port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"{advertised},{controller}",
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
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
        if self.sasl_users:
            plain_users = " ".join(f'user_{name}="{password}"'
                                   for name, password in self.sasl_users.items())
            props.update({
                "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
                "listener.name.sasl_plaintext.sasl.enabled.mechanisms":
                    ",".join(SASL_MECHANISMS),
                "listener.name.sasl_plaintext.plain.sasl.jaas.config":
                    f"{_PLAIN_LOGIN} required {plain_users};",
                "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config":
                    f"{_SCRAM_LOGIN} required;",
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
                    f"{_SCRAM_LOGIN} required;",
            })
        props.update(self.extra_properties)
        return props

    def _scram_arguments(self) -> list[str]:
        """``--add-scram`` arguments creating every user's SCRAM credentials at format time
        (with KRaft they live in the metadata log)."""
        args: list[str] = []
        for name, password in (self.sasl_users or {}).items():
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        libs = resolve_kafka_jars(self.version)
        self.format_storage(libs, _cluster_id(), *self._scram_arguments())
        self.launch(libs)
        if not wait_for_metadata(self.plaintext_bootstrap_servers, timeout):
            tail = self.log_tail()
            self.stop()
            raise BrokerStartError(f"Kafka did not answer within {timeout:.0f}s:\n{tail}")
        return self


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Apache Kafka (KRaft) on loopback.")
    parser.add_argument("--version", default=DEFAULT_KAFKA_VERSION)
    parser.add_argument("--port", type=int, default=None, help="client port (one node only)")
    parser.add_argument("--nodes", type=int, default=1,
                        help="3 for a cluster (replication factor 3, min ISR 2)")
    parser.add_argument("--sasl", metavar="USER:PASSWORD",
                        help="SASL_PLAINTEXT client listener (PLAIN, SCRAM-SHA-256/512)")
    parser.add_argument("--resolve-only", action="store_true", help="only fetch the jars")
    args = parser.parse_args(argv)
    if args.resolve_only:
        print(resolve_kafka_jars(args.version))
        return 0
    if args.nodes > 1:
        if args.port or args.sasl:
            parser.error("--port and --sasl apply to a single node only")
        from ._cluster import KafkaCluster

        with KafkaCluster(nodes=args.nodes, version=args.version) as cluster:
            print(f"Apache Kafka {args.version}, {args.nodes} nodes on "
                  f"{cluster.bootstrap_servers} (logs: {cluster.workdir}/node-*/logs)")
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                while cluster.running():
                    time.sleep(1)
        return 0
    users = None
    if args.sasl:
        name, _, password = args.sasl.partition(":")
        users = {name: password}
    with KafkaBroker(version=args.version, port=args.port, sasl_users=users) as broker:
        print(f"Apache Kafka {args.version} on {broker.bootstrap_servers} "
              f"({broker.security_protocol}; logs: {broker.log_dir})")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            while broker.is_running():
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
