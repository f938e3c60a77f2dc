"""The offsets the worker commits: after the last processed record of each partition."""

from __future__ import annotations

from faust.types import TP

from stream_app.worker._offsets import OffsetLedger

TX0, TX1 = TP("bank.transactions.v1", 0), TP("bank.transactions.v1", 1)


def test_the_committable_offset_follows_the_last_processed_record() -> None:
    ledger = OffsetLedger()
    assert not ledger
    for offset in (5, 6, 7):
        ledger.processed(TX0, offset)
    ledger.processed(TX1, 0)
    assert ledger.pending() == {TX0: 8, TX1: 1}


def test_offsets_never_go_back() -> None:
    ledger = OffsetLedger()
    ledger.processed(TX0, 10)
    ledger.processed(TX0, 4)  # a record read again after a seek back: already covered
    assert ledger.pending() == {TX0: 11}


def test_gaps_are_passed_over_as_kafka_consumers_do() -> None:
    ledger = OffsetLedger()
    ledger.processed(TX0, 3)
    ledger.processed(TX0, 5)  # offset 4 was a transaction marker, never a record
    assert ledger.pending() == {TX0: 6}


def test_a_commit_clears_only_what_it_covered() -> None:
    ledger = OffsetLedger()
    ledger.processed(TX0, 1)
    ledger.processed(TX1, 1)
    sent = ledger.pending()
    ledger.processed(TX1, 2)  # processed while the commit was in flight
    ledger.committed(sent)
    assert ledger.pending() == {TX1: 3}


def test_a_record_processed_under_this_ledger_is_recognised_when_delivered_again() -> None:
    ledger = OffsetLedger()
    for offset in range(10, 20):
        ledger.processed(TX0, offset)
    ledger.committed(ledger.pending())  # committing does not forget how far it got
    assert ledger.seen(TX0, 10)
    assert ledger.seen(TX0, 19)
    assert not ledger.seen(TX0, 20)
    assert not ledger.seen(TX1, 0)  # another partition: nothing processed yet
    assert not OffsetLedger().seen(TX0, 10)  # a new generation's ledger starts afresh
