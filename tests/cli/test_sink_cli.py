"""`predelinq sink`: refusals before it consumes anything (the sink itself: tests/sink,
tests/integration/test_sink_kafka.py)."""

from __future__ import annotations

import socket

import pytest

from stream_app.cli import main


def test_the_sink_needs_a_database_url(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["sink"]) == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err


def test_a_busy_sidecar_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
        monkeypatch.setenv("SIDECAR_PORT", str(busy.getsockname()[1]))
        assert main(["sink"]) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
