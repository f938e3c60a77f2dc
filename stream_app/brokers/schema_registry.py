"""Run a real schema registry with the Confluent-compatible API on loopback (tests, local use).

Apicurio Registry (Apache-2.0) publishes its server to Maven Central as
``io.apicurio:apicurio-registry-app:<version>:zip:all`` (a Quarkus runner jar and its
libraries); with no storage configured it keeps everything in an in-memory H2 database. Its
``/apis/ccompat/v7`` API is the Confluent Schema Registry's REST API (subjects, versions,
schema ids, compatibility), which confluent-kafka's ``SchemaRegistryClient`` and predelinq's
client speak. Resolved once with Maven into the same cache as the Kafka jars.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ._ports import free_port
from ._process import ManagedProcess
from .apache_kafka import BrokerStartError, cache_dir, java_executable, maven_executable

__all__ = ["DEFAULT_APICURIO_VERSION", "SchemaRegistryServer", "resolve_schema_registry"]

DEFAULT_APICURIO_VERSION = "2.6.13.Final"
_ARTIFACT = "io.apicurio:apicurio-registry-app:{version}:zip:all"


def resolve_schema_registry(version: str = DEFAULT_APICURIO_VERSION) -> Path:
    """The runner jar of Apicurio Registry, resolving it with Maven when not cached yet."""
    target = cache_dir() / f"apicurio-registry-{version}"
    runner = target / f"apicurio-registry-app-{version}-runner.jar"
    marker = target / ".complete"
    if marker.exists():
        return runner
    mvn = maven_executable("the schema registry")
    staging = Path(tempfile.mkdtemp(prefix="apicurio-", dir=cache_dir()))
    try:
        result = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={_ARTIFACT.format(version=version)}",
             f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, check=False)
        archives = list(staging.glob("*.zip"))
        if result.returncode != 0 or not archives:
            raise BrokerStartError(f"Maven could not resolve {_ARTIFACT.format(version=version)}:"
                                   f"\n{(result.stdout + result.stderr)[-3000:]}")
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(archives[0]) as archive:
            archive.extractall(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not runner.exists():
        raise BrokerStartError(f"{runner.name} is not in the resolved archive")
    marker.write_text(version + "\n")
    return runner


class SchemaRegistryServer(ManagedProcess):
    """One in-memory Apicurio Registry; ``url`` is its Confluent-compatible API."""

    stop_timeout = 15.0

    def __init__(self, *, version: str = DEFAULT_APICURIO_VERSION, port: int | None = None,
                 workdir: Path | None = None, heap: str = "384m") -> None:
        super().__init__(workdir or Path(tempfile.mkdtemp(prefix="predelinq-registry-")),
                         own_workdir=workdir is None)
        self.version = version
        self.port = port or free_port()
        self.heap = heap

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/apis/ccompat/v7"

    @property
    def log_file(self) -> Path:
        return self.workdir / "registry.log"

    def start(self, timeout: float = 90.0) -> SchemaRegistryServer:
        runner = resolve_schema_registry(self.version)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [java_executable(), f"-Xmx{self.heap}", "-XX:+UseSerialGC",
                 f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
                 "-Dquarkus.log.level=WARN", "-jar", str(runner)],
                cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                # an http:// URL we build from a loopback port, never user input
                with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as reply:  # noqa: S310
                    if isinstance(json.loads(reply.read()), list):
                        return self
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.3)
        tail = self.log_file.read_text(errors="replace")[-2000:]
        self.stop()
        raise BrokerStartError(f"the schema registry did not answer within {timeout:.0f}s:\n"
                               f"{tail}")
