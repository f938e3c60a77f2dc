"""`predelinq redrive`: refusals (the redrive itself: the mixed-partitioner test in
tests/integration/test_producers_kafka.py)."""

from __future__ import annotations

import pytest

from stream_app.cli import main


def test_redrive_needs_the_reasons_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redrive"]) == 2
    error = capsys.readouterr().err
    assert "--reason" in error
    assert "wrong_partition" in error
