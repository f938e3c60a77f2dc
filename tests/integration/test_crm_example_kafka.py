"""``examples/crm_consumer.py`` on Apache Kafka: interventions of committed transactions land in
its table once each (aborted ones never, re-deliveries and restarts add nothing), written with
older and newer schema revisions alike."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.outputs import encode, encode_with_schema, intervention

pytestmark = [pytest.mark.integration]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crm_consumer.py"


async def _transaction(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]], *,
                       commit: bool) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap,
                                transactional_id=f"worker-{uuid.uuid4().hex}")
    await producer.start()
    try:
        await producer.begin_transaction()
        for key, value in values:
            await producer.send(topic, value, key=key)
        await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()


def _consume(bootstrap: str, db: Path, topic: str) -> int:
    done = subprocess.run([sys.executable, str(EXAMPLE), bootstrap, str(db), topic, "--once"],
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[0])


def _rows(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as connection:
        return {row[0]: row[1:] for row in connection.execute(
            "SELECT intervention_id, action, track, score, reasons FROM interventions")}


def test_the_crm_example_writes_each_committed_intervention_once(kafka_broker: Any,
                                                                 tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = f"crm-{uuid.uuid4().hex[:8]}.risk.interventions.v1"
    run = uuid.uuid4().hex[:6]
    committed = [intervention(i, run) for i in range(40)]
    aborted = [intervention(i, run) for i in range(100, 110)]
    values = [(c.customer_id.encode(), encode(c)) for c in committed[:30]]
    # revision 1 of the schema (id 5), as a worker not yet upgraded writes it
    values += [(c.customer_id.encode(), encode_with_schema(c, 5)) for c in committed[30:]]
    asyncio.run(_transaction(bootstrap, topic, values, commit=True))
    asyncio.run(_transaction(bootstrap, topic, [(a.customer_id.encode(), encode(a))
                                                for a in aborted], commit=False))
    db = tmp_path / "crm.sqlite3"
    assert _consume(bootstrap, db, topic) == 40
    rows = _rows(db)
    assert set(rows) == {c.intervention_id for c in committed}  # none of the aborted
    first = committed[0]
    assert rows[first.intervention_id][:3] == (first.action, first.track, first.score)
    assert first.reasons[0].code in rows[first.intervention_id][3]
    # a restart resumes from the offsets stored with the rows: nothing twice
    assert _consume(bootstrap, db, topic) == 0
    # an at-least-once worker re-sends an intervention after a crash: same id, ignored;
    # a new one is written
    again = [(committed[3].customer_id.encode(), encode(committed[3])),
             (b"k", encode(intervention(200, run)))]
    asyncio.run(_transaction(bootstrap, topic, again, commit=True))
    assert _consume(bootstrap, db, topic) == 1
    assert len(_rows(db)) == 41
