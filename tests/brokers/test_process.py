"""A managed child process: started by ``with``, stopped and its own workdir removed after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Self

from stream_app.brokers._process import ManagedProcess


class Sleeper(ManagedProcess):
    def start(self) -> Self:
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        return self


def test_leaving_the_block_stops_the_process_and_removes_an_owned_workdir(
        tmp_path: Path) -> None:
    owned = tmp_path / "owned"
    owned.mkdir()
    with Sleeper(owned, own_workdir=True) as sleeper:
        process = sleeper.process
        assert sleeper.is_running()
    assert process is not None
    assert process.poll() is not None  # stopped
    assert not sleeper.is_running()
    assert not owned.exists()


def test_a_given_workdir_is_kept(tmp_path: Path) -> None:
    with Sleeper(tmp_path, own_workdir=False) as sleeper:
        assert sleeper.is_running()
    assert tmp_path.exists()


def test_kill_ends_the_process_at_once(tmp_path: Path) -> None:
    sleeper = Sleeper(tmp_path, own_workdir=False).start()
    process = sleeper.process
    sleeper.kill()
    assert process is not None
    assert process.returncode == -9
